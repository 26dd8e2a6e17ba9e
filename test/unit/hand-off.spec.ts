import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter, OwnerReply } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { LockLostError, RedlockConfigError } from '../../lib/redlock.errors.js';
import { ManualClock } from '../../lib/services/clock.js';
import type { Lock } from '../../lib/services/lock.js';
import { resolveModuleOptions } from '../../lib/services/module-options.js';
import { Redlock, type RedlockEngineOptions } from '../../lib/services/redlock.engine.js';
import { eventually } from '../support/adapters.js';
import { waitingInLine } from '../support/waiting-line.js';
import { deferred } from '../support/deferred.js';

/** Calls seen on one node, by method (the `handOff` capability's `transfer` included). */
type Calls = Record<string, number>;

/** Commands a node runs in order on its connection (subscriptions have their own). */
const COMMANDS = new Set(['acquire', 'extend', 'release', 'inspect', 'syncFence']);

/**
 * When the commands to the nodes wait: from the moment `until` is set until it resolves. Set
 * from `sent` (called with each method as it is sent, counted) to stall a given command.
 */
interface Stall {
  until?: Promise<void>;
  sent?: (method: string) => void;
}

/**
 * A memory node whose calls are counted; `transfer` may be replaced to make the hand-off fail
 * or hang on this node. While `stall.until` is set, every command waits for it and then runs
 * in the order sent, as behind a connection that stopped answering for a while.
 */
function watched(
  inner: MemoryLockAdapter,
  calls: Calls,
  transfer?: (real: () => Promise<OwnerReply>) => Promise<OwnerReply>,
  stall: Stall = {},
): LockAdapter {
  const count = (method: string) => {
    calls[method] = (calls[method] ?? 0) + 1;
    stall.sent?.(method);
  };
  const inOrder = <T>(run: () => Promise<T>): Promise<T> =>
    stall.until ? stall.until.then(run) : run();
  const handOff = {
    transfer: (keys: readonly string[], value: string, next: string, ttl: number) => {
      count('transfer');
      const real = () => inner.handOff.transfer(keys, value, next, ttl);
      return inOrder(() => (transfer ? transfer(real) : real()));
    },
  };
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'handOff') return handOff;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        count(property);
        if (COMMANDS.has(property) && stall.until) {
          return inOrder(() => method.apply(target, args) as Promise<unknown>);
        }
        return method.apply(target, args);
      };
    },
  });
}

/** Whether each `acquired` event so far came by an in-process hand-off, in order. */
const handedOver = (events: readonly RedlockEvent[]) =>
  events.flatMap((e) => (e.type === 'acquired' ? [e.handedOver] : []));

/** Resolves once no store holds `lock:r` any more. */
const everyNodeFree = (stores: readonly MemoryLockAdapter[]) =>
  eventually(
    async () =>
      (await Promise.all(stores.map((n) => n.inspect(['lock:r'])))).every((t) => t === -2),
    5_000,
    'every node to be free',
  );

/**
 * A clock that jumps (the process frozen for a while, as a paused VM), with real timers: a
 * round's timeout has not fired when its reply is read.
 */
const jumpingClock = () => {
  let now = 0;
  return {
    now: () => now,
    wallNow: () => Date.UTC(2026, 0, 1) + now,
    jump: (ms: number) => void (now += ms),
  };
};

describe('in-process hand-off (memory nodes)', () => {
  const engines: Redlock[] = [];
  const stores: MemoryLockAdapter[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  const setup = (
    n: number,
    options: RedlockEngineOptions = {},
    transfer?: (node: number, real: () => Promise<OwnerReply>) => Promise<OwnerReply>,
  ) => {
    const calls: Calls = {};
    const inner = Array.from({ length: n }, (_, i) => {
      const store = new MemoryLockAdapter({ name: `memory://h${i}`, now: options.clock?.now });
      stores.push(store);
      return store;
    });
    // Set `stall.until` to hold every command to the nodes until it resolves.
    const stall: Stall = {};
    const nodes = inner.map((store, i) =>
      watched(store, calls, transfer ? (real) => transfer(i, real) : undefined, stall),
    );
    const events: RedlockEvent[] = [];
    // A window far past these tests' holds unless a test sets its own: the default (50 ms)
    // could end a chain on a slow machine before the waiters are in line.
    const engine = new Redlock(nodes, {
      ...options,
      handOff: options.handOff ?? { window: '1m' },
      onEvent: (event) => events.push(event),
    });
    // Another process on the same nodes: it never sees the keys free during a hand-off.
    const other = new Redlock(inner, { clock: options.clock });
    engines.push(engine, other);
    /** Resolves once `count` callers wait in line for `resource`, each asleep (not in a round). */
    const parked = (count: number, resource = 'r') => waitingInLine(engine, resource, count);
    return { calls, inner, engine, other, events, parked, stall };
  };

  /** The values the stores hold for `key`, as the memory inspector lists them. */
  const valuesOf = async (stores: readonly MemoryLockAdapter[], key: string) =>
    Promise.all(
      stores.map(async (store) => {
        const listing = await store.inspector.list(key, 10);
        return listing.keys.find((entry) => entry.key === key)?.holders.map((h) => h.value) ?? [];
      }),
    );

  const slow = { wait: 10_000, retryDelay: 60_000, retryJitter: 0 } as const;

  /** `take(who, by)` acquires 'r' through `by`, waiting; `order` lists who got it, in turn. */
  const arrivals = () => {
    const order: string[] = [];
    const take = (who: string, by: Redlock) =>
      by.acquire('r', slow).then((lock) => {
        order.push(who);
        return lock;
      });
    return { order, take };
  };

  /**
   * This process (P, `engine`) learns of Q as a contender (Q's release wakes P's caller A), then
   * ends a chain of one hand-off (A to B) whose freed keys R (`third`) takes and releases.
   * Returns P's caller C, still waiting, and the order in which callers got the keys so far.
   */
  const chainEndTakenByR = async (
    clock: ManualClock,
    { engine, parked }: Pick<ReturnType<typeof setup>, 'engine' | 'parked'>,
    q: Redlock,
    third: Redlock,
  ) => {
    const { order, take } = arrivals();
    const q1 = await q.acquire('r');
    const a = take('P:a', engine);
    await parked(1);
    await q1.release();
    const lockA = await a;
    await clock.advance(1); // Q's release comes before the chain's end
    const b = take('P:b', engine);
    await parked(1);
    const r = take('R', third);
    await waitingInLine(third, 'r', 1);
    await lockA.release(); // handed to B: the chain's one hand-off
    const lockB = await b;
    const c = take('P:c', engine);
    await parked(1);
    await lockB.release(); // the chain's end: R, woken by the release, takes the keys
    await (await r).release();
    return { order, c };
  };
  /** Q takes its turn on the keys; then C, the caller of this process that held back, goes. */
  const qTurnThenC = async (clock: ManualClock, q: Redlock, c: Promise<Lock>) => {
    const q2 = await q.acquire('r', { wait: 0 });
    await q2.release(); // Q's turn: now C goes
    await clock.advance(1);
    await (await c).release();
  };

  it('hands a released lock to the waiting caller of the same process: new owner value, keys never freed', async () => {
    const { calls, engine, events, parked } = setup(3);
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);
    const releasesBefore = calls.release ?? 0;

    expect(await first.release()).toBe('released');
    const lock = await second;

    // The transfer goes out once the new owner has resumed (on the next turn of the loop).
    await eventually(() => calls.transfer === 3, 5_000, 'the transfer on every node');
    expect(calls.release ?? 0).toBe(releasesBefore); // the keys were never deleted
    expect(lock.value).not.toBe(first.value);
    expect(lock.isHeld()).toBe(true);
    expect(lock.expiresAt).toBeGreaterThan(Date.now() + 9_000); // a full validity (ttl 10 s)
    expect(
      events.filter((e) => e.type === 'released').map((e) => e.type === 'released' && e.status),
    ).toEqual(['released']);
    const acquired = events.filter((e) => e.type === 'acquired');
    expect(acquired).toHaveLength(2);
    expect(await lock.release()).toBe('released');
  });

  it('sends the transfer before the first command of a new owner that releases at once', async () => {
    const { calls, inner, engine, parked } = setup(3);
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);

    await first.release();
    const lock = await second;
    // Released in the same turn it resumed in: its release must still follow the transfer on
    // each node, or it would find the old value there and leave its own behind.
    expect(await lock.release()).toBe('released');

    expect(calls.transfer).toBe(3);
    expect(calls.release).toBe(3);
    expect(await valuesOf(inner, 'lock:r')).toEqual([[], [], []]);
  });

  it('sends the transfer before the first extension of a new owner that extends at once', async () => {
    const { calls, inner, engine, parked } = setup(3);
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);

    await first.release();
    const lock = await second;
    await lock.extend();

    expect(calls.transfer).toBe(3);
    expect(lock.isHeld()).toBe(true);
    expect(await valuesOf(inner, 'lock:r')).toEqual([[lock.value], [lock.value], [lock.value]]);
    expect(await lock.release()).toBe('released');
  });

  it('sends the transfer before the release of a new owner whose lock is lost before it went out', async () => {
    const clock = jumpingClock();
    const { calls, inner, engine, events, parked } = setup(3, { clock });
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);

    await first.release();
    const lock = await second;
    // The event loop stalls past the validity it was handed before the transfer goes out (the
    // nodes' keys have not expired yet): the first read sees the lock lost, and the loss frees
    // the keys. That release must follow the transfer, or the transfer would leave the new
    // owner's value behind for a whole ttl.
    clock.jump(lock.expiresAt - clock.wallNow() + 10);
    expect(lock.isHeld()).toBe(false);
    expect(events.filter((e) => e.type === 'lost')).toHaveLength(1);

    await everyNodeFree(inner);
    expect(calls.transfer).toBe(3);
  });

  it('stores the new owner value on the nodes, so the old one can neither extend nor release', async () => {
    const { inner, engine, parked } = setup(1);
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);
    await first.release();
    const lock = await second;

    await eventually(
      async () => (await valuesOf(inner, 'lock:r'))[0]![0] === lock.value,
      5_000,
      'the new owner value on the node',
    );
    expect(await valuesOf(inner, 'lock:r')).toEqual([[lock.value]]);
    expect(await inner[0]!.release(['lock:r'], first.value)).toBe('taken');
    expect(await inner[0]!.extend(['lock:r'], first.value, 1_000)).toBe('taken');
    await expect(first.extend()).rejects.toThrow(/already released/);
    expect(await lock.release()).toBe('released');
    expect(await inner[0]!.inspect(['lock:r'])).toBe(-2);
  });

  it('hands off at most `max` times in a row, then frees the keys for every contender', async () => {
    const { calls, engine, parked } = setup(1, { handOff: { max: 2, window: '1m' } });
    const holder = await engine.acquire('r');
    const b = engine.acquire('r', slow);
    await parked(1);
    const c = engine.acquire('r', slow);
    const d = engine.acquire('r', slow);
    await parked(3);

    await holder.release();
    const lockB = await b;
    await lockB.release();
    const lockC = await c;
    expect(calls.release ?? 0).toBe(0);

    await lockC.release(); // the third in a row: a real release, which wakes D
    expect(calls.transfer).toBe(2);
    expect(calls.release).toBe(1);
    const lockD = await d;
    expect(lockD.isHeld()).toBe(true);
    await lockD.release();
  });

  it('starts no hand-off once `window` ms have passed since the chain began', async () => {
    const clock = new ManualClock();
    const { calls, engine, parked } = setup(1, { clock, handOff: { window: 20 } });
    const holder = await engine.acquire('r', { ttl: 10_000 });
    const b = engine.acquire('r', slow);
    await parked(1);
    const c = engine.acquire('r', slow);
    await parked(2);

    await clock.advance(15);
    await holder.release(); // 15 ms into the chain: handed to B
    const lockB = await b;
    expect(calls.release ?? 0).toBe(0);

    await clock.advance(10);
    await lockB.release(); // 25 ms into the chain that began with the holder: freed
    expect(calls.transfer).toBe(1);
    expect(calls.release).toBe(1);
    await (await c).release(); // no other process was seen on the keys: C takes them at once
  });

  it('lets a waiter of another process go first when a chain ends at its bound', async () => {
    const clock = new ManualClock();
    const { engine, other, parked } = setup(1, { clock, handOff: { max: 1, window: '1m' } });
    const { order, take } = arrivals();
    // This process learns that another one wants the keys: it finds them held by it.
    const first = await other.acquire('r');
    const waiting = engine.acquire('r', slow);
    await parked(1);
    await first.release();
    const holder = await waiting;
    const local = take('local B', engine);
    await parked(1);
    const remote = take('remote', other);
    await waitingInLine(other, 'r', 1);

    await holder.release(); // handed to B: the chain's one hand-off
    const lockB = await local;
    const localC = take('local C', engine);
    await parked(1);
    await lockB.release(); // the bound: the keys are freed, C holds back
    const lockR = await remote;
    expect(order).toEqual(['local B', 'remote']);

    await lockR.release();
    await clock.advance(5);
    await (await localC).release();
    expect(order).toEqual(['local B', 'remote', 'local C']);
  });

  it('after a chain ends, leaves the keys to each other process that released them lately until it had its turn', async () => {
    const clock = new ManualClock();
    const { inner, engine, other, parked } = setup(1, { clock, handOff: { max: 1, window: 50 } });
    const third = new Redlock(inner, { clock });
    engines.push(third);
    const { order, c } = await chainEndTakenByR(clock, { engine, parked }, other, third);

    // Past the two round trips every chain's end holds back, within its turn bound (100 ms): Q
    // has not had the keys since this process's chain ended, so C still leaves them to it.
    await clock.advance(5);
    expect(order).toEqual(['P:a', 'P:b', 'R']);
    await qTurnThenC(clock, other, c);
    expect(order).toEqual(['P:a', 'P:b', 'R', 'P:c']);
  });

  it("does not count another process's undo of a late grant as its turn", async () => {
    const clock = new ManualClock();
    const { inner, engine, parked } = setup(1, { clock, handOff: { max: 1, window: 50 } });
    // Process Q, whose rounds take 60 ms while `late` is set: past the validity of a 100 ms
    // ttl with a driftFactor of 0.5 (48 ms), so Q takes its grant back.
    let late = false;
    const slowNodes = inner.map(
      (store) =>
        new Proxy(store, {
          get(target, property) {
            const value: unknown = Reflect.get(target, property, target);
            if (property !== 'acquire' || typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              const reply: unknown = await (value as (...a: unknown[]) => unknown).apply(
                target,
                args,
              );
              if (late) await clock.advance(60);
              return reply;
            };
          },
        }),
    );
    const q = new Redlock(slowNodes, { clock });
    const third = new Redlock(inner, { clock });
    engines.push(q, third);
    // As in the test above: this process knows Q as a contender, then ends a chain (R takes).
    const { order, c } = await chainEndTakenByR(clock, { engine, parked }, q, third);
    await clock.advance(5);

    // Q's round takes the free keys too late and gives them back: announced, but not Q's turn.
    late = true;
    await expect(q.acquire('r', { wait: 0, ttl: 100, driftFactor: 0.5 })).rejects.toThrow();
    late = false;
    await clock.advance(1);
    expect(order).toEqual(['P:a', 'P:b', 'R']);
    await qTurnThenC(clock, q, c);
    expect(order).toEqual(['P:a', 'P:b', 'R', 'P:c']);
  });

  it('holds nobody back at the end of a chain when no other process was seen on the keys', async () => {
    const clock = new ManualClock();
    const { calls, engine, parked } = setup(1, { clock, handOff: { max: 1, window: '1m' } });
    // Once the nodes are ready, a lock on free keys is one round, and nothing marks it as the
    // holder of a line: B's round finds the keys held, and must tell it is by this process.
    await (await engine.acquire('warm-up')).release();
    const warmUp = calls.release ?? 0;
    const holder = await engine.acquire('r');
    const b = engine.acquire('r', slow);
    await parked(1);
    await holder.release(); // handed to B: the chain's one hand-off
    const lockB = await b;
    let held = false;
    const c = engine.acquire('r', slow).then((lock) => {
      held = true;
      return lock;
    });
    await parked(1);

    await lockB.release(); // the bound: the keys are freed, and C takes them
    // The clock stands still: a hold-back (two round trips) would keep C out for good.
    await eventually(() => held, 2_000, 'C to take the keys with the clock standing still');
    expect(calls.transfer).toBe(1);
    expect((calls.release ?? 0) - warmUp).toBe(1);
    await (await c).release();
  });

  it('never hands off to a caller that asked for a fencing token: it gets a higher token from the nodes', async () => {
    const { calls, engine, parked } = setup(3);
    const first = await engine.acquire('r', { fencing: true });
    const second = engine.acquire('r', { ...slow, fencing: true });
    await parked(1);
    await first.release();
    const lock = await second;
    expect(calls.transfer ?? 0).toBe(0);
    expect(lock.fencingToken).toBeGreaterThan(first.fencingToken);
    await lock.release();
  });

  it('does nothing of the kind with handOff: false', async () => {
    const { calls, engine, parked } = setup(1, { handOff: false });
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);
    await first.release();
    await (await second).release();
    expect(calls.transfer ?? 0).toBe(0);
    expect(calls.release).toBe(2);
  });

  it('runs the new owner on the old validity, and ends its lock as lost when no quorum confirms the transfer', async () => {
    // A manual clock: no validity runs out here, so only the failed transfer can end the lock.
    const clock = new ManualClock();
    // Two of three nodes fail the transfer: only node 0 moves to the new value.
    const { calls, inner, engine, events, parked } = setup(3, { clock }, (node, real) =>
      node === 0 ? real() : Promise.reject(new Error('connection reset')),
    );
    const first = await engine.acquire('r');
    const second = engine.acquire('r', slow);
    await parked(1);

    expect(await first.release()).toBe('released');
    const lock = await second;
    expect(lock.value).not.toBe(first.value);
    expect(lock.expiresAt).toBe(first.expiresAt); // the previous owner's validity, until confirmed
    await everyNodeFree(inner);
    expect(calls.transfer).toBe(3);
    expect(lock.isHeld()).toBe(false);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(events.some((e) => e.type === 'lost')).toBe(true);
    await expect(engine.acquire('r', { wait: 0 })).resolves.toBeDefined();
  });

  it('gives nothing to a waiter that gave up during the transfer: the keys end free', async () => {
    const gate = deferred<void>();
    const { inner, engine, parked, stall } = setup(1);
    const first = await engine.acquire('r');
    const controller = new AbortController();
    const second = engine.acquire('r', { ...slow, signal: controller.signal });
    const outcome = second.then(
      () => 'acquired',
      (error: unknown) => error,
    );
    await parked(1);

    // The node stops answering: the transfer, and whatever follows it, wait in order.
    stall.until = gate.promise;
    const released = first.release();
    controller.abort(new Error('client went away'));
    gate.resolve();
    expect(await released).toBe('released');
    expect(await outcome).toEqual(new Error('client went away'));
    await eventually(async () => (await inner[0]!.inspect(['lock:r'])) === -2, 5_000, 'keys freed');
  });

  /**
   * A second caller whose round in line is on the nodes (stalled there) when the first releases:
   * `stalled` resolves once that round is sent. Every node's commands then wait for `gate`.
   */
  const inRoundOnRelease = async (
    n: number,
    signal?: AbortSignal,
    options: RedlockEngineOptions = {},
    transfer?: (node: number, real: () => Promise<OwnerReply>) => Promise<OwnerReply>,
  ) => {
    const gate = deferred<void>();
    const stalled = deferred<void>();
    const setup_ = setup(n, options, transfer);
    const { calls, engine, stall } = setup_;
    // A warm-up: the engine's first lock waits for the nodes' connection, and a lock taken
    // after waiting is known to its line as the holder (its waiters would sleep, not poll).
    await (await engine.acquire('warm-up')).release();
    const first = await engine.acquire('r');
    // The second caller's first round (from obtain), then its round in line: stall that one.
    const inLineRound = 3 * n + 1;
    stall.sent = (method) => {
      if (method === 'acquire' && calls.acquire === inLineRound) {
        stall.until = gate.promise;
        stalled.resolve();
      }
    };
    const second = engine.acquire('r', { ...slow, signal });
    const outcome = second.then(
      (lock) => lock,
      (error: unknown) => error as Error,
    );
    await stalled.promise;
    return { ...setup_, first, outcome, gate };
  };

  it('hands the lock to a waiter whose round is in flight when the holder releases: keys never freed', async () => {
    const { calls, engine, other, events, inner, first, outcome, gate } = await inRoundOnRelease(1);
    const releasesBefore = calls.release ?? 0;

    const released = first.release();
    // Another process finds the keys held while the round and the transfer wait on the node.
    await expect(other.acquire('r', { wait: 0 })).rejects.toThrow();
    gate.resolve();
    const lock = await outcome;

    if (lock instanceof Error) throw lock;
    expect(await released).toBe('released');
    expect(calls.release ?? 0).toBe(releasesBefore); // the keys were never deleted
    await eventually(() => calls.transfer === 1, 5_000, 'the transfer');
    // The warm-up, the first caller, then the second by hand-off.
    expect(handedOver(events)).toEqual([false, false, true]);
    expect(await valuesOf(inner, 'lock:r')).toEqual([[lock.value]]);
    expect(lock.isHeld()).toBe(true);
    expect(await lock.release()).toBe('released');
    await expect(engine.acquire('r', { wait: 0 })).resolves.toBeDefined();
  });

  it('keeps the lock its own round got when that round won after all, and frees what the hand-off set', async () => {
    const { inner, events, first, outcome, gate } = await inRoundOnRelease(3);
    // Two nodes lose the first holder's keys while the round waits: it will win there.
    for (const store of inner.slice(0, 2)) {
      expect(await store.release(['lock:r'], first.value)).toBe('ok');
    }

    const released = first.release();
    gate.resolve();
    const lock = await outcome;

    if (lock instanceof Error) throw lock;
    await released;
    expect(handedOver(events)).toEqual([false, false, false]);
    // The transfer landed on the third node only (no quorum): its value is taken back there.
    await eventually(
      async () =>
        JSON.stringify(await valuesOf(inner, 'lock:r')) ===
        JSON.stringify([[lock.value], [lock.value], []]),
      5_000,
      'the value of the round on two nodes, the third free',
    );
    expect(lock.isHeld()).toBe(true);
    expect(events.some((e) => e.type === 'lost')).toBe(false);
  });

  it('gives back a lock handed over to a waiter that gave up during its round: the keys end free', async () => {
    const controller = new AbortController();
    const { inner, engine, first, outcome, gate } = await inRoundOnRelease(1, controller.signal);

    const released = first.release();
    controller.abort(new Error('client went away'));
    gate.resolve();

    expect(await released).toBe('released');
    expect(await outcome).toEqual(new Error('client went away'));
    await eventually(async () => (await inner[0]!.inspect(['lock:r'])) === -2, 5_000, 'keys freed');
    await expect(engine.acquire('r', { wait: 0 })).resolves.toBeDefined();
  });

  it('takes no handed-over lock whose validity ran out during its round unless the transfer is confirmed', async () => {
    const clock = jumpingClock();
    // Only node 0 moves to the new value: no quorum confirms the transfer.
    const { inner, events, first, outcome, gate } = await inRoundOnRelease(
      3,
      undefined,
      { clock },
      (node, real) => (node === 0 ? real() : Promise.reject(new Error('connection reset'))),
    );

    const released = first.release();
    // Past the previous owner's validity (the ttl less the drift), not yet past the keys' ttl.
    clock.jump(first.expiresAt - clock.wallNow() + 10);
    gate.resolve();
    const lock = await outcome;

    if (lock instanceof Error) throw lock;
    await released;
    expect(handedOver(events)).toEqual([false, false, false]);
    expect(lock.isHeld()).toBe(true);
    expect(events.some((e) => e.type === 'lost')).toBe(false);
    expect(await lock.release()).toBe('released');
    await everyNodeFree(inner);
  });

  it('takes a handed-over lock whose validity ran out during its round on the validity its transfer was confirmed with', async () => {
    const clock = jumpingClock();
    const { events, first, outcome, gate } = await inRoundOnRelease(3, undefined, { clock });

    // Released half-way through its validity: the transfer's validity runs on past it.
    clock.jump(5_000);
    const released = first.release();
    clock.jump(first.expiresAt - clock.wallNow() + 10);
    gate.resolve();
    const lock = await outcome;

    if (lock instanceof Error) throw lock;
    await released;
    expect(handedOver(events)).toEqual([false, false, true]);
    // Counted from the transfer, made when the first released (before the jump).
    expect(lock.expiresAt).toBeGreaterThan(first.expiresAt);
    expect(lock.isHeld()).toBe(true);
    expect(await lock.release()).toBe('released');
  });

  it('keeps one holder at a time under random schedules of two processes, some callers fenced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            process: fc.integer({ min: 0, max: 1 }),
            hold: fc.integer({ min: 0, max: 3 }),
            fencing: fc.boolean(),
            ttl: fc.constantFrom(2_000, 5_000),
          }),
          { minLength: 2, maxLength: 12 },
        ),
        fc.constantFrom(1, 3),
        async (callers, n) => {
          const { engine, other } = setup(n, { handOff: { max: 3, window: '1m' } });
          let inside = 0;
          let overlaps = 0;
          const tokens: number[] = [];
          await Promise.all(
            callers.map(async (caller) => {
              const lock: Lock = await (caller.process === 0 ? engine : other).acquire('r', {
                ttl: caller.ttl,
                wait: 10_000,
                retryDelay: 5,
                fencing: caller.fencing,
              });
              inside += 1;
              if (inside > 1) overlaps += 1;
              if (caller.fencing) tokens.push(lock.fencingToken);
              await new Promise((resolve) => setTimeout(resolve, caller.hold));
              expect(lock.isHeld()).toBe(true);
              inside -= 1;
              expect(await lock.release()).toBe('released');
            }),
          );
          expect(overlaps).toBe(0);
          expect(new Set(tokens).size).toBe(tokens.length);
          await Promise.all(engines.splice(0).map((e) => e.close()));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('handOff option', () => {
  it.each([
    [{ handOff: 'yes' }, 'handOff'],
    [{ handOff: { max: -1 } }, 'handOff.max'],
    [{ handOff: { max: 1.5 } }, 'handOff.max'],
    [{ handOff: { window: 'soon' } }, 'handOff.window'],
    [{ handOff: { window: -5 } }, 'handOff.window'],
  ])('refuses %p with a RedlockConfigError naming %p', (options, option) => {
    const store = new MemoryLockAdapter();
    for (const build of [
      () => new Redlock([store], options as RedlockEngineOptions),
      () => resolveModuleOptions({ nodes: ['memory://'], ...(options as object) }),
    ]) {
      let error: unknown;
      try {
        build();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as RedlockConfigError).option).toBe(option);
    }
    void store.close();
  });
});
