import calculateSlot from 'cluster-key-slot';
import { HELPER_KEY_PREFIX } from '../interfaces/lock-adapter.interface.js';

/**
 * Names the Redis adapter derives from lock keys.
 *
 * Fencing counters live under {@link HELPER_KEY_PREFIX}, a namespace no resource can name, so
 * a resource can never be another resource's helper key. Release channels are not keys (no
 * resource can collide with one), but sharded pub/sub routes a channel by its hash slot, so a
 * channel must hash exactly like its lock key:
 * - a key with a non-empty `{tag}` keeps the tag when something is appended;
 * - a key without one hashes as a whole, so wrapping it whole in braces gives the same slot, as
 *   long as it has no `}` that would end the tag early.
 * Keys that fit neither rule (a `}` but no valid tag) are refused on Cluster by
 * {@link clusterSafe}; standalone nodes have no slots and accept them.
 */

/** The channel on which releases of `key` are announced. */
export function releaseChannel(key: string): string {
  if (hasHashTag(key) || key.includes('}')) return `${key}:released`;
  return `{${key}}:released`;
}

/** {@link releaseChannel} under its older name, for callers that name helpers by suffix. */
export function helperName(key: string, _suffix: 'released'): string {
  return releaseChannel(key);
}

/** The one fencing counter of a standalone or Sentinel-managed node. */
export const FENCE_KEY = `${HELPER_KEY_PREFIX}fence`;

/**
 * The fencing counter for `key` (the key as sent, prefix included): the node's one counter, or
 * on a Cluster the counter of the key's hash slot, named with a short hash tag of that slot so
 * a script can touch it together with the lock keys.
 */
export function fenceKey(key: string, cluster: boolean): string {
  return cluster ? `${FENCE_KEY}{${slotTag(calculateSlot(key))}}` : FENCE_KEY;
}

/** Whether Redis Cluster would hash only part of `key` (the first non-empty `{...}`). */
export function hasHashTag(key: string): boolean {
  const open = key.indexOf('{');
  if (open === -1) return false;
  const close = key.indexOf('}', open + 1);
  return close > open + 1;
}

/** Whether the release channel of `key` shares its slot on a Cluster. */
export function clusterSafe(key: string): boolean {
  return hasHashTag(key) || !key.includes('}');
}

const TAG_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SLOTS = 16_384;
/**
 * Slot -> the shortest tag found so far that hashes to it. Filled lazily, once per process, and
 * made on first use: 128 KB that an application without a Cluster never needs.
 */
let tags: (string | undefined)[] | undefined;
/** How many candidate tags were tried: the search resumes where it stopped. */
let tried = 0;

/**
 * A short string whose CRC16 slot is `slot`. Candidates are tried in order of length (all 62
 * one-character strings, then two, then three), so the search for any slot resumes where the
 * last one stopped: all 16384 slots are covered by three characters, after ~240k CRC16s in all
 * (~60 ms spread over the first lookups) instead of a per-slot search for every lookup.
 */
export function slotTag(slot: number): string {
  tags ??= new Array<string | undefined>(SLOTS);
  for (;;) {
    const found = tags[slot];
    if (found !== undefined) return found;
    const candidate = bijective(++tried);
    const hashed = calculateSlot(candidate);
    tags[hashed] ??= candidate;
  }
}

/** `n` (from 1) in bijective base 62: '0'…'Z', '00'…'ZZ', '000'…, each string exactly once. */
function bijective(n: number): string {
  let text = '';
  while (n > 0) {
    n--;
    text = TAG_ALPHABET[n % TAG_ALPHABET.length]! + text;
    n = Math.floor(n / TAG_ALPHABET.length);
  }
  return text;
}
