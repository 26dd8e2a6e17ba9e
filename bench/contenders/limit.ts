/**
 * The limit: a careful hand-written Redlock on plain ioredis, the least a correct multi-node
 * lock can send. Acquire is `SET key value NX PX ttl` to every node in parallel, answered once
 * a majority decided; release is a compare-and-delete script by `EVALSHA` to every node,
 * answered at the majority. On the hot key it takes back a minority and polls after 2–4 ms.
 */
import { randomFillSync } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { releaseChannel } from '../../lib/adapters/redis-keys.js';
import { RELEASE } from '../../lib/adapters/redis-scripts.js';
import { sleep } from '../core/clock.js';
import type { Contender, ContenderSettings } from '../core/contenders.js';
import { closeClients, peerClients } from './clients.js';

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface LimitLock {
  readonly key: string;
  readonly value: string;
}

// Owner values (128 random bits) from a pooled crypto-random buffer, as a careful
// hand-written client would.
const POOL = Buffer.alloc(16 * 256);
let poolOffset = POOL.length;
function token(): string {
  if (poolOffset >= POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const value = POOL.toString('hex', poolOffset, poolOffset + 16);
  poolOffset += 16;
  return value;
}

class BusyError extends Error {
  override readonly name = 'BusyError';
}

/**
 * `ours`: the same loop speaking our wire protocol, so a run splits ours' gap to the loop into
 * what our commands cost and what our code costs: `SET key value NX PX ttl GET` (GET tells a
 * replayed SET from a busy key) and our RELEASE script, whose PUBLISH wakes the waiters of
 * other processes.
 */
export type LimitProtocol = 'minimal' | 'ours';

export async function createLimit(
  urls: readonly string[],
  settings: ContenderSettings,
  clientOptions: RedisOptions = {},
  protocol: LimitProtocol = 'minimal',
): Promise<Contender<LimitLock>> {
  const clients = await peerClients(urls, clientOptions);
  const ours = protocol === 'ours';
  const shas = await Promise.all(
    clients.map(
      (client) => client.script('LOAD', ours ? RELEASE.lua : COMPARE_AND_DELETE) as Promise<string>,
    ),
  );
  const sha = shas[0]!;
  const n = clients.length;
  const quorum = Math.floor(n / 2) + 1;
  const { ttl, waitMs } = settings;
  const contended = settings.mode === 'contended';
  const drift = Math.floor(ttl * 0.01) + 2;

  /** One attempt: resolves with the per-node refusals once the majority decided. */
  const attempt = (key: string, value: string): Promise<{ won: boolean; refused: boolean[] }> =>
    new Promise((resolve) => {
      let yes = 0;
      let no = 0;
      let open = true;
      const refused = new Array<boolean>(n).fill(false);
      const settle = (): void => {
        if (!open) return;
        if (yes >= quorum) {
          open = false;
          resolve({ won: true, refused });
        } else if (no > n - quorum) {
          open = false;
          resolve({ won: false, refused });
        }
      };
      for (let i = 0; i < n; i += 1) {
        const set: Promise<string | null> = ours
          ? (clients[i]!.call('set', key, value, 'NX', 'PX', ttl, 'GET') as Promise<string | null>)
          : clients[i]!.set(key, value, 'PX', ttl, 'NX');
        set.then(
          (reply) => {
            // 'OK' from the plain SET; null from SET ... GET when the key was free.
            if (reply === (ours ? null : 'OK')) yes += 1;
            else {
              refused[i] = true;
              no += 1;
            }
            settle();
          },
          () => {
            no += 1;
            settle();
          },
        );
      }
    });

  /** Compare-and-delete on the given nodes, resolved once `need` of them answered. */
  const unlock = (
    key: string,
    value: string,
    targets: readonly Redis[],
    need: number,
  ): Promise<void> =>
    new Promise((resolve) => {
      let answered = 0;
      if (targets.length === 0 || need <= 0) {
        resolve();
        return;
      }
      const done = (): void => {
        answered += 1;
        if (answered === need) resolve();
      };
      if (ours) {
        const channel = releaseChannel(key);
        for (const client of targets)
          client.evalsha(sha, 1, key, value, 'PUBLISH', channel).then(done, done);
      } else {
        for (const client of targets) client.evalsha(sha, 1, key, value).then(done, done);
      }
    });

  return {
    id: ours ? 'limit-ours' : clientOptions.enableAutoPipelining ? 'limit-pipelined' : 'limit',
    nodes: n,
    acquire: async (key, signal) => {
      const deadline = performance.now() + waitMs;
      for (let tries = 1; ; tries += 1) {
        const value = token();
        const start = performance.now();
        const { won, refused } = await attempt(key, value);
        if (won && start + ttl - drift > performance.now()) return { key, value };
        // Take back a minority (also nodes still pending: their SET precedes this on the wire).
        const mine = clients.filter((_, i) => !refused[i]);
        await unlock(key, value, mine, mine.length);
        if (!contended || performance.now() >= deadline || tries >= 1_000_000) {
          throw new BusyError(`${key} is busy`);
        }
        await sleep(2 + Math.random() * 2, signal);
      }
    },
    release: (lock) => unlock(lock.key, lock.value, clients, quorum),
    close: () => closeClients(clients),
  };
}
