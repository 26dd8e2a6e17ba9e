/**
 * Child process of the HTTP workload: a small Nest (express) app with the same handler four times:
 * plain, under `@WithLock`, around `RedlockService.acquire`/`release` called by hand, and, as a
 * control, around the hand-written lock (the "limit" contender) called by hand, on the nodes the
 * parent passes in.
 */
import 'reflect-metadata';
import type { Server } from 'node:http';
import {
  Controller,
  type DynamicModule,
  Get,
  type INestApplication,
  Module,
  Param,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RedlockModule, RedlockService, WithLock } from '../../lib/index.js';
import { messageOf } from '../core/clock.js';
import { type Contender, createContender } from '../core/contenders.js';
import { type ChildMessage, exitWithParent, reply } from '../core/processes.js';

/** The hand-written lock of the control route, created before the app. */
let handWritten: Contender | undefined;

@Controller()
class BenchController {
  constructor(private readonly redlock: RedlockService) {}

  @Get('plain/:id')
  plain(@Param('id') id: string): { id: string } {
    return { id };
  }

  @Get('locked/:id')
  @WithLock('b:ours:http:<0>', { ttl: 5_000 })
  locked(@Param('id') id: string): { id: string } {
    return { id };
  }

  /**
   * The library without the decorator: `RedlockService.acquire` and `release` called in the
   * handler, to split what `@WithLock` adds (its scope) from what the lock itself costs.
   */
  @Get('service/:id')
  async service(@Param('id') id: string): Promise<{ id: string }> {
    const lock = await this.redlock.acquire(`b:ours:svc:${id}`, { ttl: 5_000 });
    try {
      return { id };
    } finally {
      await lock.release();
    }
  }

  /** Control: the same two round trips without the library, to see what HTTP adds to them. */
  @Get('limit/:id')
  async limit(@Param('id') id: string): Promise<{ id: string }> {
    const handle = await handWritten!.acquire(`b:limit:http:${id}`);
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
      imports: [RedlockModule.forRoot({ nodes: [...nodes] })],
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

interface Serving {
  readonly app: INestApplication;
  readonly redlock: RedlockService;
  readonly port: number;
}

/** A new app on new nodes (the previous one is closed first): one process for every node count. */
async function serve(urls: readonly string[], previous: Serving | undefined): Promise<Serving> {
  if (previous) await Promise.allSettled([previous.app.close(), handWritten?.close()]);
  handWritten = await createContender('limit', urls, {
    mode: 'uncontended',
    ttl: 5_000,
    waitMs: 0,
  });
  const app = await NestFactory.create(BenchAppModule.register(urls), { logger: false });
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as Server).address() as { port: number };
  return { app, redlock: app.get(RedlockService), port: address.port };
}

/**
 * The locks' own round trips (acquire + release, one at a time) through the app's connections,
 * measured between load slices while the app is idle.
 */
async function roundTrips(serving: Serving, request: RoundTripRequest): Promise<RoundTripReply> {
  const { lock, ms, maxOps } = request;
  const end = performance.now() + ms;
  let ops = 0;
  let totalMs = 0;
  while (performance.now() < end && ops < maxOps) {
    const t0 = performance.now();
    const key = `b:${lock}:rt:${(rtKey += 1)}`;
    if (lock === 'ours') {
      const held = await serving.redlock.acquire(key, { ttl: 5_000 });
      await held.release();
    } else {
      const held = await handWritten!.acquire(key);
      await handWritten!.release(held);
    }
    totalMs += performance.now() - t0;
    ops += 1;
  }
  return { type: 'rt', ops, totalMs };
}

let rtKey = 0;

function main(): void {
  exitWithParent();
  let serving: Serving | undefined;
  let queue = Promise.resolve();
  process.on('message', (raw: unknown) => {
    const message = raw as ChildMessage;
    if (message.type === 'stop') {
      const timer = setTimeout(() => process.exit(0), 2_000);
      void Promise.allSettled([serving?.app.close(), handWritten?.close()]).finally(() => {
        clearTimeout(timer);
        process.exit(0);
      });
      return;
    }
    // In order, one at a time: a measurement never overlaps a restart.
    queue = queue
      .then(async () => {
        if (message.type === 'config') {
          serving = await serve((message as HttpAppConfigMessage).urls, serving);
          await reply({ type: 'listening', port: serving.port });
        } else if (message.type === 'measure-rt' && serving) {
          await reply(await roundTrips(serving, message as RoundTripRequest));
        }
      })
      .catch((error: unknown) => reply({ type: 'error', message: messageOf(error) }));
  });
}

main();
