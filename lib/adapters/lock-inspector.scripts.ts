import type { ForcedRelease, KeyState } from '../interfaces/lock-inspector.interface.js';
import { fenceValue } from './adapter-args.js';
import { redisScript } from './redis-connection.js';

/**
 * The Lua scripts of the Redis inspector (operators' tools, never the lock path). Kept apart from
 * `redis-scripts.ts`, whose scripts every lock runs. Layout: KEYS[1] the lock key, KEYS[2] the
 * fencing counter of its slot (so both route to the same Cluster shard). The member `\0writer`
 * of a readers' set is the writer-intent mark of `redis-scripts.ts`.
 */

/** The writer-intent member of a readers' set (see `redis-scripts.ts`). */
export const WRITER_MARK = '\u0000writer';

/**
 * Reads one key without changing anything: `{'none'}`, or `{type, pttl, counter or ''}`
 * followed by the owner value (a string key) or each live member and its remaining ms (a
 * readers' set). One script, so the value, the ttl and the members are read at one instant.
 */
export const KEY_STATE = redisScript(
  'keyState',
  `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return {'none'} end
local fence = redis.call('GET', KEYS[2]) or ''
local reply = {kind, redis.call('PTTL', KEYS[1]), fence}
if kind == 'string' then
  reply[4] = redis.call('GET', KEYS[1])
elseif kind == 'zset' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
  for i = 1, #members, 2 do
    reply[#reply + 1] = members[i]
    reply[#reply + 1] = tostring(math.floor(tonumber(members[i + 1]) - now))
  end
end
return reply
`,
);

/**
 * Force release: deletes the key whoever holds it (a writer's value or every reader), announces
 * it with ARGV[1] (PUBLISH or SPUBLISH) on channel ARGV[2] so waiters go at once, and raises the
 * counter by one when it exists (never creates it: no counter, no fenced lock ever used it).
 * Returns {deleted} or {deleted, counter as a string} (read back with GET: exact past 2^53).
 */
export const FORCE_RELEASE = redisScript(
  'forceRelease',
  `
local deleted = redis.call('DEL', KEYS[1])
if deleted == 1 then redis.call(ARGV[1], ARGV[2], '') end
if redis.call('EXISTS', KEYS[2]) == 0 then return {deleted} end
redis.call('INCR', KEYS[2])
return {deleted, redis.call('GET', KEYS[2])}
`,
);

/** A KEY_STATE reply (without waiters), or `undefined` for a key that is gone or no lock. */
export function keyState(key: string, reply: unknown): Omit<KeyState, 'waiters'> | undefined {
  const parts = (reply as unknown[]).map((part) => String(part));
  const [kind, pttl, fence] = parts;
  if (kind !== 'string' && kind !== 'zset') return undefined;
  const ttl = Number(pttl);
  const fenceCounter = fence ? fenceValue(fence) : undefined;
  if (kind === 'string') {
    return {
      key,
      mode: 'write',
      holders: [{ value: parts[3]!, ttl }],
      ttl,
      writerWaiting: false,
      fenceCounter,
    };
  }
  const holders: { value: string; ttl: number }[] = [];
  let writerWaiting = false;
  for (let i = 3; i + 1 < parts.length; i += 2) {
    if (parts[i] === WRITER_MARK) writerWaiting = true;
    else holders.push({ value: parts[i]!, ttl: Number(parts[i + 1]) });
  }
  if (holders.length === 0) return undefined; // only a writer's mark: nobody holds it
  return { key, mode: 'read', holders, ttl, writerWaiting, fenceCounter };
}

/** A FORCE_RELEASE reply. */
export function forcedRelease(reply: unknown): ForcedRelease {
  const [deleted, counter] = reply as [unknown, string | number | Buffer | null | undefined];
  return {
    deleted: Number(deleted) === 1,
    fenceCounter:
      counter === undefined || counter === null ? undefined : fenceValue(counter.toString()),
  };
}
