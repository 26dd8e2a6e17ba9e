import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import type { LockLostError, RedlockError } from '../redlock.errors.js';
import type { CircuitState } from '../services/circuit-breaker.js';

/**
 * The `node:diagnostics_channel` channels the library publishes to. Subscribe with
 * `diagnostics_channel.subscribe(REDLOCK_CHANNELS.acquire, (message) => ...)`; every message is
 * built only when the channel has a subscriber, so an unobserved application pays nothing.
 *
 * Messages are process-wide: they come from every engine of the process (each `RedlockModule`,
 * each `new Redlock()`), synchronously, in the async context of the code that caused them (so
 * `AsyncLocalStorage` and OpenTelemetry's active context are the caller's). They never carry a
 * lock's owner value or a node's credentials.
 */
export const REDLOCK_CHANNELS = {
  /** Every acquisition that ended: {@link RedlockAcquireMessage}. */
  acquire: 'nestjs-redlock:acquire',
  /** Every release of a lock this process held: {@link RedlockReleaseMessage}. */
  release: 'nestjs-redlock:release',
  /** A held lock was lost (extension refused, validity ran out): {@link RedlockLostMessage}. */
  lost: 'nestjs-redlock:lost',
  /** An acquisition found the resources held and gave up: {@link RedlockBusyMessage}. */
  busy: 'nestjs-redlock:busy',
  /** A held lock was extended (by `extend()` or automatically): {@link RedlockExtendMessage}. */
  extend: 'nestjs-redlock:extend',
  /** A node's circuit breaker changed state: {@link RedlockCircuitMessage}. */
  circuit: 'nestjs-redlock:circuit',
  /** Degraded mode started or ended: {@link RedlockDegradedMessage}. */
  degraded: 'nestjs-redlock:degraded',
  /** An operator force-released a lock: {@link RedlockForceReleaseMessage}. */
  forceRelease: 'nestjs-redlock:force-release',
} as const;

/** The name of one of the library's diagnostics channels. */
export type RedlockChannelName = (typeof REDLOCK_CHANNELS)[keyof typeof REDLOCK_CHANNELS];

/**
 * How an acquisition ended: `acquired`; `busy` (held by another owner for the whole wait:
 * `LockNotAcquiredError`); `unavailable` (no quorum of nodes answered:
 * `RedlockUnavailableError`); `error` (anything else, e.g. counters that could not be synced).
 */
export type RedlockAcquireOutcome = 'acquired' | 'busy' | 'unavailable' | 'error';

/** `nestjs-redlock:acquire`: an acquisition ended, taken or not. */
export interface RedlockAcquireMessage {
  /**
   * Identifies the lock in this process (the same number in its `extend`, `release` and `lost`
   * messages); `undefined` when nothing was acquired. Not the owner value.
   */
  readonly lockId: number | undefined;
  readonly resources: readonly string[];
  readonly outcome: RedlockAcquireOutcome;
  /** `'read'` or `'write'`; `undefined` when nothing was acquired. */
  readonly mode: LockMode | undefined;
  /** Attempts made, the last one included. */
  readonly attempts: number;
  /** Milliseconds from the call to the outcome: the time spent waiting for the lock. */
  readonly waited: number;
  /** The lock's fencing token, when it was taken with `{ fencing: true }`. */
  readonly fencingToken: number | undefined;
  /** Why it was not acquired (`LockNotAcquiredError`, `RedlockUnavailableError`, ...). */
  readonly error: RedlockError | undefined;
}

/**
 * `nestjs-redlock:release`: a lock this process held was released, or left to expire on the
 * nodes (a cron job's tick claim, `status: 'released'`).
 */
export interface RedlockReleaseMessage {
  readonly lockId: number;
  readonly resources: readonly string[];
  /** `released` by us, already `expired`, or `taken` by another owner meanwhile. */
  readonly status: ReleaseStatus;
  /** Milliseconds the lock was held. */
  readonly held: number;
  readonly fencingToken: number | undefined;
}

/** `nestjs-redlock:lost`: a lock this process held was lost while in use. */
export interface RedlockLostMessage {
  readonly lockId: number;
  readonly resources: readonly string[];
  /** Milliseconds from the acquisition to the loss. */
  readonly held: number;
  readonly fencingToken: number | undefined;
  /** The error `lock.signal` aborted with (per-node outcomes, node names without passwords). */
  readonly error: LockLostError | RedlockError;
}

/**
 * `nestjs-redlock:busy`: an acquisition found the resources held and gave up. Published once
 * when the acquisition gives up (`skipped: false`); when `@WithLock({ onBusy: 'skip' })` then
 * skips its method, a second message follows with `skipped: true` and the method's name. Count
 * messages with `skipped: false` for busy acquisitions, `skipped: true` for skipped calls.
 */
export interface RedlockBusyMessage {
  readonly resources: readonly string[];
  /** Attempts made; `undefined` on the `skipped` message. */
  readonly attempts: number | undefined;
  /** Milliseconds spent waiting before giving up; `undefined` on the `skipped` message. */
  readonly waited: number | undefined;
  /** Milliseconds until the holder's lock expires at the latest, when the nodes said so. */
  readonly retryAfter: number | undefined;
  /** `true` on the message of a `@WithLock({ onBusy: 'skip' })` call that did not run. */
  readonly skipped: boolean;
  /** `Class.method` of the skipped call; `undefined` otherwise. */
  readonly method: string | undefined;
  /** The `LockNotAcquiredError` (or `WriteLockHeldError`) the acquisition ended with. */
  readonly error: RedlockError;
}

/** `nestjs-redlock:extend`: a held lock was extended. */
export interface RedlockExtendMessage {
  readonly lockId: number;
  readonly resources: readonly string[];
  /** The new expiry, epoch ms (conservative: drift already subtracted). */
  readonly expiresAt: number;
  readonly fencingToken: number | undefined;
}

/** `nestjs-redlock:circuit`: a node's circuit breaker changed state. */
export interface RedlockCircuitMessage {
  /** The node's name (host:port or URL without credentials). */
  readonly node: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
}

/**
 * `nestjs-redlock:degraded`: an engine's degraded mode (`degraded: { store }`) started or ended.
 * Published on each change only, not for every lock taken while it lasts.
 */
export interface RedlockDegradedMessage {
  /**
   * `true`: no quorum of nodes answers, locks are process-local and do NOT exclude other
   * instances; `false`: a quorum answers again, locks are distributed.
   */
  readonly active: boolean;
  /** The resources of the acquisition that found the change. */
  readonly resources: readonly string[];
}

/**
 * `nestjs-redlock:force-release`: an operator force-released a lock (`forceRelease`, the console,
 * the CLI): its key was deleted on the nodes whoever held it, and the fencing counter raised.
 * Published once the nodes answered or timed out, also when too few answered (`forceRelease`
 * then rejects with `RedlockUnavailableError`).
 */
export interface RedlockForceReleaseMessage {
  readonly resources: readonly string[];
  /** Who did it, as they were named (`{ by }`: one line, credentials redacted). */
  readonly by: string;
  /** Nodes on which a key was there to delete (`0`: nobody held it). */
  readonly deleted: number;
  /** The raised fencing counter, when fenced locks were ever taken on those nodes. */
  readonly fencingCounter: number | string | undefined;
}
