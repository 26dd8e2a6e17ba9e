// Resolution hook of hide-opentelemetry.mjs: every @opentelemetry/* import fails the way a
// missing package does (ERR_MODULE_NOT_FOUND).
export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith('@opentelemetry/')) {
    const error = new Error(`Cannot find package '${specifier}' (hidden by hide-opentelemetry)`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return nextResolve(specifier, context);
}
