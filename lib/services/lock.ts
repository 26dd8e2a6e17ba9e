import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import type { Duration } from './duration.js';

/** @internal Ends a lock without a release: its keys stay until their ttl runs out. */
export const LET_EXPIRE = Symbol('nestjs-redlock:let-expire');

/**
 * A held lock: the lease on one or more resources that an acquisition returned.
 *
 * @example
 * ```ts
 * await using lock = await redlock.acquire('invoice:7', { ttl: 5_000, fencing: true });
 * await issueInvoice({ signal: lock.signal, fencingToken: lock.fencingToken });
 * // released here, also when issueInvoice throws
 * ```
 */
export abstract class Lock implements AsyncDisposable {
  // The engine's lease is the lock itself: a held lock is one object, not a handle plus its
  // state (held locks are counted in the thousands). Its internals stay out of the public type.

  /** `'write'` (exclusive) or `'read'` (shared with other readers). */
  abstract get mode(): LockMode;

  /** How many holders the resources allow at once: 1 for a lock, more for a semaphore's permit. */
  abstract get permits(): number;

  /** The locked resources, without the key prefix. */
  abstract get resources(): readonly string[];

  /** The random owner token (128 bits from `node:crypto`) stored in each key. */
  abstract get value(): string;

  /**
   * A number strictly greater than the token of every earlier fenced acquisition of these
   * resources on the same nodes. Pass it to the storage the lock protects and reject writes
   * with a lower token, so a holder that was paused past its ttl cannot overwrite its
   * successor's work. Only locks taken with `{ fencing: true }` have one: reading it on any
   * other lock throws, so a missing token can never pass for a valid one.
   */
  abstract get fencingToken(): number;

  /** Epoch ms after which the lock must be assumed gone; clock drift is already subtracted. */
  abstract get expiresAt(): number;

  /** Aborts when the lock is released, or, with `LockLostError` as the reason, when it is lost. */
  abstract get signal(): AbortSignal;

  /** Whether the lock is still held and its validity has not run out. */
  isHeld(): boolean {
    return this.heldNow();
  }

  /**
   * Resets the ttl on a quorum of nodes (to `ttl`, or the acquisition's ttl; milliseconds or a
   * duration such as `'30s'`), never past the lock's `maxHold`. Rejects with
   * `LockLostError` when the lock has expired, was released, or was taken over, and with
   * `RedlockUnavailableError` when too few nodes answered (the lock then lives until
   * `expiresAt`).
   */
  extend(ttl?: Duration): Promise<void> {
    return this.extendBy(ttl);
  }

  /**
   * Deletes the keys where they still hold this lock's value. Idempotent: a second call returns
   * the first call's result. Resolves to `released`, or `expired` when the keys had already
   * expired, or `taken` when another owner holds them now. Within the lock's `holdAtLeast`
   * window the keys are kept instead, until the window ends (or the application shuts down).
   */
  release(): Promise<ReleaseStatus> {
    return this.releaseOnce();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** @internal See {@link LET_EXPIRE}. */
  abstract [LET_EXPIRE](): void;

  // The methods above are Lock's own, on `Lock.prototype`, so that a test can spy on them
  // (`jest.spyOn(Lock.prototype, 'release')`); the engine's lease does the work.
  protected abstract heldNow(): boolean;
  protected abstract extendBy(ttl?: Duration): Promise<void>;
  protected abstract releaseOnce(): Promise<ReleaseStatus>;

  /**
   * What `JSON.stringify` and test reporters show: the public state, never the owner value
   * (whoever has it can release the lock) nor the engine's connections.
   */
  toJSON(): LockSummary {
    return {
      resources: this.resources,
      mode: this.mode,
      permits: this.permits,
      expiresAt: this.expiresAt,
      held: this.isHeld(),
    };
  }

  /** What `console.log` and `util.inspect` show: the same summary as `toJSON`. */
  [Symbol.for('nodejs.util.inspect.custom')](): LockSummary {
    return this.toJSON();
  }
}

/** The public state of a lock, as `JSON.stringify` and `console.log` show it. */
export interface LockSummary {
  readonly resources: readonly string[];
  readonly mode: LockMode;
  readonly permits: number;
  readonly expiresAt: number;
  readonly held: boolean;
}
