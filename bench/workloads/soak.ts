/**
 * Soak: is the heap flat over many cycles? Ours through `RedlockService`, in a child run with
 * --expose-gc, on one Redis node; heap after GC at checkpoints. The full run does 1,000,000
 * cycles; `--quick` far fewer, which the report says.
 */
import type { WorkloadEnv } from '../core/config.js';
import { type Audit, auditKeys } from '../core/key-audit.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import type { SoakConfigMessage, SoakResultMessage, SoakSnapshot } from './soak-child.js';

export interface SoakResult {
  readonly targetCycles: number;
  readonly cycles: number;
  readonly elapsedMs: number;
  readonly cyclesPerSec: number;
  readonly concurrency: number;
  readonly keySpace: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly snapshots: readonly SoakSnapshot[];
  /** Last snapshot minus the first, after GC. */
  readonly heapGrowthBytes: number;
  /** Active resources whose count grew, e.g. `{ Timeout: 3 }`; empty when none grew. */
  readonly resourceGrowth: Record<string, number>;
  /** Channels with a subscriber on the Redis node after the run. */
  readonly redisChannelsAfter: number;
  readonly audit: Audit;
}

export async function runSoak({ urls, admin, config, log }: WorkloadEnv): Promise<SoakResult> {
  const s = config.soak;
  const child = forkTracked('./soak-child.js', import.meta.url, { execArgv: ['--expose-gc'] });
  let message: SoakResultMessage;
  let channelsAfter: number;
  try {
    const done = nextMessage<SoakResultMessage>(child, 'result', s.maxMs * 2 + 60_000);
    const request: SoakConfigMessage = {
      type: 'config',
      url: urls[0]!,
      cycles: s.cycles,
      warmupCycles: s.warmupCycles,
      concurrency: s.concurrency,
      keySpace: s.keySpace,
      maxMs: s.maxMs,
      checkpoints: s.checkpoints,
    };
    send(child, request);
    message = await done;
    channelsAfter = await admin.channelCount(0);
  } finally {
    await stopChild(child);
  }
  const audit: Audit = {
    when: 'after the soak',
    nodes: 1,
    owners: await auditKeys(admin.first(1)),
  };
  await admin.flushAll(1);
  const first = message.snapshots[0]!;
  const last = message.snapshots[message.snapshots.length - 1]!;
  const growth: Record<string, number> = {};
  for (const [kind, count] of Object.entries(last.resources)) {
    const delta = count - (first.resources[kind] ?? 0);
    if (delta > 0) growth[kind] = delta;
  }
  const result: SoakResult = {
    targetCycles: s.cycles,
    cycles: message.cycles,
    elapsedMs: message.elapsedMs,
    cyclesPerSec: (message.cycles / message.elapsedMs) * 1_000,
    concurrency: s.concurrency,
    keySpace: s.keySpace,
    errors: message.errors,
    firstError: message.firstError,
    snapshots: message.snapshots,
    heapGrowthBytes: last.heapUsed - first.heapUsed,
    resourceGrowth: growth,
    redisChannelsAfter: channelsAfter,
    audit,
  };
  const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);
  log(
    `  soak: ${result.cycles} cycles (${result.cyclesPerSec.toFixed(0)}/s), heap ` +
      message.snapshots.map((snap) => mb(snap.heapUsed)).join(' → ') +
      ` MB, ${result.errors} errors`,
  );
  return result;
}
