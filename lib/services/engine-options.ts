import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { describe } from '../redaction.js';
import { parseDuration } from './duration.js';
import { resolveHolderOptions } from './instance-record.js';
import { type HandOffOptions, resolveHandOff } from './hand-off.js';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { Clock } from './clock.js';

/** Options of the engine; the Nest module builds them from `RedlockModuleOptions`. */
export interface RedlockEngineOptions {
  /** @default 'lock:' */
  keyPrefix?: string;
  /** Defaults for every acquisition. */
  lock?: LockOptions;
  /** Time and timers; `{ now, wallNow }` alone keeps the process's timers. @default systemClock */
  clock?: Pick<Clock, 'now' | 'wallNow'> & Partial<Clock>;
  logger?: RedlockLogger;
  onEvent?: (event: RedlockEvent) => void;
  /**
   * Skip a node that keeps failing instead of waiting for its timeout on every call; `false`
   * turns it off. @default { failureThreshold: 5, coolDown: 2_000 }
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Opt-in degraded mode (see `DegradedMode`): when no quorum of nodes answers, locks come from
   * `store` (a process-local store such as `MemoryLockAdapter`) instead of failing. The
   * in-process lock is taken for every acquisition, so one process never has two holders.
   */
  degraded?: { store: LockAdapter };
  /** Names this engine's locks in `inspect()` (holder information). @default `hostname:pid` */
  instanceName?: string;
  /**
   * Owner values carry this engine's tag and the acquisition time, and each node keeps one
   * instance record per engine, so `inspect()` can name holders. `false`: plain random values.
   * @default true
   */
  holderInfo?: boolean;
  /**
   * In-process hand-offs of released locks to the next caller of this process waiting for the
   * same keys (see `HandOffs`); `false` turns them off. @default { max: 3, window: 50 }
   */
  handOff?: HandOffOptions | false;
}

/**
 * Checks of the engine's options that the Nest module shares (`new Redlock(adapters, options)`
 * is public too): a wrong type fails here, at construction, with a `RedlockConfigError` naming
 * the option, instead of as a `TypeError` at the first event, log line or clock read.
 */
export function validateEngineOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `expected an object, got ${describe(options)}`);
  }
  const shape = options as Record<string, unknown>;
  if (shape.keyPrefix !== undefined && typeof shape.keyPrefix !== 'string') {
    throw new RedlockConfigError(
      'keyPrefix',
      `expected a string, got ${describe(shape.keyPrefix)}`,
    );
  }
  validateOnEvent(shape.onEvent);
  validateCircuitBreaker(shape.circuitBreaker);
  validateLogger(shape.logger, 'logger');
  const clock = shape.clock as Record<string, unknown> | undefined;
  if (
    clock !== undefined &&
    (typeof clock !== 'object' ||
      clock === null ||
      typeof clock.now !== 'function' ||
      typeof clock.wallNow !== 'function')
  ) {
    throw new RedlockConfigError(
      'clock',
      `expected { now(), wallNow() } (and optionally its timers), got ${describe(clock)}`,
    );
  }
  const degraded = shape.degraded as { store?: Partial<LockAdapter> } | undefined;
  if (
    degraded !== undefined &&
    (typeof degraded !== 'object' ||
      degraded === null ||
      typeof degraded.store?.acquire !== 'function')
  ) {
    throw new RedlockConfigError(
      'degraded',
      `expected { store: LockAdapter } (e.g. new MemoryLockAdapter()), got ${describe(degraded)}`,
    );
  }
  resolveHolderOptions(shape);
  resolveHandOff(shape.handOff);
}

/** `onEvent`: a function, or absent. */
export function validateOnEvent(onEvent: unknown): void {
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new RedlockConfigError('onEvent', `expected a function, got ${describe(onEvent)}`);
  }
}

/** `circuitBreaker`: `{ failureThreshold?, coolDown? }`, `false`, or absent. */
export function validateCircuitBreaker(circuitBreaker: unknown): void {
  if (
    circuitBreaker !== undefined &&
    circuitBreaker !== false &&
    (typeof circuitBreaker !== 'object' || circuitBreaker === null)
  ) {
    throw new RedlockConfigError(
      'circuitBreaker',
      `expected { failureThreshold, coolDown } or false, got ${describe(circuitBreaker)}`,
    );
  }
}

/** A logger: `log`, `warn` and `error` functions (Nest's `Logger`, `console`…), or absent. */
export function validateLogger(logger: unknown, option: string): void {
  if (logger === undefined) return;
  const candidate = logger as Record<string, unknown> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.log !== 'function' ||
    typeof candidate.warn !== 'function' ||
    typeof candidate.error !== 'function'
  ) {
    throw new RedlockConfigError(
      option,
      `expected an object with log, warn and error methods, or false, got ${describe(logger)}`,
    );
  }
}

/**
 * `close({ timeout })`: whole milliseconds >= 0 or a duration such as '10s'. Checked before
 * shutdown begins, so a typo neither releases locks under running work nor closes the engine.
 */
export function resolveCloseTimeout(options: unknown): number {
  if (options === undefined) return 0;
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `expected { timeout }, got ${describe(options)}`);
  }
  const raw = (options as { timeout?: unknown }).timeout ?? 0;
  const timeout = parseDuration(raw, 'timeout');
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new RedlockConfigError(
      'timeout',
      `expected milliseconds >= 0 or a duration such as '10s', got ${describe(raw)}`,
    );
  }
  return timeout;
}
