/**
 * The plain-SET path of `RedisLockAdapter` when the server refuses `SET NX GET` (Redis < 7, or
 * readers holding the key): the adapter falls back to its acquire script, unless the engine
 * already took the attempt back while the SET was in flight. The connection here is a stub
 * that answers when the test says, because the race is about the order of replies; the same
 * adapter runs against real servers in test/integration/ioredis.contract.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import type { RedisConnection, RedisScript } from '../../lib/adapters/redis-connection.js';
import { RedisLockAdapter } from '../../lib/adapters/redis-lock.adapter.js';
import { deferred, type Deferred } from '../support/deferred.js';

interface Stub {
  readonly connection: RedisConnection;
  /** The replies of the SETs sent so far, to settle in any order. */
  readonly sets: Deferred<unknown>[];
  /** Names of the scripts run. */
  readonly scripts: string[];
}

function stub(): Stub {
  const sets: Deferred<unknown>[] = [];
  const scripts: string[] = [];
  const connection: RedisConnection = {
    name: 'stub',
    cluster: false,
    shardedSubscriptions: false,
    keyPrefix: '',
    evalScript: (script: RedisScript) => {
      scripts.push(script.name);
      // The acquire script grants, the release script deletes.
      return Promise.resolve(script.name === 'acquire' ? [1] : 'ok');
    },
    command: (name) => {
      if (name !== 'SET') return Promise.resolve(1);
      const reply = deferred<unknown>();
      sets.push(reply);
      return reply.promise;
    },
    subscriber: () => {
      throw new Error('not used');
    },
    ready: () => Promise.resolve(),
    masters: () => Promise.resolve([]),
    close: () => Promise.resolve(),
  };
  return { connection, sets, scripts };
}

describe('RedisLockAdapter, SET refused', () => {
  it('falls back to the acquire script when nothing was taken back meanwhile', async () => {
    const { connection, sets, scripts } = stub();
    const adapter = new RedisLockAdapter(connection);
    const reply = adapter.acquire(['lock:a'], 'v1', 1_000);
    sets[0]!.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    expect(await reply).toEqual({ acquired: true });
    expect(scripts).toEqual(['acquire']);
  });

  it('does not run the script for an attempt released while its SET was in flight', async () => {
    const { connection, sets, scripts } = stub();
    const adapter = new RedisLockAdapter(connection);
    const reply = adapter.acquire(['lock:a'], 'v1', 1_000);
    const other = adapter.acquire(['lock:b'], 'v2', 1_000);
    // The engine takes v1 back (a timeout, a lost race) before its SET is answered.
    await adapter.release(['lock:a'], 'v1');
    sets[0]!.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    sets[1]!.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    // A script after the take-back could take a key nobody would release.
    expect(await reply).toEqual({ acquired: false, ttl: 0 });
    // The other attempt was not taken back: it falls back as usual.
    expect(await other).toEqual({ acquired: true });
    expect(scripts).toEqual(['release', 'acquire']);
  });

  it('remembers the take-back however many other releases came after it', async () => {
    const { connection, sets, scripts } = stub();
    const adapter = new RedisLockAdapter(connection);
    const reply = adapter.acquire(['lock:a'], 'v1', 1_000);
    await adapter.release(['lock:a'], 'v1');
    for (let i = 0; i < 1_000; i += 1) await adapter.release([`lock:x${i}`], `x${i}`);
    sets[0]!.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    expect(await reply).toEqual({ acquired: false, ttl: 0 });
    expect(scripts.filter((name) => name === 'acquire')).toEqual([]);
  });
});
