import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { LockNotAcquiredError, WriteLockHeldError } from '../../lib/redlock.errors.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters, eventually } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/** Read-write locks on 3 real Redis nodes and on the memory store, with the same checks. */
describe.each(['3 Redis nodes', 'memory'] as const)('read-write locks (%s)', (backend) => {
  let fleet: RedisFleet | undefined;
  const open: LockAdapter[][] = [];
  let seq = 0;
  const resource = (name: string) => `rw:${name}:${(seq += 1)}`;

  beforeAll(async () => {
    if (backend !== 'memory') fleet = await startRedisFleet({ nodes: 3 });
  }, 30_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  // Two engines with their own connections stand for two processes.
  let memory: MemoryLockAdapter | undefined;
  const engine = async () => {
    if (backend === 'memory') {
      memory ??= new MemoryLockAdapter();
      return new Redlock([memory]);
    }
    const adapters = await connectAdapters(fleet!.urls);
    open.push(adapters);
    return new Redlock(adapters, { lock: { nodeTimeout: 100 } });
  };

  it('lets many readers hold a resource at once, and keeps writers out meanwhile', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('many');
    const readers = await Promise.all([
      a.acquireRead(name),
      b.acquireRead(name),
      a.acquireRead(name),
    ]);
    expect(readers.every((lock) => lock.isHeld() && lock.mode === 'read')).toBe(true);
    expect(await a.isLocked(name)).toBe(true);
    expect(await b.tryAcquire(name)).toBeNull();
    await Promise.all(readers.map((lock) => lock.release()));
    const writer = await b.acquireWrite(name, { wait: 0 });
    expect(writer.mode).toBe('write');
    await writer.release();
  });

  it('refuses readers while a writer holds the resource, with WriteLockHeldError', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('writer');
    const writer = await a.acquireWrite(name);
    const error = await b.acquireRead(name, { wait: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteLockHeldError);
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    // A reader waiting for the writer gets in on its release notification.
    const waiting = b.acquireRead(name, { wait: 10_000, retryDelay: 60_000 });
    await writer.release();
    await (await waiting).release();
  });

  it('does not starve a writer under a steady stream of overlapping readers', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('stream');
    let running = true;
    let reads = 0;
    let refusedAfterWriterWaited = 0;
    let writerWaiting = false;
    const reader = async (redlock: Redlock) => {
      while (running) {
        const lock = await redlock.acquireRead(name, { wait: 5_000 }).catch(() => null);
        if (!lock) {
          if (writerWaiting) refusedAfterWriterWaited += 1;
          continue;
        }
        reads += 1;
        // Random hold times keep the readers out of step: there is never a moment without one.
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 30));
        await lock.release();
      }
    };
    const streams = [a, a, a, b, b, b].map(reader);
    while (reads < 10) await new Promise((resolve) => setTimeout(resolve, 5));
    writerWaiting = true;
    const writer = await b.acquireWrite(name, { wait: 5_000 });
    expect(writer.isHeld()).toBe(true);
    const readsWhileWriting = reads;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(reads).toBe(readsWhileWriting); // no reader got in while the writer held it
    await writer.release();
    running = false;
    await Promise.all(streams);
    expect(refusedAfterWriterWaited).toBe(0); // readers waited for the writer, none gave up
  });

  it('lets a crashed reader block writers for its own ttl only, not for other readers’ ttls', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('crash');
    await a.acquireRead(name, { ttl: 300 }); // never released: the holder "crashed"
    const longLived = await a.acquireRead(name, { ttl: 60_000 });
    await longLived.release();
    // With one shared expiry the key would live 60 s; each reader expiring alone frees it at 300 ms.
    const writer = await b.acquireWrite(name, { wait: 5_000 });
    expect(writer.isHeld()).toBe(true);
    await writer.release();
  });

  it('extends a read lease while using() runs', async () => {
    const redlock = await engine();
    const name = resource('lease');
    const checks = await redlock.using(
      name,
      async (lock) => {
        const held: boolean[] = [];
        for (let i = 0; i < 5; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 150));
          held.push(lock.isHeld() && !lock.signal.aborted);
        }
        return held;
      },
      { mode: 'read', ttl: 300, nodeTimeout: 100 },
    );
    expect(checks).toEqual([true, true, true, true, true]);
    expect(await redlock.isLocked(name)).toBe(false);
  });

  it('reuses a held write lock for reads in the same call chain, but not a read lock for writes', async () => {
    const redlock = await engine();
    const name = resource('reentry');
    await redlock.using(name, async (outer) => {
      await redlock.using(name, (inner) => expect(inner).toBe(outer), { mode: 'read' });
    });
    const upgrade = redlock.using(
      name,
      () => redlock.using(name, () => 'upgraded', { wait: 60_000 }),
      { mode: 'read' },
    );
    // Upgrading would wait on its own read lock (and keep every other reader out meanwhile):
    // refused at once, whatever the wait, never granted silently.
    await expect(upgrade).rejects.toThrow(/inside a scope that holds a read lock/);
  });
});

describe('read-write locks over 5 Redis nodes', () => {
  let fleet: RedisFleet;
  let adapters: LockAdapter[];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 5 });
    adapters = await connectAdapters(fleet.urls);
  }, 30_000);

  afterAll(async () => {
    await closeAdapters(adapters ?? []);
    await fleet?.stop();
  });

  it('takes back a failed read attempt’s partial leases on every node', async () => {
    const redlock = new Redlock(adapters, { lock: { nodeTimeout: 200 } });
    const clients = fleet.nodes.map((node) => node.client());
    const key = 'lock:rw:partial';
    // A writer holds a majority: the reader gets 2 of 5 nodes, not a quorum.
    await Promise.all([0, 1, 2].map((i) => clients[i]!.set(key, 'writer', 'PX', 60_000)));
    await expect(redlock.acquireRead('rw:partial', { wait: 0 })).rejects.toBeInstanceOf(
      WriteLockHeldError,
    );
    // No reader lease of ours is left on the two free nodes (it would block writers for its ttl).
    // Nodes still answering when the quorum decided are undone right after, in the background.
    await eventually(
      async () =>
        (await Promise.all([3, 4].map((i) => clients[i]!.exists(key)))).every((n) => n === 0),
      5_000,
      'the partial reader leases to be taken back',
    );
    await Promise.all([0, 1, 2].map((i) => clients[i]!.del(key)));
    const writer = await redlock.acquireWrite('rw:partial', { wait: 0 });
    await writer.release();
  });
});
