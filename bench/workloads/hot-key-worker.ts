/**
 * Child process of the hot-key workload: builds every contender once (for every node count the
 * parent will ask for), then runs its share of the workers for whichever contender the parent
 * names, turn after turn. Building once keeps process start-up (and Nest's) out of the rounds,
 * lets the parent interleave contenders, and spares a second set of processes per node count.
 */
import { messageOf } from '../core/clock.js';
import {
  type Contender,
  type ContenderId,
  type ContenderSettings,
  createContender,
} from '../core/contenders.js';
import { type ChildMessage, exitWithParent, reply } from '../core/processes.js';
import { type HotLoopSpec, runHotLoop } from './hot-loop.js';

/** One contender on one set of nodes, named by `key` (e.g. `ours@5`). */
export interface WorkerBuild {
  readonly key: string;
  readonly id: ContenderId;
  readonly urls: readonly string[];
}

export interface WorkerConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly builds: readonly WorkerBuild[];
  readonly settings: ContenderSettings;
}

export interface WorkerRunMessage extends ChildMessage {
  readonly type: 'run';
  readonly key: string;
  readonly spec: HotLoopSpec;
  readonly startAt: number;
  readonly windowEnd: number;
}

function main(): void {
  exitWithParent();
  const contenders = new Map<string, Contender>();
  let queue = Promise.resolve();
  process.on('message', (raw: unknown) => {
    const message = raw as ChildMessage;
    if (message.type === 'stop') {
      void Promise.race([
        Promise.allSettled([...contenders.values()].map((c) => c.close())),
        new Promise((resolve) => setTimeout(resolve, 1_000)),
      ]).finally(() => process.exit(0));
      return;
    }
    // One message at a time, in order: a run must not start before the config is done.
    queue = queue
      .then(() => handle(message, contenders))
      .catch((error: unknown) => reply({ type: 'error', message: messageOf(error) }));
  });
}

async function handle(message: ChildMessage, contenders: Map<string, Contender>): Promise<void> {
  if (message.type === 'config') {
    const { builds, settings } = message as WorkerConfigMessage;
    // In parallel: start-up (Nest's included) is not measured, only waited for.
    const built = await Promise.all(builds.map((b) => createContender(b.id, b.urls, settings)));
    built.forEach((contender, index) => contenders.set(builds[index]!.key, contender));
    await reply({ type: 'ready' });
  } else if (message.type === 'run') {
    const { key, spec, startAt, windowEnd } = message as WorkerRunMessage;
    const records = await runHotLoop(contenders.get(key)!, spec, startAt, windowEnd);
    await reply({ type: 'result', records });
  }
}

main();
