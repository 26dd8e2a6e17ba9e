/**
 * Helpers for the bad-input and security suites: capture every log line an application (and
 * ioredis, through the console) writes, render values the ways people print them, and list the
 * places where a credential shows up.
 */
import { inspect } from 'node:util';
import type { Redis } from 'ioredis';

/** A Nest `LoggerService` that is also a `RedlockLogger`: every call becomes one line. */
export interface CollectingLogger {
  log(message: unknown, ...rest: unknown[]): void;
  warn(message: unknown, ...rest: unknown[]): void;
  error(message: unknown, ...rest: unknown[]): void;
  debug(message: unknown, ...rest: unknown[]): void;
  verbose(message: unknown, ...rest: unknown[]): void;
  fatal(message: unknown, ...rest: unknown[]): void;
}

export interface LogCapture {
  readonly lines: string[];
  readonly logger: CollectingLogger;
  /** Also records console output (ioredis warns through `console.warn`); undo with `restore`. */
  captureConsole(): void;
  restore(): void;
}

function renderArg(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: Infinity });
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (...args: unknown[]): void => {
      lines.push(`${level}: ${args.map(renderArg).join(' ')}`);
    };
  const logger: CollectingLogger = {
    log: record('log'),
    warn: record('warn'),
    error: record('error'),
    debug: record('debug'),
    verbose: record('verbose'),
    fatal: record('fatal'),
  };
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const originals = new Map<(typeof methods)[number], (...args: unknown[]) => void>();
  return {
    lines,
    logger,
    captureConsole() {
      for (const method of methods) {
        if (originals.has(method)) continue;
        const original = console[method] as (...args: unknown[]) => void;
        originals.set(method, original);
        console[method] = (...args: unknown[]) => {
          lines.push(`console.${method}: ${args.map(renderArg).join(' ')}`);
          original.apply(console, args);
        };
      }
    },
    restore() {
      for (const [method, original] of originals) console[method] = original;
      originals.clear();
    },
  };
}

function attempt(render: () => string | undefined): string {
  try {
    return render() ?? '(undefined)';
  } catch (error) {
    return `(threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`;
  }
}

/**
 * The ways a value ends up in logs and responses: `String`, `util.inspect` (default and
 * unlimited depth, as `console.dir(x, { depth: null })` prints it) and `JSON.stringify`.
 */
export function renderings(value: unknown): Record<string, string> {
  return {
    String: attempt(() => String(value)),
    inspect: attempt(() => inspect(value)),
    'inspect(depth: Infinity)': attempt(() => inspect(value, { depth: Infinity })),
    'JSON.stringify': attempt(() => JSON.stringify(value)),
  };
}

/** Every rendering of an error, including its message and stack. */
export function errorRenderings(error: unknown): Record<string, string> {
  const out = renderings(error);
  if (error instanceof Error) {
    out.message = error.message;
    out.stack = error.stack ?? '';
    if ('nodes' in error) out.nodes = attempt(() => JSON.stringify(error.nodes));
  }
  return out;
}

/** The forms a secret takes in text: as is, URL-encoded, and each part around an `@`. */
export function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    for (const part of secret.split('@')) if (part.length >= 4) forms.add(part);
  }
  return [...forms];
}

/** `where: secret` for each rendering that contains a secret; `[]` when clean. */
export function leaks(texts: Record<string, string>, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secretForms(secrets)) {
      if (text.includes(secret)) found.push(`${where} contains "${secret}": ${text.slice(0, 300)}`);
    }
  }
  return found;
}

/** `leaks` over log lines. */
export function logLeaks(lines: readonly string[], secrets: readonly string[]): string[] {
  return leaks(
    Object.fromEntries(lines.map((line, index) => [`log line ${index}`, line])),
    secrets,
  );
}

/** Lock keys (`prefix*`) still in Redis; helper keys (`{lock:...}:fence`) are not included. */
export function lockKeys(redis: Redis, prefix = 'lock:'): Promise<string[]> {
  return redis.keys(`${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`);
}

/** Resolves with the rejection of `promise`, or fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** The error `fn` throws synchronously, or fails when it does not throw. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the function to throw, but it returned');
}
