import type { AcquireReply } from '../interfaces/lock-adapter.interface.js';

/**
 * The Lua scripts every Redis-protocol adapter runs. Each runs atomically on one node, so each
 * guarantee below holds against any interleaving of clients.
 *
 * Layout shared by the scripts that take fences: KEYS[1..n] are the lock keys and
 * KEYS[n+1..2n] their fencing counters (see `redis-keys.ts`), in the same order.
 * Numbers that may exceed 2^53 never occur: fences are microsecond timestamps (~2^51).
 */

/** Helpers shared by the scripts that know about readers (see `SHARED_*`). */
const READERS = `
-- Readers hold a lock key as a sorted set: member = reader's owner value, score = its expiry
-- (server ms); the member WRITER_INTENT marks a waiting writer and keeps new readers out.
local WRITER_INTENT = '\\0writer'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function live_readers(k, now)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  local count = redis.call('ZCARD', k)
  if redis.call('ZSCORE', k, WRITER_INTENT) then count = count - 1 end
  return count
end
local function keep_until_last(k, now)
  local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', k, math.max(1, tonumber(last[2]) - now)) end
end
-- The owner value of an exclusive lock; '' for a key readers hold, false when absent.
local function owner(k)
  local v = redis.pcall('GET', k)
  if type(v) == 'table' then return '' end
  return v
end
-- 'ok' when KEYS[1..n] all hold value; else 'taken' if any holds another, else 'expired'.
local function ownership(n, value)
  local status = 'ok'
  for i = 1, n do
    local v = owner(KEYS[i])
    if v ~= value then
      if v then return 'taken' end
      status = 'expired'
    end
  end
  return status
end
`;

/**
 * The waiting line of a single-key lock, shared by the scripts that take or free the key.
 * LINE is a sorted set of waiter ids by ticket (the waiter's first-call time, the same on every
 * node, so every node orders the line alike); LINE_UNTIL holds when each waiter's place lapses
 * if it does not come back (a waiter that crashed or went away must not block the line).
 */
const LINE = `
local function line_head(line, line_until)
  if redis.call('EXISTS', line) == 0 then return nil end
  local now = now_ms()
  local lapsed = redis.call('ZRANGEBYSCORE', line_until, '-inf', now)
  for _, id in ipairs(lapsed) do redis.call('ZREM', line, id) end
  if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', line_until, '-inf', now) end
  return redis.call('ZRANGE', line, 0, 0)[1]
end
local function line_keep(line, line_until, now)
  local last = redis.call('ZRANGE', line_until, -1, -1, 'WITHSCORES')
  if last[2] then
    local left = math.max(1, tonumber(last[2]) - now)
    redis.call('PEXPIRE', line, left)
    redis.call('PEXPIRE', line_until, left)
  end
end
`;

/**
 * Takes every lock key for ARGV[1] with ttl ARGV[2] ms only when none exists (all or nothing).
 * On success it raises each fencing counter to max(ARGV[3], every counter + 1), keeps it for
 * ttl + ARGV[4] ms and returns {1, fence}. When a key is held it changes nothing and returns
 * {0, longest remaining ttl} (-1 when a key has no expiry) so waiters never oversleep.
 *
 * A single-key call also passes the key's line (KEYS[3], KEYS[4]) and ARGV[5] = the caller's
 * line id ('' for a caller without a place, then nothing more), ARGV[6] = its ticket, ARGV[7] =
 * its patience (ms). A free key goes only to the head of a non-empty line; anyone else is told to wait as
 * long as the head's place lasts, and a waiting caller that does not get the key takes (or
 * renews) its place in the line.
 */
export const ACQUIRE_SCRIPT = `${READERS}${LINE}
local lined = ARGV[5] ~= nil
local n = lined and 1 or #KEYS / 2
local me = ARGV[5]
local in_line = false
local function join_line()
  if not lined or me == '' then return end
  local now = now_ms()
  redis.call('ZADD', KEYS[3], 'NX', ARGV[6], me)
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[7]), me)
  line_keep(KEYS[3], KEYS[4], now)
end
if lined then
  local head = line_head(KEYS[3], KEYS[4])
  in_line = head ~= nil
  if head and head ~= me then
    join_line()
    local pttl = redis.call('PTTL', KEYS[1])
    local lasts = tonumber(redis.call('ZSCORE', KEYS[4], head)) - now_ms()
    return {0, math.max(pttl, lasts, 0)}
  end
end
local granted = false
if n == 1 then
  -- The common case in one call: the key is free unless SET NX says otherwise.
  granted = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if not granted then
  local longest = nil
  local busy = function(pttl)
    if longest == nil or pttl == -1 or (longest ~= -1 and pttl > longest) then longest = pttl end
  end
  for i = 1, n do
    local pttl = redis.call('PTTL', KEYS[i])
    if pttl ~= -2 then
      if redis.call('TYPE', KEYS[i]).ok == 'zset' then
        -- Readers: wait for them, and mark the wait so that no new reader gets in meanwhile
        -- (writers are never starved by a steady stream of readers).
        local t = now_ms()
        if live_readers(KEYS[i], t) > 0 then
          local intent = math.min(tonumber(ARGV[2]), 1000)
          redis.call('ZADD', KEYS[i], t + intent, WRITER_INTENT)
          keep_until_last(KEYS[i], t)
          local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
          -- Come back before the mark expires, or when the last reader's lease ends.
          busy(math.min(tonumber(last[2]) - t, math.floor(intent / 2)))
        end
      else
        busy(pttl)
      end
    end
  end
  if longest ~= nil then
    join_line()
    return {0, longest}
  end
  for i = 1, n do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
end
if in_line and me ~= '' and redis.call('ZREM', KEYS[3], me) == 1 then
  redis.call('ZREM', KEYS[4], me)
end
-- Counters normally lag the seed (a clock in microseconds), so one SET ... GET both stores the
-- new value and shows the old one; only a counter ahead of the seed needs a second write.
local fenceTtl = tonumber(ARGV[2]) + tonumber(ARGV[4])
local seed = tonumber(ARGV[3])
local fence = seed
for i = n + 1, 2 * n do
  local c = tonumber(redis.call('SET', KEYS[i], ARGV[3], 'PX', fenceTtl, 'GET'))
  if c ~= nil and c + 1 > fence then fence = c + 1 end
end
local f = string.format('%d', fence)
if fence ~= seed then
  for i = n + 1, 2 * n do redis.call('SET', KEYS[i], f, 'PX', fenceTtl) end
end
return {1, f}
`;

/**
 * Takes ARGV[1] out of the line of lock key KEYS[1] (KEYS[2], KEYS[3]): a waiter that gave up.
 * When the key is free, announces the new head of the line with ARGV[2] (PUBLISH or SPUBLISH)
 * on channel ARGV[3], so it does not wait for its timer. Returns 1 when the id was in line.
 */
export const LEAVE_LINE_SCRIPT = `${READERS}${LINE}
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  local head = line_head(KEYS[2], KEYS[3])
  if head then redis.call(ARGV[2], ARGV[3], head) end
end
return 1
`;

/**
 * Resets the ttl of every lock key to ARGV[2] ms (and its counter to ttl + ARGV[3]) only when
 * every key holds ARGV[1]. Returns 'ok', or 'taken' when any key holds another value, or
 * 'expired' when keys are gone. A stale owner can never extend the next owner's lock.
 */
export const EXTEND_SCRIPT = `${READERS}
local n = #KEYS / 2
local status = ownership(n, ARGV[1])
if status ~= 'ok' then return status end
local fenceTtl = tonumber(ARGV[2]) + tonumber(ARGV[3])
for i = 1, n do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  redis.call('PEXPIRE', KEYS[n + i], fenceTtl)
end
return 'ok'
`;

/**
 * Deletes each lock key that holds ARGV[1] and announces it with ARGV[2] (PUBLISH or SPUBLISH)
 * on the channel given at ARGV[3 + i] (ARGV[3] = the number of lock keys). Keys holding another
 * value are left alone. Returns 'ok' when every key was ours, else 'taken' if any holds another
 * value, else 'expired'.
 * A single-key call also passes the key's line (KEYS[2], KEYS[3]); the announcement then names
 * the head of the line, so only that waiter comes for the key ('' when nobody is in line). A
 * waiter giving back a partial acquisition passes its place (id, ticket, patience) after the
 * channel: it goes back in line first, and is not announced to itself.
 */
export const RELEASE_SCRIPT = `${READERS}${LINE}
local n = tonumber(ARGV[3])
local lined = #KEYS > n
local rejoin = ARGV[4 + n]
local taken = false
local expired = false
for i = 1, n do
  local v = owner(KEYS[i])
  if v == ARGV[1] then
    redis.call('DEL', KEYS[i])
    local next = ''
    if lined then
      if rejoin then
        local now = now_ms()
        redis.call('ZADD', KEYS[2], 'NX', ARGV[5 + n], rejoin)
        redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6 + n]), rejoin)
        line_keep(KEYS[2], KEYS[3], now)
      end
      next = line_head(KEYS[2], KEYS[3]) or ''
    end
    if not rejoin or next ~= rejoin then redis.call(ARGV[2], ARGV[3 + i], next) end
  elseif v then
    taken = true
  else
    expired = true
  end
end
if taken then return 'taken' end
if expired then return 'expired' end
return 'ok'
`;

/**
 * Raises every fencing counter to at least ARGV[2], kept ARGV[3] ms longer than its lock key,
 * only while every lock key holds ARGV[1]. Returns 'ok', 'taken' or 'expired' like EXTEND.
 */
export const SYNC_FENCE_SCRIPT = `${READERS}
local n = #KEYS / 2
local status = ownership(n, ARGV[1])
if status ~= 'ok' then return status end
local token = tonumber(ARGV[2])
for i = n + 1, 2 * n do
  local fenceTtl = redis.call('PTTL', KEYS[i - n]) + tonumber(ARGV[3])
  local c = tonumber(redis.call('GET', KEYS[i]))
  if c == nil or c < token then
    redis.call('SET', KEYS[i], ARGV[2], 'PX', fenceTtl)
  else
    redis.call('PEXPIRE', KEYS[i], fenceTtl)
  end
end
return 'ok'
`;

/** Longest remaining ttl in ms among the keys: -2 when none exists, -1 when one never expires. */
export const INSPECT_SCRIPT = `
local longest = -2
for i = 1, #KEYS do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl == -1 then return -1 end
  if pttl > longest then longest = pttl end
end
return longest
`;

/**
 * Takes a read (shared) lease on every key for ARGV[1] with ttl ARGV[2] ms, all or nothing:
 * refused while a writer holds a key (a string value) or waits for it (WRITER_INTENT), with the
 * time to come back. Each reader expires on its own: a crashed reader blocks writers for its
 * own ttl only. Returns {1, latest fencing token} (readers do not raise the counters).
 */
export const ACQUIRE_SHARED_SCRIPT = `${READERS}
local n = #KEYS / 2
local now = now_ms()
local longest = nil
for i = 1, n do
  local k = KEYS[i]
  local kind = redis.call('TYPE', k).ok
  local wait = nil
  if kind == 'string' then
    wait = redis.call('PTTL', k)
  elseif kind == 'zset' then
    live_readers(k, now)
    local intent = redis.call('ZSCORE', k, WRITER_INTENT)
    if intent then wait = tonumber(intent) - now end
  elseif kind ~= 'none' then
    return redis.error_reply('lock key ' .. k .. ' holds a ' .. kind)
  end
  if wait ~= nil and (longest == nil or wait == -1 or (longest ~= -1 and wait > longest)) then
    longest = wait
  end
end
if longest ~= nil then return {0, longest} end
local fence = 0
for i = 1, n do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
  keep_until_last(KEYS[i], now)
  local c = tonumber(redis.call('GET', KEYS[n + i]))
  if c ~= nil and c > fence then fence = c end
end
return {1, string.format('%d', fence)}
`;

/**
 * Renews a read lease to ARGV[2] ms on every key only if the reader ARGV[1] still holds all of
 * them. Returns 'ok', 'taken' (a writer holds a key) or 'expired'.
 */
export const EXTEND_SHARED_SCRIPT = `${READERS}
local n = #KEYS / 2
local now = now_ms()
for i = 1, n do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind == 'string' then return 'taken' end
  local score = kind == 'zset' and redis.call('ZSCORE', KEYS[i], ARGV[1])
  if not score or tonumber(score) <= now then return 'expired' end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  keep_until_last(KEYS[i], now)
  redis.call('PEXPIRE', KEYS[n + i], tonumber(ARGV[2]) + tonumber(ARGV[3]))
end
return 'ok'
`;

/**
 * Ends the read lease of ARGV[1] on every key. When a key has no reader left, announces it with
 * ARGV[2] (PUBLISH or SPUBLISH) on the channel at ARGV[2 + i], so a waiting writer goes at once.
 */
export const RELEASE_SHARED_SCRIPT = `${READERS}
local now = now_ms()
local released = false
for i = 1, #KEYS do
  local k = KEYS[i]
  if redis.call('TYPE', k).ok == 'zset' and redis.call('ZREM', k, ARGV[1]) == 1 then
    released = true
    if live_readers(k, now) == 0 then redis.call(ARGV[2], ARGV[2 + i], '') end
  end
end
if released then return 'ok' end
return 'expired'
`;

/** An acquire script's `{1, fence}` / `{0, ttl}` reply, whatever the client's reply types. */
export function acquireReply(reply: unknown): AcquireReply {
  const [granted, number] = reply as [unknown, unknown];
  return Number(granted) === 1
    ? { acquired: true, fence: Number(number) }
    : { acquired: false, ttl: Number(number) };
}
