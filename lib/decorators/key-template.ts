import { LockKeyError } from '../redlock.errors.js';
import { describe } from '../services/lock-options.js';

/**
 * How `@WithLock` names what it locks: a template (`'order:<0>'`), several templates locked all
 * or nothing, or a function of the method's arguments.
 */
export type LockKey = string | readonly string[] | ((...args: any[]) => string | readonly string[]); // eslint-disable-line @typescript-eslint/no-explicit-any

/** Turns a method's arguments into resource names. */
export type KeyResolver = (args: readonly unknown[]) => string[];

type Part =
  string | { readonly index: number; readonly path: readonly string[]; readonly source: string };

// `<0>`, `<1.user.id>`: an argument index and an optional property path.
const PLACEHOLDER = /<(\d+)((?:\.[A-Za-z_$][\w$]*)*)>/g;

/**
 * Parses a key once, when the decorator runs, so a malformed template fails at startup rather
 * than on the first call.
 *
 * @example
 * ```ts
 * compileKey('order:<0>')(['42']); // ['order:42']
 * compileKey(['acct:<0.id>', 'acct:<1.id>'])([{ id: 1 }, { id: 2 }]); // ['acct:1', 'acct:2']
 * ```
 */
export function compileKey(key: LockKey): KeyResolver {
  if (typeof key === 'function') {
    return (args) => {
      const result: unknown = key(...args);
      const list: readonly unknown[] = Array.isArray(result) ? result : [result];
      if (list.length === 0) {
        throw new LockKeyError('The lock key function returned no resource.', {
          code: 'ERR_REDLOCK_EMPTY_KEY',
        });
      }
      return list.map((value) => {
        if (typeof value !== 'string' || value.length === 0) {
          throw new LockKeyError(
            `The lock key function must return non-empty strings, got ${describe(value)}.`,
            { code: value === '' ? 'ERR_REDLOCK_EMPTY_KEY' : 'ERR_REDLOCK_INVALID_KEY' },
          );
        }
        return value;
      });
    };
  }
  const templates: readonly unknown[] =
    typeof key === 'string' ? [key] : Array.isArray(key) ? key : [key];
  if (templates.length === 0) {
    throw new LockKeyError('@WithLock needs at least one key template.', {
      code: 'ERR_REDLOCK_EMPTY_KEY',
    });
  }
  const compiled = templates.map(parseTemplate);
  return (args) => compiled.map((parts) => render(parts, args));
}

function parseTemplate(template: unknown): readonly Part[] {
  if (typeof template !== 'string' || template.length === 0) {
    throw new LockKeyError(
      `A key template must be a non-empty string, got ${describe(template)}.`,
      {
        code: template === '' ? 'ERR_REDLOCK_EMPTY_KEY' : 'ERR_REDLOCK_MALFORMED_TEMPLATE',
      },
    );
  }
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    parts.push(literal(template.slice(last, match.index), template));
    parts.push({
      index: Number(match[1]),
      path: match[2] ? match[2].slice(1).split('.') : [],
      source: match[0],
    });
    last = match.index + match[0].length;
  }
  parts.push(literal(template.slice(last), template));
  return parts.filter((part) => part !== '');
}

function literal(text: string, template: string): string {
  if (text.includes('<') || text.includes('>')) {
    throw new LockKeyError(
      `Malformed key template "${template}": placeholders look like <0> or <1.user.id> (argument index, then an optional property path).`,
      { code: 'ERR_REDLOCK_MALFORMED_TEMPLATE' },
    );
  }
  return text;
}

function render(parts: readonly Part[], args: readonly unknown[]): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    let value: unknown = args[part.index];
    for (const segment of part.path) {
      value =
        value === null || value === undefined
          ? undefined
          : (value as Record<string, unknown>)[segment];
    }
    out += placeholderText(value, part.source);
  }
  return out;
}

function placeholderText(value: unknown, source: string): string {
  switch (typeof value) {
    case 'string':
      if (value.length > 0) return value;
      break;
    case 'number':
      if (Number.isFinite(value)) return String(value);
      break;
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      break;
  }
  throw new LockKeyError(
    `Key placeholder ${source} resolved to ${describe(value)}; it must be a non-empty string or a finite number. ` +
      'Point it at a property (e.g. <0.id>) or use a key function.',
    { code: 'ERR_REDLOCK_UNRESOLVED_PLACEHOLDER' },
  );
}
