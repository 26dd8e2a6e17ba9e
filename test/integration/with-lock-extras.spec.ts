import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type INestApplication, Injectable, Module } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Observable, Subject, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import {
  LockLostError,
  type RedlockEvent,
  RedlockHealthIndicator,
  RedlockModule,
  RedlockService,
  WithLock,
} from '../../lib/index.js';
import { deferred } from '../support/deferred.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

@Injectable()
class Streams {
  constructor(readonly redlock: RedlockService) {}

  @WithLock('stream:<0>')
  feed(_id: string, source: Subject<number>): Observable<number> {
    return source.asObservable();
  }

  // A short lease renews every 150 ms, so a takeover is noticed quickly.
  @WithLock('short:<0>', { ttl: 300, nodeTimeout: 50 })
  feedShort(_id: string, source: Subject<number>): Observable<number> {
    return source.asObservable();
  }

  @WithLock('sync:<0>')
  sync(id: string): string {
    return `done ${id}`;
  }
}

@Injectable()
class Listener {
  readonly events: RedlockEvent[] = [];
  readonly released = deferred();

  @OnEvent('redlock.*')
  on(event: RedlockEvent) {
    this.events.push(event);
    if (event.type === 'released') this.released.resolve();
  }
}

/** @WithLock on Observables and sync methods, events through @nestjs/event-emitter, health. */
describe('@WithLock extras (real Redis)', () => {
  let fleet: RedisFleet;
  let app: INestApplication;
  const seen: RedlockEvent[] = [];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    @Module({
      imports: [
        EventEmitterModule.forRoot({ wildcard: true }),
        RedlockModule.forRoot({
          nodes: fleet.urls,
          lock: { nodeTimeout: 100 },
          onEvent: (event) => seen.push(event),
        }),
      ],
      providers: [Streams, Listener],
    })
    class AppModule {}
    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.init();
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await fleet?.stop();
  });

  it('holds the lock while an Observable runs and releases it when it completes', async () => {
    const streams = app.get(Streams);
    const source = new Subject<number>();
    const values = lastValueFrom(streams.feed('a', source).pipe(toArray()));
    // Subscribed: the lock is taken asynchronously, so wait until it is visible.
    while (!(await streams.redlock.isLocked('stream:a'))) await new Promise((r) => setImmediate(r));
    source.next(1);
    source.next(2);
    expect(await streams.redlock.isLocked('stream:a')).toBe(true);
    source.complete();
    expect(await values).toEqual([1, 2]);
    expect(await streams.redlock.isLocked('stream:a')).toBe(false);
  });

  it('releases the lock when the Observable errors or is unsubscribed', async () => {
    const streams = app.get(Streams);
    const failing = new Subject<number>();
    const errored = firstValueFrom(streams.feed('b', failing)).catch((e: unknown) => e);
    while (!(await streams.redlock.isLocked('stream:b'))) await new Promise((r) => setImmediate(r));
    failing.error(new Error('boom'));
    expect(await errored).toEqual(new Error('boom'));
    expect(await streams.redlock.isLocked('stream:b')).toBe(false);

    const endless = new Subject<number>();
    const subscription = streams.feed('c', endless).subscribe();
    while (!(await streams.redlock.isLocked('stream:c'))) await new Promise((r) => setImmediate(r));
    subscription.unsubscribe();
    while (await streams.redlock.isLocked('stream:c')) await new Promise((r) => setImmediate(r));
    expect(await streams.redlock.isLocked('stream:c')).toBe(false);
  });

  it('errors the Observable with LockLostError when the lock is lost mid-stream', async () => {
    const streams = app.get(Streams);
    const source = new Subject<number>();
    const result = lastValueFrom(streams.feedShort('d', source)).catch((e: unknown) => e);
    while (!(await streams.redlock.isLocked('short:d'))) await new Promise((r) => setImmediate(r));
    // Another owner replaces the keys on every node: the next renewal is refused.
    await Promise.all(
      fleet.nodes.map((node) => node.client().set('lock:short:d', 'intruder', 'PX', 60_000)),
    );
    expect(await result).toBeInstanceOf(LockLostError);
  });

  it('turns sync methods into async ones that run under the lock', async () => {
    // The declared type stays `string`: the README tells users to declare locked methods async.
    const pending = app.get(Streams).sync('x') as unknown as Promise<string>;
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toBe('done x');
  });

  it('emits typed events to onEvent and to @nestjs/event-emitter listeners', async () => {
    const listener = app.get(Listener);
    const redlock = app.get(RedlockService);
    const lock = await redlock.acquire('evented', { fencing: true });
    await lock.release();
    await listener.released.promise;
    const types = listener.events.filter((e) => e.resources[0] === 'evented').map((e) => e.type);
    expect(types).toEqual(['acquired', 'released']);
    expect(seen.filter((e) => e.resources[0] === 'evented').map((e) => e.type)).toEqual(types);
    const acquired = listener.events.find(
      (e) => e.type === 'acquired' && e.resources[0] === 'evented',
    );
    expect(acquired).toMatchObject({ attempts: 1, fencingToken: lock.fencingToken });
  });

  it('reports health down with per-node status when the quorum is lost, and up again after', async () => {
    const health = app.get(RedlockHealthIndicator);
    expect((await health.isHealthy('redlock')).redlock!.status).toBe('up');
    await Promise.all([fleet.nodes[0]!.pause(), fleet.nodes[1]!.pause()]);
    try {
      const down = (await health.isHealthy('redlock', { timeout: 200 })).redlock!;
      expect(down.status).toBe('down');
      expect(down.nodes.map((n) => n.status)).toEqual(['down', 'down', 'up']);
      expect(down.nodes[2]!.latency).toBeGreaterThanOrEqual(0);
    } finally {
      await Promise.all([fleet.nodes[0]!.resume(), fleet.nodes[1]!.resume()]);
    }
    expect((await health.isHealthy('redlock')).redlock!.status).toBe('up');
  });
});
