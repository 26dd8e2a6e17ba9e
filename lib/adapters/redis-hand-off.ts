import type { HandOff, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import { assertTransfer } from './adapter-args.js';
import { type RedisConnection, redisScript } from './redis-connection.js';
import { ownerReply } from './redis-scripts.js';

/**
 * Sets every lock key to ARGV[2] with ttl ARGV[3] ms when every key holds ARGV[1], and returns
 * 'ok'; all or nothing. A replay (every key already holds ARGV[2]) returns 'ok' and changes
 * nothing. Otherwise it changes nothing and returns 'taken' when any key holds something other
 * than ARGV[1] (another owner, or readers: GET of a sorted set fails, so pcall hands back an
 * error table), else 'expired'. Publishes nothing, since the keys are never free, and leaves
 * the fencing counter alone. Kept to GET, then SET per key: it runs on every hand-off.
 */
export const TRANSFER = redisScript(
  'transfer',
  `
local held, replayed, taken = 0, 0, false
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if v == ARGV[1] then
    held = held + 1
  elseif v == ARGV[2] then
    replayed = replayed + 1
  elseif v then
    taken = true
  end
end
if replayed == #KEYS then return 'ok' end
if held == #KEYS then
  for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3]) end
  return 'ok'
end
if taken or replayed > 0 then return 'taken' end
return 'expired'
`,
);

/** The `handOff` capability of `RedisLockAdapter`: one script over the same connection. */
export class RedisHandOff implements HandOff {
  readonly #node: string;
  readonly #connection: RedisConnection;

  constructor(node: string, connection: RedisConnection) {
    this.#node = node;
    this.#connection = connection;
  }

  async transfer(
    keys: readonly string[],
    value: string,
    next: string,
    ttl: number,
  ): Promise<OwnerReply> {
    assertTransfer(keys, value, next, ttl);
    return ownerReply(await this.#connection.evalScript(TRANSFER, keys, [value, next, ttl]));
  }

  toJSON(): { node: string } {
    return { node: this.#node };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `HandOff { node: '${this.#node}' }`;
  }
}
