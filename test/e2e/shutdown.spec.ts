import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, Param, Post } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type RedlockEvent, RedlockModule, RedlockService, WithLock } from '../../lib/index.js';
import { type Deferred, deferred } from '../support/deferred.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { call, PLATFORMS, type RunningApp, startOn } from './support/platforms.js';

/** Lets the test decide when each request's work ends, and records when it starts and ends. */
@Injectable()
class Work {
  readonly started = new Map<string, Deferred<number>>();
  readonly finish = new Map<string, Deferred<void>>();
  readonly ended = new Map<string, number>();
  signal: AbortSignal | undefined;

  gate(id: string): { started: Deferred<number>; finish: Deferred<void> } {
    if (!this.started.has(id)) this.started.set(id, deferred<number>());
    if (!this.finish.has(id)) this.finish.set(id, deferred());
    return { started: this.started.get(id)!, finish: this.finish.get(id)! };
  }
}

@Controller('jobs')
class JobsController {
  constructor(
    private readonly work: Work,
    private readonly redlock: RedlockService,
  ) {}

  // A short ttl: the lock must be renewed several times while shutdown waits for the work.
  @Post(':id')
  @WithLock('job:<0>', { ttl: 600, wait: 15_000 })
  async run(@Param('id') id: string) {
    const gate = this.work.gate(id);
    const signal = this.redlock.currentLock()!.signal;
    this.work.signal = signal;
    gate.started.resolve(performance.now());
    // Work that watches its lock, as it should: it stops when the lock goes away.
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([gate.finish.promise, stopped]);
    this.work.ended.set(id, performance.now());
    return { id, stopped: signal.aborted };
  }
}

let fleet: RedisFleet;
let redis: Redis;

beforeAll(async () => {
  fleet = await startRedisFleet({ nodes: 1 });
  redis = fleet.nodes[0]!.client();
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

describe.each(PLATFORMS)('graceful shutdown on %s (two instances, one Redis)', (platform) => {
  const start = (
    shutdownTimeout: number,
    onEvent?: (event: RedlockEvent) => void,
  ): Promise<RunningApp> =>
    startOn(platform, {
      imports: [
        RedlockModule.forRoot({ nodes: fleet.urls, shutdownTimeout, onEvent, logger: false }),
      ],
      controllers: [JobsController],
      providers: [Work],
    });

  beforeEach(async () => {
    await redis.flushdb();
  });

  it("keeps the lock of running work held (and renewed) through shutdown; the other instance gets it only after that work's response", async () => {
    // Counts renewals of the first instance's locks once shutdown has begun.
    let closingSince: number | undefined;
    let renewals = 0;
    const renewedThrice = deferred();
    const onEvent = (event: RedlockEvent): void => {
      if (event.type !== 'extended' || closingSince === undefined) return;
      renewals += 1;
      if (renewals === 3) renewedThrice.resolve();
    };
    const [first, second] = await Promise.all([start(10_000, onEvent), start(10_000)]);
    try {
      const work1 = first.app.get(Work);
      const work2 = second.app.get(Work);
      const gate1 = work1.gate('a');
      const request1 = call(`${first.url}/jobs/a`, 'POST').then((response) => ({
        ...response,
        at: performance.now(),
      }));
      await gate1.started.promise;
      const value = await redis.get('lock:job:a');
      expect(value).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{8}\.[0-9a-z]{8,9}$/);

      // SIGTERM with enableShutdownHooks() runs exactly this.
      closingSince = performance.now();
      const closing = first.app.close().then(() => performance.now());
      const request2 = call(`${second.url}/jobs/a`, 'POST').then((response) => ({
        ...response,
        at: performance.now(),
      }));

      // New work on the instance that is shutting down fails at once with 503.
      const refused = await call(`${first.url}/jobs/b`, 'POST');
      expect(refused.status).toBe(503);

      // Three renewals (more than a ttl) later, the first instance still holds the lock and
      // the second still waits.
      await renewedThrice.promise;
      expect(performance.now() - closingSince).toBeGreaterThan(600);
      expect(await redis.get('lock:job:a')).toBe(value);
      expect(work2.started.has('a')).toBe(false);
      expect(work1.signal?.aborted).toBe(false);

      gate1.finish.resolve();
      const response1 = await request1;
      expect(response1.status).toBe(201);
      const gate2 = work2.gate('a');
      const entered2 = await gate2.started.promise;
      // The second instance's handler ran only after the first's work ended.
      expect(entered2).toBeGreaterThan(work1.ended.get('a')!);
      gate2.finish.resolve();
      expect((await request2).status).toBe(201);
      const closed = await closing;
      expect(closed).toBeGreaterThanOrEqual(work1.ended.get('a')!);
    } finally {
      await Promise.all([first.app.close(), second.app.close()]);
    }
  }, 30_000);

  it('releases the lock of work still running when shutdownTimeout passes, and aborts its signal', async () => {
    const [first, second] = await Promise.all([start(700), start(10_000)]);
    try {
      const work1 = first.app.get(Work);
      const gate1 = work1.gate('slow');
      void call(`${first.url}/jobs/slow`, 'POST').catch(() => undefined);
      await gate1.started.promise;
      const began = performance.now();
      await first.app.close();
      const took = performance.now() - began;
      expect(took).toBeGreaterThanOrEqual(650);
      expect(took).toBeLessThan(5_000);
      expect(await redis.get('lock:job:slow')).toBeNull();
      expect(work1.signal?.aborted).toBe(true);
      // The other instance can take it right away.
      const work2 = second.app.get(Work);
      const gate2 = work2.gate('slow');
      const request2 = call(`${second.url}/jobs/slow`, 'POST');
      await gate2.started.promise;
      gate2.finish.resolve();
      expect((await request2).status).toBe(201);
      gate1.finish.resolve();
    } finally {
      await Promise.all([first.app.close(), second.app.close()]);
    }
  }, 30_000);

  it('closes at once when no lock is held', async () => {
    const { app } = await start(10_000);
    const began = performance.now();
    await app.close();
    expect(performance.now() - began).toBeLessThan(1_000);
  });
});
