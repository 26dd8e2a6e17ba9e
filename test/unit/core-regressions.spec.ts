/**
 * Regression tests for issue 12 ("Lock core 2.0"), items 1-14 of "What was observed": the cases
 * the embedded store can show. Each test is named after its item and failed on the engine the
 * issue was filed against; the Redis-only cases are in test/integration/core-regressions.spec.ts.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Lock,
  LockLostError,
  LockNotAcquiredError,
  MemoryLockAdapter,
  Redlock,
  RedlockConfigError,
  RedlockError,
  RedlockUnavailableError,
  type LockAdapter,
  type RedlockEngineOptions,
  type RedlockEvent,
  type RedlockLogger,
} from '../../lib/index.js';
import { eventually } from '../support/adapters.js';
import { deferred } from '../support/deferred.js';
import { tapAdapter } from '../support/tap-adapter.js';

const stores: MemoryLockAdapter[] = [];
const engines: Redlock[] = [];
let storeCount = 0;

// Distinct names: the same node listed twice is refused (item 14).
function memory(): MemoryLockAdapter {
  const store = new MemoryLockAdapter({ name: `memory://regression-${(storeCount += 1)}` });
  stores.push(store);
  return store;
}

function engine(adapters: readonly LockAdapter[], options: RedlockEngineOptions = {}): Redlock {
  const redlock = new Redlock(adapters, options);
  engines.push(redlock);
  return redlock;
}

/** Whatever a promise settles to, without throwing. */
function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  );
}

function collectingLogger(lines: string[]): RedlockLogger {
  return {
    log: () => undefined,
    warn: (message) => lines.push(`warn: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
  };
}

afterEach(async () => {
  await Promise.all(engines.splice(0).map((redlock) => redlock.close({ timeout: 200 })));
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe('issue 12 regressions on the memory store', () => {
  it('item 1: sibling scopes started with Promise.all inside a locked section run one at a time', async () => {
    const redlock = engine([memory()]);
    let running = 0;
    let mostAtOnce = 0;
    let counter = 0;
    // A read-modify-write with an await in between: two at once lose an increment.
    const increment = () =>
      redlock.using('counter', async () => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        const read = counter;
        await sleep(5);
        counter = read + 1;
        running -= 1;
      });

    await redlock.using('counter', () => Promise.all([increment(), increment()]));

    expect({ mostAtOnce, counter }).toEqual({ mostAtOnce: 1, counter: 2 });
  });

  it('item 1: work that escapes a scope and reuses its lock keeps it held until that work ends', async () => {
    const store = memory();
    const mine = engine([store]);
    const otherProcess = engine([store]);
    const escapedRunning = deferred();
    const finishEscaped = deferred();
    let escaped: Promise<unknown> | undefined;

    const outer = mine.using('escape', () => {
      // Un-awaited: like an event listener started inside the locked section.
      escaped = mine.using('escape', async () => {
        escapedRunning.resolve();
        await finishEscaped.promise;
      });
    });
    await escapedRunning.promise;

    // The outer body has returned. While the escaped body runs, nobody else may get the key.
    let stolen: Lock | null = null;
    const until = performance.now() + 300;
    while (!stolen && performance.now() < until) {
      stolen = await otherProcess.tryAcquire('escape', { ttl: 1_000 });
      if (!stolen) await sleep(10);
    }
    await stolen?.release();
    finishEscaped.resolve();
    await escaped;
    await outer;

    expect(stolen).toBeNull();
  });

  it('item 1: an escaped scope whose lock is lost while it runs rejects with LockLostError', async () => {
    const store = memory();
    const redlock = engine([store]);
    const escapedRunning = deferred();
    let outerValue = '';
    let escaped: Promise<unknown> | undefined;

    const outer = redlock.using(
      'escape-lost',
      (lock) => {
        outerValue = lock.value;
        escaped = redlock.using('escape-lost', async (inner) => {
          escapedRunning.resolve();
          await eventually(() => !inner.isHeld(), 3_000, 'the lock to be lost');
          return 'finished as if it had been exclusive';
        });
      },
      { ttl: 300 },
    );
    await escapedRunning.promise;
    // The key vanishes from the node (as on a restart); the next renewal finds out.
    await store.release(['lock:escape-lost'], outerValue);

    const result = await settled(escaped!);
    await settled(outer);
    expect(result).toBeInstanceOf(LockLostError);
  });

  it('item 1: work that escapes a nested scope keeps the siblings of that scope waiting', async () => {
    const redlock = engine([memory()]);
    let inside = 0;
    let most = 0;
    const section = async (ms: number) => {
      inside += 1;
      most = Math.max(most, inside);
      await sleep(ms);
      inside -= 1;
    };
    let escaped: Promise<unknown> | undefined;
    await redlock.using('esc-sib', () =>
      Promise.all([
        redlock.using('esc-sib', () => {
          // Started inside the first sibling, outliving it: still under the lock.
          escaped = redlock.using('esc-sib', () => section(60));
        }),
        redlock.using('esc-sib', () => section(10)),
      ]),
    );
    await escaped;

    expect(most).toBe(1);
  });

  it('item 2: a reentrant multi-resource scope inside a scope holding one of them covers every resource', async () => {
    const store = memory();
    const mine = engine([store]);
    const otherProcess = engine([store]);
    let resources: string[] = [];
    let otherGot: (Lock | null)[] = [];

    await mine.using('a', () =>
      mine.using(['a', 'b'], async (lock) => {
        resources = [...lock.resources].sort();
        otherGot = [
          await otherProcess.tryAcquire('a', { ttl: 1_000 }),
          await otherProcess.tryAcquire('b', { ttl: 1_000 }),
        ];
      }),
    );
    for (const lock of otherGot) await lock?.release();

    expect(resources).toEqual(['a', 'b']);
    expect(otherGot).toEqual([null, null]);
  });

  it('item 2: losing the outer lock aborts the signal of a reentrant multi-resource scope', async () => {
    const store = memory();
    const redlock = engine([store]);
    let observed: { aborted: boolean; reason: unknown } | undefined;

    await settled(
      redlock.using(
        'lost-a',
        (outer) =>
          settled(
            redlock.using(['lost-a', 'lost-b'], async (inner) => {
              const signal = inner.signal;
              // lost-a's key vanishes from the node; the outer lock's renewal finds out.
              await store.release(['lock:lost-a'], outer.value);
              const aborted = await new Promise<boolean>((resolve) => {
                if (signal.aborted) return resolve(true);
                signal.addEventListener('abort', () => resolve(true), { once: true });
                setTimeout(() => resolve(false), 1_500);
              });
              observed = { aborted, reason: signal.reason };
            }),
          ),
        { ttl: 300 },
      ),
    );

    expect(observed?.aborted).toBe(true);
    expect(observed?.reason).toBeInstanceOf(LockLostError);
  });

  it('item 3: only nodes that did not answer switch to degraded mode, not a busy answer or a validity that ran out', async () => {
    const events: RedlockEvent[] = [];
    const onEvent = (event: RedlockEvent) => events.push(event);

    // Busy: the key is held by another process; the answer stays "busy".
    const store = memory();
    const holder = engine([store]);
    const busyEngine = engine([store], { degraded: { store: memory() }, onEvent });
    await holder.acquire('deg-busy', { ttl: 5_000 });
    const busyTry = await busyEngine.tryAcquire('deg-busy');
    const busyWait = await settled(busyEngine.acquire('deg-busy', { wait: 100 }));

    // Validity ran out: the node answers at ~230 ms, well within its 390 ms timeout but after
    // ttl - drift (400 - 202 = 198 ms), so the quorum granted a lock that is already worthless.
    const slow = tapAdapter(memory(), async (method, call) => {
      if (method === 'acquire') await sleep(230);
      return call();
    });
    const slowEngine = engine([slow], { degraded: { store: memory() }, onEvent });
    const late = await settled(
      slowEngine.tryAcquire('deg-late', { ttl: 400, driftFactor: 0.5, nodeTimeout: 390 }),
    );
    if (late instanceof Lock) await late.release();

    expect(busyTry).toBeNull();
    expect(busyWait).toBeInstanceOf(LockNotAcquiredError);
    expect(late).not.toBeInstanceOf(Lock);
    expect(events.filter((event) => event.type === 'degraded')).toEqual([]);
    expect([busyEngine.isDegraded, slowEngine.isDegraded]).toEqual([false, false]);
  });

  it('item 3: counters that could not be synced fail the acquisition without degraded mode', async () => {
    const events: RedlockEvent[] = [];
    // Three nodes whose counters disagree (node 0 ahead) and refuse the write-back: a quorum
    // grants, but the token cannot be stored on a quorum, so the lock must not be handed out.
    const stores = [memory(), memory(), memory()];
    await stores[0]!.acquire(['lock:warm'], 'x', 1_000, { fence: true });
    const refusing = stores.map((store) =>
      tapAdapter(store, (method, call) =>
        method === 'syncFence' ? Promise.reject(new Error('READONLY')) : call(),
      ),
    );
    const redlock = engine(refusing, {
      degraded: { store: memory() },
      onEvent: (event) => events.push(event),
    });
    const outcome = await settled(redlock.tryAcquire('unsynced', { fencing: true }));

    expect(outcome).toBeInstanceOf(RedlockUnavailableError);
    expect((outcome as Error).message).toMatch(/fencing counters could not be brought in line/);
    expect(events.filter((event) => event.type === 'degraded')).toEqual([]);
    expect(redlock.isDegraded).toBe(false);
  });

  it('item 3: a nested scope that takes missing keys in degraded mode takes the in-process lock too', async () => {
    let down = true;
    const nodes = [memory(), memory(), memory()].map((store) =>
      tapAdapter(store, (method, call) =>
        down && method !== 'onRelease' ? Promise.reject(new Error('ECONNREFUSED')) : call(),
      ),
    );
    const redlock = engine(nodes, { degraded: { store: memory() } });
    // Taken during the outage: a process-local lock only.
    const local = await redlock.acquire('deg-r1', { ttl: 5_000 });
    expect(redlock.isDegraded).toBe(true);
    down = false;
    let inside = 0;
    const outcome = await settled(
      redlock.using('deg-r0', () =>
        redlock.using(['deg-r0', 'deg-r1'], () => (inside += 1), { wait: 100 }),
      ),
    );
    await local.release();

    // The nodes hold nothing for deg-r1, but this process does: the nested scope must wait.
    expect({ inside, outcome: (outcome as Error).name }).toEqual({
      inside: 0,
      outcome: 'LockNotAcquiredError',
    });
  });

  // Found by model-memory (RELIABILITY_SEED=1550913813): a degraded lock carried the local
  // store's token, 2, after the nodes had issued 3 for the same resource.
  it('degraded mode refuses a fenced lock it cannot number above the tokens the nodes issued', async () => {
    let down = false;
    const nodes = [memory(), memory(), memory()].map((store) =>
      tapAdapter(store, (method, call) =>
        down && method !== 'onRelease' ? Promise.reject(new Error('ECONNREFUSED')) : call(),
      ),
    );
    const redlock = engine(nodes, { degraded: { store: memory() } });
    const tokens: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const lock = await redlock.acquire('deg-fenced', { fencing: true });
      tokens.push(lock.fencingToken);
      await lock.release();
    }
    down = true;
    const fenced = await settled(redlock.acquire('deg-fenced', { fencing: true, ttl: 5_000 }));
    // Unfenced locks still fall back to the process-local store, and nothing stays held.
    const plain = await redlock.acquire('deg-fenced', { ttl: 5_000 });
    await plain.release();
    const again = await redlock.acquire('deg-fenced', { ttl: 5_000 });
    await again.release();

    expect(tokens).toEqual([1, 2, 3]);
    expect(fenced).toBeInstanceOf(RedlockUnavailableError);
    expect((fenced as Error).message).toMatch(/fencing/);
    expect(redlock.isDegraded).toBe(true);
  });

  it('item 4: fencing tokens an adapter returns are validated (-3, 1.5 and null never become tokens)', async () => {
    const handedOut: Record<string, unknown> = {};
    for (const bad of [-3, 1.5, null]) {
      const tampered = tapAdapter(memory(), async (method, call) => {
        const reply = (await call()) as { acquired: boolean };
        return method === 'acquire' && reply.acquired ? { ...reply, fence: bad } : reply;
      });
      const redlock = engine([tampered]);
      const outcome = await settled(redlock.tryAcquire(`tampered:${bad}`, { fencing: true }));
      handedOut[String(bad)] = outcome instanceof Lock ? outcome.fencingToken : 'no lock';
      if (outcome instanceof Lock) await outcome.release();
    }
    expect(handedOut).toEqual({ '-3': 'no lock', '1.5': 'no lock', null: 'no lock' });
  });

  it('item 12: after close() no per-node timer keeps the process alive', async () => {
    // A node that never answers: every call's per-node timeout outlives the quorum's answer.
    const silent = tapAdapter(memory(), (method, call) =>
      ['acquire', 'extend', 'release', 'syncFence', 'inspect'].includes(method)
        ? new Promise(() => undefined)
        : call(),
    );
    const redlock = new Redlock([memory(), memory(), silent]);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();

    const lock = await redlock.acquire('timers', { ttl: 20_000, nodeTimeout: 5_000 });
    await lock.release();
    await redlock.close();

    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('item 12: there is a final attempt at the wait deadline', async () => {
    // The store's clock can jump, so the holder's key expires silently (no release notification).
    let offset = 0;
    const store = new MemoryLockAdapter({
      name: 'memory://deadline',
      now: () => performance.now() + offset,
    });
    stores.push(store);
    const holder = engine([store]);
    const redlock = engine([store]);
    await holder.acquire('deadline', { ttl: 10_000 });

    const started = performance.now();
    const outcome = settled(
      redlock.acquire('deadline', { ttl: 10_000, wait: 300, retryDelay: 10_000, retryJitter: 0 }),
    );
    // The waiter now sleeps until its deadline (its retry delay is longer than the wait).
    await sleep(200);
    offset += 20_000; // the holder's key expires
    while (performance.now() < started + 330) {
      // A busy event loop: the waiter's timer fires a little after the deadline, as under load.
    }
    const result = await outcome;
    if (result instanceof Lock) await result.release();

    expect(result).toBeInstanceOf(Lock);
  });

  it('item 12: a read-to-write upgrade in one scope fails fast instead of blocking readers for the wait', async () => {
    const store = memory();
    const mine = engine([store]);
    const otherProcess = engine([store]);
    let upgrade: unknown;
    let upgradeMs = Infinity;
    let otherReader: Lock | null = null;

    await mine.using(
      'doc',
      async () => {
        const started = performance.now();
        const attempt = settled(mine.using('doc', () => 'written', { wait: 2_000 }));
        otherReader = await otherProcess.tryAcquire('doc', { mode: 'read', ttl: 1_000 });
        upgrade = await attempt;
        upgradeMs = performance.now() - started;
      },
      { mode: 'read', ttl: 5_000 },
    );
    await (otherReader as Lock | null)?.release();

    expect(upgrade).toBeInstanceOf(RedlockError);
    expect(upgradeMs).toBeLessThan(500);
    expect(otherReader).not.toBeNull();
  });

  it('a write scope inside a read scope that holds the key through an outer write scope runs with a write lock', async () => {
    // Found by model-redis seed 46455493: the read scope over [a, b] holds `a` through the
    // outer write lock, so a write on `a` inside it is no upgrade and must not be refused.
    const store = memory();
    const mine = engine([store]);
    const other = engine([store]);
    const inner = await mine.using(
      'a',
      () =>
        mine.using(
          ['a', 'b'],
          () =>
            mine.using('a', async (lock) => ({
              mode: lock.mode,
              rival: await other.tryAcquire('a', { mode: 'read' }),
            })),
          { mode: 'read' },
        ),
      { mode: 'write' },
    );

    expect(inner.mode).toBe('write');
    expect(inner.rival).toBeNull();
    await expect(
      mine.using('a', () =>
        mine.using(['a', 'b'], () => mine.using('b', () => 'upgraded'), { mode: 'read' }),
      ),
    ).rejects.toThrow(/inside a scope that holds a read lock/);
  });

  it('item 13: an adapter that throws synchronously never leaves a registered lease', async () => {
    const leaked: Record<string, number> = {};
    for (const method of ['acquire', 'extend', 'release', 'leaveLine', 'onRelease', 'inspect']) {
      const nodes = [memory(), memory(), memory()];
      let answeredBusy = 0;
      const counted = tapAdapter(nodes[0]!, async (name, call) => {
        const reply = (await call()) as { acquired?: boolean };
        if (name === 'acquire' && reply.acquired === false) answeredBusy += 1;
        return reply;
      });
      const thrower = tapAdapter(nodes[2]!, (name, call) => {
        if (name === method) throw new Error(`${name} threw synchronously (test)`);
        return call();
      });
      const holder = engine(nodes);
      const redlock = engine([counted, nodes[1]!, thrower]);

      const held = await holder.acquire('sync-throw', { ttl: 5_000 });
      const outcome = settled(
        redlock.using(
          'sync-throw',
          async (lock) => {
            await lock.extend().catch(() => undefined);
          },
          { ttl: 1_000, wait: 2_000 },
        ),
      );
      // Once the waiter has been told "busy", the holder lets go on two of the three nodes:
      // the waiter's next attempt gets a quorum that the throwing node is not part of.
      await eventually(() => answeredBusy > 0, 2_000, 'the waiter to find the key busy');
      await nodes[0]!.release(['lock:sync-throw'], held.value);
      await nodes[1]!.release(['lock:sync-throw'], held.value);
      await outcome;
      leaked[method] = redlock.heldCount;
      await holder.close({ timeout: 100 });
    }
    expect(leaked).toEqual({
      acquire: 0,
      extend: 0,
      release: 0,
      leaveLine: 0,
      onRelease: 0,
      inspect: 0,
    });
  });

  it('item 13: a temporary renewal failure and a failed release at close() are logged', async () => {
    const renewalLines: string[] = [];
    let extendCalls = 0;
    const flaky = tapAdapter(memory(), (method, call) =>
      method === 'extend' && (extendCalls += 1) === 1
        ? Promise.reject(new Error('read ECONNRESET (test)'))
        : call(),
    );
    const renewing = engine([flaky], { logger: collectingLogger(renewalLines) });
    const lock = await renewing.acquire('renew-log', { ttl: 200, autoExtend: true });
    await eventually(() => extendCalls >= 2, 3_000, 'a second renewal');
    const stillHeld = lock.isHeld();
    await lock.release();

    const closeLines: string[] = [];
    const unreleasable = tapAdapter(memory(), (method, call) =>
      method === 'release' ? Promise.reject(new Error('connect ECONNREFUSED (test)')) : call(),
    );
    const closing = engine([unreleasable], { logger: collectingLogger(closeLines) });
    await closing.acquire('close-log', { ttl: 5_000 });
    await closing.close({ timeout: 100 });

    expect(stillHeld).toBe(true);
    expect(renewalLines).not.toEqual([]);
    expect(closeLines).not.toEqual([]);
  });

  it('item 13: a ttl within the drift margin is a config error, and a 30-day ttl is accepted', async () => {
    const redlock = engine([memory()]);
    const tooShort = await settled(
      redlock.acquire('short-ttl', { ttl: 2, driftFactor: 0.01, wait: 0 }),
    );
    const month = await settled(redlock.acquire('long-ttl', { ttl: 2_592_000_000 }));
    let heldLater = false;
    if (month instanceof Lock) {
      await sleep(20); // a timer armed past 2^31 - 1 ms would have fired at once
      heldLater = month.isHeld();
      await month.release();
    }

    expect(tooShort).toBeInstanceOf(RedlockConfigError);
    expect(month).toBeInstanceOf(Lock);
    expect(heldLater).toBe(true);
  });

  it('item 14: validating 40k resource names takes well under a second', async () => {
    const redlock = engine([memory()]);
    const names = Array.from({ length: 40_000 }, (_, i) => `bulk:${i}`);
    const started = performance.now();
    const lock = await redlock.tryAcquire(names, { ttl: 10_000 });
    const elapsed = performance.now() - started;
    await lock?.release();

    expect(lock).not.toBeNull();
    expect(elapsed).toBeLessThan(1_000);
  });

  it('item 14: the same node listed twice is refused', () => {
    const a = memory();
    const b = memory();
    expect(() => new Redlock([a, a, b])).toThrow(RedlockConfigError);
  });

  it('item 14: after the event loop was blocked past the ttl, the first check sees the lock lost', async () => {
    const redlock = engine([memory()]);
    const lock = await redlock.acquire('blocked', { ttl: 100, autoExtend: false });
    lock.signal.addEventListener('abort', () => undefined); // work watches the signal
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // A synchronous stretch (a paused process, a long computation): no timer can run.
    }
    const seen = { aborted: lock.signal.aborted, held: lock.isHeld() };

    expect(seen).toEqual({ aborted: true, held: false });
  });

  it('item 14: a retryDelay function returning NaN, Infinity or a negative number is a config error', async () => {
    const store = memory();
    const holder = engine([store]);
    await holder.acquire('retry-delay', { ttl: 5_000 });
    const outcomes: Record<string, unknown> = {};
    for (const bad of [NaN, Infinity, -5]) {
      let attempts = 0;
      const counted = tapAdapter(store, (method, call) => {
        if (method === 'acquire') attempts += 1;
        return call();
      });
      const redlock = engine([counted]);
      const error = await settled(
        redlock.acquire('retry-delay', { wait: 300, retryJitter: 0, retryDelay: () => bad }),
      );
      outcomes[String(bad)] = {
        error: error instanceof RedlockConfigError ? 'RedlockConfigError' : error,
        fewAttempts: attempts <= 3,
      };
    }
    const expected = { error: 'RedlockConfigError', fewAttempts: true };
    expect(outcomes).toEqual({ NaN: expected, Infinity: expected, '-5': expected });
  });

  it('item 14: a misspelled option is a config error naming it', async () => {
    const redlock = engine([memory()]);
    const outcome = await settled(redlock.acquire('typo', { tll: 5_000 } as never));
    if (outcome instanceof Lock) await outcome.release();

    expect(outcome).toBeInstanceOf(RedlockConfigError);
    expect((outcome as Error).message).toContain('tll');
  });

  it('item 14: using() with something that is not a function throws before acquiring', async () => {
    let acquireCalls = 0;
    const counted = tapAdapter(memory(), (method, call) => {
      if (method === 'acquire') acquireCalls += 1;
      return call();
    });
    const redlock = engine([counted]);
    const outcome = await settled(redlock.using('not-a-function', 42 as never));

    expect(outcome).toBeInstanceOf(Error);
    expect(acquireCalls).toBe(0);
    expect(redlock.heldCount).toBe(0);
    expect(await redlock.isLocked('not-a-function')).toBe(false);
  });
});
