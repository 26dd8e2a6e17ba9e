import type { LockOptions, ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';

/** Library defaults of {@link LockOptions}; documented on each option with `@default`. */
export const DEFAULT_LOCK_OPTIONS: Readonly<ResolvedLockOptions> = Object.freeze({
  ttl: 10_000,
  wait: 5_000,
  retryDelay: 200,
  retryJitter: 50,
  retryCount: Infinity,
  driftFactor: 0.01,
  nodeTimeout: undefined,
  autoExtend: undefined,
  signal: undefined,
  mode: 'write',
});

/** Largest ttl accepted: about 24 days, the longest delay a Node.js timer can wait for. */
export const MAX_TTL = 2_147_483_647;
const MAX_RETRY_COUNT = 1_000_000_000;
const OPTION_KEYS = new Set(Object.keys(DEFAULT_LOCK_OPTIONS));

/**
 * Merges `options` over `base` and validates the result, so a bad value fails before anything
 * is sent to a node. `path` prefixes option names in errors (`lock.ttl`).
 */
export function resolveLockOptions(
  base: Readonly<ResolvedLockOptions>,
  options: LockOptions | undefined,
  path = '',
): ResolvedLockOptions {
  if (options === undefined) return base;
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError(path || 'options', `expected an object, got ${describe(options)}`);
  }
  const merged: ResolvedLockOptions = { ...base };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!OPTION_KEYS.has(key)) continue; // extra keys belong to callers such as @WithLock
    (merged as unknown as Record<string, unknown>)[key] = value;
  }
  validateLockOptions(merged, path);
  return merged;
}

/** Throws `RedlockConfigError` naming the first option with a value the engine cannot use. */
export function validateLockOptions(options: ResolvedLockOptions, path = ''): void {
  const name = (key: string): string => (path ? `${path}.${key}` : key);
  const { ttl, wait, retryDelay, retryJitter, retryCount, driftFactor, nodeTimeout } = options;
  validateTtl(ttl, name('ttl'));
  if (typeof wait !== 'number' || Number.isNaN(wait) || wait < 0) {
    throw new RedlockConfigError(
      name('wait'),
      `expected milliseconds >= 0 (0 = one attempt), got ${describe(wait)}`,
    );
  }
  if (typeof retryDelay !== 'function' && !isNonNegativeFinite(retryDelay)) {
    throw new RedlockConfigError(
      name('retryDelay'),
      `expected milliseconds >= 0 or a function (attempt) => ms, got ${describe(retryDelay)}`,
    );
  }
  if (!isNonNegativeFinite(retryJitter)) {
    throw new RedlockConfigError(
      name('retryJitter'),
      `expected milliseconds >= 0, got ${describe(retryJitter)}`,
    );
  }
  if (
    retryCount !== Infinity &&
    (!Number.isInteger(retryCount) || retryCount < 1 || retryCount > MAX_RETRY_COUNT)
  ) {
    throw new RedlockConfigError(
      name('retryCount'),
      `expected a whole number of attempts from 1 to ${MAX_RETRY_COUNT} or Infinity, got ${describe(retryCount)}`,
    );
  }
  if (typeof driftFactor !== 'number' || !(driftFactor >= 0 && driftFactor < 1)) {
    throw new RedlockConfigError(
      name('driftFactor'),
      `expected a number in [0, 1), got ${describe(driftFactor)}`,
    );
  }
  if (
    nodeTimeout !== undefined &&
    (!Number.isInteger(nodeTimeout) || nodeTimeout < 1 || nodeTimeout >= ttl)
  ) {
    throw new RedlockConfigError(
      name('nodeTimeout'),
      `expected a whole number of milliseconds from 1 to below ttl (${ttl}), got ${describe(nodeTimeout)}`,
    );
  }
  if (options.autoExtend !== undefined && typeof options.autoExtend !== 'boolean') {
    throw new RedlockConfigError(
      name('autoExtend'),
      `expected true or false, got ${describe(options.autoExtend)}`,
    );
  }
  if (options.mode !== 'write' && options.mode !== 'read') {
    throw new RedlockConfigError(
      name('mode'),
      `expected 'write' or 'read', got ${describe(options.mode)}`,
    );
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new RedlockConfigError(
      name('signal'),
      `expected an AbortSignal, got ${describe(options.signal)}`,
    );
  }
}

/** Throws `RedlockConfigError` unless `ttl` is a whole number of ms in [1, MAX_TTL]. */
export function validateTtl(ttl: unknown, option: string): asserts ttl is number {
  if (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_TTL) {
    throw new RedlockConfigError(
      option,
      `expected a whole number of milliseconds from 1 to ${MAX_TTL}, got ${describe(ttl)}`,
    );
  }
}

/** The per-node timeout in force: explicit, or a tenth of the ttl capped at 500 ms. */
export function nodeTimeoutOf(options: ResolvedLockOptions): number {
  return options.nodeTimeout ?? Math.max(1, Math.min(500, Math.floor(options.ttl / 10)));
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A short, safe rendering of a user value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an object (${value.constructor?.name ?? 'Object'})`;
}
