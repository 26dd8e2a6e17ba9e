import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type {
  AcquireReply,
  FenceArgs,
  LockAdapter,
} from '../../lib/interfaces/lock-adapter.interface.js';

/** What a backend's spec hands to {@link describeLockAdapterContract}. */
export interface ContractTarget {
  adapter: LockAdapter;
  /** another adapter on the SAME node/store, to act as a second client */
  other: LockAdapter;
  /** Closes both adapters and whatever the setup started. */
  teardown(): Promise<void>;
}

/** Long enough that no test outlives it, short enough that a leaked key cleans itself up. */
const LONG = 10_000;
/** Short enough to wait out, long enough for a round trip to a loaded Redis. */
const SHORT = 100;
/** A seed below any counter, so tokens follow the counters and tests can predict them. */
const FENCE: FenceArgs = { seed: 1, retention: 60_000 };
/** How long an expiry or a notification may take before the test fails with a clear message. */
const DEADLINE = 3_000;

/**
 * The promises every {@link LockAdapter} must keep, run against one backend. `setup` is called
 * once for the suite (and once more per `close` test) and must return two clients of one store.
 * Keys carry a random per-test hash tag, so backends can share a server and a Cluster slot.
 *
 * @example
 * ```ts
 * describeLockAdapterContract('ioredis', async () => {
 *   const [a, b] = [new IoredisLockAdapter(url), new IoredisLockAdapter(url)];
 *   return { adapter: a, other: b, teardown: async () => { await a.close(); await b.close(); } };
 * });
 * ```
 */
export function describeLockAdapterContract(
  label: string,
  setup: () => Promise<ContractTarget>,
  /** `lines: false` for a backend that keeps no waiting lines (no `leaveLine`). */
  { lines = true }: { lines?: boolean } = {},
): void {
  describe(`LockAdapter contract: ${label}`, () => {
    let target: ContractTarget | undefined;
    let adapter: LockAdapter;
    let other: LockAdapter;
    let key: (name: string) => string;

    beforeAll(async () => {
      target = await setup();
      ({ adapter, other } = target);
    });

    afterAll(async () => {
      await target?.teardown();
    });

    beforeEach(() => {
      const run = randomBytes(6).toString('hex');
      // The hash tag keeps every key of a test in one Cluster slot, so multi-key calls are legal.
      key = (name) => `contract:{${run}}:${name}`;
    });

    describe('acquire', () => {
      it('takes a free key with the given ttl', async () => {
        const k = key('a');
        expect(await adapter.inspect([k])).toBe(-2);
        fenceOf(await adapter.acquire([k], owner(), LONG, FENCE));
        expect(await adapter.inspect([k])).toBeGreaterThan(0);
        expect(await adapter.inspect([k])).toBeLessThanOrEqual(LONG);
      });

      it('takes several keys in one call', async () => {
        const [k1, k2, k3] = [key('a'), key('b'), key('c')];
        fenceOf(await adapter.acquire([k1, k2, k3], owner(), LONG, FENCE));
        for (const k of [k1, k2, k3]) expect(await adapter.inspect([k])).toBeGreaterThan(0);
      });

      it('answers busy with the remaining ttl of the holder', async () => {
        const k = key('a');
        fenceOf(await other.acquire([k], owner(), 1_000, FENCE));
        const reply = await adapter.acquire([k], owner(), LONG, FENCE);
        expect(reply.acquired).toBe(false);
        const ttl = busyTtl(reply);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(1_000);
      });

      it('answers busy with the longest remaining ttl of the held keys', async () => {
        const [k1, k2, k3] = [key('a'), key('b'), key('c')];
        fenceOf(await other.acquire([k1], owner(), 1_000, FENCE));
        fenceOf(await other.acquire([k2], owner(), 5_000, FENCE));
        const ttl = busyTtl(await adapter.acquire([k1, k2, k3], owner(), LONG, FENCE));
        expect(ttl).toBeGreaterThan(1_000);
        expect(ttl).toBeLessThanOrEqual(5_000);
        expect(await adapter.inspect([k1, k2, k3])).toBeGreaterThan(1_000);
      });

      it('takes nothing when one of the keys is held', async () => {
        const [held, free] = [key('held'), key('free')];
        const holder = owner();
        fenceOf(await other.acquire([held], holder, LONG, FENCE));
        busyTtl(await adapter.acquire([free, held], owner(), LONG, FENCE));
        expect(await adapter.inspect([free])).toBe(-2);
        expect(await other.release([held], holder)).toBe('ok');
      });

      it('does not let the same owner value take a held key twice', async () => {
        const k = key('a');
        const value = owner();
        fenceOf(await adapter.acquire([k], value, LONG, FENCE));
        busyTtl(await adapter.acquire([k], value, LONG, FENCE));
      });

      it('lets keys expire after their ttl', async () => {
        const [k1, k2] = [key('a'), key('b')];
        fenceOf(await adapter.acquire([k1, k2], owner(), SHORT, FENCE));
        expect(await adapter.inspect([k1, k2])).toBeLessThanOrEqual(SHORT);
        await waitUntilGone(adapter, [k1, k2]);
        fenceOf(await other.acquire([k1, k2], owner(), LONG, FENCE));
      });
    });

    describe('extend', () => {
      it('resets the ttl of every key for the owner', async () => {
        const [k1, k2] = [key('a'), key('b')];
        const value = owner();
        fenceOf(await adapter.acquire([k1, k2], value, SHORT, FENCE));
        expect(await adapter.extend([k1, k2], value, LONG, FENCE)).toBe('ok');
        for (const k of [k1, k2]) expect(await adapter.inspect([k])).toBeGreaterThan(SHORT);
      });

      it("answers 'taken' to a stale owner and leaves the new owner's ttl alone", async () => {
        const k = key('a');
        const stale = owner();
        fenceOf(await adapter.acquire([k], stale, SHORT, FENCE));
        await waitUntilGone(adapter, [k]);
        fenceOf(await other.acquire([k], owner(), LONG, FENCE));
        expect(await adapter.extend([k], stale, 6 * LONG, FENCE)).toBe('taken');
        expect(await adapter.inspect([k])).toBeLessThanOrEqual(LONG);
      });

      it("answers 'expired' once the keys are gone", async () => {
        const k = key('a');
        const value = owner();
        fenceOf(await adapter.acquire([k], value, SHORT, FENCE));
        await waitUntilGone(adapter, [k]);
        expect(await adapter.extend([k], value, LONG, FENCE)).toBe('expired');
        expect(await adapter.inspect([k])).toBe(-2);
      });

      it('extends nothing unless every key is held by the owner', async () => {
        const [mine, gone, theirs] = [key('mine'), key('gone'), key('theirs')];
        const value = owner();
        fenceOf(await adapter.acquire([mine], value, LONG, FENCE));
        fenceOf(await other.acquire([theirs], owner(), LONG, FENCE));
        expect(await adapter.extend([mine, gone], value, 6 * LONG, FENCE)).toBe('expired');
        expect(await adapter.extend([mine, theirs], value, 6 * LONG, FENCE)).toBe('taken');
        expect(await adapter.inspect([mine])).toBeLessThanOrEqual(LONG);
        expect(await adapter.inspect([gone])).toBe(-2);
      });
    });

    describe('release', () => {
      it('deletes the keys of the owner', async () => {
        const [k1, k2] = [key('a'), key('b')];
        const value = owner();
        fenceOf(await adapter.acquire([k1, k2], value, LONG, FENCE));
        expect(await adapter.release([k1, k2], value)).toBe('ok');
        expect(await adapter.inspect([k1, k2])).toBe(-2);
        fenceOf(await other.acquire([k1, k2], owner(), LONG, FENCE));
      });

      it("answers 'taken' to a stale owner and leaves the new owner's key in place", async () => {
        const k = key('a');
        const [stale, next] = [owner(), owner()];
        fenceOf(await adapter.acquire([k], stale, SHORT, FENCE));
        await waitUntilGone(adapter, [k]);
        fenceOf(await other.acquire([k], next, LONG, FENCE));
        expect(await adapter.release([k], stale)).toBe('taken');
        expect(await adapter.inspect([k])).toBeGreaterThan(0);
        expect(await other.release([k], next)).toBe('ok');
      });

      it("answers 'expired' once the keys are gone", async () => {
        const k = key('a');
        const value = owner();
        fenceOf(await adapter.acquire([k], value, SHORT, FENCE));
        await waitUntilGone(adapter, [k]);
        expect(await adapter.release([k], value)).toBe('expired');
      });

      it('deletes the keys it owns even when others are gone or taken', async () => {
        const [mine, gone, theirs] = [key('mine'), key('gone'), key('theirs')];
        const value = owner();
        fenceOf(await adapter.acquire([mine], value, LONG, FENCE));
        expect(await adapter.release([mine, gone], value)).toBe('expired');
        expect(await adapter.inspect([mine])).toBe(-2);

        fenceOf(await adapter.acquire([mine], value, LONG, FENCE));
        fenceOf(await other.acquire([theirs], owner(), LONG, FENCE));
        expect(await adapter.release([mine, gone, theirs], value)).toBe('taken');
        expect(await adapter.inspect([mine])).toBe(-2);
        expect(await adapter.inspect([theirs])).toBeGreaterThan(0);
      });
    });

    describe('fencing', () => {
      it('returns strictly increasing tokens for one key', async () => {
        const k = key('a');
        const tokens: number[] = [];
        for (let i = 0; i < 3; i++) {
          const value = owner();
          tokens.push(fenceOf(await adapter.acquire([k], value, LONG, FENCE)));
          expect(await adapter.release([k], value)).toBe('ok');
        }
        expect(tokens[1]).toBeGreaterThan(tokens[0]!);
        expect(tokens[2]).toBeGreaterThan(tokens[1]!);
      });

      it('never returns a token below the seed, and never moves back under a lower seed', async () => {
        const k = key('a');
        const seed = 2 ** 50;
        const value = owner();
        const first = fenceOf(await adapter.acquire([k], value, LONG, { ...FENCE, seed }));
        expect(first).toBeGreaterThanOrEqual(seed);
        expect(await adapter.release([k], value)).toBe('ok');
        expect(fenceOf(await other.acquire([k], owner(), LONG, FENCE))).toBeGreaterThan(first);
      });

      it('gives a multi-key acquisition a token above every key counter', async () => {
        const [k1, k2] = [key('a'), key('b')];
        const previous: number[] = [];
        for (const k of [k1, k1, k1, k2]) {
          const value = owner();
          previous.push(fenceOf(await adapter.acquire([k], value, LONG, FENCE)));
          expect(await adapter.release([k], value)).toBe('ok');
        }
        const value = owner();
        const token = fenceOf(await adapter.acquire([k1, k2], value, LONG, FENCE));
        expect(token).toBeGreaterThan(Math.max(...previous));
        expect(await adapter.release([k1, k2], value)).toBe('ok');
        // The token is stored on every key, so the key that was behind has caught up.
        expect(fenceOf(await other.acquire([k2], owner(), LONG, FENCE))).toBeGreaterThan(token);
      });

      it('raises the counters on syncFence by the owner', async () => {
        const k = key('a');
        const value = owner();
        const token = fenceOf(await adapter.acquire([k], value, LONG, FENCE));
        const synced = token + 100;
        expect(await adapter.syncFence([k], value, { ...FENCE, token: synced })).toBe('ok');
        expect(await adapter.release([k], value)).toBe('ok');
        expect(fenceOf(await other.acquire([k], owner(), LONG, FENCE))).toBeGreaterThan(synced);
      });

      it("answers 'taken' to syncFence by another owner and changes nothing", async () => {
        const k = key('a');
        const value = owner();
        const token = fenceOf(await adapter.acquire([k], value, LONG, FENCE));
        const reply = await other.syncFence([k], owner(), { ...FENCE, token: token + 1_000 });
        expect(reply).toBe('taken');
        expect(await adapter.release([k], value)).toBe('ok');
        // max(counter + 1, seed) with the counter untouched.
        expect(fenceOf(await other.acquire([k], owner(), LONG, FENCE))).toBe(token + 1);
      });

      it("answers 'expired' to syncFence once the keys are gone", async () => {
        const k = key('a');
        const value = owner();
        const token = fenceOf(await adapter.acquire([k], value, SHORT, FENCE));
        await waitUntilGone(adapter, [k]);
        expect(await adapter.syncFence([k], value, { ...FENCE, token: token + 1 })).toBe('expired');
      });
    });

    describe('onRelease', () => {
      it('calls the listener when another client releases the key', async () => {
        const k = key('a');
        const events = recorder();
        const unsubscribe = await adapter.onRelease([k], events.listener);
        try {
          await takeAndRelease(other, k);
          await events.reached(1);
        } finally {
          unsubscribe();
        }
      });

      it('calls the listener for any of its keys', async () => {
        const [k1, k2] = [key('a'), key('b')];
        const events = recorder();
        const unsubscribe = await adapter.onRelease([k1, k2], events.listener);
        try {
          await takeAndRelease(other, k2);
          await events.reached(1);
        } finally {
          unsubscribe();
        }
      });

      it('stops calling the listener after unsubscribe, and unsubscribe is idempotent', async () => {
        const [k1, k2] = [key('a'), key('b')];
        const [gone, marker] = [recorder(), recorder()];
        const unsubscribe = await adapter.onRelease([k1], gone.listener);
        const unsubscribeMarker = await adapter.onRelease([k2], marker.listener);
        try {
          unsubscribe();
          unsubscribe();
          await takeAndRelease(other, k1);
          await takeAndRelease(other, k2);
          // Notifications arrive in release order, so k1's would have come before this one.
          await marker.reached(1);
          expect(gone.count).toBe(0);
        } finally {
          unsubscribeMarker();
        }
      });

      it('shares a key between subscriptions, each ending on its own', async () => {
        const [k, later] = [key('a'), key('later')];
        const [first, second, marker] = [recorder(), recorder(), recorder()];
        const unsubscribeFirst = await adapter.onRelease([k], first.listener);
        const unsubscribeSecond = await adapter.onRelease([k], second.listener);
        const unsubscribeMarker = await adapter.onRelease([later], marker.listener);
        try {
          await takeAndRelease(other, k);
          await Promise.all([first.reached(1), second.reached(1)]);

          unsubscribeFirst();
          await takeAndRelease(other, k);
          await second.reached(2);
          await takeAndRelease(other, later);
          await marker.reached(1);
          expect(first.count).toBe(1);
        } finally {
          unsubscribeFirst();
          unsubscribeSecond();
          unsubscribeMarker();
        }
      });
    });

    describe('waiting line (single keys)', () => {
      /** A waiter's place: `ticket` orders the line, `patience` is how long it lasts. */
      const place = (id: string, ticket: number, patience = LONG) => ({ id, ticket, patience });

      it(lines ? 'keeps lines' : 'declares that it keeps no lines', () => {
        expect(typeof adapter.leaveLine).toBe(lines ? 'function' : 'undefined');
      });
      // A backend without lines has nothing more to show here; the engine falls back to
      // per-process lines for it.
      if (!lines) return;

      it('gives a free key to the head of its line, never to a newcomer', async () => {
        const k = key('a');
        const holder = owner();
        fenceOf(await adapter.acquire([k], holder, LONG, FENCE));
        busyTtl(await other.acquire([k], owner(), LONG, FENCE, place('b', 2)));
        expect(await adapter.release([k], holder)).toBe('ok');

        // Free, but promised: a caller without a place and one arriving later both wait.
        expect(busyTtl(await adapter.acquire([k], owner(), LONG, FENCE))).toBeGreaterThan(0);
        busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('c', 3)));
        const b = owner();
        fenceOf(await other.acquire([k], b, LONG, FENCE, place('b', 2)));
        expect(await other.release([k], b)).toBe('ok');
        // 'b' left the line when it got the key: now 'c' is first.
        busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('d', 4)));
        fenceOf(await adapter.acquire([k], owner(), LONG, FENCE, place('c', 3)));
      });

      it('orders the line by ticket, not by arrival', async () => {
        const k = key('a');
        const holder = owner();
        fenceOf(await adapter.acquire([k], holder, LONG, FENCE));
        busyTtl(await other.acquire([k], owner(), LONG, FENCE, place('late', 20)));
        busyTtl(await other.acquire([k], owner(), LONG, FENCE, place('early', 10)));
        expect(await adapter.release([k], holder)).toBe('ok');
        busyTtl(await other.acquire([k], owner(), LONG, FENCE, place('late', 20)));
        fenceOf(await other.acquire([k], owner(), LONG, FENCE, place('early', 10)));
      });

      it('lets a place lapse when its waiter does not come back', async () => {
        const k = key('a');
        const holder = owner();
        fenceOf(await adapter.acquire([k], holder, LONG, FENCE));
        busyTtl(await other.acquire([k], owner(), LONG, FENCE, place('gone', 1, SHORT)));
        expect(await adapter.release([k], holder)).toBe('ok');
        // The reply says how long to wait for the head: no longer than its place lasts.
        expect(busyTtl(await adapter.acquire([k], owner(), LONG, FENCE))).toBeLessThanOrEqual(
          SHORT,
        );
        const deadline = performance.now() + DEADLINE;
        for (;;) {
          const reply = await adapter.acquire([k], owner(), LONG, FENCE);
          if (reply.acquired) break;
          if (performance.now() > deadline) throw new Error('the lapsed place still blocks');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });

      it('names the head of the line in the release notification', async () => {
        const k = key('a');
        const events = recorder();
        const unsubscribe = await adapter.onRelease([k], events.listener);
        try {
          const holder = owner();
          fenceOf(await other.acquire([k], holder, LONG, FENCE));
          busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('next', 5)));
          expect(await other.release([k], holder)).toBe('ok');
          await events.reached(1);
          const next = owner();
          fenceOf(await adapter.acquire([k], next, LONG, FENCE, place('next', 5)));
          expect(await adapter.release([k], next)).toBe('ok');
          await events.reached(2);
          expect(events.messages).toEqual(['next', '']);
        } finally {
          unsubscribe();
        }
      });

      it('gives a place back on leaveLine and announces the new head of a free key', async () => {
        const k = key('a');
        const events = recorder();
        const unsubscribe = await adapter.onRelease([k], events.listener);
        try {
          const holder = owner();
          fenceOf(await other.acquire([k], holder, LONG, FENCE));
          busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('first', 1)));
          busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('second', 2)));
          await other.leaveLine!(k, 'absent');
          expect(await other.release([k], holder)).toBe('ok');
          await events.reached(1);
          await other.leaveLine!(k, 'first');
          await events.reached(2);
          expect(events.messages).toEqual(['first', 'second']);
          fenceOf(await adapter.acquire([k], owner(), LONG, FENCE, place('second', 2)));
        } finally {
          unsubscribe();
        }
      });

      it('keeps a waiter in line when it gives back a partial acquisition, without announcing it to itself', async () => {
        const k = key('a');
        const events = recorder();
        const unsubscribe = await adapter.onRelease([k], events.listener);
        try {
          const mine = owner();
          fenceOf(await other.acquire([k], mine, LONG, FENCE, place('head', 1)));
          busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('second', 2)));
          expect(await other.release([k], mine, place('head', 1))).toBe('ok');
          // Still first: the waiter behind it cannot take the free key.
          busyTtl(await adapter.acquire([k], owner(), LONG, FENCE, place('second', 2)));
          await other.leaveLine!(k, 'head');
          await events.reached(1);
          expect(events.messages).toEqual(['second']);
        } finally {
          unsubscribe();
        }
      });

      it('leaves multi-key calls out of lines', async () => {
        const [k1, k2] = [key('a'), key('b')];
        const holder = owner();
        fenceOf(await adapter.acquire([k1], holder, LONG, FENCE));
        busyTtl(await other.acquire([k1], owner(), LONG, FENCE, place('w', 1)));
        expect(await adapter.release([k1], holder)).toBe('ok');
        fenceOf(await adapter.acquire([k1, k2], owner(), LONG, FENCE));
      });
    });

    describe('connection', () => {
      it('answers ping', async () => {
        await expect(adapter.ping()).resolves.toBeUndefined();
        await expect(other.ping()).resolves.toBeUndefined();
      });

      it('closes idempotently', async () => {
        const own = await setup();
        try {
          await own.adapter.close();
          await own.adapter.close();
        } finally {
          await own.teardown();
        }
      });
    });
  });
}

/** A fresh owner value, as random as the engine's. */
function owner(): string {
  return randomBytes(16).toString('hex');
}

function fenceOf(reply: AcquireReply): number {
  if (!reply.acquired)
    throw new Error(`expected the keys to be taken, got busy (ttl ${reply.ttl})`);
  return reply.fence;
}

function busyTtl(reply: AcquireReply): number {
  if (reply.acquired) throw new Error(`expected a busy reply, got fence ${reply.fence}`);
  return reply.ttl;
}

async function takeAndRelease(client: LockAdapter, k: string): Promise<void> {
  const value = owner();
  fenceOf(await client.acquire([k], value, LONG, FENCE));
  expect(await client.release([k], value)).toBe('ok');
}

/** Polls until the node reports the keys gone: expiry is the node's business, not a sleep's. */
async function waitUntilGone(adapter: LockAdapter, keys: readonly string[]): Promise<void> {
  const deadline = performance.now() + DEADLINE;
  while ((await adapter.inspect(keys)) !== -2) {
    if (performance.now() > deadline) {
      throw new Error(`${keys.join(', ')} still exist ${DEADLINE} ms after acquisition`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Counts listener calls; `reached(n)` resolves at the n-th call and fails after a deadline. */
function recorder(): {
  listener: (next: string) => void;
  readonly count: number;
  /** What each notification said (the head of the key's line, or ''), in order. */
  readonly messages: readonly string[];
  reached(n: number): Promise<void>;
} {
  let count = 0;
  const messages: string[] = [];
  const waiters = new Set<{ n: number; resolve: () => void }>();
  return {
    messages,
    listener: (next) => {
      messages.push(next);
      count++;
      for (const waiter of waiters) if (waiter.n <= count) waiter.resolve();
    },
    get count() {
      return count;
    },
    reached(n) {
      if (count >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`expected ${n} release notification(s) within ${DEADLINE} ms`));
        }, DEADLINE);
        const waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve();
          },
        };
        waiters.add(waiter);
      });
    },
  };
}
