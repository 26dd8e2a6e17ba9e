/**
 * The Lua scripts every Redis-protocol adapter runs. Each runs atomically on one node, so each
 * guarantee below holds against any interleaving of clients.
 *
 * Layout shared by the scripts that take fences: KEYS[1..n] are the lock keys and
 * KEYS[n+1..2n] their fencing counters (see `redis-keys.ts`), in the same order.
 * Numbers that may exceed 2^53 never occur: fences are microsecond timestamps (~2^51).
 */

/**
 * Takes every lock key for ARGV[1] with ttl ARGV[2] ms only when none exists (all or nothing).
 * On success it raises each fencing counter to max(ARGV[3], every counter + 1), keeps it for
 * ttl + ARGV[4] ms and returns {1, fence}. When a key is held it changes nothing and returns
 * {0, longest remaining ttl} (-1 when a key has no expiry) so waiters never oversleep.
 */
export const ACQUIRE_SCRIPT = `
local n = #KEYS / 2
local longest = nil
for i = 1, n do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl ~= -2 then
    if longest == nil or pttl == -1 or (longest ~= -1 and pttl > longest) then longest = pttl end
  end
end
if longest ~= nil then return {0, longest} end
local fence = tonumber(ARGV[3])
for i = n + 1, 2 * n do
  local c = tonumber(redis.call('GET', KEYS[i]))
  if c ~= nil and c + 1 > fence then fence = c + 1 end
end
local fenceTtl = tonumber(ARGV[2]) + tonumber(ARGV[4])
local f = string.format('%d', fence)
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[n + i], f, 'PX', fenceTtl)
end
return {1, f}
`;

/**
 * Resets the ttl of every lock key to ARGV[2] ms (and its counter to ttl + ARGV[3]) only when
 * every key holds ARGV[1]. Returns 'ok', or 'taken' when any key holds another value, or
 * 'expired' when keys are gone. A stale owner can never extend the next owner's lock.
 */
export const EXTEND_SCRIPT = `
local n = #KEYS / 2
local status = 'ok'
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if v ~= ARGV[1] then
    if v then return 'taken' end
    status = 'expired'
  end
end
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
 * on the channel given at ARGV[2 + i]. Keys holding another value are left alone. Returns 'ok'
 * when every key was ours, else 'taken' if any holds another value, else 'expired'.
 */
export const RELEASE_SCRIPT = `
local taken = false
local expired = false
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v == ARGV[1] then
    redis.call('DEL', KEYS[i])
    redis.call(ARGV[2], ARGV[2 + i], '')
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
export const SYNC_FENCE_SCRIPT = `
local n = #KEYS / 2
local status = 'ok'
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if v ~= ARGV[1] then
    if v then return 'taken' end
    status = 'expired'
  end
end
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
