import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { IoredisLockAdapter } from '../../lib/adapters/ioredis.adapter.js';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import { FENCE_KEY } from '../../lib/adapters/redis-keys.js';
import type { AcquireReply, LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { startRedisFleet, type RedisFleet } from '../support/redis-fleet.js';

/**
 * The memory store is the twin of the Lua scripts: the same sequence of operations must get the
 * same reply from both, step by step. fast-check generates the sequences (and prints the seed of
 * a failing one, which `fc.assert(..., { seed, path })` replays).
 *
 * Replies are compared as the engine reads them: grants and owner statuses exactly; fencing
 * tokens relative to each store's counter when the sequence started (the Redis counter is one
 * per node and outlives runs); ttls by kind (-2, -1, or a remaining time) and within
 * {@link TOLERANCE} ms, since the two clocks tick apart by the time between the two calls.
 */

/** Long enough to outlive any run. */
const LONG = 10_000;
/** Short enough that a {@link PAUSE} outlasts it, long enough that nothing expires without one. */
const SHORT = 80;
const PAUSE = 2 * SHORT;
const TOLERANCE = 250;
const KEYS = 2;
const VALUES = ['v0', 'v1', 'v2'];

type Op =
  | { op: 'acquire' | 'sharedAcquire'; keys: number[]; value: string; ttl: number; fence: boolean }
  | { op: 'extend' | 'sharedExtend'; keys: number[]; value: string; ttl: number }
  | { op: 'release' | 'sharedRelease'; keys: number[]; value: string }
  | { op: 'syncFence'; keys: number[]; value: string; delta: number }
  | { op: 'transfer'; keys: number[]; value: string; next: string; ttl: number }
  | { op: 'inspect'; keys: number[] }
  | { op: 'pause' };

const keys = fc.uniqueArray(fc.integer({ min: 0, max: KEYS - 1 }), {
  minLength: 1,
  maxLength: KEYS,
});
const value = fc.constantFrom(...VALUES);
const ttl = fc.constantFrom(LONG, SHORT);
const take = (op: 'acquire' | 'sharedAcquire') =>
  fc.record({ op: fc.constant(op), keys, value, ttl, fence: fc.boolean() });
const renew = (op: 'extend' | 'sharedExtend') =>
  fc.record({ op: fc.constant(op), keys, value, ttl });
const drop = (op: 'release' | 'sharedRelease') => fc.record({ op: fc.constant(op), keys, value });

const operation: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: take('acquire') },
  { weight: 3, arbitrary: renew('extend') },
  { weight: 4, arbitrary: drop('release') },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('syncFence' as const),
      keys,
      value,
      delta: fc.integer({ min: 0, max: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('transfer' as const), keys, value, next: value, ttl }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('inspect' as const), keys }) },
  { weight: 4, arbitrary: take('sharedAcquire') },
  { weight: 2, arbitrary: renew('sharedExtend') },
  { weight: 3, arbitrary: drop('sharedRelease') },
  { weight: 1, arbitrary: fc.constant({ op: 'pause' as const }) },
);

/** One store under test: its adapter, the names of this run's keys, its counter at the start. */
interface Side {
  adapter: LockAdapter;
  names: string[];
  base: bigint;
  notified: number[];
}

/** Runs `op` on one side; the reply in a form that compares across the two stores. */
async function apply(side: Side, op: Op): Promise<unknown> {
  if (op.op === 'pause') return undefined;
  const names = op.keys.map((i) => side.names[i]!);
  const { adapter } = side;
  const shared = adapter.shared!;
  try {
    switch (op.op) {
      case 'acquire':
      case 'sharedAcquire': {
        const run = op.op === 'acquire' ? adapter : shared;
        return grant(side, await run.acquire(names, op.value, op.ttl, { fence: op.fence }));
      }
      case 'extend':
        return await adapter.extend(names, op.value, op.ttl);
      case 'sharedExtend':
        return await shared.extend(names, op.value, op.ttl);
      case 'release':
        return await adapter.release(names, op.value);
      case 'sharedRelease':
        return await shared.release(names, op.value);
      case 'syncFence':
        return await adapter.syncFence(names, op.value, String(side.base + BigInt(op.delta)));
      case 'transfer':
        return await adapter.handOff!.transfer(names, op.value, op.next, op.ttl);
      case 'inspect':
        return ttlOf(await adapter.inspect(names));
    }
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function grant(side: Side, reply: AcquireReply): unknown {
  if (!reply.acquired) return { busy: ttlOf(reply.ttl) };
  return reply.fence === undefined
    ? 'acquired'
    : { fence: String(BigInt(reply.fence) - side.base) };
}

/** A ttl as its kind, and the time itself for the tolerant comparison. */
function ttlOf(ms: number): { ttl: string; ms?: number } {
  return ms < 0 ? { ttl: String(ms) } : { ttl: 'live', ms };
}

/** Equal, except remaining times, which may differ by {@link TOLERANCE}. */
function same(a: unknown, b: unknown): boolean {
  const strip = (reply: unknown): string =>
    JSON.stringify(reply, (key, value: unknown) => (key === 'ms' ? undefined : value));
  if (strip(a) !== strip(b)) return false;
  const times = (reply: unknown): number[] =>
    [...JSON.stringify(reply ?? null).matchAll(/"ms":(-?\d+)/g)].map((m) => Number(m[1]));
  const [ta, tb] = [times(a), times(b)];
  return ta.every((t, i) => Math.abs(t - tb[i]!) <= TOLERANCE);
}

describe('memory store and Redis scripts give the same replies (differential)', () => {
  let fleet: RedisFleet;
  let redis: IoredisLockAdapter;
  let probe: Redis;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 1 });
    const client = new Redis(fleet.urls[0]!, { maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    redis = new IoredisLockAdapter(client, { owned: true });
    await redis.ready(10_000);
    probe = fleet.nodes[0]!.client();
  }, 60_000);

  afterAll(async () => {
    await redis?.close();
    await fleet?.stop();
  });

  it('on random sequences of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 30 }), async (ops) => {
        const run = randomBytes(6).toString('hex');
        const names = Array.from({ length: KEYS }, (_, i) => `diff:{${run}}:k${i}`);
        const memory = new MemoryLockAdapter();
        const sides: Side[] = [
          { adapter: memory, names, base: 0n, notified: names.map(() => 0) },
          {
            adapter: redis,
            names,
            base: BigInt((await probe.get(FENCE_KEY)) ?? 0),
            notified: names.map(() => 0),
          },
        ];
        const stops = await Promise.all(
          sides.flatMap((side) =>
            names.map((name, i) => side.adapter.onRelease([name], () => side.notified[i]!++)),
          ),
        );
        try {
          for (const [step, op] of ops.entries()) {
            if (op.op === 'pause') await new Promise((resolve) => setTimeout(resolve, PAUSE));
            const replies = [await apply(sides[0]!, op), await apply(sides[1]!, op)];
            const states = await Promise.all(
              sides.map((side) =>
                Promise.all(names.map(async (n) => ttlOf(await side.adapter.inspect([n])))),
              ),
            );
            if (!same(replies[0], replies[1]) || !same(states[0], states[1])) {
              throw new Error(
                `step ${step} ${JSON.stringify(op)}\n` +
                  `  memory: ${JSON.stringify(replies[0])}, keys ${JSON.stringify(states[0])}\n` +
                  `  redis:  ${JSON.stringify(replies[1])}, keys ${JSON.stringify(states[1])}`,
              );
            }
          }
          await notificationsAgree(sides, run);
        } finally {
          for (const stop of stops) stop();
          await memory.close();
        }
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});

/**
 * Both stores announced the same releases, per key. Redis messages arrive later but in order on
 * one connection, so once a marker released after the run is heard, every earlier one was.
 */
async function notificationsAgree([memory, redis]: Side[], run: string): Promise<void> {
  const marker = `diff:{${run}}:marker`;
  let heard!: () => void;
  const arrived = new Promise<void>((resolve) => (heard = resolve));
  const stop = await redis!.adapter.onRelease([marker], () => heard());
  let timer: NodeJS.Timeout | undefined;
  try {
    await redis!.adapter.acquire([marker], 'marker', LONG);
    await redis!.adapter.release([marker], 'marker');
    await Promise.race([
      arrived,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the marker notification never came')), 3_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    stop();
  }
  if (JSON.stringify(memory!.notified) !== JSON.stringify(redis!.notified)) {
    throw new Error(
      `release notifications per key: memory ${JSON.stringify(memory!.notified)}, redis ${JSON.stringify(redis!.notified)}`,
    );
  }
}
