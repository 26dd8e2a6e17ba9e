import { channel } from 'node:diagnostics_channel';
import type { RedlockEvent } from '../interfaces/redlock-events.interface.js';
import {
  LockNotAcquiredError,
  type RedlockError,
  RedlockUnavailableError,
} from '../redlock.errors.js';
import type { Lease } from '../services/lease.js';
import {
  REDLOCK_CHANNELS,
  type RedlockAcquireMessage,
  type RedlockAcquireOutcome,
  type RedlockBusyMessage,
  type RedlockCircuitMessage,
  type RedlockDegradedMessage,
  type RedlockExtendMessage,
  type RedlockForceReleaseMessage,
  type RedlockLostMessage,
  type RedlockReleaseMessage,
} from './diagnostics-channels.js';

// Looked up once: `channel(name)` is a map lookup, `hasSubscribers` a property read.
const acquire = channel(REDLOCK_CHANNELS.acquire);
const release = channel(REDLOCK_CHANNELS.release);
const lost = channel(REDLOCK_CHANNELS.lost);
const busy = channel(REDLOCK_CHANNELS.busy);
const extend = channel(REDLOCK_CHANNELS.extend);
const circuit = channel(REDLOCK_CHANNELS.circuit);
const degraded = channel(REDLOCK_CHANNELS.degraded);
const forceRelease = channel(REDLOCK_CHANNELS.forceRelease);

// Lock ids are handed out on first publication only: with nobody subscribed, none is made.
const lockIds = new WeakMap<Lease, number>();
let lastLockId = 0;

function lockIdOf(lease: Lease): number {
  let id = lockIds.get(lease);
  if (id === undefined) {
    id = lastLockId += 1;
    lockIds.set(lease, id);
  }
  return id;
}

/** The outcome an acquisition error stands for (metrics label `redlock.outcome`). */
export function outcomeOf(error: RedlockError): Exclude<RedlockAcquireOutcome, 'acquired'> {
  if (error instanceof LockNotAcquiredError) return 'busy';
  if (error instanceof RedlockUnavailableError) return 'unavailable';
  return 'error';
}

/**
 * @internal Publishes an engine event to the diagnostics channels. Nothing is built, and no
 * field of `event` or `lease` other than `event.type` is read, unless the channel it maps to
 * has a subscriber: the engine calls this for every event.
 */
export function publishRedlockEvent(event: RedlockEvent, lease: Lease | undefined): void {
  switch (event.type) {
    case 'acquired':
      if (acquire.hasSubscribers && lease) {
        acquire.publish({
          lockId: lockIdOf(lease),
          resources: event.resources,
          outcome: 'acquired',
          mode: lease.mode,
          attempts: event.attempts,
          waited: event.waited,
          fencingToken: event.fencingToken,
          error: undefined,
        } satisfies RedlockAcquireMessage);
      }
      return;
    case 'failed':
      if (acquire.hasSubscribers) {
        acquire.publish({
          lockId: undefined,
          resources: event.resources,
          outcome: outcomeOf(event.error),
          mode: undefined,
          attempts: event.attempts,
          waited: event.waited,
          fencingToken: undefined,
          error: event.error,
        } satisfies RedlockAcquireMessage);
      }
      if (busy.hasSubscribers && event.error instanceof LockNotAcquiredError) {
        busy.publish({
          resources: event.resources,
          attempts: event.attempts,
          waited: event.waited,
          retryAfter: event.error.retryAfter,
          skipped: false,
          method: undefined,
          error: event.error,
        } satisfies RedlockBusyMessage);
      }
      return;
    case 'released':
      if (release.hasSubscribers && lease) {
        release.publish({
          lockId: lockIdOf(lease),
          resources: event.resources,
          status: event.status,
          held: event.held,
          fencingToken: lease.token,
        } satisfies RedlockReleaseMessage);
      }
      return;
    case 'lost':
      if (lost.hasSubscribers && lease) {
        lost.publish({
          lockId: lockIdOf(lease),
          resources: event.resources,
          held: event.held,
          fencingToken: lease.token,
          error: event.error,
        } satisfies RedlockLostMessage);
      }
      return;
    case 'extended':
      if (extend.hasSubscribers && lease) {
        extend.publish({
          lockId: lockIdOf(lease),
          resources: event.resources,
          expiresAt: event.expiresAt,
          fencingToken: lease.token,
        } satisfies RedlockExtendMessage);
      }
      return;
    case 'circuit':
      if (circuit.hasSubscribers) {
        circuit.publish({
          node: event.node,
          from: event.from,
          to: event.to,
        } satisfies RedlockCircuitMessage);
      }
      return;
    case 'degraded':
      if (degraded.hasSubscribers) {
        degraded.publish({
          active: event.active,
          resources: event.resources,
        } satisfies RedlockDegradedMessage);
      }
      return;
    case 'forceReleased':
      if (forceRelease.hasSubscribers) {
        forceRelease.publish({
          resources: event.resources,
          by: event.by,
          deleted: event.deleted,
          fencingCounter: event.fencingCounter,
        } satisfies RedlockForceReleaseMessage);
      }
      return;
    default:
      return;
  }
}

/** @internal `@WithLock({ onBusy: 'skip' })` did not run `method`: the second `busy` message. */
export function publishBusySkip(error: LockNotAcquiredError, method: string): void {
  if (!busy.hasSubscribers) return;
  busy.publish({
    resources: error.resources,
    attempts: undefined,
    waited: undefined,
    retryAfter: error.retryAfter,
    skipped: true,
    method,
    error,
  } satisfies RedlockBusyMessage);
}
