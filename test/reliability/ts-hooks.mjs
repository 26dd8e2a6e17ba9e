/* global URL */
// Module hooks that let a plain Node process (a worker of the cross-process suite) import the
// library's TypeScript sources the way jest does: `./x.js` resolves to `./x.ts` when only the
// TypeScript file exists, and .ts files are compiled on load with swc (jest's transformer, the
// same settings as jest.config.js). Registered by ts-register.mjs (`node --import`).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const swc = require('@swc/core');

const SWC_OPTIONS = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    keepClassNames: true,
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export async function resolve(specifier, context, nextResolve) {
  const relative = specifier.startsWith('./') || specifier.startsWith('../');
  if (relative && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
    const url = new URL(specifier, context.parentURL);
    const ts = fileURLToPath(url).replace(/\.js$/, '.ts');
    if (!existsSync(fileURLToPath(url)) && existsSync(ts)) {
      return { url: pathToFileURL(ts).href, format: 'module', shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const filename = fileURLToPath(url);
    const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
      ...SWC_OPTIONS,
      filename,
    });
    return { format: 'module', source: code, shortCircuit: true };
  }
  return nextLoad(url, context);
}
