import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import { LockLostError, RedlockError } from '../redlock.errors.js';
import { type DeadlineWheel, deadlineWheel, type WheelItem } from './deadline-wheel.js';
import { type Duration, durationMs } from './duration.js';
import type { LeaseDriver, LeaseInit } from './lease-driver.js';
import type { HeldLinks } from './held-leases.js';
import { type LeaseShape, leaseShape } from './lease-shape.js';
import {
  holdsKey,
  isKeyless,
  keysOf,
  type LeaseTarget,
  leaseTarget,
  resourcesOf,
} from './lease-target.js';
import { releasedReason, watchDeadline } from './lease-signal.js';
import { LET_EXPIRE, Lock } from './lock.js';
import { NO_LEASES, type RareLeaseState } from './rare-lease-state.js';

export type { LeaseDriver, LeaseInit } from './lease-driver.js';

/**
 * The engine-side state of a held lock: validity deadline, renewal wake-up, abort controller.
 *
 * One wake-up on the clock's {@link DeadlineWheel} does both jobs: it renews the lease at
 * half-life when auto-extension is on, and it declares the lock lost once the validity has run
 * out. Because a blocked event loop can hold the wheel's timer back, every read of the state (`isHeld`, `signal.aborted`, `signal.throwIfAborted`)
 * checks the deadline itself first: the first step after a long pause already sees the loss.
 */
export class Lease extends Lock implements WheelItem, HeldLinks<Lease> {
  readonly value: string;
  /** The fencing token, `undefined` without fencing (`fencingToken` throws then). */
  readonly token: number | undefined;
  readonly acquiredAt: number;
  deadline: number;
  /** @internal The deadline wheel's fields (see {@link WheelItem}). */
  wakeAt = 0;
  /** @internal */
  slot = -1;
  /** @internal The engine's list of held leases (see {@link HeldLeases}). */
  heldPrev: Lease | undefined = undefined;
  /** @internal */
  heldNext: Lease | undefined = undefined;
  private state: 'held' | 'released' | 'lost' = 'held';
  // Created on first access to `signal`: most locks are never watched, and an AbortController
  // plus the DOMException of an abort cost more than the rest of an uncontended acquisition.
  private controller: AbortController | undefined;
  private lostError: LockLostError | undefined;
  private releasing: Promise<ReleaseStatus> | undefined;
  // What few leases use (reentrant scopes, hold limits, degraded mode) lives apart, so that a
  // plain lock does not carry a slot for each: held locks are counted in the thousands.
  private rare: RareLeaseState | undefined;
  // ttl, node timeout, drift, mode, permits and renewal, shared with the leases granted alike.
  private shape: LeaseShape;
  // Its resources and keys, compact for the usual one resource (see LeaseTarget).
  private readonly target: LeaseTarget;

  constructor(driver: LeaseDriver, init: LeaseInit) {
    super();
    this.target = leaseTarget(init.resources, init.keys, driver.keyPrefix);
    this.value = init.value;
    this.token = init.fencingToken;
    this.shape = leaseShape(
      driver,
      init.ttl,
      init.nodeTimeout,
      init.driftFactor,
      init.mode,
      init.permits ?? 1,
      init.autoExtend,
    );
    this.deadline = init.deadline;
    // Whole milliseconds, as the deadline: a fraction would take a heap number per held lock.
    // The hold windows below are computed from the exact time.
    this.acquiredAt = Math.floor(init.acquiredAt);
    const parents = init.parents ?? NO_LEASES;
    if (parents.length > 0 || init.holdAtLeast || init.maxHold !== undefined) {
      this.rare = {
        parents,
        dependents: undefined,
        companions: undefined,
        holdUntil: init.acquiredAt + (init.holdAtLeast ?? 0),
        maxHold: init.maxHold,
        maxHoldUntil: init.maxHold === undefined ? Infinity : init.acquiredAt + init.maxHold,
        capped: false,
        keysTtl: undefined,
      };
      for (const parent of parents) (parent.rareState().dependents ??= []).push(this);
    }
    this.schedule();
  }

  /** The public face of the lease: the lease itself (one object per held lock). */
  get lock(): Lock {
    return this;
  }

  get fencingToken(): number {
    const token = this.token;
    if (token === undefined) {
      throw new RedlockError(
        `The lock on ${this.resources.join(', ')} was taken without fencing: pass { fencing: true } to get a fencing token.`,
        { resources: this.resources },
      );
    }
    return token;
  }

  get expiresAt(): number {
    return this.expiryAt();
  }

  /** Every resource the lock covers, those held through `parents` included. */
  get resources(): readonly string[] {
    return resourcesOf(this.target);
  }

  /** The keys this lease itself holds on the nodes. */
  get keys(): readonly string[] {
    return keysOf(this.target, this.driver.keyPrefix);
  }

  /** Whether the lease holds no key itself (a scope made only of locks up the chain). */
  get keyless(): boolean {
    return isKeyless(this.target);
  }

  get ttl(): number {
    return this.shape.ttl;
  }

  // In the shape: one field less per held lock.
  private get driver(): LeaseDriver {
    return this.shape.driver;
  }

  get nodeTimeout(): number {
    return this.shape.nodeTimeout;
  }

  get driftFactor(): number {
    return this.shape.driftFactor;
  }

  get mode(): LockMode {
    return this.shape.mode;
  }

  /** 1 for a lock; more for a semaphore's permit. */
  get permits(): number {
    return this.shape.permits;
  }

  /** Whether the lease renews itself at half-life (see {@link keepAlive}). */
  get autoExtend(): boolean {
    return this.shape.autoExtend;
  }

  /** Held in the nodes' shared structure (a reader or a permit), not as a plain key. */
  get shared(): boolean {
    return this.mode === 'read' || this.permits > 1;
  }

  /** Leases further up the call chain this one relies on (a reentrant multi-key scope). */
  get parents(): readonly Lease[] {
    return this.rare?.parents ?? NO_LEASES;
  }

  /** Leases released or lost together with this one (degraded mode's in-process lock). */
  get companions(): Lease[] | undefined {
    return this.rare?.companions;
  }

  set companions(companions: Lease[] | undefined) {
    this.rareState().companions = companions;
  }

  /** Monotonic time until which `release()` keeps the keys (`holdAtLeast`). */
  get holdUntil(): number {
    return this.rare?.holdUntil ?? this.acquiredAt;
  }

  get maxHold(): number | undefined {
    return this.rare?.maxHold;
  }

  /** Monotonic time past which the lease is never renewed (`maxHold`); `Infinity` without. */
  get maxHoldUntil(): number {
    return this.rare?.maxHoldUntil ?? Infinity;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      watchDeadline(this.controller.signal, () => this.checkDeadline());
      if (this.state === 'released') this.controller.abort(releasedReason());
      else if (this.lostError) this.controller.abort(this.lostError);
    }
    return this.controller.signal;
  }

  /** The error the lease was lost with, if it was. */
  get lost(): LockLostError | undefined {
    this.checkDeadline();
    return this.lostError;
  }

  /** Whether the lease is still held (not released, not lost, validity left): `isHeld()`. */
  protected heldNow(): boolean {
    this.checkDeadline();
    return this.state === 'held';
  }

  /** Whether `release()` was called. */
  get released(): boolean {
    return this.state === 'released';
  }

  /** Every key this lock covers: its own and those of the leases it relies on. */
  covers(key: string): boolean {
    return this.modeOf(key) !== undefined;
  }

  /**
   * The mode `key` is held in: this lease's own for its own keys, else that of the lease it
   * relies on for the key (a read scope over more keys, nested in a write scope, holds the
   * write scope's keys for writing). `undefined` when the lease does not cover `key`.
   */
  modeOf(key: string): LockMode | undefined {
    if (holdsKey(this.target, this.driver.keyPrefix, key)) return this.mode;
    for (const parent of this.parents) {
      const mode = parent.modeOf(key);
      if (mode) return mode;
    }
    return undefined;
  }

  /** Epoch ms of the expiry; `deadline`: the one an extension is about to set. */
  expiryAt(deadline = this.deadline): number {
    let until = Math.min(deadline, this.maxHoldUntil);
    for (const parent of this.parents) until = Math.min(until, parent.deadline);
    return Math.floor(until + this.driver.wallOffset.get());
  }

  /** Turns auto-extension on (used by `using`) and re-plans the timer accordingly. */
  keepAlive(): void {
    const shape = this.shape;
    if (shape.autoExtend) return;
    this.shape = leaseShape(
      shape.driver,
      shape.ttl,
      shape.nodeTimeout,
      shape.driftFactor,
      shape.mode,
      shape.permits,
      true,
    );
    this.schedule();
  }

  /**
   * The earliest time (monotonic) at which the keys can be gone from the nodes by expiry: the
   * validity deadline plus the drift allowance subtracted from it.
   */
  keysExpireAt(): number {
    const keysTtl = this.rare?.keysTtl ?? this.ttl;
    return this.deadline + Math.floor(keysTtl * this.driftFactor) + 2;
  }

  /** `extend()`: a new validity from the nodes, never past `maxHold`. */
  protected async extendBy(ttl: Duration = this.ttl): Promise<void> {
    let ms = durationMs(ttl, 'ttl');
    if (!this.isHeld()) throw this.stateError('extend');
    const left = Math.floor(this.maxHoldUntil - this.driver.clock.now());
    if (left < ms) {
      // maxHold: the keys are set to expire by themselves when it is reached, and never renewed.
      this.rareState().capped = true;
      if (left <= Math.max(this.nodeTimeout, Math.floor(left * this.driftFactor) + 2)) {
        // Too little left for an extension to add anything: the lease ends as it is.
        this.schedule();
        return;
      }
      ms = left;
    }
    try {
      const deadline = await this.driver.extendLease(this, ms);
      if (this.state === 'held') {
        this.deadline = deadline;
        // Most extensions set the acquisition's ttl again: only another one takes a field.
        if (ms !== this.ttl) this.rareState().keysTtl = ms;
        else if (this.rare) this.rare.keysTtl = undefined;
        this.schedule();
      }
    } catch (error) {
      if (error instanceof LockLostError) this.lose(error);
      throw error;
    }
  }

  /**
   * @internal A validity confirmed after the lease began (its hand-off's transfer, see
   * `HandOffs`): taken when later than the one it runs on.
   */
  confirmed(deadline: number): void {
    if (this.state !== 'held' || deadline <= this.deadline) return;
    this.deadline = deadline;
    this.schedule();
  }

  /**
   * Ends the lease here without touching the nodes: its keys stay until their ttl runs out.
   * For claims that must outlive the work, shutdown included (a tick claimed by a job).
   */
  letExpire(): void {
    if (this.releasing || this.state !== 'held') return;
    this.state = 'released';
    this.wheel().cancel(this);
    this.controller?.abort(releasedReason());
    this.detach();
    this.releasing = Promise.resolve('released');
    this.driver.relinquish(this);
  }

  /** @internal See {@link LET_EXPIRE}. */
  [LET_EXPIRE](): void {
    this.letExpire();
  }

  /** `release()`: the first call's result for every call. */
  protected releaseOnce(): Promise<ReleaseStatus> {
    if (!this.releasing) {
      if (this.state === 'held') this.state = 'released';
      this.wheel().cancel(this);
      this.controller?.abort(releasedReason());
      this.detach();
      this.releasing = this.driver.releaseLease(this);
    }
    return this.releasing;
  }

  /** Marks the lease lost: stops renewals and aborts `signal` with `LockLostError`. */
  lose(reason: string | LockLostError): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.wheel().cancel(this);
    const error =
      typeof reason === 'string'
        ? new LockLostError(`Lock on ${this.resources.join(', ')} was lost: ${reason}.`, {
            resources: this.resources,
          })
        : reason;
    this.lostError = error;
    this.detach();
    this.controller?.abort(error);
    this.driver.leaseLost(this, error);
    // A scope that relied on this lock for some of its keys is no longer exclusive either.
    for (const dependent of this.rare?.dependents ?? NO_LEASES) dependent.lose(error);
  }

  private detach(): void {
    for (const parent of this.parents) {
      const siblings = parent.rare?.dependents;
      const index = siblings?.indexOf(this) ?? -1;
      if (index >= 0) siblings!.splice(index, 1);
    }
  }

  private checkDeadline(): void {
    if (this.state !== 'held') return;
    const now = this.driver.clock.now();
    if (now >= this.maxHoldUntil || (this.capped() && now >= this.deadline)) {
      this.lose(`it reached its maxHold of ${this.maxHold} ms, past which it is never renewed`);
      return;
    }
    if (now >= this.deadline) {
      this.lose(
        this.autoExtend ? 'its validity ran out before an extension succeeded' : 'it expired',
      );
      return;
    }
    for (const parent of this.parents) {
      const lost = parent.lost;
      if (lost) {
        this.lose(lost);
        return;
      }
    }
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
    return (
      this.lostError ??
      new LockLostError(`Cannot ${operation} the lock on ${what}: it has expired.`, {
        resources: this.resources,
      })
    );
  }

  /** @internal Called by the deadline wheel at `wakeAt`. */
  wake(): void {
    void this.tick();
  }

  private wheel(): DeadlineWheel {
    return deadlineWheel(this.driver.clock);
  }

  private rareState(): RareLeaseState {
    return (this.rare ??= {
      parents: NO_LEASES,
      dependents: undefined,
      companions: undefined,
      holdUntil: this.acquiredAt,
      maxHold: undefined,
      maxHoldUntil: Infinity,
      capped: false,
      keysTtl: undefined,
    });
  }

  private capped(): boolean {
    return this.rare?.capped ?? false;
  }

  private schedule(): void {
    const wheel = this.wheel();
    if (this.state !== 'held') {
      wheel.cancel(this);
      return;
    }
    const now = this.driver.clock.now();
    const remaining = this.deadline - now;
    // Renew at half-life: leaves half the ttl for the renewal itself and its retries.
    const renewAt = this.autoExtend && !this.capped() ? remaining - this.ttl / 2 : remaining;
    const delay = Math.min(renewAt, this.maxHoldUntil - now);
    if (!Number.isFinite(delay)) {
      wheel.cancel(this); // a scope made only of locks further up the chain
      return;
    }
    wheel.schedule(this, now + Math.max(0, delay), now);
  }

  private async tick(): Promise<void> {
    this.checkDeadline();
    if (this.state !== 'held') return;
    if (!this.autoExtend || this.capped()) {
      this.schedule();
      return;
    }
    // The renewal may wait for nodes that no longer answer, up to its node timeout, past the
    // deadline: the wheel still wakes the lease at the deadline, so the loss (the signal, the
    // events) is not held back until they time out while another client takes the keys.
    // A renewal that succeeds moves the wake-up to its next half-life.
    this.wheel().schedule(this, this.deadline);
    try {
      await this.extend();
    } catch (error) {
      if (this.state !== 'held' || error instanceof LockLostError) return;
      // Not enough nodes answered: the keys may still be ours, so retry until the validity ends.
      this.driver.renewalFailed(this, error);
      const now = this.driver.clock.now();
      const remaining = this.deadline - now;
      this.wheel().schedule(
        this,
        now + Math.max(0, Math.min(remaining, Math.max(10, this.nodeTimeout))),
        now,
      );
    }
  }
}
