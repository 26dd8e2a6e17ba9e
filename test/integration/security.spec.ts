import 'reflect-metadata';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type INestApplication, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { HELPER_KEY_PREFIX } from '../../lib/interfaces/lock-adapter.interface.js';
import {
  createLockAdapter,
  type LockAdapter,
  LockNotAcquiredError,
  Redlock,
  REDLOCK_OPTIONS,
  REDLOCK_POOLS,
  RedlockHealthIndicator,
  RedlockModule,
  type RedlockModuleOptions,
  type RedlockNode,
  RedlockService,
  RedlockUnavailableError,
  WithLock,
} from '../../lib/index.js';
import {
  captureLogs,
  errorRenderings,
  type LogCapture,
  leaks,
  lockKeys,
  logLeaks,
  rejectionOf,
  renderings,
} from '../support/leak-check.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

const SECRET = 'S3cr3t-pass';
/** Password of an ACL user `locker` on the same server. */
const ACL_SECRET = 'Acl-S3cr3t-pw';
const WRONG = 'Wr0ng-S3cr3t';
const SECRETS = [SECRET, ACL_SECRET, WRONG];

let fleet: RedisFleet;
let redis: Redis;
let port: number;

beforeAll(async () => {
  fleet = await startRedisFleet({
    nodes: 1,
    password: SECRET,
    args: ['--user', 'locker', 'on', `>${ACL_SECRET}`, '~*', '&*', '+@all'],
  });
  redis = fleet.nodes[0]!.client();
  port = fleet.nodes[0]!.port;
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

async function startApp(
  options: RedlockModuleOptions,
  logs: LogCapture,
  providers: (new (...args: never[]) => unknown)[] = [],
): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ logger: logs.logger, ...options })],
    providers,
  }).compile();
  const app = ref.createNestApplication({ logger: logs.logger });
  await app.init();
  return app;
}

describe('owner values', () => {
  it('are 128 random bits (22 base64url chars) before the holder tag, unique and unbiased over 100k acquisitions', async () => {
    const redlock = new Redlock([createLockAdapter('memory://owner-values')]);
    const seen = new Set<string>();
    const ones = new Array<number>(128).fill(0);
    const malformed: string[] = [];
    const total = 100_000;
    for (let i = 0; i < total; i += 1) {
      const lock = await redlock.tryAcquire('owner');
      if (!lock) throw new Error(`acquisition ${i} found the resource busy`);
      const value = lock.value;
      if (!/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{8}\.[0-9a-z]{8,9}$/.test(value))
        malformed.push(value);
      seen.add(value);
      // The random part; the rest (instance tag, acquisition time) is public holder information.
      const bytes = Buffer.from(value.split('.')[0]!, 'base64url');
      for (let bit = 0; bit < 128; bit += 1) {
        if ((bytes[bit >> 3]! >> (bit & 7)) & 1) ones[bit]! += 1;
      }
      await lock.release();
    }
    await redlock.close();
    expect(malformed.slice(0, 5)).toEqual([]);
    expect(seen.size).toBe(total);
    // Each bit is set in half the values: 0.5 ± 0.01 is more than 6 standard deviations wide.
    const biased = ones
      .map((count, bit) => ({ bit, share: count / total }))
      .filter(({ share }) => Math.abs(share - 0.5) > 0.01);
    expect(biased).toEqual([]);
  }, 20_000);

  it('do not come from Math.random', async () => {
    const redlock = new Redlock([createLockAdapter('memory://not-math-random')]);
    const random = Math.random;
    Math.random = () => 0.5;
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 1_000; i += 1) {
        const lock = (await redlock.tryAcquire('owner'))!;
        seen.add(lock.value);
        await lock.release();
      }
    } finally {
      Math.random = random;
      await redlock.close();
    }
    expect(seen.size).toBe(1_000);
  });
});

const variants: [string, () => RedlockNode][] = [
  ['a URL with the password', () => fleet.nodes[0]!.url],
  ['a URL with an ACL user and password', () => `redis://locker:${ACL_SECRET}@127.0.0.1:${port}`],
  ['options { host, port, password }', () => ({ host: '127.0.0.1', port, password: SECRET })],
  [
    'options { host, port, username, password }',
    () => ({ host: '127.0.0.1', port, username: 'locker', password: ACL_SECRET }),
  ],
];

describe.each(variants)('credentials given as %s', (_title, node) => {
  const logs = captureLogs();
  let app: INestApplication;
  let closed = false;

  beforeAll(async () => {
    app = await startApp({ nodes: [node()], lock: { ttl: 5_000 } }, logs);
  });

  afterAll(async () => {
    if (!closed) await app?.close();
  });

  it('are used: locks work and the stored owner value is the lock value', async () => {
    const lock = await app.get(RedlockService).acquire('creds:works');
    expect(lock.value).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{8}\.[0-9a-z]{8,9}$/);
    expect(await redis.get('lock:creds:works')).toBe(lock.value);
    expect(await lock.release()).toBe('released');
    expect(await lockKeys(redis)).toEqual([]);
  });

  it('do not show in the resolved options (REDLOCK_OPTIONS)', () => {
    const options: unknown = app.get(REDLOCK_OPTIONS);
    expect(options).toBeDefined();
    expect(leaks(renderings(options), SECRETS)).toEqual([]);
  });

  it('do not show in the pools (REDLOCK_POOLS) nor in their names', () => {
    const pools = app.get<LockAdapter[]>(REDLOCK_POOLS);
    expect(pools.map((pool) => pool.name)).toEqual([`redis://127.0.0.1:${port}/0`]);
    expect(leaks(renderings(pools), SECRETS)).toEqual([]);
    expect(leaks(renderings(pools[0]), SECRETS)).toEqual([]);
  });

  it('do not show in util.inspect of the service, the health indicator or the app, 12 levels deep', () => {
    for (const value of [
      app.get(RedlockService),
      app.get(RedlockHealthIndicator),
      app.get(RedlockService).engine,
    ]) {
      const text = inspect(value, { depth: 12, showHidden: false });
      expect(leaks({ inspect: text }, SECRETS)).toEqual([]);
      expect(leaks(renderings(value), SECRETS)).toEqual([]);
    }
  });

  it('do not show in the health indicator output', async () => {
    const health = await app.get(RedlockHealthIndicator).isHealthy();
    expect(health.redlock?.status).toBe('up');
    expect(health.redlock?.nodes.map((n) => n.node)).toEqual([`redis://127.0.0.1:${port}/0`]);
    expect(leaks(renderings(health), SECRETS)).toEqual([]);
  });

  it('do not show in lock errors nor in the lock itself', async () => {
    const redlock = app.get(RedlockService);
    const held = await redlock.acquire('creds:busy');
    const error = await rejectionOf(redlock.acquire('creds:busy', { wait: 0 }));
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    expect((error as LockNotAcquiredError).nodes).toEqual([
      { node: `redis://127.0.0.1:${port}/0`, outcome: 'taken' },
    ]);
    expect(leaks(errorRenderings(error), SECRETS)).toEqual([]);
    expect(leaks(renderings(held), SECRETS)).toEqual([]);
    await held.release();
  });

  it('do not show in any log line, from startup to shutdown', async () => {
    await app.close();
    closed = true;
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logLeaks(logs.lines, SECRETS)).toEqual([]);
  });
});

describe('a node whose password is wrong', () => {
  const logs = captureLogs();
  let app: INestApplication;

  beforeAll(async () => {
    logs.captureConsole();
    app = await startApp(
      {
        nodes: [`redis://locker:${WRONG}@127.0.0.1:${port}`],
        connectTimeout: 300,
        lock: { wait: 0, nodeTimeout: 200 },
      },
      logs,
    );
  });

  afterAll(async () => {
    await app?.close();
    logs.restore();
  });

  it('fails with RedlockUnavailableError that shows no password', async () => {
    const error = await rejectionOf(app.get(RedlockService).acquire('creds:wrong'));
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    expect((error as RedlockUnavailableError).nodes.map((n) => n.outcome)).toEqual(['error']);
    expect(leaks(errorRenderings(error), SECRETS)).toEqual([]);
  });

  it('reports down in the health output without the password', async () => {
    const health = await app.get(RedlockHealthIndicator).isHealthy('redlock', { timeout: 300 });
    expect(health.redlock?.status).toBe('down');
    // In words a person on call understands, not the client library's internals.
    expect(health.redlock?.nodes[0]?.error).toMatch(/^authentication failed \(WRONGPASS/);
    expect(leaks(renderings(health), SECRETS)).toEqual([]);
  });

  it('keeps the password out of the resolved options', () => {
    expect(leaks(renderings(app.get(REDLOCK_OPTIONS)), SECRETS)).toEqual([]);
  });

  it('keeps the password out of the pools', () => {
    expect(leaks(renderings(app.get(REDLOCK_POOLS)), SECRETS)).toEqual([]);
  });

  it('logs the authentication failure, without the password, in every log line', async () => {
    await app.close();
    expect(logs.lines.join('\n')).toMatch(/WRONGPASS/);
    expect(logLeaks(logs.lines, SECRETS)).toEqual([]);
  });
});

describe('keys stay inside the configured prefix', () => {
  const PREFIX = 'tenant-a:lock:';
  const NEIGHBOUR = 'tenant-b:lock:doc:1';
  const logs = captureLogs();
  let app: INestApplication;
  let service: RedlockService;

  @Injectable()
  class Documents {
    @WithLock('doc:<0>')
    async edit<T>(_id: unknown, inside: () => Promise<T>): Promise<T> {
      return inside();
    }
  }

  beforeAll(async () => {
    app = await startApp({ nodes: [fleet.nodes[0]!.url], keyPrefix: PREFIX }, logs, [Documents]);
    service = app.get(RedlockService);
  });

  beforeEach(async () => {
    await redis.flushdb();
    await redis.set(NEIGHBOUR, 'neighbour', 'PX', 60_000);
  });

  afterAll(async () => {
    await app?.close();
  });

  /** Every key in the database except the neighbour's, sorted. */
  const ours = async (): Promise<string[]> =>
    (await redis.keys('*')).filter((key) => key !== NEIGHBOUR).sort();

  const hostile = [
    '../x',
    '../../tenant-b:lock:doc:1',
    '/tenant-b:lock:doc:1',
    'tenant-b:lock:doc:1',
    '*',
    '?',
    '[a-z]*',
    'a\nb',
    '\r\nFLUSHALL\r\n',
    'x\u0000y',
    '{x}',
    '}',
    '<1>',
    '%2e%2e%2f',
    ' ',
    'ü🔒',
  ];

  it.each(hostile)(
    'resource %j through @WithLock maps to exactly prefix + "doc:" + it',
    async (id) => {
      const documents = app.get(Documents);
      const key = `${PREFIX}doc:${id}`;
      const during = await documents.edit(id, async () => ({
        keys: await ours(),
        value: await redis.get(key),
      }));
      // Our key, plus helper keys (the node's fencing counter) in a namespace no resource can
      // name: they start with a NUL byte, and every resource key starts with the prefix.
      expect(during.keys.filter((name) => !name.startsWith(HELPER_KEY_PREFIX))).toEqual([key]);
      expect(during.value).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{8}\.[0-9a-z]{8,9}$/);
      expect(await redis.exists(key)).toBe(0);
      expect(await redis.get(NEIGHBOUR)).toBe('neighbour');
      for (const left of await ours()) expect(left.startsWith(HELPER_KEY_PREFIX)).toBe(true);
    },
  );

  it('glob characters are literal: isLocked("*") and a release of "*" touch no other key', async () => {
    const held = await service.acquire('doc:1');
    expect(await service.isLocked('*')).toBe(false);
    expect(await service.isLocked('doc:?')).toBe(false);
    expect(await service.isLocked('doc:[0-9]')).toBe(false);
    const star = await service.acquire('*');
    expect(await redis.get(`${PREFIX}*`)).toBe(star.value);
    expect(await star.release()).toBe('released');
    expect(await redis.get(`${PREFIX}doc:1`)).toBe(held.value);
    expect(await redis.get(NEIGHBOUR)).toBe('neighbour');
    await held.release();
    expect(await lockKeys(redis, PREFIX)).toEqual([]);
  });

  it("another tenant's key cannot be locked, extended or released from this prefix", async () => {
    const lock = await service.acquire('../../tenant-b:lock:doc:1');
    await lock.extend(10_000);
    expect(await redis.get(NEIGHBOUR)).toBe('neighbour');
    expect(await redis.pttl(NEIGHBOUR)).toBeLessThanOrEqual(60_000);
    expect(await lock.release()).toBe('released');
    expect(await redis.get(NEIGHBOUR)).toBe('neighbour');
    expect(await service.isLocked('tenant-b:lock:doc:1')).toBe(false);
  });
});
