import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AcquireReply, LockAdapter } from '../interfaces/lock-adapter.interface.js';

/**
 * The test functions of the runner the suite runs under (jest, vitest, node:test with a small
 * shim): the suite imports no test framework, and asserts with `node:assert`.
 */
export interface ContractTestFunctions {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>) => void;
  beforeAll: (body: () => Promise<void>) => void;
  afterAll: (body: () => Promise<void>) => void;
  beforeEach: (body: () => void) => void;
}

/** What a backend's spec hands to the contract suite: two clients of one store. */
export interface LockAdapterContractTarget {
  adapter: LockAdapter;
  /** Another adapter on the SAME node or store, acting as a second client (may be `adapter`). */
  other: LockAdapter;
  /** Closes both adapters and whatever the setup started. */
  teardown(): Promise<void>;
  /**
   * Optional: reads, straight from the store, the fencing counter that serves `keys`: its key
   * name and remaining ttl (`-1` for none), so the suite can check that it lives in the helper
   * namespace and never expires.
   */
  fenceCounter?(keys: readonly string[]): Promise<{ key: string; ttl: number }>;
  /**
   * Optional: `true` when the adapter's release notifications carry the released owner value's
   * public holder suffix, as the built-in adapters' do (see `LockAdapter.onRelease`); the suite
   * then checks that they do. Without it, it only checks that no message reveals a secret.
   */
  announcesHolder?: boolean;
  /**
   * Optional: makes the node stop answering while its connections stay open (SIGSTOP);
   * resolves to the function that lets it answer again. Checks that `close()` is bounded.
   */
  pause?(): Promise<() => Promise<void>>;
}

/** Which optional parts of the contract the backend claims. */
export interface LockAdapterContractOptions {
  /**
   * The backend has read locks (`adapter.shared`).
   * @default true
   */
  shared?: boolean;
  /**
   * The backend hands out fencing tokens (`acquire(..., { fence: true })`, `syncFence`).
   * @default true
   */
  fencing?: boolean;
  /**
   * The backend passes a held lock straight to its next owner (`adapter.handOff`).
   * @default true
   */
  handOff?: boolean;
}

/** What every section of the suite works with, valid inside tests and hooks. */
export interface ContractContext {
  readonly adapter: LockAdapter;
  readonly other: LockAdapter;
  readonly target: LockAdapterContractTarget;
  /** A new target, for tests that close or pause what they use. */
  setup(): Promise<LockAdapterContractTarget>;
  /** A key of this test: all keys of one test share one random hash tag (one Cluster slot). */
  key(name: string): string;
}

/** Long enough that no test outlives it, short enough that a leaked key cleans itself up. */
export const LONG = 10_000;
/** Short enough to wait out, long enough for a round trip to a loaded server. */
export const SHORT = 100;
/** How long an expiry or a notification may take before the test fails with a clear message. */
export const DEADLINE = 3_000;

/** A fresh owner value, as random as the engine's. */
export function owner(): string {
  return randomBytes(16).toString('hex');
}

/** Asserts the reply is a grant, and returns its fence (if any) as a bigint. */
export function granted(reply: AcquireReply): bigint | undefined {
  if (!reply.acquired) assert.fail(`expected the keys to be taken, got busy (ttl ${reply.ttl})`);
  return reply.fence === undefined ? undefined : token(reply.fence);
}

/** Asserts a fenced grant and returns the token exactly, whatever its size. */
export function fenced(reply: AcquireReply): bigint {
  const fence = granted(reply);
  assert.notEqual(fence, undefined, 'a fenced acquisition must return a fence');
  return fence!;
}

export function busyTtl(reply: AcquireReply): number {
  if (reply.acquired) assert.fail(`expected a busy reply, got a grant`);
  return reply.ttl;
}

function token(fence: number | string): bigint {
  if (typeof fence === 'number') {
    assert.ok(Number.isSafeInteger(fence) && fence >= 0, `fence ${fence} is not a safe integer`);
    return BigInt(fence);
  }
  assert.match(fence, /^\d+$/, `fence ${fence} is not a decimal integer`);
  assert.ok(BigInt(fence) > BigInt(Number.MAX_SAFE_INTEGER), `fence ${fence} should be a number`);
  return BigInt(fence);
}

export async function takeAndRelease(client: LockAdapter, key: string): Promise<void> {
  const value = owner();
  granted(await client.acquire([key], value, LONG));
  assert.equal(await client.release([key], value), 'ok');
}

/** Polls until the node reports the keys gone: expiry is the node's business, not a sleep's. */
export async function waitUntilGone(adapter: LockAdapter, keys: readonly string[]): Promise<void> {
  const deadline = performance.now() + DEADLINE;
  while ((await adapter.inspect(keys)) !== -2) {
    if (performance.now() > deadline) {
      assert.fail(`${keys.join(', ')} still exist ${DEADLINE} ms after acquisition`);
    }
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts listener calls; `reached(n)` resolves at the n-th call and fails after a deadline. */
export function recorder(): {
  listener: () => void;
  readonly count: number;
  reached(n: number): Promise<void>;
} {
  let count = 0;
  const waiters = new Set<{ n: number; resolve: () => void }>();
  return {
    listener: () => {
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
