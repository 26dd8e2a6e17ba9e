/**
 * Redis time per operation, each command counted once.
 *
 * `INFO commandstats` books a command run inside a script twice: once in the script's own
 * entry (`cmdstat_evalsha` times the whole script, inner calls included) and once under the
 * inner command's name (`cmdstat_set` counts the SETs scripts ran too). Summing every entry, as
 * a naive bench does, charges a script-heavy client for its inner commands twice.
 *
 * The fix needs to know which command types a contender sends at top level. We learn it, per
 * contender, by watching a short calibration run with `MONITOR` (which tags commands run by a
 * script with the source `lua`), outside the measured turns (MONITOR slows the server). In a
 * measured turn the Redis time is then the sum of:
 * - every script entry (`eval`, `evalsha`, `fcall`, and their `_ro` forms), inner work included;
 * - every type seen only at top level;
 * - for a type seen both ways, its time × the top-level share of its calls in the calibration
 *   (flagged as approximate in the report);
 * - a type never seen in the calibration counts in full (it can only over-charge);
 * and never a type seen only inside scripts, nor `info` (the bench's own reading).
 */
import { Redis } from 'ioredis';
import type { CommandStat } from './redis-tools.js';

const SCRIPT_TYPES = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);
/** Commands with subcommands, which commandstats names `script|load`, `client|setname`, … */
const CONTAINERS = new Set([
  'acl',
  'client',
  'cluster',
  'command',
  'config',
  'function',
  'latency',
  'memory',
  'module',
  'object',
  'pubsub',
  'script',
  'slowlog',
  'xinfo',
]);
/** Sent by the bench itself between turns, never by a contender. */
const BENCH_OWN = new Set(['info']);

/** Calls per command type seen at top level and inside scripts during the calibration. */
export interface CommandProfile {
  readonly top: Record<string, number>;
  readonly inner: Record<string, number>;
}

/** The name `INFO commandstats` uses for a command sent as `args`. */
export function statName(args: readonly string[]): string {
  const name = (args[0] ?? '').toLowerCase();
  return CONTAINERS.has(name) && args[1] ? `${name}|${args[1].toLowerCase()}` : name;
}

/**
 * Runs `work` while a MONITOR connection on `url` records every command, and returns which
 * types came from clients and which from scripts.
 */
export async function calibrate(url: string, work: () => Promise<void>): Promise<CommandProfile> {
  const top: Record<string, number> = {};
  const inner: Record<string, number> = {};
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  await client.connect();
  const monitor = await client.monitor();
  monitor.on('error', () => undefined);
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = statName(args);
    const book = source === 'lua' ? inner : top;
    book[name] = (book[name] ?? 0) + 1;
  });
  try {
    await work();
    // MONITOR lines trail the replies by a little; a round trip on the admin side settles it.
    await client.ping();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    monitor.disconnect();
    client.disconnect();
  }
  return { top, inner };
}

export interface TopLevelTime {
  readonly usec: number;
  /** A type was sent both at top level and inside scripts: its share was estimated. */
  readonly approximate: boolean;
  /** Types the calibration never saw (counted in full). */
  readonly unclassified: readonly string[];
}

export function topLevelUsec(
  delta: ReadonlyMap<string, CommandStat>,
  profile: CommandProfile | undefined,
): TopLevelTime {
  let usec = 0;
  let approximate = false;
  const unclassified: string[] = [];
  for (const [name, stat] of delta) {
    if (BENCH_OWN.has(name)) continue;
    if (SCRIPT_TYPES.has(name)) {
      usec += stat.usec;
      continue;
    }
    const top = profile?.top[name] ?? 0;
    const inner = profile?.inner[name] ?? 0;
    if (top === 0 && inner === 0) {
      unclassified.push(name);
      usec += stat.usec;
    } else if (inner === 0) {
      usec += stat.usec;
    } else if (top > 0) {
      approximate = true;
      usec += stat.usec * (top / (top + inner));
    }
    // Only inside scripts: already inside the script's own time.
  }
  return { usec, approximate, unclassified };
}
