/**
 * Names of the helper keys and channels that live beside a lock key.
 *
 * Redis Cluster runs a script only when all its keys share one hash slot, and routes sharded
 * pub/sub by the channel's slot, so every helper name must hash exactly like its lock key:
 * - a key with a non-empty `{tag}` keeps the tag when something is appended;
 * - a key without one hashes as a whole, so wrapping it whole in braces gives the same slot,
 *   as long as it has no `}` that would end the tag early.
 * Keys that fit neither rule (a `}` but no valid tag) are refused on Cluster by
 * {@link clusterSafe}; standalone nodes have no slots and accept them.
 */
export function helperName(key: string, suffix: 'fence' | 'released' | 'line'): string {
  if (hasHashTag(key) || key.includes('}')) return `${key}:${suffix}`;
  return `{${key}}:${suffix}`;
}

/** The waiting line of `key`: waiter ids by ticket, and until when each one's place lasts. */
export function lineKeys(key: string): [line: string, until: string] {
  const line = helperName(key, 'line');
  return [line, `${line}:until`];
}

/** A waiter's place, as the line scripts take it (`LineArgs`). */
type Place = { id: string; ticket: number; patience: number };

/**
 * KEYS and ARGV of ACQUIRE_SCRIPT: the lock keys and their fencing counters (one key also brings
 * its line), then the value, ttl, fence seed and retention and, for one key, the caller's place
 * (only an empty id when it has none: the line is then just checked).
 */
export function acquireArgs(
  keys: readonly string[],
  value: string,
  ttl: number,
  fence: { seed: number; retention: number },
  line?: Place,
): [keys: string[], args: (string | number)[]] {
  const all = [...keys, ...keys.map((key) => helperName(key, 'fence'))];
  const args: (string | number)[] = [value, ttl, fence.seed, fence.retention];
  if (keys.length !== 1) return [all, args];
  all.push(...lineKeys(keys[0]!));
  if (line) args.push(line.id, line.ticket, line.patience);
  else args.push('');
  return [all, args];
}

/** KEYS and ARGV of LEAVE_LINE_SCRIPT: the lock key and its line, the id, how to announce. */
export function leaveLineArgs(
  key: string,
  id: string,
  publish: 'PUBLISH' | 'SPUBLISH',
): [keys: string[], args: string[]] {
  return [
    [key, ...lineKeys(key)],
    [id, publish, helperName(key, 'released')],
  ];
}

/**
 * KEYS and ARGV of RELEASE_SCRIPT: the lock keys (one key brings its line), then the value, the
 * publish command, the key count, each key's channel and, to go back in line, the place.
 */
export function releaseArgs(
  keys: readonly string[],
  value: string,
  publish: 'PUBLISH' | 'SPUBLISH',
  rejoin?: Place,
): [keys: string[], args: (string | number)[]] {
  const channels = keys.map((key) => helperName(key, 'released'));
  const args: (string | number)[] = [value, publish, keys.length, ...channels];
  if (keys.length !== 1) return [[...keys], args];
  if (rejoin) args.push(rejoin.id, rejoin.ticket, rejoin.patience);
  return [[keys[0]!, ...lineKeys(keys[0]!)], args];
}

/** Whether Redis Cluster would hash only part of `key` (the first non-empty `{...}`). */
export function hasHashTag(key: string): boolean {
  const open = key.indexOf('{');
  if (open === -1) return false;
  const close = key.indexOf('}', open + 1);
  return close > open + 1;
}

/** Whether the helper names of `key` share its slot on a Cluster. */
export function clusterSafe(key: string): boolean {
  return hasHashTag(key) || !key.includes('}');
}
