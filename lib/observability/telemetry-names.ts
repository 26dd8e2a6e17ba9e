import type { CircuitState } from '../services/circuit-breaker.js';

/** Names of the spans of `instrumentRedlock()`. */
export const SPAN_NAMES = {
  /** The wait: from the lock call to its outcome. */
  acquire: 'redlock.acquire',
  /** The hold: from the acquisition to the release or loss. */
  hold: 'redlock.hold',
} as const;

/** Attribute keys of those spans. */
export const SPAN_ATTRIBUTES = {
  /** string[]: the locked resources (without the key prefix). */
  resources: 'redlock.resources',
  /** `acquired`, `busy`, `unavailable` or `error` (on `redlock.acquire`). */
  outcome: 'redlock.outcome',
  /** Attempts the acquisition made (on `redlock.acquire`). */
  attempts: 'redlock.attempts',
  /** `read` or `write` (on `redlock.hold`). */
  mode: 'redlock.mode',
  /** The fencing token, for locks taken with `{ fencing: true }` (on `redlock.hold`). */
  fencingToken: 'redlock.fencing_token',
  /** The `lockId` of the diagnostics channel messages (on `redlock.hold`). */
  lockId: 'redlock.lock_id',
  /** `released`, `expired` or `taken` (on `redlock.hold`). */
  releaseStatus: 'redlock.release.status',
  /** On the `redlock.skipped` event: ms until the holder's lock expires at the latest. */
  retryAfter: 'redlock.retry_after_ms',
  /** The error's class name, when the acquisition failed or the lock was lost. */
  errorType: 'error.type',
  /** On links: `holder` (a lock that held the resources during the wait) or `acquire`. */
  link: 'redlock.link',
} as const;

/**
 * Names of the metrics of `instrumentRedlock()`. Through `@opentelemetry/exporter-prometheus`,
 * dots become underscores and counters get `_total`: `redlock_lock_wait_duration_bucket`,
 * `redlock_lock_acquisitions_total{redlock_outcome="busy"}`, `redlock_lock_held`.
 */
export const METRIC_NAMES = {
  /** Histogram, s, by `redlock.outcome`: time from a lock call to its outcome. */
  waitDuration: 'redlock.lock.wait.duration',
  /** Histogram, s, by `redlock.release.status` (`lost` included): time a lock was held. */
  holdDuration: 'redlock.lock.hold.duration',
  /** Counter, by `redlock.outcome`: acquisitions that ended. */
  acquisitions: 'redlock.lock.acquisitions',
  /** Up-down counter: locks this process holds now. */
  held: 'redlock.lock.held',
  /** Counter: locks lost while held. */
  lost: 'redlock.lock.lost',
  /** Gauge, by `redlock.node`: 0 closed, 1 half-open, 2 open. */
  circuitState: 'redlock.node.circuit.state',
} as const;

/** Value of the `redlock.node.circuit.state` gauge for each circuit state. */
export const CIRCUIT_STATE_VALUES: Readonly<Record<CircuitState, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};
