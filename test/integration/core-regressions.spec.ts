/**
 * Regression tests for issue 12 ("Lock core 2.0"), items 1-14 of "What was observed", against
 * real Redis servers. Each test is named after its item and failed on the engine the issue was
 * filed against; the cases the embedded store can show are in test/unit/core-regressions.spec.ts.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  type Clock,
  createLockAdapter,
  IoredisLockAdapter,
  Lock,
  type LockAdapter,
  LockKeyError,
  MemoryLockAdapter,
  Redlock,
  RedlockConfigError,
  type RedlockEngineOptions,
  RedlockError,
} from '../../lib/index.js';
import { systemClock } from '../../lib/services/clock.js';
import { closeAdapters, connectAdapters, eventually } from '../support/adapters.js';
import { type RedisFleet, type RedisNode, startRedisFleet } from '../support/redis-fleet.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { tapAdapter } from '../support/tap-adapter.js';

let solo: RedisFleet;
let trio: RedisFleet;
const engines: Redlock[] = [];
const adapterSets: LockAdapter[][] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [solo, trio] = await Promise.all([startRedisFleet({ nodes: 1 }), startRedisFleet({ nodes: 3 })]);
}, 30_000);

afterEach(async () => {
  // Stopped nodes first: closing a client whose server is stopped may wait for it.
  const all = [...solo.nodes, ...trio.nodes];
  await Promise.all(all.map((node) => (node.pid === undefined ? node.restart() : node.resume())));
  await Promise.all(engines.splice(0).map((redlock) => redlock.close({ timeout: 200 })));
  await Promise.all(adapterSets.splice(0).map(closeAdapters));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await Promise.all([solo?.stop(), trio?.stop()]);
});

async function nodesOf(fleet: RedisFleet): Promise<LockAdapter[]> {
  const adapters = await connectAdapters(fleet.urls);
  adapterSets.push(adapters);
  return adapters;
}

function engine(adapters: readonly LockAdapter[], options: RedlockEngineOptions = {}): Redlock {
  const redlock = new Redlock(adapters, options);
  engines.push(redlock);
  return redlock;
}

/** The system clocks with the wall clock moved by `offset` ms (a client with a skewed clock). */
function skewed(offset: number): Clock {
  return { ...systemClock, wallNow: () => Date.now() + offset };
}

function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  );
}

function unique(name: string): string {
  return `${name}:${randomUUID().slice(0, 8)}`;
}

async function allKeys(probe: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await probe.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Stands in for "long enough that every key with a ttl has expired" (ttl + 60 s and more). */
async function expireEverythingThatExpires(probe: Redis): Promise<void> {
  for (const key of await allKeys(probe)) {
    if ((await probe.pttl(key)) >= 0) await probe.del(key);
  }
}

/** Runs short locked sections back to back for `ms`; resolves to how many completed. */
async function sectionsIn(
  redlock: Redlock,
  resource: string,
  ms: number,
  workers = 1,
): Promise<number> {
  const until = performance.now() + ms;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      const wait = Math.max(1, Math.floor(until - performance.now()));
      const ran = await settled(
        redlock.using(resource, () => new Promise((resolve) => setImmediate(resolve)), {
          ttl: 2_000,
          wait,
        }),
      );
      if (!(ran instanceof Error)) done += 1;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return done;
}

describe('issue 12 regressions on real Redis', () => {
  it('item 3: degraded mode never hands out a local lock while a Redis lock on the key is held in this process', async () => {
    const [node] = await nodesOf(solo);
    const redlock = engine([node!], {
      degraded: { store: new MemoryLockAdapter({ name: 'memory://degraded' }) },
      lock: { nodeTimeout: 100 },
    });
    const resource = unique('degraded-in');
    const redisLock = await redlock.acquire(resource, { ttl: 10_000 });

    await solo.nodes[0]!.kill(); // the outage starts while the Redis lock is held
    const second = await settled(redlock.tryAcquire(resource, { ttl: 10_000 }));
    const gotSecond = second instanceof Lock;
    if (second instanceof Lock) await second.release().catch(() => undefined);
    await solo.nodes[0]!.restart();

    expect(redisLock.resources).toEqual([resource]);
    expect(gotSecond).toBe(false);
  });

  it('item 3: on the way out of an outage, no Redis lock is handed out while a local lock on the key is held in this process', async () => {
    const [node] = await nodesOf(solo);
    const redlock = engine([node!], {
      degraded: { store: new MemoryLockAdapter({ name: 'memory://degraded' }) },
      lock: { nodeTimeout: 100 },
    });
    const resource = unique('degraded-out');

    await solo.nodes[0]!.kill();
    const local = await redlock.acquire(resource, { ttl: 10_000 });
    const wentDegraded = redlock.isDegraded;
    await solo.nodes[0]!.restart();
    await node!.ready?.(10_000);
    const second = await settled(redlock.tryAcquire(resource, { ttl: 10_000 }));
    const gotSecond = second instanceof Lock;
    if (second instanceof Lock) await second.release();
    await local.release();

    expect(wentDegraded).toBe(true);
    expect(gotSecond).toBe(false);
  });

  it('item 4: fencing tokens keep increasing across skewed client clocks and after every expiring key is gone', async () => {
    const [node] = await nodesOf(solo);
    const probe = solo.nodes[0]!.client();
    const normal = engine([node!]);
    const ahead = engine([node!], { clock: skewed(3_600_000) });
    const behind = engine([node!], { clock: skewed(-3_600_000) });
    const resource = unique('fenced');

    const tokens: number[] = [];
    for (const redlock of [normal, ahead, normal, behind, ahead, normal]) {
      const lock = await redlock.acquire(resource, { ttl: 1_000, fencing: true });
      tokens.push(lock.fencingToken);
      await lock.release();
      await expireEverythingThatExpires(probe);
    }
    const counters = (await allKeys(probe)).filter((key) => key.startsWith('\u0000redlock:'));
    const counterTtls = await Promise.all(counters.map((key) => probe.pttl(key)));

    const increasing = tokens.every((token, i) => i === 0 || token > tokens[i - 1]!);
    expect({ tokens, increasing }).toEqual({ tokens, increasing: true });
    expect(counters.length).toBeGreaterThan(0);
    expect(counterTtls.every((ttl) => ttl === -1)).toBe(true);
  });

  it('item 4: a fencing counter at 2^53 - 1 makes the next fenced acquisition fail instead of handing out a wrong token', async () => {
    const [node] = await nodesOf(solo);
    const probe = solo.nodes[0]!.client();
    const redlock = engine([node!]);
    const resource = unique('fence-max');
    await probe.flushall();
    cleanups.push(() => probe.flushall()); // counters never expire: later tests need them sane
    await (await redlock.acquire(resource, { fencing: true })).release();
    // Whatever keys are left are the fencing counters: move them to the last exact double.
    const counters: string[] = [];
    for (const key of await allKeys(probe)) {
      if ((await probe.type(key)) !== 'string') continue;
      await probe.set(key, '9007199254740991');
      counters.push(key);
    }

    const next = await settled(redlock.acquire(resource, { fencing: true, wait: 0 }));
    const token = next instanceof Lock ? next.fencingToken : undefined;
    if (next instanceof Lock) await next.release();

    expect(counters.length).toBeGreaterThan(0);
    expect({ next: next instanceof RedlockError ? 'RedlockError' : next, token }).toEqual({
      next: 'RedlockError',
      token: undefined,
    });
  });

  it('item 5: a client whose replies arrive after its node timeout does not starve a healthy client', async () => {
    const [healthyNode] = await nodesOf(solo);
    const proxy = await FaultProxy.start({ target: solo.nodes[0]! });
    cleanups.push(() => proxy.close());
    const slowNode = new IoredisLockAdapter(new Redis({ host: proxy.host, port: proxy.port }), {
      owned: true,
    });
    await slowNode.ready?.(5_000);
    adapterSets.push([slowNode]);
    proxy.setLatency({ toClient: 150 }); // every reply comes after the slow client's 50 ms timeout
    const healthy = engine([healthyNode!]);
    const slow = engine([slowNode], { lock: { nodeTimeout: 50 } });
    const resource = unique('slow-client');

    const alone = await sectionsIn(healthy, resource, 1_000);
    const stop = new AbortController();
    const slowLoop = (async () => {
      while (!stop.signal.aborted) {
        const got = await settled(
          slow.acquire(resource, {
            ttl: 2_000,
            wait: 1_500,
            signal: stop.signal,
            waitForNodes: true,
          }),
        );
        if (got instanceof Lock) await got.release().catch(() => undefined);
      }
    })();
    const contended = await sectionsIn(healthy, resource, 1_000);
    stop.abort();
    await slowLoop;

    // Each of the slow client's attempts does hold the key until its own timeout undoes it,
    // so some loss is expected; the old line let it take 80-94 % of the healthy client's work.
    expect({ alone, contended, enough: contended >= alone / 3 }).toEqual({
      alone,
      contended,
      enough: true,
    });
  });

  it('item 6: with 1 s of clock skew between two clients, both make progress on a contended key', async () => {
    const [nodeA] = await nodesOf(solo);
    const [nodeB] = await nodesOf(solo);
    const early = engine([nodeA!]);
    const late = engine([nodeB!], { clock: skewed(1_000) });
    const resource = unique('skew');

    const [a, b] = await Promise.all([
      sectionsIn(early, resource, 1_500, 2),
      sectionsIn(late, resource, 1_500, 2),
    ]);
    const share = Math.min(a, b) / Math.max(1, a + b);

    expect({ a, b, fair: share >= 0.2 }).toEqual({ a, b, fair: true });
  });

  it('item 7: a waiter second in its own process queue gets a lock that expires (never released) soon after the expiry', async () => {
    const [node] = await nodesOf(solo);
    let subscribed = false;
    const watched = tapAdapter(node!, (method, call) => {
      const result = call();
      if (method === 'onRelease') void (result as Promise<unknown>).then(() => (subscribed = true));
      return result;
    });
    const redlock = engine([watched]);
    const resource = unique('expire');
    const started = performance.now();
    // Every holder lets its lock expire instead of releasing it.
    await redlock.acquire(resource, { ttl: 600 });
    const first = redlock.acquire(resource, { ttl: 600, wait: 4_000 });
    // The first waiter found the key busy and listens for its release: the next one queues.
    await eventually(() => subscribed, 2_000, 'the first waiter to wait');
    const second = redlock.acquire(resource, { ttl: 600, wait: 4_000 });
    const firstAt = await first.then(() => performance.now() - started);
    const secondAt = await second.then(
      () => performance.now() - started,
      () => Infinity,
    );

    // Free at ~600 ms (first holder), then at ~1,200 ms (first waiter).
    expect(firstAt).toBeLessThan(1_500);
    expect(secondAt).toBeLessThan(2_500);
  });

  it('item 8: an acquire replayed after a reconnect never leaves the key locked by nobody', async () => {
    const probe = solo.nodes[0]!.client();
    const proxy = await FaultProxy.start({ target: solo.nodes[0]! });
    cleanups.push(() => proxy.close());
    // A user-supplied client with ioredis defaults: it re-sends unanswered commands on reconnect.
    const client = new Redis({ host: proxy.host, port: proxy.port });
    cleanups.push(() => Promise.resolve(client.disconnect()));
    const redlock = engine([new IoredisLockAdapter(client)]);
    await (await redlock.acquire(unique('replay-warm-up'))).release(); // loads the scripts
    const resource = unique('replay');

    // The acquire reaches Redis and runs; the connection is cut before its reply gets back.
    const cut = proxy.cutMidCommand({ match: resource });
    const outcome = await settled(
      redlock.tryAcquire(resource, { ttl: 20_000, nodeTimeout: 2_000 }),
    );
    await cut;
    const stored = await probe.get(`lock:${resource}`);

    if (outcome instanceof Lock) {
      expect(stored).toBe(outcome.value);
      await outcome.release();
    } else {
      expect({ outcome, stored }).toEqual({ outcome, stored: null });
    }
  });

  it('item 9: a node whose circuit opens during an attempt still receives that attempt’s rollback', async () => {
    const adapters = await nodesOf(trio);
    const probes = trio.nodes.map((node) => node.client());
    const resource = unique('breaker');
    const key = `lock:${resource}`;
    // Another owner holds the key on node 1 only: the attempt gets node 2, not a quorum.
    await probes[0]!.set(key, 'someone-else', 'PX', 60_000);
    const redlock = engine(adapters, {
      circuitBreaker: { failureThreshold: 1, coolDown: 60_000 },
    });
    await trio.nodes[2]!.pause(); // node 3 stalls: its answer misses the timeout, its circuit opens

    const outcome = await redlock.tryAcquire(resource, { ttl: 10_000, nodeTimeout: 200 });
    await trio.nodes[2]!.resume();
    await adapters[2]!.ping(); // same connection: everything sent before it has been applied
    const leftOnNode3 = await probes[2]!.get(key);

    expect(outcome).toBeNull();
    expect(leftOnNode3).toBeNull();
  });

  it('item 10: resources whose names look like helper keys never block or break other resources', async () => {
    const [nodeA] = await nodesOf(solo);
    const [nodeB] = await nodesOf(solo);
    const someone = engine([nodeA!]);
    const redlock = engine([nodeB!]);
    const tag = randomUUID().slice(0, 8);
    const lookalikes = [
      `doc:{${tag}}:line`,
      `doc:{${tag}}:line:until`,
      `{${tag}}:line`,
      `{${tag}}:fence`,
      `${tag}:fence`,
    ];
    const held = await Promise.all(
      lookalikes.map((name) => someone.acquire(name, { ttl: 10_000 })),
    );

    const outcomes: Record<string, unknown> = {};
    for (const name of [`doc:{${tag}}`, `{${tag}}`, tag]) {
      const got = await settled(redlock.tryAcquire(name, { ttl: 10_000, fencing: true }));
      outcomes[name] = got instanceof Lock ? 'locked' : got;
      if (got instanceof Lock) await got.release();
    }
    await Promise.all(held.map((lock) => lock.release()));

    expect(outcomes).toEqual({
      [`doc:{${tag}}`]: 'locked',
      [`{${tag}}`]: 'locked',
      [tag]: 'locked',
    });
  });

  it('item 10: resource names cannot reach helper keys (keys starting with "\\u0000redlock:")', async () => {
    const [node] = await nodesOf(solo);
    const redlock = engine([node!], { keyPrefix: '' });
    const outcome = await settled(redlock.tryAcquire('\u0000redlock:fence', { ttl: 1_000 }));
    if (outcome instanceof Lock) await outcome.release();

    expect(outcome).toBeInstanceOf(LockKeyError);
  });

  it('item 11: renewal repairs a node that lost the key, so a later outage of another node does not lose the lock', async () => {
    const adapters = await nodesOf(trio);
    const probes = trio.nodes.map((node) => node.client());
    const redlock = engine(adapters);
    const resource = unique('repair');
    const key = `lock:${resource}`;
    const lock = await redlock.acquire(resource, { ttl: 600, autoExtend: true });

    await probes[0]!.flushall(); // node 1 restarts without persistence
    const repaired = await eventually(async () => (await probes[0]!.get(key)) === lock.value, 2_000)
      .then(() => true)
      .catch(() => false);
    await trio.nodes[1]!.pause(); // then node 2 becomes unreachable
    await sleep(1_800); // three ttls: the lock lives only if renewals keep a quorum
    const after = { held: lock.isHeld(), aborted: lock.signal.aborted };
    await trio.nodes[1]!.resume();
    await lock.release().catch(() => undefined);

    expect(repaired).toBe(true);
    expect(after).toEqual({ held: true, aborted: false });
  });

  it('item 12: a failed attempt answers once the quorum decided, not after a stalled node’s timeout', async () => {
    const adapters = await nodesOf(trio);
    const holder = engine(adapters);
    const redlock = engine(adapters);
    const resource = unique('stalled');
    await holder.acquire(resource, { ttl: 10_000 });
    await trio.nodes[2]!.pause();

    const started = performance.now();
    const outcome = await settled(
      redlock.tryAcquire(resource, { ttl: 10_000, nodeTimeout: 2_000 }),
    );
    const elapsed = performance.now() - started;

    expect(outcome).toBeNull();
    expect(elapsed).toBeLessThan(1_000);
  });

  it('item 12: closing an adapter whose node is stopped returns promptly', async () => {
    const node: RedisNode = solo.nodes[0]!;
    const adapter = new IoredisLockAdapter(new Redis({ host: node.host, port: node.port }), {
      owned: true,
    });
    await adapter.ready?.(5_000);
    await node.pause();

    const started = performance.now();
    const closed = await Promise.race([
      adapter.close().then(() => 'closed'),
      sleep(2_000).then(() => 'still closing after 2 s'),
    ]);
    const elapsed = performance.now() - started;

    expect(closed).toBe('closed');
    expect(elapsed).toBeLessThan(2_000);
  });

  it('item 14: two adapters for the same Redis URL are refused as the same node listed twice', () => {
    const url = solo.urls[0]!;
    const adapters = [
      createLockAdapter(url),
      createLockAdapter(url),
      createLockAdapter(trio.urls[0]!),
    ];
    adapterSets.push(adapters);
    expect(() => new Redlock(adapters)).toThrow(RedlockConfigError);
  });
});
