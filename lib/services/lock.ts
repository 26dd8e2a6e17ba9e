import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import { RedlockError } from '../redlock.errors.js';
import type { Duration } from './duration.js';
import type { Lease } from './lease.js';

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
export class Lock implements AsyncDisposable {
  readonly #lease: Lease;

  /** @internal Locks come from `RedlockService`; they are not constructed by applications. */
  constructor(lease: Lease) {
    this.#lease = lease;
  }

  /** `'write'` (exclusive) or `'read'` (shared with other readers). */
  get mode(): LockMode {
    return this.#lease.mode;
  }

  /** How many holders the resources allow at once: 1 for a lock, more for a semaphore's permit. */
  get permits(): number {
    return this.#lease.permits;
  }

  /** The locked resources, without the key prefix. */
  get resources(): readonly string[] {
    return this.#lease.resources;
  }

  /** The random owner token (128 bits from `node:crypto`) stored in each key. */
  get value(): string {
    return this.#lease.value;
  }

  /**
   * A number strictly greater than the token of every earlier fenced acquisition of these
   * resources on the same nodes. Pass it to the storage the lock protects and reject writes
   * with a lower token, so a holder that was paused past its ttl cannot overwrite its
   * successor's work. Only locks taken with `{ fencing: true }` have one: reading it on any
   * other lock throws, so a missing token can never pass for a valid one.
   */
  get fencingToken(): number {
    const token = this.#lease.fencingToken;
    if (token === undefined) {
      throw new RedlockError(
        `The lock on ${this.#lease.resources.join(', ')} was taken without fencing: pass { fencing: true } to get a fencing token.`,
        { resources: this.#lease.resources },
      );
    }
    return token;
  }

  /** Epoch ms after which the lock must be assumed gone; clock drift is already subtracted. */
  get expiresAt(): number {
    return this.#lease.expiresAt();
  }

  /** Aborts when the lock is released, or, with `LockLostError` as the reason, when it is lost. */
  get signal(): AbortSignal {
    return this.#lease.signal;
  }

  /** Whether the lock is still held and its validity has not run out. */
  isHeld(): boolean {
    return this.#lease.isHeld();
  }

  /**
   * Resets the ttl on a quorum of nodes (to `ttl`, or the acquisition's ttl; milliseconds or a
   * duration such as `'30s'`), never past the lock's `maxHold`. Rejects with
   * `LockLostError` when the lock has expired, was released, or was taken over, and with
   * `RedlockUnavailableError` when too few nodes answered (the lock then lives until
   * `expiresAt`).
   */
  extend(ttl?: Duration): Promise<void> {
    return this.#lease.extend(ttl);
  }

  /**
   * Deletes the keys where they still hold this lock's value. Idempotent: a second call returns
   * the first call's result. Resolves to `released`, or `expired` when the keys had already
   * expired, or `taken` when another owner holds them now. Within the lock's `holdAtLeast`
   * window the keys are kept instead, until the window ends (or the application shuts down).
   */
  release(): Promise<ReleaseStatus> {
    return this.#lease.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** @internal See {@link LET_EXPIRE}. */
  [LET_EXPIRE](): void {
    this.#lease.letExpire();
  }
}
