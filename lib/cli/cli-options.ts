import { parseArgs } from 'node:util';
import { globProblem } from '../adapters/redis-glob.js';
import { DEFAULT_KEY_PREFIX } from '../redlock.constants.js';

/** What a command line asks for, validated. */
export interface CliOptions {
  readonly command: 'locks' | 'release' | 'watch' | 'help';
  /** Node URLs (`redis://`, `rediss://`); may carry credentials: never printed as given. */
  readonly nodes: readonly string[];
  readonly prefix: string;
  readonly pattern: string;
  readonly limit: number;
  readonly json: boolean;
  /** `release`: the resource and who releases it. */
  readonly resource?: string;
  readonly by?: string;
  /** `watch`: refresh interval in ms, and how many refreshes (`Infinity`: until Ctrl-C). */
  readonly interval: number;
  readonly count: number;
  /** How long to wait for each node's connection, in ms. */
  readonly timeout: number;
}

/** A command line that cannot run: the message says what to change (exit code 2). */
export class UsageError extends Error {}

export const USAGE = `Usage: nestjs-redlock <command> [options]

Commands:
  locks                 List the locks held on the nodes (a table)
  release <resource>    Force-release a lock, whoever holds it (needs --by)
  watch                 The table of locks, refreshed until Ctrl-C

Options:
  --nodes <urls>        Comma-separated node URLs (redis://, rediss://); default: $REDLOCK_NODES.
                        Prefer the variable for passwords: it stays out of shell history and ps.
  --prefix <prefix>     Key prefix of the application's locks (default '${DEFAULT_KEY_PREFIX}')
  --pattern <glob>      Only resources matching this Redis glob (default '*')
  --limit <n>           Most locks listed (default 1000)
  --json                JSON instead of a table (locks, watch, release)
  --by <who>            release: who releases it, for the holder's logs and events
  --interval <ms>       watch: refresh interval (default 2000)
  --count <n>           watch: stop after n refreshes (default: until Ctrl-C)
  --timeout <ms>        How long to wait for each node's connection (default 5000)
  -h, --help            This text

Credentials in node URLs never appear in the output: addresses are shown as host:port.`;

const whole = (text: string | undefined, name: string, fallback: number, min = 1): number => {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} expects a whole number >= ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
};

/** Parses `argv` (without `node` and the script). @throws UsageError */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        nodes: { type: 'string' },
        prefix: { type: 'string' },
        pattern: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
        by: { type: 'string' },
        interval: { type: 'string' },
        count: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // parseArgs names the option, never its value; the value may be a URL with a password.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [command = 'help', ...rest] = positionals;
  if (values.help || command === 'help') return { ...defaults(), command: 'help' };
  if (command !== 'locks' && command !== 'release' && command !== 'watch') {
    throw new UsageError(
      `Unknown command ${JSON.stringify(command.slice(0, 40))}: use locks, release or watch.`,
    );
  }
  const expected = command === 'release' ? 1 : 0;
  if (rest.length !== expected) {
    throw new UsageError(
      command === 'release'
        ? 'release takes exactly one resource: nestjs-redlock release <resource> --by <who>'
        : `${command} takes no positional arguments (got ${rest.length})`,
    );
  }
  const nodes = (values.nodes ?? env.REDLOCK_NODES ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node.length > 0);
  if (nodes.length === 0) {
    throw new UsageError('Give the lock nodes: --nodes redis://host:6379[,...] or REDLOCK_NODES.');
  }
  for (const [index, node] of nodes.entries()) {
    if (!/^rediss?:\/\//i.test(node)) {
      throw new UsageError(`Node ${index + 1} is not a redis:// or rediss:// URL.`);
    }
  }
  const problem = globProblem(values.pattern ?? '*');
  if (problem) throw new UsageError(`--pattern is not a valid Redis glob: ${problem}.`);
  if (command === 'release' && !values.by?.trim()) {
    throw new UsageError(
      "release needs --by <who>: the name appears in the holder's logs and events.",
    );
  }
  return {
    ...defaults(),
    command,
    nodes,
    prefix: values.prefix ?? DEFAULT_KEY_PREFIX,
    pattern: values.pattern ?? '*',
    limit: whole(values.limit, 'limit', 1_000),
    json: values.json ?? false,
    resource: rest[0],
    by: values.by,
    interval: whole(values.interval, 'interval', 2_000, 100),
    count: whole(values.count, 'count', Infinity),
    timeout: whole(values.timeout, 'timeout', 5_000),
  };
}

function defaults(): Omit<CliOptions, 'command'> {
  return {
    nodes: [],
    prefix: DEFAULT_KEY_PREFIX,
    pattern: '*',
    limit: 1_000,
    json: false,
    interval: 2_000,
    count: Infinity,
    timeout: 5_000,
  };
}
