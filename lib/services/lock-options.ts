import type { LockOptions, ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { describe } from '../redaction.js';
import { parseDuration } from './duration.js';

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
  fencing: false,
  waitForNodes: false,
  holdAtLeast: 0,
  maxHold: undefined,
  permits: 1,
});

/**
 * Largest ttl accepted: 2^53 - 1 ms, far past any lease anyone needs (Redis takes PX up to
 * 2^63; the engine arms long timers in steps of 2^31 - 1 ms).
 */
export const MAX_TTL = Number.MAX_SAFE_INTEGER;
const MAX_RETRY_COUNT = 1_000_000_000;
/** A cap far past any real use that keeps every holder of a key listable in one reply. */
const MAX_PERMITS = 1_000_000;
const OPTION_KEYS = new Set(Object.keys(DEFAULT_LOCK_OPTIONS));
/** Options that belong to callers of the engine (`@WithLock`), passed through untouched. */
const CALLER_KEYS = new Set(['onBusy']);
/** Options that take a `Duration` (`'30s'`); `retryDelay` may also be a function. */
const DURATION_KEYS = new Set([
  'ttl',
  'wait',
  'retryDelay',
  'retryJitter',
  'nodeTimeout',
  'holdAtLeast',
  'maxHold',
]);

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
  // `{ ttl: 10_000 }` is what most calls pass: its resolution is the same every time, so it is
  // made once per base and ttl (resolved options are never mutated) instead of per call.
  const ttl = onlyTtl(options);
  if (ttl !== undefined && path === '') {
    let byTtl = TTL_ONLY.get(base);
    if (!byTtl) TTL_ONLY.set(base, (byTtl = new Map<number, ResolvedLockOptions>()));
    let resolved = byTtl.get(ttl);
    if (!resolved) {
      resolved = { ...base, ttl };
      validateLockOptions(resolved, path);
      if (byTtl.size >= 64) byTtl.clear();
      byTtl.set(ttl, resolved);
    }
    return resolved;
  }
  const merged: ResolvedLockOptions = { ...base };
  for (const [key, value] of Object.entries(options)) {
    if (!OPTION_KEYS.has(key)) {
      if (CALLER_KEYS.has(key)) continue;
      // A misspelt option silently ignored is a lock that behaves unlike its author thinks.
      const name = path ? `${path}.${key}` : key;
      const near = closest(key, [...OPTION_KEYS]);
      throw new RedlockConfigError(
        name,
        `unknown lock option${near ? `; did you mean ${JSON.stringify(near)}?` : ''}`,
      );
    }
    if (value === undefined) continue;
    (merged as unknown as Record<string, unknown>)[key] = DURATION_KEYS.has(key)
      ? parseDuration(value, path ? `${path}.${key}` : key)
      : value;
  }
  validateLockOptions(merged, path);
  return merged;
}

const TTL_ONLY = new WeakMap<Readonly<ResolvedLockOptions>, Map<number, ResolvedLockOptions>>();

/** The ttl of options that set nothing but a ttl in milliseconds, else undefined. */
function onlyTtl(options: object): number | undefined {
  let ttl: unknown;
  let count = 0;
  for (const key in options) {
    if (++count > 1 || key !== 'ttl') return undefined;
    ttl = (options as { ttl?: unknown }).ttl;
  }
  return typeof ttl === 'number' ? ttl : undefined;
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
  if (ttl - Math.floor(ttl * driftFactor) - 2 <= 0) {
    throw new RedlockConfigError(
      name('ttl'),
      `${ttl} ms leaves no validity after the drift allowance (ttl * driftFactor + 2 ms); use a longer ttl`,
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
  for (const flag of ['fencing', 'waitForNodes'] as const) {
    if (typeof options[flag] !== 'boolean') {
      throw new RedlockConfigError(
        name(flag),
        `expected true or false, got ${describe(options[flag])}`,
      );
    }
  }
  const { holdAtLeast, maxHold } = options;
  if (!Number.isInteger(holdAtLeast) || holdAtLeast < 0 || holdAtLeast > MAX_TTL) {
    throw new RedlockConfigError(
      name('holdAtLeast'),
      `expected whole milliseconds from 0 to ${MAX_TTL} or a duration such as '10s', got ${describe(holdAtLeast)}`,
    );
  }
  if (maxHold !== undefined) {
    if (!Number.isInteger(maxHold) || maxHold < 1 || maxHold > MAX_TTL) {
      throw new RedlockConfigError(
        name('maxHold'),
        `expected whole milliseconds from 1 to ${MAX_TTL} or a duration such as '5m', got ${describe(maxHold)}`,
      );
    }
    if (holdAtLeast > maxHold) {
      throw new RedlockConfigError(
        name('holdAtLeast'),
        `${holdAtLeast} ms is longer than maxHold (${maxHold} ms): the lock would have to be kept after it must be given up`,
      );
    }
  }
  const { permits } = options;
  if (!Number.isSafeInteger(permits) || permits < 1 || permits > MAX_PERMITS) {
    throw new RedlockConfigError(
      name('permits'),
      `expected a whole number of holders from 1 to ${MAX_PERMITS}, got ${describe(permits)}`,
    );
  }
  if (permits > 1 && options.mode === 'read') {
    throw new RedlockConfigError(
      name('permits'),
      `a semaphore (permits ${permits}) cannot be a read lock: leave mode as 'write'`,
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

/** The known name within edit distance 2 of `key`, for "did you mean". */
function closest(key: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Re-exported where the engine's validators have always found it. */
export { describe };
