/** Child process of workload 3: runs some of the workers of one contender on the hot key. */
import { messageOf } from '../core/clock.js';
import { type ContenderId, type ContenderSettings, createContender } from '../core/contenders.js';
import { type ChildMessage, exitWithParent, parentMessage, reply } from '../core/processes.js';
import { type HotLoopSpec, runHotLoop } from './hot-loop.js';

export interface WorkerConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly contender: ContenderId;
  readonly urls: readonly string[];
  readonly settings: ContenderSettings;
  readonly spec: HotLoopSpec;
}

export interface WorkerStartMessage extends ChildMessage {
  readonly type: 'start';
  readonly startAt: number;
  readonly windowEnd: number;
}

async function main(): Promise<void> {
  exitWithParent();
  process.on('message', (message: unknown) => {
    if ((message as ChildMessage | undefined)?.type === 'stop') process.exit(0);
  });
  const config = await parentMessage<WorkerConfigMessage>('config');
  const contender = await createContender(config.contender, config.urls, config.settings);
  const start = parentMessage<WorkerStartMessage>('start');
  await reply({ type: 'ready' });
  const { startAt, windowEnd } = await start;
  const records = await runHotLoop(contender, config.spec, startAt, windowEnd);
  await reply({ type: 'result', records });
  await Promise.race([contender.close(), new Promise((resolve) => setTimeout(resolve, 1_000))]);
  process.exit(0);
}

main().catch(async (error: unknown) => {
  await reply({ type: 'error', message: messageOf(error) }).catch(() => undefined);
  process.exit(1);
});
