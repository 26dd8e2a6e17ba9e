import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { IoredisLockAdapter } from '../../lib/adapters/ioredis.adapter.js';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { LockLostError, LockNotAcquiredError, RedlockError } from '../../lib/redlock.errors.js';
import type { Lock } from '../../lib/services/lock.js';
import { Redlock, type RedlockEngineOptions } from '../../lib/services/redlock.engine.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { type Mode, Witness } from '../support/witness.js';
import { Link, MemoryNode } from './model/links.js';
import { saveResult } from './report.js';

/**
 * The semantics the engine promises, one example each, checked with the same independent
 * witness as the randomized suites: who holds a lock in an async call chain, degraded mode,
 * waiting, owner checks, quorum extension, fencing, replayed commands. Each also pins one of
 * the bugs the mutation check (scripts/mutation-check.mjs) injects.
 */
const opened: { close(): Promise<void> | void }[] = [];
const results: { name: string; passed: boolean }[] = [];
const started = performance.now();

function track<T extends { close(): Promise<void> | void }>(thing: T): T {
  opened.push(thing);
  return thing;
}

/** Memory nodes and, per engine, links to them (each engine a simulated process). */
function memoryCluster(nodes: number, jitter = 0) {
  const list = Array.from(
    { length: nodes },
    (_, i) => new MemoryNode(i, () => new MemoryLockAdapter({ name: `memory://node${i}` })),
  );
  for (const node of list) track(node);
  const links = (replaying = false): Link[] =>
    list.map((node) =>
      track(new Link(node, `memory://node${node.index}`, { jitter, replaying, reconnectMs: 20 })),
    );
  return { nodes: list, links };
}

function engine(adapters: readonly (Link | LockAdapter)[], options: RedlockEngineOptions = {}) {
  const redlock = new Redlock(
    adapters.map((a) => (a instanceof Link ? a.adapter : a)),
    {
      circuitBreaker: false,
      logger: { log() {}, warn() {}, error() {} },
      ...options,
      lock: {
        ttl: 1_000,
        wait: 1_000,
        retryDelay: 50,
        retryJitter: 5,
        nodeTimeout: 50,
        ...options.lock,
      },
    },
  );
  track(redlock);
  return redlock;
}

/** A witnessed critical section of `ms` on `lock`; stops (and leaves) when the lock is lost. */
async function section(
  witness: Witness,
  lock: Lock,
  label: string,
  ms: number,
  options: { resources?: string[]; mode?: Mode; lineage?: number[]; holder?: string } = {},
): Promise<void> {
  lock.signal.throwIfAborted();
  const ticket = witness.enter({
    resources: options.resources ?? [...lock.resources],
    mode: options.mode ?? 'write',
    holder: options.holder ?? 'p',
    lineage: options.lineage ?? [nextId()],
    held: () => lock.isHeld(),
    label,
    token: tokenOf(lock),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      lock.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(lock.signal.reason as Error);
        },
        { once: true },
      );
    });
  } finally {
    witness.exit(ticket);
  }
}

let ids = 0;
function nextId(): number {
  return (ids += 1);
}

function tokenOf(lock: Lock): number | undefined {
  try {
    return lock.fencingToken;
  } catch {
    return undefined;
  }
}

function violations(witness: Witness): string[] {
  return witness.violations.map((v) => `[${v.kind}] ${v.detail}`);
}

/** Resolves when the lock's signal aborts (it was lost or released). */
function aborted(lock: Lock): Promise<unknown> {
  return new Promise((resolve) => {
    if (lock.signal.aborted) resolve(lock.signal.reason);
    else lock.signal.addEventListener('abort', () => resolve(lock.signal.reason), { once: true });
  });
}

/** An adapter whose answers to one method can be replaced while a test runs. */
function intercepted(inner: LockAdapter) {
  const overrides = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const adapter = new Proxy(inner, {
    get(target, prop, receiver) {
      const override = typeof prop === 'string' ? overrides.get(prop) : undefined;
      if (override) return override;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { adapter, overrides };
}

afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

afterAll(async () => {
  await saveResult({
    suite: 'semantics',
    title: 'Promised semantics, one example each',
    file: 'test/reliability/semantics.spec.ts',
    kind: 'examples',
    scale: 1,
    at: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
    seeds: [],
    failed: results.some((r) => !r.passed),
    summary: {
      tests: results.length,
      passed: results.filter((r) => r.passed).length,
      failed:
        results
          .filter((r) => !r.passed)
          .map((r) => r.name)
          .join('; ') || '—',
    },
    faults: {},
    violations: results
      .filter((r) => !r.passed)
      .map((r) => ({ kind: 'semantics', detail: r.name })),
  });
});

/** `it`, recording the outcome for RELIABILITY.md. */
function check(name: string, fn: () => Promise<void>, timeout = 10_000): void {
  it(
    name,
    async () => {
      try {
        await fn();
        results.push({ name, passed: true });
      } catch (error) {
        results.push({ name, passed: false });
        throw error;
      }
    },
    timeout,
  );
}

describe('who holds a lock in an async call chain', () => {
  check('siblings started with Promise.all inside a scope take turns', async () => {
    const witness = new Witness();
    const redlock = engine(memoryCluster(1).links());
    const root = nextId();
    await redlock.using('r', async (outer) => {
      const siblings = await Promise.all(
        [1, 2, 3].map((i) =>
          redlock.using('r', async (lock) => {
            await section(witness, lock, `sibling ${i}`, 20, { lineage: [root, nextId()] });
            return lock.value;
          }),
        ),
      );
      // They reused the lock the scope holds.
      expect(new Set(siblings)).toEqual(new Set([outer.value]));
    });
    expect(violations(witness)).toEqual([]);
    expect(witness.stats.sections).toBe(3);
  });

  check('a task escaping its scope keeps the lock held until it ends', async () => {
    const cluster = memoryCluster(1);
    const redlock = engine(cluster.links());
    const other = engine(cluster.links());
    let taskEnded = 0;
    let othersTry: Lock | null | undefined;
    let task: Promise<void> | undefined;
    const bodyReturned = performance.now();
    await redlock.using('r', () => {
      task = redlock.using('r', async () => {
        await delay(30); // the outer body has returned by now
        othersTry = await other.tryAcquire('r');
        await delay(30);
        taskEnded = performance.now();
      });
    });
    const outerResolved = performance.now();
    await task;
    expect(othersTry).toBeNull();
    expect(taskEnded).toBeGreaterThan(bodyReturned);
    expect(outerResolved).toBeGreaterThanOrEqual(taskEnded);
  });

  check('the escaped task of a sibling does not run beside the next sibling', async () => {
    const witness = new Witness();
    const redlock = engine(memoryCluster(1).links());
    const root = nextId();
    const first = nextId();
    let escaped: Promise<void> | undefined;
    await redlock.using('r', async () => {
      await Promise.all([
        redlock.using('r', async () => {
          escaped = redlock.using('r', (lock) =>
            section(witness, lock, 'task escaped from sibling 1', 60, {
              lineage: [root, first, nextId()],
            }),
          );
          await delay(5);
        }),
        redlock.using('r', (lock) =>
          section(witness, lock, 'sibling 2', 30, { lineage: [root, nextId()] }),
        ),
      ]);
      await escaped;
    });
    expect(violations(witness)).toEqual([]);
  });

  check(
    'a scope nested in an escaped task reuses the lock after the outer body returned',
    async () => {
      const redlock = engine(memoryCluster(1).links(), { lock: { wait: 400 } });
      let nested: unknown = 'not run';
      let task: Promise<void> | undefined;
      await redlock.using('r', () => {
        task = redlock.using('r', async () => {
          await delay(20); // the outer body has returned: its scope waits for this task
          nested = await redlock.using('r', () => 'ran').catch((error: unknown) => error);
        });
      });
      await task;
      expect(nested).toBe('ran');
    },
  );

  check(
    'a task escaping a lock that was lost fails with LockLostError before it runs',
    async () => {
      const cluster = memoryCluster(1);
      const [link] = cluster.links();
      const { adapter, overrides } = intercepted(link!.adapter);
      const redlock = engine([adapter]);
      let ran = false;
      let escaped: Promise<unknown> | undefined;
      const outer = redlock.using('r', async (lock) => {
        overrides.set('extend', () => Promise.resolve('taken'));
        await lock.extend().catch(() => undefined);
        await aborted(lock);
        escaped = redlock
          .using('r', () => {
            ran = true;
          })
          .catch((error: unknown) => error);
      });
      await expect(outer).rejects.toBeInstanceOf(LockLostError);
      expect(await escaped).toBeInstanceOf(LockLostError);
      expect(ran).toBe(false);
    },
  );

  check(
    'a reentrant using([a, b]) inside a scope holding a covers both, and losing a aborts it',
    async () => {
      const cluster = memoryCluster(1);
      const [link] = cluster.links();
      const { adapter, overrides } = intercepted(link!.adapter);
      const redlock = engine([adapter]);
      const other = engine(cluster.links());
      let reason: unknown;
      await redlock
        .using('a', async (outer) => {
          await redlock.using(['a', 'b'], async (inner) => {
            expect([...inner.resources].sort()).toEqual(['a', 'b']);
            expect(await other.tryAcquire('b')).toBeNull();
            expect(await other.tryAcquire('a')).toBeNull();
            // a is taken away from the outer lock: its next extension says so.
            overrides.set('extend', (...args: unknown[]) => {
              const [keys, value, ttl] = args as [string[], string, number];
              return keys.includes('lock:a')
                ? Promise.resolve('taken')
                : link!.adapter.extend(keys, value, ttl);
            });
            await outer.extend().catch(() => undefined);
            reason = await aborted(inner);
          });
        })
        .catch(() => undefined);
      expect(reason).toBeInstanceOf(LockLostError);
    },
  );

  check('a write scope inside a read scope of the same resource fails at once', async () => {
    const redlock = engine(memoryCluster(1).links());
    const started = performance.now();
    const inner = await redlock
      .using('r', () => redlock.using('r', () => 'ran', { mode: 'write' }), { mode: 'read' })
      .catch((error: unknown) => error);
    expect(inner).toBeInstanceOf(RedlockError);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('read and write scopes in one chain', () => {
  check('a write scope on a resource the chain only reads is refused, however deep', async () => {
    const cluster = memoryCluster(1);
    const redlock = engine(cluster.links());
    const other = engine(cluster.links());
    const witness = new Witness();
    // Another process reads a; this chain reads a too, then writes b, then asks to write a.
    const theirs = await other.acquire('a', { mode: 'read' });
    const reader = witness.enter({
      resources: ['a'],
      mode: 'read',
      holder: 'other',
      lineage: [nextId()],
      held: () => theirs.isHeld(),
      label: 'reader in another process',
    });
    const root = nextId();
    let inner: unknown;
    await redlock.using(
      'a',
      () =>
        redlock.using('b', async () => {
          inner = await redlock
            .using(
              'a',
              (lock) => section(witness, lock, 'writer of a', 10, { lineage: [root, nextId()] }),
              { mode: 'write' },
            )
            .then(() => 'ran')
            .catch((error: unknown) => error);
        }),
      { mode: 'read' },
    );
    witness.exit(reader);
    await theirs.release();
    expect(violations(witness)).toEqual([]);
    expect(inner).toBeInstanceOf(RedlockError);
  });

  check(
    'a write scope on a resource the chain writes is not refused for a read scope in between',
    async () => {
      const redlock = engine(memoryCluster(1).links());
      let inner: unknown;
      await redlock.using('a', () =>
        redlock.using(
          'b',
          async () => {
            inner = await redlock
              .using('a', () => 'ran', { mode: 'write' })
              .catch((error: unknown) => error);
          },
          { mode: 'read' },
        ),
      );
      expect(inner).toBe('ran');
    },
  );
});

describe('degraded mode: one process never has two holders', () => {
  function degradedSetup() {
    const cluster = memoryCluster(3);
    const links = cluster.links();
    const redlock = engine(links, {
      degraded: { store: new MemoryLockAdapter({ name: 'memory://degraded' }) },
      lock: { wait: 300 },
    });
    const outage = () => links.forEach((link) => link.refuse());
    const heal = () => links.forEach((link) => link.heal());
    return { redlock, outage, heal };
  }

  check('no local lock while the process holds the key on the nodes (into an outage)', async () => {
    const { redlock, outage } = degradedSetup();
    const held = await redlock.acquire('r');
    expect(redlock.isDegraded).toBe(false);
    outage();
    const second = await redlock.tryAcquire('r').catch((error: unknown) => error);
    expect(second === null || second instanceof RedlockError).toBe(true);
    await held.release().catch(() => undefined);
  });

  check('no distributed lock while the process holds a local one (out of an outage)', async () => {
    const { redlock, outage, heal } = degradedSetup();
    outage();
    const local = await redlock.acquire('r');
    expect(redlock.isDegraded).toBe(true);
    heal();
    const second = await redlock.tryAcquire('r').catch((error: unknown) => error);
    expect(second === null || second instanceof RedlockError).toBe(true);
    await local.release();
    const after = await redlock.acquire('r');
    await after.release();
  });

  check('no distributed lock for a nested scope while the process holds a local one', async () => {
    const { redlock, outage, heal } = degradedSetup();
    outage();
    const local = await redlock.acquire('b');
    expect(redlock.isDegraded).toBe(true);
    heal();
    let inner: unknown;
    // The nodes answer again; a scope holding a takes b as well, which the process holds.
    await redlock.using('a', async () => {
      inner = await redlock.using(['a', 'b'], () => 'ran').catch((error: unknown) => error);
    });
    expect(inner).toBeInstanceOf(RedlockError);
    await local.release();
  });
});

describe('nobody waits for a lock nobody holds', () => {
  check(
    'a waiter second in its own process’s line gets a lock its holder let expire within the remaining ttl and a retry delay',
    async () => {
      const cluster = memoryCluster(1);
      const holderEngine = engine(cluster.links());
      const redlock = engine(cluster.links(), {
        lock: { wait: 3_000, retryDelay: 100, retryJitter: 0 },
      });
      const holder = await holderEngine.acquire('r', { ttl: 400 });
      const expiresAt = performance.now() + (holder.expiresAt - Date.now());
      const first = redlock.acquire('r', { ttl: 100 });
      const second = redlock.acquire('r', { ttl: 5_000 });
      const firstLock = await first;
      // The first waiter lets its lock expire too: nobody releases anything here.
      const secondLock = await second;
      const got = performance.now();
      expect(firstLock.value).not.toBe(holder.value);
      // Expiries at ~400 ms and ~100 ms after that; each waiter wakes at most a retry delay
      // (plus node timeouts and scheduling) after the key is free: far from the 3 s wait, with
      // room for a loaded 2-core machine's scheduling.
      expect(got - expiresAt).toBeLessThan(100 + 4 * (100 + 50 + 60));
      await secondLock.release();
    },
  );

  check('a split vote is taken back at once: no key is left for the ttl', async () => {
    const cluster = memoryCluster(3);
    // Engine i reaches node i at once and the others 15 ms later: each takes its own node.
    const engines = [0, 1, 2].map((i) => {
      const links = cluster.links();
      links.forEach((link, n) => link.setLatency(n === i ? 0 : 15));
      return engine(links, { lock: { ttl: 10_000, nodeTimeout: 100 } });
    });
    const tries = await Promise.all(engines.map((e) => e.tryAcquire('r')));
    expect(tries).toEqual([null, null, null]);
    // Every partial acquisition was undone before tryAcquire answered, or right after on the
    // slow connections: well within the 10 s ttl, the key is free.
    const deadline = performance.now() + 500;
    let locked = true;
    while (locked && performance.now() < deadline) {
      const held = await Promise.all(cluster.nodes.map((n) => n.store.inspect(['lock:r'])));
      locked = held.some((ttl) => ttl !== -2);
      if (locked) await delay(10);
    }
    expect(locked).toBe(false);
  });
});

describe('what a node received is undone, open circuit or not', () => {
  check(
    'a release reaches a node whose circuit opened while it still had the lock queued',
    async () => {
      const cluster = memoryCluster(3);
      // A client that queues while disconnected and replays on reconnect (ioredis defaults).
      const links = cluster.links(true);
      let opened!: () => void;
      const circuitOpen = new Promise<void>((resolve) => (opened = resolve));
      const redlock = engine(links, {
        circuitBreaker: { failureThreshold: 1, coolDown: 60_000 },
        lock: { ttl: 10_000, nodeTimeout: 50 },
        onEvent: (event) => {
          if (event.type === 'circuit' && event.to === 'open') opened();
        },
      });
      links[2]!.refuse(); // node 2 unreachable: commands wait in the client's queue
      const lock = await redlock.acquire('r');
      await circuitOpen; // node 2 did not answer within its timeout
      await lock.release();
      links[2]!.heal(); // reconnected: the queued commands run now
      // Reconnected: what waited in the queue ran on node 2 (in order) once the link replays.
      while (links[2]!.stats.replays === 0) await delay(5);
      await delay(20);
      // Whatever ran there, that lock is held by no one: it must be gone, not kept 10 s.
      const ttl = await cluster.nodes[2]!.store.inspect(['lock:r']);
      expect(ttl).toBe(-2);
    },
  );
});

describe('owner checks, quorum, fencing', () => {
  check('a release after expiry never frees the next owner’s lock (memory)', async () => {
    const cluster = memoryCluster(3);
    const stale = engine(cluster.links());
    const next = engine(cluster.links());
    const old = await stale.acquire('r', { ttl: 300 });
    await aborted(old);
    const current = await next.acquire('r', { ttl: 5_000 });
    expect(await old.release()).not.toBe('released');
    expect(await next.isLocked('r')).toBe(true);
    expect(current.isHeld()).toBe(true);
    expect(await current.release()).toBe('released');
  });

  check('a holder cut off from a majority loses its lock before anyone else gets it', async () => {
    const witness = new Witness();
    const cluster = memoryCluster(3);
    const holderLinks = cluster.links();
    const holder = engine(holderLinks, { lock: { ttl: 300 } });
    const other = engine(cluster.links(), { lock: { ttl: 300, wait: 3_000 } });
    const holding = holder.using('r', async (lock) => {
      holderLinks[1]!.blackhole();
      holderLinks[2]!.blackhole();
      await section(witness, lock, 'partitioned holder', 2_000, { holder: 'h' });
    });
    await delay(20);
    // A ttl no stall of a loaded machine runs out between its grant and its 20 ms section: the
    // next holder's lock is not what this tests (its loss there would be right, and fail it).
    const next = await other.acquire('r', { ttl: 5_000 });
    await section(witness, next, 'next holder', 20, { holder: 'o' });
    await next.release();
    await expect(holding).rejects.toBeInstanceOf(LockLostError);
    for (const link of holderLinks) link.heal();
    expect(violations(witness)).toEqual([]);
  });

  check(
    'fencing tokens keep increasing when the nodes of successive quorums diverged',
    async () => {
      const cluster = memoryCluster(3);
      const links = cluster.links();
      const redlock = engine(links, { lock: { nodeTimeout: 50 } });
      const tokens: number[] = [];
      // Each acquisition misses another node, so the counters never agree on their own.
      for (const down of [2, 0, 1, 2, 0, 1]) {
        links[down]!.refuse();
        const lock = await redlock.acquire('r', { fencing: true });
        tokens.push(lock.fencingToken);
        await lock.release();
        links[down]!.heal();
      }
      for (let i = 1; i < tokens.length; i += 1) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    },
  );
});

describe('real Redis: owner check in Lua, replayed commands', () => {
  let fleet: RedisFleet;
  let proxy: FaultProxy;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 1 });
    const node = fleet.nodes[0]!;
    proxy = await FaultProxy.start({ target: { host: node.host, port: node.port } });
  });

  afterAll(async () => {
    await proxy?.close();
    await fleet?.stop();
  });

  function adapter(replaying: boolean): LockAdapter {
    const client = new Redis({
      host: proxy.host,
      port: proxy.port,
      retryStrategy: () => 20,
      disconnectTimeout: 100,
      ...(replaying
        ? {}
        : {
            enableOfflineQueue: false,
            autoResendUnfulfilledCommands: false,
            maxRetriesPerRequest: 0,
          }),
    });
    client.on('error', () => undefined);
    return track(new IoredisLockAdapter(client, { owned: true }));
  }

  check('a release after expiry never frees the next owner’s lock (Lua)', async () => {
    const stale = engine([adapter(false)]);
    const next = engine([adapter(false)]);
    const old = await stale.acquire('lua', { ttl: 300 });
    await aborted(old);
    const current = await next.acquire('lua', { ttl: 5_000 });
    expect(await old.release()).not.toBe('released');
    expect(await fleet.nodes[0]!.client().get('lock:lua')).toBe(current.value);
    await current.release();
  });

  check(
    'an acquire replayed after a cut mid-command never leaves the key locked by nobody',
    async () => {
      const direct = fleet.nodes[0]!.client();
      for (const match of [/\bset\b/i, /\bevalsha\b/i]) {
        const redlock = engine([adapter(true)], { lock: { ttl: 10_000, nodeTimeout: 100 } });
        const cut = proxy.cutMidCommand({ match });
        // Fenced: the script; plain: SET NX PX GET.
        const lock = await redlock
          .acquire('replay', { fencing: match.source.includes('eval'), wait: 0 })
          .catch(() => null);
        proxy.heal();
        await cut;
        if (lock) await lock.release();
        // Whatever the engine answered, within a few node timeouts (not the 10 s ttl) nobody
        // holds the key any more.
        const deadline = performance.now() + 1_000;
        let value = await direct.get('lock:replay');
        while (value !== null && performance.now() < deadline) {
          await delay(20);
          value = await direct.get('lock:replay');
        }
        expect(value).toBeNull();
        await redlock.close();
      }
    },
  );

  check(
    'an abandoned attempt is not completed after its rollback (a late WRONGTYPE reply)',
    async () => {
      const direct = fleet.nodes[0]!.client();
      const readerClient = new Redis({ host: fleet.nodes[0]!.host, port: fleet.nodes[0]!.port });
      readerClient.on('error', () => undefined);
      const reader = engine([track(new IoredisLockAdapter(readerClient, { owned: true }))]);
      const writerNode = adapter(false);
      await writerNode.ready?.(2_000);
      const writer = engine([writerNode], { lock: { ttl: 300, nodeTimeout: 50 } });
      const read = await reader.acquire('late', { mode: 'read', ttl: 10_000 });
      // The writer's requests are held on the way (a partition): it gives up, and its undo
      // follows its SET on the same connection, retried until the attempt's ttl has passed.
      proxy.blackhole('toServer');
      const started = performance.now();
      const attempt = await writer.tryAcquire('late').catch((error: unknown) => error);
      expect(attempt).toBeInstanceOf(RedlockError);
      // No event says the engine stopped retrying its undo: it does once the ttl has passed.
      await delay(Math.max(0, 300 + 100 - (performance.now() - started)));
      // The partition heals one way first: the SET meets the reader (WRONGTYPE) and the undos
      // find nothing of the writer's; their replies are still on the way when the reader leaves.
      proxy.blackhole('toClient');
      const answered = proxy.nextArrived('toClient');
      proxy.lift('toServer');
      await answered;
      await read.release();
      proxy.heal();
      // Nobody holds the key now, and nothing the writer abandoned may take it.
      const deadline = performance.now() + 300;
      let value = await direct.get('lock:late');
      while (value === null && performance.now() < deadline) {
        await delay(20);
        value = await direct.get('lock:late');
      }
      expect(value).toBeNull();
    },
  );

  check('busy stays busy: a bounded wait ends with LockNotAcquiredError', async () => {
    const holder = engine([adapter(false)]);
    const waiter = engine([adapter(false)], { lock: { wait: 200 } });
    const lock = await holder.acquire('busy', { ttl: 5_000 });
    const started = performance.now();
    await expect(waiter.acquire('busy')).rejects.toBeInstanceOf(LockNotAcquiredError);
    expect(performance.now() - started).toBeLessThan(200 + 4 * 50 + 300);
    await lock.release();
  });
});
