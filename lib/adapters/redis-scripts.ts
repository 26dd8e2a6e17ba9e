import type { AcquireReply, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import { ACQUIRED, fenceValue } from './adapter-args.js';
import { redisScript } from './redis-connection.js';

/**
 * The Lua scripts of the Redis adapter. Each runs atomically on one node, so each guarantee
 * below holds against any interleaving of clients, and each is safe to run twice (a client may
 * replay a script whose reply it lost): a key already holding the caller's own value counts as
 * the caller's.
 *
 * Layout: KEYS are the lock keys, followed by the fencing counter for the scripts that use one
 * (`ARGV[3] == '1'` says so for the acquire scripts). Counters are only ever changed by INCR
 * and by SET of a decimal string, and read back with GET: never through Lua arithmetic, whose
 * doubles are inexact past 2^53.
 *
 * The uncontended single-key acquire is not here: it is one plain `SET key value NX PX ttl GET`
 * (see `redis-lock.adapter.ts`), and ACQUIRE is its fallback for the rarer cases.
 */

/** Helpers of the scripts that know about readers. */
const READERS = `
-- Readers hold a lock key as a sorted set: member = a reader's owner value, score = its expiry
-- (server ms). The member WRITER_INTENT marks a waiting writer and keeps new readers out.
local WRITER_INTENT = '\\0writer'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drops lapsed members; answers how many readers are left (the writer mark does not count).
local function live_readers(k, now)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  local count = redis.call('ZCARD', k)
  if redis.call('ZSCORE', k, WRITER_INTENT) then count = count - 1 end
  return count
end
-- The key lives exactly as long as its longest-lived member.
local function keep_until_last(k, now)
  local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', k, math.max(1, tonumber(last[2]) - now)) end
end
local longest = nil
-- Records a busy key's remaining ttl: the reply is the longest, and -1 (no expiry) beats all.
local function busy(ttl)
  if longest == nil or ttl == -1 or (longest ~= -1 and ttl > longest) then longest = ttl end
end
`;

/**
 * Takes every lock key for ARGV[1] with ttl ARGV[2] ms, all or nothing: when any key is held by
 * another value or by live readers, changes nothing (except the writer mark below) and returns
 * {0, longest remaining ttl} (-1 for a key without expiry), so a waiter never oversleeps.
 * Keys already holding ARGV[1] are ours and left as they are; free keys are taken. With a
 * counter (ARGV[3] == '1') it INCRs it once, unless every key was already ours (a replay: the
 * first run counted), and returns {1, counter as a string}; otherwise {1}.
 *
 * A writer that finds live readers marks its wait (WRITER_INTENT, for at most a second) so no
 * new reader gets in: a steady stream of readers cannot starve writers. It comes back when
 * the mark is half gone or the last reader's lease ends, whichever is first.
 */
export const ACQUIRE = redisScript(
  'acquire',
  `${READERS}
local fenced = ARGV[3] == '1'
local n = fenced and #KEYS - 1 or #KEYS
local value = ARGV[1]
local free = {}
for i = 1, n do
  local k = KEYS[i]
  local v = redis.pcall('GET', k)
  if v == false then
    free[#free + 1] = k
  elseif type(v) == 'table' then
    -- Not a string: readers (a sorted set), or a key that is no lock at all.
    if redis.call('TYPE', k).ok == 'zset' then
      local now = now_ms()
      if live_readers(k, now) > 0 then
        local intent = math.min(tonumber(ARGV[2]), 1000)
        redis.call('ZADD', k, now + intent, WRITER_INTENT)
        keep_until_last(k, now)
        local top = redis.call('ZREVRANGE', k, 0, 1, 'WITHSCORES')
        local last = top[1] == WRITER_INTENT and top[4] or top[2]
        busy(math.min(tonumber(last) - now, math.floor(intent / 2)))
      else
        free[#free + 1] = k
      end
    else
      busy(redis.call('PTTL', k))
    end
  elseif v ~= value then
    busy(redis.call('PTTL', k))
  end
end
if longest ~= nil then return {0, longest} end
for _, k in ipairs(free) do redis.call('SET', k, value, 'PX', ARGV[2]) end
if not fenced then return {1} end
if #free > 0 then redis.call('INCR', KEYS[n + 1]) end
return {1, redis.call('GET', KEYS[n + 1]) or '0'}
`,
);

/**
 * Extend-or-repair: when no key holds another value (or readers), resets the ttl of the keys
 * holding ARGV[1] to ARGV[2] ms and re-creates the missing ones for ARGV[1], then returns 'ok'
 * if none was missing, else 'expired' (a repaired key does not count for the extension).
 * Returns 'taken' and changes nothing when any key holds another value.
 */
export const EXTEND = redisScript(
  'extend',
  `
local missing = false
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if v == false then missing = true elseif v ~= ARGV[1] then return 'taken' end
end
for i = 1, #KEYS do
  if redis.call('PEXPIRE', KEYS[i], ARGV[2]) == 0 then
    redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2])
  end
end
if missing then return 'expired' end
return 'ok'
`,
);

/**
 * Deletes each lock key holding ARGV[1] and announces it with ARGV[2] (PUBLISH or SPUBLISH) on
 * the channel ARGV[2 + i], the message being ARGV[1] past its first 22 characters when a dot
 * follows them, as in the engine's owner values (the public holder suffix, see
 * `RELEASE_MESSAGE_FROM`; never the secret part), else empty, and empty too when
 * ARGV[3 + #KEYS] is present (an engine's undo); keys holding another value are left alone.
 * Returns 'ok' when every key was ours, else 'taken' if any holds another value, else
 * 'expired'. Kept to GET, DEL and PUBLISH per key: this is half of every lock's Redis time.
 */
export const RELEASE = redisScript(
  'release',
  `
local taken, missing = false, false
local message = ''
if string.byte(ARGV[1], 23) == 46 and not ARGV[3 + #KEYS] then message = string.sub(ARGV[1], 23) end
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if v == ARGV[1] then
    redis.call('DEL', KEYS[i])
    redis.call(ARGV[2], ARGV[2 + i], message)
  elseif v then
    taken = true
  else
    missing = true
  end
end
if taken then return 'taken' end
if missing then return 'expired' end
return 'ok'
`,
);

/**
 * Raises the counter KEYS[#KEYS] to at least ARGV[2] (a canonical decimal string), only while
 * every lock key holds ARGV[1] (or has it among a semaphore's live holders); never lowers it, never gives it an expiry. Tokens are compared
 * as strings (length, then digit by digit), exact at any size. Returns 'ok', or 'taken' /
 * 'expired' like EXTEND, changing nothing.
 */
export const SYNC_FENCE = redisScript(
  'syncFence',
  `${READERS}
local n = #KEYS - 1
local missing = false
for i = 1, n do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' then
    -- A sorted set: a semaphore's holders; ARGV[1] must be one of them, still live.
    local score = redis.pcall('ZSCORE', KEYS[i], ARGV[1])
    if type(score) == 'table' then return 'taken' end
    if not score or tonumber(score) <= now_ms() then missing = true end
  elseif v == false then missing = true elseif v ~= ARGV[1] then return 'taken' end
end
if missing then return 'expired' end
local current, token = redis.call('GET', KEYS[n + 1]), ARGV[2]
local lower = not current or #current < #token
if current and #current == #token then
  for i = 1, #token do
    local a, b = string.byte(current, i), string.byte(token, i)
    if a ~= b then lower = a < b break end
  end
end
if lower then redis.call('SET', KEYS[n + 1], token) end
return 'ok'
`,
);

/** Longest remaining ttl in ms among the keys: -2 when none exists, -1 when one never expires. */
export const INSPECT = redisScript(
  'inspect',
  `
local longest = -2
for i = 1, #KEYS do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl == -1 then return -1 end
  if pttl > longest then longest = pttl end
end
return longest
`,
);

/**
 * Adds ARGV[1] as a reader of every key for ARGV[2] ms, all or nothing: refused while a writer
 * holds a key or has marked its wait (WRITER_INTENT), with {0, time to come back}. A key where
 * ARGV[1] already reads is ours (a replay) and keeps its expiry. Each reader expires on its
 * own, so a crashed reader blocks writers for its own ttl only. Returns {1} or, with a counter
 * (ARGV[3] == '1'), {1, counter unchanged as a string} ('0' before any fenced writer).
 *
 * With a cap ARGV[4] > 0 the readers are a semaphore's permit holders: also refused while a key
 * has ARGV[4] live holders already (come back when the first of them expires), and a fenced
 * grant raises the counter by one (each permit gets its own token) unless it is a replay.
 */
export const SHARED_ACQUIRE = redisScript(
  'sharedAcquire',
  `${READERS}
local fenced = ARGV[3] == '1'
local cap = tonumber(ARGV[4]) or 0
local n = fenced and #KEYS - 1 or #KEYS
local now = now_ms()
local joined = 0
for i = 1, n do
  local k = KEYS[i]
  local kind = redis.call('TYPE', k).ok
  if kind == 'zset' then
    local holders = live_readers(k, now)
    if not redis.call('ZSCORE', k, ARGV[1]) then
      joined = joined + 1
      local intent = redis.call('ZSCORE', k, WRITER_INTENT)
      if intent then
        busy(tonumber(intent) - now)
      elseif cap > 0 and holders >= cap then
        local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
        busy(math.max(0, tonumber(first[2]) - now))
      end
    end
  elseif kind ~= 'none' then
    busy(redis.call('PTTL', k))
  else
    joined = joined + 1
  end
end
if longest ~= nil then return {0, longest} end
for i = 1, n do
  redis.call('ZADD', KEYS[i], 'NX', now + tonumber(ARGV[2]), ARGV[1])
  keep_until_last(KEYS[i], now)
end
if not fenced then return {1} end
if cap > 0 and joined > 0 then redis.call('INCR', KEYS[n + 1]) end
return {1, redis.call('GET', KEYS[n + 1]) or '0'}
`,
);

/**
 * Renews reader ARGV[1] to ARGV[2] ms on every key, only if it still reads all of them.
 * Returns 'ok', 'taken' (a writer holds a key) or 'expired', changing nothing unless 'ok'.
 */
export const SHARED_EXTEND = redisScript(
  'sharedExtend',
  `${READERS}
local now = now_ms()
local missing = false
for i = 1, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind == 'zset' then
    live_readers(KEYS[i], now)
    if not redis.call('ZSCORE', KEYS[i], ARGV[1]) then missing = true end
  elseif kind == 'none' then
    missing = true
  else
    return 'taken'
  end
end
if missing then return 'expired' end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  keep_until_last(KEYS[i], now)
end
return 'ok'
`,
);

/**
 * Ends reader ARGV[1] on every key it reads. When a key has no reader left, announces it with
 * ARGV[2] (PUBLISH or SPUBLISH) on the channel ARGV[2 + i], so a waiting writer goes at once;
 * a semaphore's holder (a cap in ARGV[3 + #KEYS]) announces every release, since each one frees
 * a permit. Returns 'ok' when it read every key, else 'taken' if a writer holds one, else
 * 'expired'.
 */
export const SHARED_RELEASE = redisScript(
  'sharedRelease',
  `${READERS}
local now = now_ms()
local counted = (tonumber(ARGV[3 + #KEYS]) or 0) > 0
local taken, missing = false, false
for i = 1, #KEYS do
  local k = KEYS[i]
  local kind = redis.call('TYPE', k).ok
  if kind == 'zset' then
    live_readers(k, now)
    if redis.call('ZREM', k, ARGV[1]) == 1 then
      if counted or live_readers(k, now) == 0 then redis.call(ARGV[2], ARGV[2 + i], '') end
      keep_until_last(k, now)
    else
      missing = true
    end
  elseif kind == 'none' then
    missing = true
  else
    taken = true
  end
end
if taken then return 'taken' end
if missing then return 'expired' end
return 'ok'
`,
);

/** An acquire script's `{1}`, `{1, counter}` or `{0, ttl}`, whatever the client's reply types. */
export function acquireReply(reply: unknown): AcquireReply {
  const [granted, detail] = reply as [unknown, string | number | Buffer | null | undefined];
  if (Number(granted) !== 1) return { acquired: false, ttl: Number(detail) };
  if (detail === undefined || detail === null) return ACQUIRED;
  return { acquired: true, fence: fenceValue(String(detail)) };
}

/** A compare-and-set script's status reply. */
export function ownerReply(reply: unknown): OwnerReply {
  const text = String(reply);
  if (text === 'ok' || text === 'expired' || text === 'taken') return text;
  throw new Error(`Unexpected script reply: ${text}`);
}
