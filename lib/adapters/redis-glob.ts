/**
 * Redis glob patterns (`SCAN MATCH`, `KEYS`), for the stores that are not Redis: the memory
 * store's listing matches exactly what `SCAN MATCH` would. `*` any run of characters, `?` one,
 * `[abc]` / `[a-z]` / `[^a]` a class, `\x` a literal `x`.
 */

/** `text` as a glob that matches exactly `text` (the lock prefix before a user's pattern). */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/**
 * Why `pattern` is not a well-formed glob (an unclosed `[`, a trailing `\`), or `undefined`.
 * Redis accepts those and guesses; refusing them keeps every store matching the same keys.
 */
export function globProblem(pattern: string): string | undefined {
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i];
    if (char === '\\') {
      if (i === pattern.length - 1) return 'it ends with a lone "\\"';
      i += 1;
    } else if (char === '[') {
      const close = classEnd(pattern, i);
      if (close === -1) return `the "[" at position ${i} is never closed`;
      i = close;
    }
  }
  return undefined;
}

/** A predicate for a well-formed glob (see {@link globProblem}), with Redis' semantics. */
export function globMatcher(pattern: string): (text: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === '*') source += '[^]*';
    else if (char === '?') source += '[^]';
    else if (char === '\\') source += literal(pattern[++i] ?? '');
    else if (char === '[') {
      const close = classEnd(pattern, i);
      source += characterClass(pattern.slice(i + 1, close));
      i = close;
    } else source += literal(char);
  }
  const regex = new RegExp(`^${source}$`, 'u');
  return (text) => regex.test(text);
}

/** Index of the `]` that closes the class opened at `open`, or -1. */
function classEnd(pattern: string, open: number): number {
  for (let i = open + 1; i < pattern.length; i += 1) {
    if (pattern[i] === '\\') i += 1;
    else if (pattern[i] === ']') return i;
  }
  return -1;
}

/** A class body (`^a-z\]`) as a RegExp class; Redis swaps reversed ranges (`z-a`). */
function characterClass(body: string): string {
  let negate = false;
  let i = 0;
  if (body[0] === '^') {
    negate = true;
    i = 1;
  }
  const parts: string[] = [];
  for (; i < body.length; i += 1) {
    let char = body[i]!;
    if (char === '\\') char = body[++i] ?? '';
    if (body[i + 1] === '-' && i + 2 < body.length) {
      let end = body[i + 2]!;
      i += 2;
      if (end === '\\') end = body[++i] ?? '';
      const [low, high] = char <= end ? [char, end] : [end, char];
      parts.push(`${classChar(low)}-${classChar(high)}`);
    } else {
      parts.push(classChar(char));
    }
  }
  if (parts.length === 0) return negate ? '[^]' : '[]';
  return `[${negate ? '^' : ''}${parts.join('')}]`;
}

function literal(char: string): string {
  return char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function classChar(char: string): string {
  return char.replace(/[\]\\^-]/g, '\\$&');
}
