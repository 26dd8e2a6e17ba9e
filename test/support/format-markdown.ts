/**
 * Markdown through the project's prettier settings, so that generated reports (BENCHMARKS.md,
 * RELIABILITY.md) pass `prettier --check .` as written. Returns `text` unchanged, after telling
 * `warn`, when prettier cannot be loaded or fails.
 */
export async function formatMarkdown(
  text: string,
  filepath: string,
  warn?: (message: string) => void,
): Promise<string> {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(filepath)) ?? {};
    return await prettier.format(text, { ...options, filepath, parser: 'markdown' });
  } catch (error) {
    warn?.(`prettier unavailable (${error instanceof Error ? error.message : String(error)})`);
    return text;
  }
}
