/** Workload 5: the soak, in a child process with --expose-gc so the heap can be measured. */
import type { BenchConfig } from '../core/config.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import type { RedisAdmin } from '../core/redis-tools.js';
import type { SoakConfigMessage, SoakResultMessage, SoakSnapshot } from './soak-child.js';

export interface SoakResult {
  readonly store: 'redis' | 'memory';
  readonly why: string;
  readonly targetCycles: number;
  readonly cycles: number;
  readonly elapsedMs: number;
  readonly cyclesPerSec: number;
  readonly concurrency: number;
  readonly keySpace: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly waited: number;
  readonly before: SoakSnapshot;
  readonly after: SoakSnapshot;
  readonly heapGrowthBytes: number;
  readonly rssGrowthBytes: number;
  /** Active resources whose count grew, e.g. `{ Timeout: 3 }`; empty when none grew. */
  readonly resourceGrowth: Record<string, number>;
  /** Channels with a subscriber on the Redis node after the run (Redis store only). */
  readonly redisChannelsAfter: number | undefined;
}

export interface SoakContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
  /** ops/s of ours on 1 node with 64 in flight (workload 2), to see whether Redis fits the budget. */
  readonly expectedOpsPerSec: number | undefined;
}

export async function runSoak({
  urls,
  admin,
  config,
  log,
  expectedOpsPerSec,
}: SoakContext): Promise<SoakResult> {
  const s = config.soak;
  const expectedMs = expectedOpsPerSec
    ? ((s.cycles + s.warmupCycles) / expectedOpsPerSec) * 1_000
    : undefined;
  const useRedis = expectedMs === undefined || expectedMs <= s.redisBudgetMs;
  const why =
    expectedMs === undefined
      ? 'one Redis node (no throughput estimate from workload 2 in this run)'
      : useRedis
        ? `one Redis node: ~${(expectedMs / 1_000).toFixed(0)} s expected from workload 2, within the ${s.redisBudgetMs / 1_000} s budget`
        : `the memory adapter: one Redis node would take ~${(expectedMs / 1_000).toFixed(0)} s (workload 2 rate), over the ${s.redisBudgetMs / 1_000} s budget`;
  const url = useRedis ? urls[0]! : 'memory://soak';
  if (useRedis) await admin.flushAll(1);
  log(`  soak on ${why}`);
  const child = forkTracked('./soak-child.js', import.meta.url, { execArgv: ['--expose-gc'] });
  let message: SoakResultMessage;
  let channelsAfter: number | undefined;
  try {
    const done = nextMessage<SoakResultMessage>(child, 'result', s.maxMs * 2 + 60_000);
    const request: SoakConfigMessage = {
      type: 'config',
      url,
      cycles: s.cycles,
      warmupCycles: s.warmupCycles,
      concurrency: s.concurrency,
      keySpace: s.keySpace,
      maxMs: s.maxMs,
    };
    send(child, request);
    message = await done;
    channelsAfter = useRedis ? await admin.channelCount(0) : undefined;
  } finally {
    await stopChild(child);
  }
  const growth: Record<string, number> = {};
  for (const [kind, count] of Object.entries(message.after.resources)) {
    const delta = count - (message.before.resources[kind] ?? 0);
    if (delta > 0) growth[kind] = delta;
  }
  const result: SoakResult = {
    store: useRedis ? 'redis' : 'memory',
    why,
    targetCycles: s.cycles,
    cycles: message.cycles,
    elapsedMs: message.elapsedMs,
    cyclesPerSec: (message.cycles / message.elapsedMs) * 1_000,
    concurrency: s.concurrency,
    keySpace: s.keySpace,
    errors: message.errors,
    firstError: message.firstError,
    waited: message.waited,
    before: message.before,
    after: message.after,
    heapGrowthBytes: message.after.heapUsed - message.before.heapUsed,
    rssGrowthBytes: message.after.rss - message.before.rss,
    resourceGrowth: growth,
    redisChannelsAfter: channelsAfter,
  };
  log(
    `  soak: ${result.cycles} cycles in ${(result.elapsedMs / 1_000).toFixed(1)} s (${result.cyclesPerSec.toFixed(0)}/s), ` +
      `heap ${mb(result.before.heapUsed)} -> ${mb(result.after.heapUsed)} MB, rss ${mb(result.before.rss)} -> ${mb(result.after.rss)} MB, ` +
      `${result.waited} waited, ${result.errors} errors`,
  );
  return result;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
