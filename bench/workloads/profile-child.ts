/**
 * Child of `bench/profile.ts`, started with --cpu-prof: runs one contender on one workload so
 * the profile shows where its time goes.
 */
import { messageOf, mono } from '../core/clock.js';
import { type ContenderId, createContender } from '../core/contenders.js';
import { type ChildMessage, exitWithParent, parentMessage, reply } from '../core/processes.js';
import { runHotLoop } from './hot-loop.js';
import { runLanes } from './throughput.js';

export interface ProfileConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly contender: ContenderId;
  readonly urls: readonly string[];
  readonly workload: 'uncontended' | 'many-keys' | 'contended';
  readonly seconds: number;
}

async function main(): Promise<void> {
  exitWithParent();
  const config = await parentMessage<ProfileConfigMessage>('config');
  const contended = config.workload === 'contended';
  const contender = await createContender(config.contender, config.urls, {
    mode: contended ? 'contended' : 'uncontended',
    ttl: contended ? 1_000 : 10_000,
    waitMs: 10_000,
  });
  const ms = config.seconds * 1_000;
  // Warm up (JIT, script cache) outside the window the analysis looks at.
  await runLanes(contender, 'profile-warm:', 1, 500, 1_000_000, undefined);
  const from = mono();
  let summary: string;
  let ops: number;
  if (contended) {
    const start = mono() + 20;
    const records = await runHotLoop(
      contender,
      {
        resource: 'profile:hot',
        workers: 8,
        firstWorker: 0,
        holdMs: 1,
        drainMs: 2_000,
        settleMs: 10_000,
        maxAcquisitionsPerWorker: 1e6,
      },
      start,
      start + ms,
    );
    ops = records.acquiredAt.length;
    summary = `${(ops / config.seconds).toFixed(0)} acquisitions/s, ${records.giveUps} give-ups`;
  } else {
    const lanes = config.workload === 'uncontended' ? 1 : 64;
    const outcome = await runLanes(contender, 'profile:', lanes, ms, 10_000_000, undefined);
    ops = outcome.ops;
    summary = `${((outcome.ops / outcome.elapsedMs) * 1_000).toFixed(0)} ops/s, ${outcome.errors} errors`;
  }
  const to = mono();
  await contender.close();
  await reply({ type: 'done', summary, ops, from, to });
  // A normal exit, so --cpu-prof writes the profile.
  process.disconnect();
}

main().catch(async (error: unknown) => {
  await reply({ type: 'error', message: messageOf(error) }).catch(() => undefined);
  process.exit(1);
});
