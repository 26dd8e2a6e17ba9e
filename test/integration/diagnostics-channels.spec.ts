import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  LockLostError,
  LockNotAcquiredError,
  REDLOCK_CHANNELS,
  type RedlockAcquireMessage,
  type RedlockBusyMessage,
  type RedlockCircuitMessage,
  type RedlockDegradedMessage,
  type RedlockExtendMessage,
  type RedlockForceReleaseMessage,
  type RedlockLostMessage,
  RedlockModule,
  type RedlockReleaseMessage,
  RedlockUnavailableError,
  WithLock,
} from '../../lib/index.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters, eventually } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

const PASSWORD = 'diag-s3cret-pw';

interface Messages {
  acquire: RedlockAcquireMessage[];
  release: RedlockReleaseMessage[];
  lost: RedlockLostMessage[];
  busy: RedlockBusyMessage[];
  extend: RedlockExtendMessage[];
  circuit: RedlockCircuitMessage[];
  degraded: RedlockDegradedMessage[];
  forceRelease: RedlockForceReleaseMessage[];
}

@Injectable()
class Jobs {
  runs = 0;

  @WithLock('job:<0>', { onBusy: 'skip' })
  async run(_name: string): Promise<string> {
    this.runs += 1;
    await sleep(1);
    return 'ran';
  }
}

/** The diagnostics channels over 3 password-protected redis-server processes. */
describe('diagnostics_channel messages (real Redis)', () => {
  let fleet: RedisFleet;
  const open: LockAdapter[][] = [];
  let messages: Messages;
  let listeners: [string, (message: unknown) => void][] = [];
  let seq = 0;
  const resource = (name: string): string => `diag:${name}:${process.pid}:${(seq += 1)}`;

  const engine = async (options: ConstructorParameters<typeof Redlock>[1] = {}) => {
    const adapters = await connectAdapters(fleet.urls);
    open.push(adapters);
    return new Redlock(adapters, { lock: { nodeTimeout: 200 }, ...options });
  };

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3, args: ['--requirepass', PASSWORD] });
  }, 30_000);

  beforeEach(() => {
    messages = {
      acquire: [],
      release: [],
      lost: [],
      busy: [],
      extend: [],
      circuit: [],
      degraded: [],
      forceRelease: [],
    };
    listeners = (Object.keys(REDLOCK_CHANNELS) as (keyof Messages)[]).map((key) => {
      const listener = (message: unknown): void => void messages[key].push(message as never);
      subscribe(REDLOCK_CHANNELS[key], listener);
      return [REDLOCK_CHANNELS[key], listener];
    });
  });

  afterEach(async () => {
    for (const [name, listener] of listeners) unsubscribe(name, listener);
    await Promise.all(fleet.nodes.map((node) => node.resume()));
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('acquire, extend and release carry the lock id, timings, attempts and fencing token', async () => {
    const redlock = await engine();
    const name = resource('cycle');
    const lock = await redlock.acquire(name, { ttl: 5_000, fencing: true });
    await lock.extend(8_000);
    const extendedTo = lock.expiresAt;
    await sleep(30);
    await lock.release();

    expect(messages.acquire).toEqual([
      {
        lockId: expect.any(Number),
        resources: [name],
        outcome: 'acquired',
        mode: 'write',
        attempts: 1,
        waited: expect.any(Number),
        fencingToken: lock.fencingToken,
        error: undefined,
      },
    ]);
    const { lockId, waited } = messages.acquire[0]!;
    expect(waited).toBeGreaterThanOrEqual(0);
    expect(waited).toBeLessThan(1_000);
    expect(messages.extend).toEqual([
      { lockId, resources: [name], expiresAt: expect.any(Number), fencingToken: lock.fencingToken },
    ]);
    // The new expiry, not the one before the extension (a few ms of clock reading apart).
    expect(Math.abs(messages.extend[0]!.expiresAt - extendedTo)).toBeLessThanOrEqual(5);
    expect(messages.extend[0]!.expiresAt).toBeGreaterThan(Date.now() + 7_000);
    expect(messages.release).toEqual([
      {
        lockId,
        resources: [name],
        status: 'released',
        held: expect.any(Number),
        fencingToken: lock.fencingToken,
      },
    ]);
    expect(messages.release[0]!.held).toBeGreaterThanOrEqual(29);
    expect(messages.busy).toEqual([]);
    expect(messages.lost).toEqual([]);
  });

  it('a busy acquisition publishes acquire (outcome busy) and busy, with the wait and attempts', async () => {
    const [holder, waiter] = [await engine(), await engine()];
    const name = resource('busy');
    const held = await holder.acquire(name, { ttl: 5_000 });
    expect(await waiter.tryAcquire(name)).toBeNull();
    await expect(waiter.acquire(name, { wait: 300, retryDelay: 50 })).rejects.toBeInstanceOf(
      LockNotAcquiredError,
    );
    await held.release();

    const failures = messages.acquire.filter((message) => message.outcome !== 'acquired');
    expect(failures).toEqual([
      expect.objectContaining({ lockId: undefined, outcome: 'busy', attempts: 1, mode: undefined }),
      expect.objectContaining({ lockId: undefined, outcome: 'busy', resources: [name] }),
    ]);
    expect(failures[1]!.attempts).toBeGreaterThan(1);
    expect(failures[1]!.waited).toBeGreaterThanOrEqual(290);
    expect(failures[1]!.error).toBeInstanceOf(LockNotAcquiredError);
    expect(messages.busy).toHaveLength(2);
    expect(messages.busy[0]).toEqual({
      resources: [name],
      attempts: 1,
      waited: expect.any(Number),
      retryAfter: expect.any(Number),
      skipped: false,
      method: undefined,
      error: expect.any(LockNotAcquiredError),
    });
    // The holder's lock had ~5 s left: that is what the nodes told the waiter.
    expect(messages.busy[0]!.retryAfter).toBeGreaterThan(4_000);
    expect(messages.busy[1]).toMatchObject({ attempts: failures[1]!.attempts, skipped: false });
    expect(messages.busy[1]!.waited).toBe(failures[1]!.waited);
  });

  it('a lock whose validity runs out publishes lost with the time it was held', async () => {
    const redlock = await engine();
    const name = resource('lost');
    const lock = await redlock.acquire(name, { ttl: 300 });
    await eventually(() => messages.lost.length > 0, 5_000, 'the lost message');
    expect(lock.isHeld()).toBe(false);
    const { lockId } = messages.acquire[0]!;
    expect(messages.lost).toEqual([
      {
        lockId,
        resources: [name],
        held: expect.any(Number),
        fencingToken: undefined,
        error: expect.any(LockLostError),
      },
    ]);
    expect(messages.lost[0]!.held).toBeGreaterThanOrEqual(250);
    expect(messages.release).toEqual([]);
  });

  it('an acquisition without a quorum publishes outcome unavailable and no busy', async () => {
    const redlock = await engine({ circuitBreaker: false });
    await Promise.all(fleet.nodes.slice(0, 2).map((node) => node.pause()));
    await expect(redlock.tryAcquire(resource('down'), { nodeTimeout: 50 })).rejects.toBeInstanceOf(
      RedlockUnavailableError,
    );
    expect(messages.acquire).toEqual([
      expect.objectContaining({
        outcome: 'unavailable',
        error: expect.any(RedlockUnavailableError),
      }),
    ]);
    expect(messages.busy).toEqual([]);
  });

  it('circuit changes name the node without its password; no message carries an owner value or a password', async () => {
    const redlock = await engine({ circuitBreaker: { failureThreshold: 1, coolDown: 60_000 } });
    const held = await redlock.acquire(resource('before'), { ttl: 5_000 });
    await fleet.nodes[0]!.pause();
    // Short enough for the paused node to fail in time, long enough for the two others to answer
    // on a loaded machine (the lock and its release need them).
    const lock = await redlock.acquire(resource('during'), { ttl: 5_000, nodeTimeout: 500 });
    // The silent node counts as failed at the per-node timeout, after the quorum answered.
    await eventually(() => messages.circuit.length > 0, 2_000, 'the circuit message');
    await fleet.nodes[0]!.resume();
    await held.release();
    await lock.release();

    // Then the late answers of the resumed node may close it again.
    expect(messages.circuit[0]).toEqual({ node: expect.any(String), from: 'closed', to: 'open' });
    expect(messages.circuit[0]!.node).toContain(String(fleet.nodes[0]!.port));
    const everything = JSON.stringify(messages, (_key, value: unknown) =>
      value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value,
    );
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(held.value);
    expect(everything).not.toContain(lock.value);
  });

  it('@WithLock({ onBusy: "skip" }) publishes the skip, naming the method, after the busy acquisition', async () => {
    @Module({
      imports: [RedlockModule.forRoot({ nodes: fleet.urls, logger: false })],
      providers: [Jobs],
    })
    class AppModule {}
    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    try {
      const jobs = app.get(Jobs);
      const holder = await engine();
      const name = resource('job');
      const held = await holder.acquire(`job:${name}`, { ttl: 5_000 });
      expect(await jobs.run(name)).toBeUndefined();
      await held.release();
      expect(await jobs.run(name)).toBe('ran');
      expect(jobs.runs).toBe(1);

      expect(messages.busy).toEqual([
        expect.objectContaining({ resources: [`job:${name}`], attempts: 1, skipped: false }),
        {
          resources: [`job:${name}`],
          attempts: undefined,
          waited: undefined,
          retryAfter: expect.any(Number),
          skipped: true,
          method: 'Jobs.run',
          error: messages.busy[0]!.error,
        },
      ]);
    } finally {
      await app.close();
    }
  });
});
