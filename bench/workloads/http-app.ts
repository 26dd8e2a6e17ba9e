/**
 * Child process of workload 4: a small Nest (express) app with the same handler three times:
 * plain, under `@WithLock`, and, as a control, around the hand-written lock (the "limit"
 * contender) called by hand, on the nodes the parent passes in.
 */
import 'reflect-metadata';
import type { Server } from 'node:http';
import { Controller, type DynamicModule, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RedlockModule, RedlockService, WithLock } from '../../lib/index.js';
import { messageOf } from '../core/clock.js';
import { type Contender, createContender } from '../core/contenders.js';
import { type ChildMessage, exitWithParent, parentMessage, reply } from '../core/processes.js';

/** The hand-written lock of the control route, created before the app. */
let handWritten: Contender | undefined;

@Controller()
class BenchController {
  @Get('plain/:id')
  plain(@Param('id') id: string): { id: string } {
    return { id };
  }

  @Get('locked/:id')
  @WithLock('http:<0>', { ttl: 5_000 })
  locked(@Param('id') id: string): { id: string } {
    return { id };
  }

  /** Control: the same two round trips without the library, to see what HTTP adds to them. */
  @Get('limit/:id')
  async limit(@Param('id') id: string): Promise<{ id: string }> {
    const handle = await handWritten!.acquire(`http-limit:${id}`);
    try {
      return { id };
    } finally {
      await handWritten!.release(handle);
    }
  }
}

@Module({})
class BenchAppModule {
  static register(nodes: readonly string[]): DynamicModule {
    return {
      module: BenchAppModule,
      imports: [RedlockModule.forRoot({ nodes, logger: false })],
      controllers: [BenchController],
    };
  }
}

export interface HttpAppConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly urls: readonly string[];
}

export interface RoundTripRequest extends ChildMessage {
  readonly type: 'measure-rt';
  /** Whose round trips: the app's RedlockService, or the hand-written lock. */
  readonly lock: 'ours' | 'limit';
  readonly ms: number;
  readonly maxOps: number;
}

export interface RoundTripReply extends ChildMessage {
  readonly type: 'rt';
  readonly ops: number;
  readonly totalMs: number;
}

async function main(): Promise<void> {
  exitWithParent();
  const { urls } = await parentMessage<HttpAppConfigMessage>('config');
  handWritten = await createContender('limit', urls, {
    mode: 'uncontended',
    ttl: 5_000,
    waitMs: 0,
  });
  const app = await NestFactory.create(BenchAppModule.register(urls), { logger: false });
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as Server).address() as { port: number };
  const redlock = app.get(RedlockService);
  let rtKey = 0;
  process.on('message', (message: unknown) => {
    const type = (message as ChildMessage | undefined)?.type;
    if (type === 'measure-rt') {
      // The locks' own round trips (acquire + release, one at a time) through the app's
      // connections, measured between load runs while the app is idle.
      const { lock, ms, maxOps } = message as RoundTripRequest;
      void (async () => {
        const end = performance.now() + ms;
        let ops = 0;
        let totalMs = 0;
        while (performance.now() < end && ops < maxOps) {
          const t0 = performance.now();
          const key = `rt:${(rtKey += 1)}`;
          if (lock === 'ours') {
            const held = await redlock.acquire(key, { ttl: 5_000 });
            await held.release();
          } else {
            const held = await handWritten!.acquire(key);
            await handWritten!.release(held);
          }
          totalMs += performance.now() - t0;
          ops += 1;
        }
        const answer: RoundTripReply = { type: 'rt', ops, totalMs };
        await reply(answer);
      })().catch((error: unknown) => reply({ type: 'error', message: messageOf(error) }));
      return;
    }
    if (type !== 'stop') return;
    const timer = setTimeout(() => process.exit(0), 2_000);
    void Promise.allSettled([app.close(), handWritten?.close()]).finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  });
  await reply({ type: 'listening', port: address.port });
}

main().catch(async (error: unknown) => {
  await reply({ type: 'error', message: messageOf(error) }).catch(() => undefined);
  process.exit(1);
});
