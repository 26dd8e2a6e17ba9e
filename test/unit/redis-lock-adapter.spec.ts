/**
 * The plain-SET path of `RedisLockAdapter` when the server refuses `SET NX GET` (Redis < 7, or
 * readers holding the key): the adapter falls back to its acquire script, unless the engine
 * already took the attempt back while the SET was in flight. The connection here is a stub
 * that answers when the test says, because the race is about the order of replies; the same
 * adapter runs against real servers in test/integration/ioredis.contract.spec.ts.
 *
 * Also what the hand-off sends, and what it refuses before sending anything.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { RedisConnection, RedisScript } from '../../lib/adapters/redis-connection.js';
import { RedisLockAdapter } from '../../lib/adapters/redis-lock.adapter.js';
import { deferred, type Deferred } from '../support/deferred.js';

interface Stub {
  readonly connection: RedisConnection;
  /** The replies of the SETs sent so far, to settle in any order. */
  readonly sets: Deferred<unknown>[];
  /** Names of the scripts run. */
  readonly scripts: string[];
  /** Owner values the acquire script ran for. */
  readonly acquiredByScript: string[];
}

function stub(): Stub {
  const sets: Deferred<unknown>[] = [];
  const scripts: string[] = [];
  const acquiredByScript: string[] = [];
  const connection: RedisConnection = {
    name: 'stub',
    cluster: false,
    shardedSubscriptions: false,
    keyPrefix: '',
    evalScript: (script: RedisScript, _keys, args) => {
      scripts.push(script.name);
      if (script.name === 'acquire') acquiredByScript.push(String(args[0]));
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
  return { connection, sets, scripts, acquiredByScript };
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

  it('never runs the script for a value released before its SET failed, in any order of events', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('release' as const), at: fc.nat(5) }),
      fc.record({ kind: fc.constant('fail' as const), at: fc.nat(5) }),
      fc.record({ kind: fc.constant('noise' as const), releases: fc.nat(300) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        const { connection, sets, acquiredByScript } = stub();
        const adapter = new RedisLockAdapter(connection);
        const values = Array.from({ length: 6 }, (_, i) => `v${i}`);
        const replies = values.map((value, i) => adapter.acquire([`lock:${i}`], value, 1_000));
        const released = new Set<string>();
        const failed = new Set<string>();
        // Releases sent since each value's SET went out, to know when the ring may have lost it.
        const releasesSince = values.map(() => 0);
        const countRelease = (): void => {
          for (let i = 0; i < releasesSince.length; i += 1) releasesSince[i]! += 1;
        };
        const expectedRun = new Set<string>();
        // Values whose SET failed after the engine had taken them back.
        const takenBackFirst = new Set<string>();
        for (const s of steps) {
          if (s.kind === 'noise') {
            for (let i = 0; i < s.releases; i += 1) {
              countRelease();
              await adapter.release(['lock:noise'], `noise-${i}`);
            }
          } else if (s.kind === 'release') {
            const value = values[s.at]!;
            countRelease();
            released.add(value);
            await adapter.release([`lock:${s.at}`], value);
          } else if (!failed.has(values[s.at]!)) {
            const value = values[s.at]!;
            failed.add(value);
            if (released.has(value)) takenBackFirst.add(value);
            if (!released.has(value) && releasesSince[s.at]! <= 256) expectedRun.add(value);
            sets[s.at]!.reject(
              new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
            );
            await replies[s.at]!.catch(() => undefined);
          }
        }
        for (const value of acquiredByScript) {
          // Safety: never after the engine took the attempt back.
          expect(takenBackFirst.has(value)).toBe(false);
        }
        // And no needless refusal while the adapter can still tell.
        expect(new Set(acquiredByScript)).toEqual(expectedRun);
        for (const [i, reply] of sets.entries()) if (!failed.has(values[i]!)) reply.resolve(null);
        await Promise.all(replies);
      }),
      { numRuns: 300 },
    );
  });
});

describe('RedisLockAdapter, hand-off', () => {
  /** The stub's connection, also recording what each script was sent. */
  const recording = () => {
    const { connection } = stub();
    const sent: { script: string; keys: readonly string[]; args: readonly unknown[] }[] = [];
    const evalScript = connection.evalScript;
    const adapter = new RedisLockAdapter({
      ...connection,
      evalScript: (script, keys, args) => {
        sent.push({ script: script.name, keys, args });
        return evalScript(script, keys, args);
      },
    });
    return { adapter, sent };
  };

  it('sends one transfer script with the keys, the old and new owner values and the ttl', async () => {
    const { adapter, sent } = recording();
    expect(await adapter.handOff.transfer(['lock:a', 'lock:b'], 'v1', 'v2', 1_000)).toBe('ok');
    expect(sent).toEqual([
      { script: 'transfer', keys: ['lock:a', 'lock:b'], args: ['v1', 'v2', 1_000] },
    ]);
  });

  it('rejects bad arguments before sending anything', async () => {
    const { adapter, sent } = recording();
    const transfer = (keys: string[], value: unknown, next: unknown, ttl: number) =>
      adapter.handOff.transfer(keys, value as string, next as string, ttl);
    await expect(transfer([], 'v1', 'v2', 1_000)).rejects.toThrow(RangeError);
    for (const ttl of [0, -1, 1.5, Number.NaN, Infinity]) {
      await expect(transfer(['lock:a'], 'v1', 'v2', ttl)).rejects.toThrow(/ttl/);
    }
    for (const [value, next, message] of [
      ['', 'v2', /^value must be a non-empty owner value string, got an empty string$/],
      ['v1', '', /^next must be a non-empty owner value string, got an empty string$/],
      [undefined, 'v2', /^value .* got undefined$/],
      ['v1', null, /^next .* got null$/],
      ['v1', 42, /^next .* got number$/],
      ['v1', 'v1', /^next must differ from value/],
    ] as const) {
      await expect(transfer(['lock:a'], value, next, 1_000)).rejects.toThrow(message);
    }
    expect(sent).toEqual([]);
  });

  it('never puts an owner value in an error message', async () => {
    const { adapter } = recording();
    const secret = 'do-not-print-me';
    const error = await adapter.handOff.transfer(['lock:a'], secret, secret, 1_000).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(String((error as Error).message)).not.toContain(secret);
  });
});
