/**
 * Argument checks and reply conversions shared by the Redis and memory adapters, so both refuse
 * the same calls with the same error before anything changes, and turn counters into the same
 * token values.
 */

import type { AcquireReply } from '../interfaces/lock-adapter.interface.js';

/** The reply of an acquisition without a fence: one frozen object, nothing allocated per lock. */
export const ACQUIRED: AcquireReply = Object.freeze({ acquired: true });

/** The largest value a Redis counter (a signed 64-bit integer) can hold. */
const INT64_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function assertKeys(keys: readonly string[]): void {
  if (keys.length === 0) throw new RangeError('a lock operation needs at least one key');
}

/** What `assertKeys` (and `assertTtl`, given a ttl) would throw, for callers that reject. */
export function argumentError(keys: readonly string[], ttl?: number): RangeError | undefined {
  try {
    assertKeys(keys);
    if (ttl !== undefined) assertTtl(ttl);
    return undefined;
  } catch (error) {
    return error as RangeError;
  }
}

/** Redis takes whole positive milliseconds only (`PX 0`, `PX 1.5` are errors); so do we. */
export function assertTtl(ttl: number): void {
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new RangeError(`ttl must be a positive whole number of milliseconds, got ${ttl}`);
  }
}

/**
 * The arguments of a hand-off (`HandOff.transfer`): both owner values non-empty strings, and
 * different, since a transfer to the same value could not tell a replay from a first run.
 */
export function assertTransfer(
  keys: readonly string[],
  value: string,
  next: string,
  ttl: number,
): void {
  assertKeys(keys);
  assertOwnerValue('value', value);
  assertOwnerValue('next', next);
  if (value === next) {
    throw new RangeError('next must differ from value: a lock is handed to a new owner value');
  }
  assertTtl(ttl);
}

function assertOwnerValue(name: string, owner: unknown): void {
  if (typeof owner === 'string' && owner.length > 0) return;
  // Names the kind, not the value: whoever knows an owner value can release its lock.
  const got = owner === '' ? 'an empty string' : owner === null ? 'null' : typeof owner;
  throw new TypeError(`${name} must be a non-empty owner value string, got ${got}`);
}

/**
 * A fencing token to store: a canonical non-negative decimal integer that fits the node's
 * counter. Canonical, because the scripts compare tokens as strings (length, then digits) to
 * stay exact past 2^53, where Lua's doubles are not.
 */
/**
 * A semaphore's cap as a script argument: 0 (no cap) when absent. A cap that is not a positive
 * safe integer is refused before anything is sent: taken as 0 it would lift the limit.
 */
export function permitsArg(permits: number | undefined): number {
  if (permits === undefined) return 0;
  if (!Number.isSafeInteger(permits) || permits < 1) {
    throw new RangeError(`permits must be an integer >= 1, got ${String(permits)}`);
  }
  return permits;
}

export function assertToken(token: string): void {
  if (
    typeof token !== 'string' ||
    !/^(0|[1-9][0-9]{0,18})$/.test(token) ||
    BigInt(token) > INT64_MAX
  ) {
    throw new RangeError(
      `fencing token must be a decimal integer string between 0 and 2^63 - 1, got ${String(token)}`,
    );
  }
}

/** A counter as the interface hands it out: a number while exact, else its decimal string. */
export function fenceValue(counter: string | bigint): number | string {
  const big = typeof counter === 'bigint' ? counter : BigInt(counter);
  return big <= MAX_SAFE ? Number(big) : big.toString();
}
