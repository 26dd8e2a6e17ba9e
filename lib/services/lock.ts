import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import { LockLostError, type RedlockError } from '../redlock.errors.js';
import type { Clock } from './clock.js';

/** What a lease needs from the engine: the I/O of extending and releasing its keys. */
export interface LeaseDriver {
  readonly clock: Clock;
  /** Extends on the nodes; resolves to the new monotonic deadline or throws a `RedlockError`. */
  extendLease(lease: Lease, ttl: number): Promise<number>;
  /** Releases on the nodes; resolves to how the release ended or throws a `RedlockError`. */
  releaseLease(lease: Lease): Promise<ReleaseStatus>;
  /** Reports a lost lease (logs and events). */
  leaseLost(lease: Lease, error: LockLostError): void;
}

/** What an acquisition hands to the lease it creates. */
export interface LeaseInit {
  readonly resources: readonly string[];
  readonly keys: readonly string[];
  readonly value: string;
  readonly fencingToken: number;
  readonly ttl: number;
  readonly nodeTimeout: number;
  readonly driftFactor: number;
  /** Monotonic time at which the validity runs out. */
  readonly deadline: number;
  readonly autoExtend: boolean;
  readonly acquiredAt: number;
  readonly mode: LockMode;
}

/**
 * The engine-side state of a held lock: validity deadline, renewal timer, abort controller.
 * One timer does both jobs: it renews the lease at half-life when auto-extension is on, and it
 * declares the lock lost once the validity has run out (which also catches an event loop that
 * was blocked past the deadline).
 */
export class Lease {
  readonly resources: readonly string[];
  readonly keys: readonly string[];
  readonly value: string;
  readonly fencingToken: number;
  readonly ttl: number;
  readonly nodeTimeout: number;
  readonly driftFactor: number;
  readonly acquiredAt: number;
  readonly mode: LockMode;
  readonly lock: Lock;
  deadline: number;
  autoExtend: boolean;
  private state: 'held' | 'released' | 'lost' = 'held';
  // Created on first access to `signal`: most locks are never watched, and an AbortController
  // plus the DOMException of an abort cost more than the rest of an uncontended acquisition.
  private controller: AbortController | undefined;
  private lostError: LockLostError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private releasing: Promise<ReleaseStatus> | undefined;

  constructor(
    private readonly driver: LeaseDriver,
    init: LeaseInit,
  ) {
    this.resources = init.resources;
    this.keys = init.keys;
    this.value = init.value;
    this.fencingToken = init.fencingToken;
    this.ttl = init.ttl;
    this.nodeTimeout = init.nodeTimeout;
    this.driftFactor = init.driftFactor;
    this.deadline = init.deadline;
    this.autoExtend = init.autoExtend;
    this.acquiredAt = init.acquiredAt;
    this.mode = init.mode;
    this.lock = new Lock(this);
    this.schedule();
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.state === 'released') this.controller.abort(releasedReason());
      else if (this.lostError) this.controller.abort(this.lostError);
    }
    return this.controller.signal;
  }

  /** The error the lease was lost with, if it was. */
  get lost(): LockLostError | undefined {
    return this.lostError;
  }

  isHeld(): boolean {
    return this.state === 'held' && this.driver.clock.now() < this.deadline;
  }

  expiresAt(): number {
    const clock = this.driver.clock;
    return Math.floor(clock.wallNow() + (this.deadline - clock.now()));
  }

  /** Turns auto-extension on (used by `using`) and re-plans the timer accordingly. */
  keepAlive(): void {
    if (this.autoExtend) return;
    this.autoExtend = true;
    this.schedule();
  }

  async extend(ttl = this.ttl): Promise<void> {
    if (!this.isHeld()) {
      // Never re-acquire silently: once the validity is gone another owner may hold the keys.
      if (this.state === 'held') this.lose('the validity ran out before the extension');
      throw this.stateError('extend');
    }
    try {
      const deadline = await this.driver.extendLease(this, ttl);
      if (this.state === 'held') {
        this.deadline = deadline;
        this.schedule();
      }
    } catch (error) {
      if (error instanceof LockLostError) this.lose(error);
      throw error;
    }
  }

  release(): Promise<ReleaseStatus> {
    if (!this.releasing) {
      if (this.state === 'held') this.state = 'released';
      clearTimeout(this.timer);
      this.controller?.abort(releasedReason());
      this.releasing = this.driver.releaseLease(this);
    }
    return this.releasing;
  }

  /** Marks the lease lost: stops renewals and aborts `signal` with `LockLostError`. */
  lose(reason: string | LockLostError): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    clearTimeout(this.timer);
    const error =
      typeof reason === 'string'
        ? new LockLostError(`Lock on ${this.resources.join(', ')} was lost: ${reason}.`, {
            resources: this.resources,
          })
        : reason;
    this.lostError = error;
    this.controller?.abort(error);
    this.driver.leaseLost(this, error);
  }

  private stateError(operation: string): RedlockError {
    const what = this.resources.join(', ');
    if (this.state === 'released') {
      return new LockLostError(
        `Cannot ${operation} the lock on ${what}: it was already released.`,
        {
          resources: this.resources,
        },
      );
    }
    return this.lostError
      ? this.lostError
      : new LockLostError(`Cannot ${operation} the lock on ${what}: it has expired.`, {
          resources: this.resources,
        });
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.state !== 'held') return;
    const remaining = this.deadline - this.driver.clock.now();
    // Renew at half-life: leaves half the ttl for the renewal itself and its retries.
    const delay = this.autoExtend ? remaining - this.ttl / 2 : remaining;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delay));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.state !== 'held') return;
    if (this.driver.clock.now() >= this.deadline) {
      this.lose(
        this.autoExtend ? 'its validity ran out before an extension succeeded' : 'it expired',
      );
      return;
    }
    if (!this.autoExtend) {
      this.schedule();
      return;
    }
    try {
      await this.extend();
    } catch (error) {
      if (this.state !== 'held' || error instanceof LockLostError) return;
      // Not enough nodes answered: the keys may still be ours, so retry until the validity ends.
      const remaining = this.deadline - this.driver.clock.now();
      clearTimeout(this.timer);
      this.timer = setTimeout(
        () => void this.tick(),
        Math.max(0, Math.min(remaining, Math.max(10, this.nodeTimeout))),
      );
      this.timer.unref();
    }
  }
}

/**
 * A held lock: the lease on one or more resources that an acquisition returned.
 *
 * @example
 * ```ts
 * await using lock = await redlock.acquire('invoice:7', { ttl: 5_000 });
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

  /** The locked resources, without the key prefix. */
  get resources(): readonly string[] {
    return this.#lease.resources;
  }

  /** The random owner token (128 bits from `node:crypto`) stored in each key. */
  get value(): string {
    return this.#lease.value;
  }

  /**
   * A number strictly greater than the token of every earlier acquisition of these resources.
   * Pass it to the storage the lock protects and reject writes with a lower token, so a holder
   * that was paused past its ttl cannot overwrite its successor's work.
   */
  get fencingToken(): number {
    return this.#lease.fencingToken;
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
   * Resets the ttl on a quorum of nodes (to `ttl`, or the acquisition's ttl). Rejects with
   * `LockLostError` when the lock has expired, was released, or was taken over, and with
   * `RedlockUnavailableError` when too few nodes answered (the lock then lives until
   * `expiresAt`).
   */
  extend(ttl?: number): Promise<void> {
    return this.#lease.extend(ttl);
  }

  /**
   * Deletes the keys where they still hold this lock's value. Idempotent: a second call returns
   * the first call's result. Resolves to `released`, or `expired` when the keys had already
   * expired, or `taken` when another owner holds them now.
   */
  release(): Promise<ReleaseStatus> {
    return this.#lease.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

function releasedReason(): DOMException {
  return new DOMException('The lock was released.', 'AbortError');
}
