import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type INestApplication, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { lastValueFrom, Observable, tap } from 'rxjs';
import {
  LockKeyError,
  LockLostError,
  type LockOptions,
  RedlockConfigError,
  RedlockModule,
  type RedlockModuleOptions,
  type RedlockNode,
  RedlockService,
  RedlockUnavailableError,
  WithLock,
} from '../../lib/index.js';
import { RedlockTestingModule } from '../../lib/testing/redlock-testing.module.js';
import { eventually } from '../support/adapters.js';
import { deferred } from '../support/deferred.js';
import { findFreePort, releasePort } from '../support/free-port.js';
import {
  captureLogs,
  errorRenderings,
  leaks,
  lockKeys,
  logLeaks,
  rejectionOf,
  thrownBy,
} from '../support/leak-check.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/** The password of the fleet: every configuration below carries it, none may print it. */
const SECRET = 'B4d-Input-S3cret';
/** A password with an `@`, which a naive `//[^@]*@` redaction cuts in the middle. */
const AT_SECRET = 'Adm1n@Tail-S3cret';
/** A wrong password, as secret as the right one. */
const WRONG = 'Wr0ng-Pa55word';
const SECRETS = [SECRET, AT_SECRET, WRONG];

const logs = captureLogs();

/** The fleet's node URL, `redis://:B4d-Input-S3cret@127.0.0.1:PORT`. */
let url: string;
let port: number;
let fleet: RedisFleet;
let redis: Redis;
let app: INestApplication;
let service: RedlockService;

@Injectable()
class Orders {
  calls = 0;

  @WithLock('order:<0>')
  byArg(_id: unknown): string {
    this.calls += 1;
    return 'ran';
  }

  @WithLock('order:<0.customer.id>')
  byPath(_order: unknown): string {
    this.calls += 1;
    return 'ran';
  }

  @WithLock((id: unknown) => id as string)
  byFunction(_id: unknown): string {
    this.calls += 1;
    return 'ran';
  }

  /** Emits 1, then errors with whatever `failure` resolves to. */
  @WithLock('stream:<0>')
  stream(_id: string, failure: Promise<Error>): Observable<number> {
    this.calls += 1;
    return new Observable<number>((subscriber) => {
      subscriber.next(1);
      void failure.then((error) => subscriber.error(error));
    });
  }
}

/** Fails the test when the error or any log line so far shows a credential. */
function expectNoCredentials(error: unknown): void {
  expect(leaks(errorRenderings(error), SECRETS)).toEqual([]);
  expect(logLeaks(logs.lines, SECRETS)).toEqual([]);
}

/** Nothing of ours in Redis at all: no lock key and no helper key (fence counter). */
async function expectNothingSent(): Promise<void> {
  expect(await redis.keys('*lock:*')).toEqual([]);
}

/**
 * Builds an application importing `module` and returns what building it rejected with: the
 * module's provider factory throws configuration errors, so `compile()` (and `NestFactory
 * .create()`) fail with the error itself, before any client is opened.
 */
async function initError(module: ReturnType<typeof RedlockModule.forRoot>): Promise<unknown> {
  return rejectionOf(Test.createTestingModule({ imports: [module] }).compile());
}

async function startApp(
  node: RedlockNode,
  options: Partial<RedlockModuleOptions> = {},
): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: [node], logger: logs.logger, ...options })],
    providers: [Orders],
  }).compile();
  const nest = ref.createNestApplication({ logger: logs.logger });
  await nest.init();
  return nest;
}

beforeAll(async () => {
  logs.captureConsole();
  fleet = await startRedisFleet({ nodes: 1, password: SECRET });
  url = fleet.nodes[0]!.url;
  port = fleet.nodes[0]!.port;
  expect(url).toContain(SECRET);
  redis = fleet.nodes[0]!.client();
  app = await startApp(url);
  service = app.get(RedlockService);
}, 30_000);

beforeEach(async () => {
  await redis.flushdb();
  app.get(Orders).calls = 0;
});

afterAll(async () => {
  await app?.close();
  await fleet?.stop();
  logs.restore();
});

interface ConfigCase {
  title: string;
  options: () => unknown;
  /** The option the error must name (`RedlockConfigError.option`). */
  option: string;
  /** What else the message must say: the bad value, the accepted range. */
  mentions: RegExp[];
}

const withLock = (lock: Record<string, unknown>) => () => ({ nodes: [url], lock });

const configCases: ConfigCase[] = [
  {
    title: 'nodes: []',
    options: () => ({ nodes: [] }),
    option: 'nodes',
    mentions: [/at least one node/],
  },
  {
    title: 'nodes missing',
    options: () => ({}),
    option: 'nodes',
    mentions: [/at least one node/, /undefined/],
  },
  {
    title: 'a malformed URL (port "notaport")',
    options: () => ({ nodes: [url, `redis://:${SECRET}@127.0.0.1:notaport`] }),
    option: 'nodes[1]',
    mentions: [/not a URL/, /redis:\/\/host:port/],
  },
  {
    title: 'a malformed URL whose password contains "@"',
    options: () => ({ nodes: [`redis://admin:${AT_SECRET}@127.0.0.1:notaport`] }),
    option: 'nodes[0]',
    mentions: [/not a URL/],
  },
  {
    title: 'an unsupported scheme (http://)',
    options: () => ({ nodes: [`http://admin:${SECRET}@127.0.0.1:6380`] }),
    option: 'nodes[0]',
    mentions: [/unsupported scheme "http:"/, /redis:\/\//],
  },
  {
    title: 'an unsupported scheme whose password contains "@"',
    options: () => ({ nodes: [`mongodb://admin:${AT_SECRET}@127.0.0.1:6380`] }),
    option: 'nodes[0]',
    mentions: [/unsupported scheme "mongodb:"/],
  },
  {
    title: 'a node that is a number',
    options: () => ({ nodes: [url, 42] }),
    option: 'nodes[1]',
    mentions: [/expected a URL/, /42/],
  },
  {
    title: 'node options with port 70000 (and a password)',
    options: () => ({ nodes: [{ host: '127.0.0.1', port: 70_000, password: SECRET }] }),
    option: 'nodes[0].port',
    mentions: [/1-65535/, /70000/],
  },
  { title: 'lock.ttl: 0', options: withLock({ ttl: 0 }), option: 'lock.ttl', mentions: [/got 0$/] },
  {
    title: 'lock.ttl: -1',
    options: withLock({ ttl: -1 }),
    option: 'lock.ttl',
    mentions: [/got -1$/],
  },
  {
    title: 'lock.ttl: NaN',
    options: withLock({ ttl: NaN }),
    option: 'lock.ttl',
    mentions: [/got NaN$/],
  },
  {
    title: 'lock.ttl: Infinity',
    options: withLock({ ttl: Infinity }),
    option: 'lock.ttl',
    mentions: [/got Infinity$/],
  },
  {
    title: 'lock.ttl: 1.5 (not whole ms)',
    options: withLock({ ttl: 1.5 }),
    option: 'lock.ttl',
    mentions: [/whole number/, /got 1\.5$/],
  },
  {
    title: "lock.ttl: '1000' (a string)",
    options: withLock({ ttl: '1000' }),
    option: 'lock.ttl',
    mentions: [/got "1000"$/],
  },
  {
    title: 'lock.wait: -1',
    options: withLock({ wait: -1 }),
    option: 'lock.wait',
    mentions: [/>= 0/, /got -1$/],
  },
  {
    title: 'lock.driftFactor: 1',
    options: withLock({ driftFactor: 1 }),
    option: 'lock.driftFactor',
    mentions: [/\[0, 1\)/, /got 1$/],
  },
  {
    title: 'lock.driftFactor: -0.01',
    options: withLock({ driftFactor: -0.01 }),
    option: 'lock.driftFactor',
    mentions: [/\[0, 1\)/, /got -0\.01$/],
  },
  {
    title: 'lock.retryCount: 0',
    options: withLock({ retryCount: 0 }),
    option: 'lock.retryCount',
    mentions: [/whole number of attempts/, /got 0$/],
  },
  {
    title: 'lock.retryCount: -1',
    options: withLock({ retryCount: -1 }),
    option: 'lock.retryCount',
    mentions: [/got -1$/],
  },
  {
    title: 'lock.retryCount: 1.5',
    options: withLock({ retryCount: 1.5 }),
    option: 'lock.retryCount',
    mentions: [/got 1\.5$/],
  },
  {
    title: 'lock.retryCount: 1e12',
    options: withLock({ retryCount: 1e12 }),
    option: 'lock.retryCount',
    mentions: [/or Infinity/, /got 1000000000000$/],
  },
  {
    title: 'lock.nodeTimeout equal to lock.ttl',
    options: withLock({ ttl: 1_000, nodeTimeout: 1_000 }),
    option: 'lock.nodeTimeout',
    mentions: [/below ttl \(1000\)/, /got 1000$/],
  },
  {
    title: 'lock.nodeTimeout above the default ttl',
    options: withLock({ nodeTimeout: 20_000 }),
    option: 'lock.nodeTimeout',
    mentions: [/below ttl \(10000\)/, /got 20000$/],
  },
  {
    title: 'lock.retryDelay: -5',
    options: withLock({ retryDelay: -5 }),
    option: 'lock.retryDelay',
    mentions: [/>= 0 or a function/, /got -5$/],
  },
  {
    title: 'keyPrefix: 42',
    options: () => ({ nodes: [url], keyPrefix: 42 }),
    option: 'keyPrefix',
    mentions: [/expected a string/, /got 42$/],
  },
  {
    title: 'keyPrefix: an object',
    options: () => ({ nodes: [url], keyPrefix: { prefix: 'lock:' } }),
    option: 'keyPrefix',
    mentions: [/expected a string/, /object/],
  },
  {
    title: 'shutdownTimeout: -1',
    options: () => ({ nodes: [url], shutdownTimeout: -1 }),
    option: 'shutdownTimeout',
    mentions: [/whole milliseconds >= 0/, /got -1$/],
  },
  {
    title: "allowMemoryInProduction: 'yes'",
    options: () => ({ nodes: [url], allowMemoryInProduction: 'yes' }),
    option: 'allowMemoryInProduction',
    mentions: [/expected true or false/, /got "yes"$/],
  },
  {
    title: 'an empty node (a trailing comma in REDLOCK_NODES)',
    options: () => ({ nodes: `${url},`.split(',') }),
    option: 'nodes[1]',
    mentions: [/empty string/, /trailing comma/],
  },
  {
    title: 'a URL with a space inside (a password is never shown)',
    options: () => ({ nodes: [`redis://:${SECRET}@127.0.0.1 :6379`] }),
    option: 'nodes[0]',
    mentions: [/not a URL/],
  },
  {
    title: 'nodes given as one comma-separated string',
    options: () => ({ nodes: `${url},${url}` }),
    option: 'nodes',
    mentions: [/give an array of nodes/],
  },
  {
    title: 'connectTimeout: -1',
    options: () => ({ nodes: [url], connectTimeout: -1 }),
    option: 'connectTimeout',
    mentions: [/>= 0/, /got -1$/],
  },
  {
    // Accepted before, then a TypeError at the first log line.
    title: 'logger: console.log (a function, not a logger)',
    options: () => ({ nodes: [url], logger: console.log }),
    option: 'logger',
    mentions: [/log, warn and error methods/, /got a function$/],
  },
];

describe('bad module options fail the build of the app with RedlockConfigError', () => {
  it.each(configCases)('$title', async ({ options, option, mentions }) => {
    const raw = options() as RedlockModuleOptions;
    const error = await initError(RedlockModule.forRoot({ logger: logs.logger, ...raw }));
    expect(error).toBeInstanceOf(RedlockConfigError);
    const { message } = error as RedlockConfigError;
    expect((error as RedlockConfigError).option).toBe(option);
    expect(message).toContain(`Invalid option ${option}:`);
    for (const mention of mentions) expect(message).toMatch(mention);
    expectNoCredentials(error);
    await expectNothingSent();
  });

  it('forRootAsync: a factory returning lock.ttl: -1', async () => {
    const error = await initError(
      RedlockModule.forRootAsync({
        useFactory: () => Promise.resolve({ nodes: [url], lock: { ttl: -1 }, logger: logs.logger }),
      }),
    );
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('lock.ttl');
    expectNoCredentials(error);
    await expectNothingSent();
  });

  it.each([
    ['forRoot(null)', () => RedlockModule.forRoot(null as never)],
    ['forRoot(undefined)', () => RedlockModule.forRoot(undefined as never)],
    ['forRootAsync(null)', () => RedlockModule.forRootAsync(null as never)],
    ['forRootAsync({}) without a factory', () => RedlockModule.forRootAsync({})],
    [
      'forRootAsync({ useFactory: 5 })',
      () => RedlockModule.forRootAsync({ useFactory: 5 as never }),
    ],
    ['RedlockTestingModule.forRoot(null)', () => RedlockTestingModule.forRoot(null as never)],
  ])('%s throws RedlockConfigError where the module is imported', (_title, declare) => {
    // Each would otherwise throw a TypeError reading the options' keys.
    expect(declare).toThrow(RedlockConfigError);
  });

  it('forRootAsync: a factory resolving to null fails the build with RedlockConfigError', async () => {
    const error = await initError(RedlockModule.forRootAsync({ useFactory: () => null as never }));
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('options');
    await expectNothingSent();
  });
});

describe('node lists as they come from the environment', () => {
  const saved = process.env.NODE_ENV;
  afterAll(() => {
    process.env.NODE_ENV = saved;
  });

  it('trims the spaces around comma-separated URLs and names the nodes without the password', async () => {
    // As REDLOCK_NODES="redis://:pw@host:port, memory://second".split(',') gives them.
    const nodes = ` ${url} ,\tmemory://second `.split(',');
    const nest = await startApp(nodes[0]!, { nodes });
    try {
      const names = nest.get(RedlockService).engine.adapters.map((adapter) => adapter.name);
      expect(names).toEqual([`redis://127.0.0.1:${port}/0`, 'memory://second']);
      const lock = await nest.get(RedlockService).acquire('trimmed');
      expect(await redis.get('lock:trimmed')).toBe(lock.value);
      await lock.release();
      expect(logLeaks(logs.lines, SECRETS)).toEqual([]);
    } finally {
      await nest.close();
    }
  });

  it('refuses memory:// when NODE_ENV is production, naming the node and the way out', async () => {
    process.env.NODE_ENV = 'production';
    const error = await initError(RedlockModule.forRoot({ nodes: ['memory://'], logger: false }));
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('nodes[0]');
    expect((error as Error).message).toMatch(/NODE_ENV is production/);
    expect((error as Error).message).toMatch(/allowMemoryInProduction: true/);
  });

  it('starts on memory:// in production when allowMemoryInProduction is true, and elsewhere', async () => {
    for (const [env, allow] of [
      ['production', true],
      ['development', false],
      [undefined, false],
    ] as const) {
      if (env === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = env;
      const ref = await Test.createTestingModule({
        imports: [
          RedlockModule.forRoot({
            nodes: ['memory://'],
            allowMemoryInProduction: allow,
            logger: false,
          }),
        ],
      }).compile();
      const nest = ref.createNestApplication({ logger: false });
      await nest.init();
      expect(await nest.get(RedlockService).isLocked('x')).toBe(false);
      await nest.close();
    }
  });
});

describe('bad lock options per call and per decorator', () => {
  it('acquire(resource, { ttl: NaN }) rejects with RedlockConfigError naming ttl', async () => {
    const error = await rejectionOf(service.acquire('per-call', { ttl: NaN }));
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('ttl');
    expect((error as Error).message).toMatch(/got NaN$/);
    expectNoCredentials(error);
    await expectNothingSent();
  });

  it('acquire(resource, { signal: "stop" }) rejects with RedlockConfigError naming signal', async () => {
    const options = { signal: 'stop' } as unknown as LockOptions;
    const error = await rejectionOf(service.acquire('per-call', options));
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('signal');
    expect((error as Error).message).toMatch(/AbortSignal/);
    await expectNothingSent();
  });

  it("@WithLock(key, { onBusy: 'wait' }) throws RedlockConfigError at decoration time", () => {
    const error = thrownBy(() => {
      class Jobs {
        @WithLock('jobs:report', { onBusy: 'wait' as 'skip' })
        report(): void {}
      }
      return Jobs;
    });
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('onBusy');
    expect((error as Error).message).toMatch(/'throw' or 'skip'.*"wait"/);
  });

  it('@WithLock(key, { ttl: -1 }) throws RedlockConfigError naming @WithLock.ttl at decoration time', () => {
    const error = thrownBy(() => WithLock('jobs:report', { ttl: -1 }));
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe('@WithLock.ttl');
  });
});

describe('bad resources and keys', () => {
  it("acquire('') rejects with LockKeyError", async () => {
    const error = await rejectionOf(service.acquire(''));
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(/non-empty string, got ""/);
    expectNoCredentials(error);
    await expectNothingSent();
  });

  it('a key over 1024 bytes with the prefix (515 two-byte characters) is rejected, not truncated', async () => {
    const resource = 'é'.repeat(510); // 1020 bytes + 'lock:' = 1025
    const error = await rejectionOf(service.acquire(resource));
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(/1025 bytes; the limit is 1024 \(prefix included\)/);
    expect((error as Error).message).toMatch(/shorter name or a hash/);
    expectNoCredentials(error);
    await expectNothingSent();
  });

  it('a key of exactly 1024 bytes with the prefix is accepted as is', async () => {
    const resource = 'a'.repeat(1024 - 'lock:'.length);
    const lock = await service.acquire(resource);
    expect(await redis.get(`lock:${resource}`)).toBe(lock.value);
    expect(await lock.release()).toBe('released');
    expect(await lockKeys(redis)).toEqual([]);
  });

  it('a non-string resource (42) rejects with LockKeyError', async () => {
    const error = await rejectionOf(service.acquire(42 as unknown as string));
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(/non-empty string, got 42/);
    await expectNothingSent();
  });

  it('an empty resource list rejects with LockKeyError', async () => {
    const error = await rejectionOf(service.acquire([]));
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(/at least one resource/);
    await expectNothingSent();
  });

  it('a list with one bad resource locks none of them', async () => {
    const error = await rejectionOf(service.acquire(['fine', null as unknown as string]));
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(/got null/);
    await expectNothingSent();
  });

  it("a key function returning '' throws LockKeyError before the method runs", async () => {
    const orders = app.get(Orders);
    const error = await rejectionOf(Promise.resolve().then(() => orders.byFunction('')));
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(/key function must return non-empty strings/);
    expect(orders.calls).toBe(0);
    await expectNothingSent();
  });
});

describe('key template placeholders that resolve to no usable value', () => {
  const cases: {
    title: string;
    call: (orders: Orders) => unknown;
    placeholder: string;
    got: RegExp;
  }[] = [
    { title: 'undefined', call: (o) => o.byArg(undefined), placeholder: '<0>', got: /undefined/ },
    {
      title: 'null (on a property path)',
      call: (o) => o.byPath({ customer: null }),
      placeholder: '<0.customer.id>',
      got: /undefined/,
    },
    { title: "''", call: (o) => o.byArg(''), placeholder: '<0>', got: /""/ },
    { title: 'an object', call: (o) => o.byArg({ id: 7 }), placeholder: '<0>', got: /an object/ },
    {
      title: 'a symbol',
      call: (o) => o.byArg(Symbol('id')),
      placeholder: '<0>',
      got: /Symbol\(id\)/,
    },
    { title: 'NaN', call: (o) => o.byArg(NaN), placeholder: '<0>', got: /NaN/ },
  ];

  it.each(cases)(
    '$title throws LockKeyError before the method runs',
    async ({ call, placeholder, got }) => {
      const orders = app.get(Orders);
      const error = await rejectionOf(Promise.resolve().then(() => call(orders)));
      expect(error).toBeInstanceOf(LockKeyError);
      const { message } = error as Error;
      expect(message).toContain(`Key placeholder ${placeholder} resolved to`);
      expect(message).toMatch(got);
      expect(message).toMatch(/Point it at a property/);
      expect(orders.calls).toBe(0);
      expectNoCredentials(error);
      await expectNothingSent();
    },
  );
});

describe('malformed key templates fail at decoration time with LockKeyError', () => {
  const templates: [string, string | string[], RegExp][] = [
    ["'order:<x>' (not an argument index)", 'order:<x>', /Malformed key template "order:<x>"/],
    ["'order:<0' (unclosed)", 'order:<0', /Malformed key template "order:<0"/],
    ["'order:0>' (stray >)", 'order:0>', /Malformed key template "order:0>"/],
    [
      "'order:<0.>' (empty property)",
      ['ok:<0>', 'order:<0.>'],
      /Malformed key template "order:<0\.>"/,
    ],
    ["'' (empty template)", '', /non-empty string, got ""/],
  ];

  it.each(templates)('%s', (_title, template, message) => {
    const error = thrownBy(() => {
      class Orders2 {
        @WithLock(template)
        pay(_id: string): void {}
      }
      return Orders2;
    });
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as Error).message).toMatch(message);
    if (!/non-empty/.test(String(message))) {
      expect((error as Error).message).toMatch(/placeholders look like <0> or <1\.user\.id>/);
    }
  });
});

describe('runtime misuse', () => {
  it('a held lock, logged or serialised, shows its public state and neither its owner value nor the password', async () => {
    const lock = await service.acquire('misuse:logged', { fencing: true });
    try {
      const renderings = {
        json: JSON.stringify(lock),
        inspect: inspect(lock),
        deep: inspect(lock, { depth: Infinity, showHidden: true }),
        nested: inspect({ nested: [lock] }, { depth: Infinity }),
      };
      expect(leaks(renderings, [...SECRETS, lock.value])).toEqual([]);
      expect(JSON.parse(JSON.stringify(lock))).toEqual({
        resources: ['misuse:logged'],
        mode: 'write',
        permits: 1,
        expiresAt: lock.expiresAt,
        held: true,
      });
      expect(inspect(lock)).toContain("resources: [ 'misuse:logged' ]");
    } finally {
      await lock.release();
    }
  });

  it('release() twice is idempotent and answers the same status', async () => {
    const lock = await service.acquire('misuse:release-twice');
    const first = await lock.release();
    const second = await lock.release();
    expect(first).toBe('released');
    expect(second).toBe(first);
    expect(await lockKeys(redis)).toEqual([]);
  });

  it('extend() after release() rejects with LockLostError saying it was released', async () => {
    const lock = await service.acquire('misuse:extend-released');
    await lock.release();
    const error = await rejectionOf(lock.extend());
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(/misuse:extend-released.*already released/);
    expect(await lockKeys(redis)).toEqual([]);
    expectNoCredentials(error);
  });

  it('extend() after expiry rejects with LockLostError and does not bring the key back', async () => {
    const lock = await service.acquire('misuse:extend-expired', { ttl: 100 });
    await sleep(200);
    expect(lock.isHeld()).toBe(false);
    const error = await rejectionOf(lock.extend(10_000));
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(/misuse:extend-expired.*expired/);
    expect(lock.signal.aborted).toBe(true);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(await lockKeys(redis)).toEqual([]);
    expect(await lock.release()).toBe('expired');
    expectNoCredentials(error);
  });

  it("release() by a former owner answers 'taken' and leaves the new owner's key intact", async () => {
    const former = await service.acquire('misuse:foreign', { ttl: 100 });
    await sleep(150);
    const owner = await service.acquire('misuse:foreign', { ttl: 10_000 });
    expect(await former.release()).toBe('taken');
    expect(await redis.get('lock:misuse:foreign')).toBe(owner.value);
    expect(await redis.pttl('lock:misuse:foreign')).toBeGreaterThan(9_000);
    expect(owner.isHeld()).toBe(true);
    expect(await owner.release()).toBe('released');
    expect(await lockKeys(redis)).toEqual([]);
  });

  it('a using() callback that throws: the same error propagates and the lock is released', async () => {
    const boom = new Error('callback failed');
    let heldValue: string | null = null;
    const error = await rejectionOf(
      service.using('misuse:using-throws', async (lock) => {
        heldValue = await redis.get('lock:misuse:using-throws');
        expect(heldValue).toBe(lock.value);
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(heldValue).not.toBeNull();
    expect(await lockKeys(redis)).toEqual([]);
  });

  it('an Observable from a @WithLock method that errors: the error reaches the subscriber and the lock is released', async () => {
    const orders = app.get(Orders);
    const failure = deferred<Error>();
    const firstValue = deferred();
    const boom = new Error('stream failed');
    const done = lastValueFrom(
      orders.stream('s1', failure.promise).pipe(tap(() => firstValue.resolve())),
    );
    await firstValue.promise;
    expect(await redis.get('lock:stream:s1')).not.toBeNull(); // held while the stream runs
    failure.resolve(boom);
    expect(await rejectionOf(done)).toBe(boom);
    await eventually(async () => (await lockKeys(redis)).length === 0, 2_000, 'the release');
    expect(orders.calls).toBe(1);
  });

  it('an AbortSignal aborted before the call rejects with its reason and sends nothing', async () => {
    const reason = new Error('the caller gave up');
    const error = await rejectionOf(
      service.acquire('misuse:abort-before', { signal: AbortSignal.abort(reason) }),
    );
    expect(error).toBe(reason);
    await expectNothingSent();
  });

  it('an AbortSignal aborted during the wait rejects with its reason promptly and takes nothing', async () => {
    const holder = await service.acquire('misuse:abort-during', { ttl: 10_000 });
    const controller = new AbortController();
    const reason = new Error('request cancelled');
    const started = performance.now();
    const waiting = rejectionOf(
      service.acquire('misuse:abort-during', { wait: 5_000, signal: controller.signal }),
    );
    setTimeout(() => controller.abort(reason), 150);
    expect(await waiting).toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await redis.get('lock:misuse:abort-during')).toBe(holder.value);
    expect(await holder.release()).toBe('released');
    await sleep(100); // an abandoned waiter must not take the lock once it is free
    expect(await lockKeys(redis)).toEqual([]);
  });
});

describe('connections that cannot work', () => {
  /** Acquires on a fresh app with `node`; returns the error and how long `acquire` took. */
  async function failingAcquire(
    node: RedlockNode,
    resource: string,
    lock: LockOptions = { wait: 0, nodeTimeout: 200 },
  ): Promise<{ error: unknown; elapsed: number; lines: string[] }> {
    const before = logs.lines.length;
    const nest = await startApp(node, { connectTimeout: 300, lock });
    try {
      const started = performance.now();
      const error = await rejectionOf(nest.get(RedlockService).acquire(resource));
      const elapsed = performance.now() - started;
      return { error, elapsed, lines: logs.lines.slice(before) };
    } finally {
      await nest.close();
    }
  }

  /** What the caller sees about the cause: the message and each node's message. */
  const explanation = (error: unknown): string =>
    [
      (error as RedlockUnavailableError).message,
      ...(error as RedlockUnavailableError).nodes.map((node) => node.message ?? ''),
    ].join('\n');

  it('a wrong password: RedlockUnavailableError quickly, outcome error, no password anywhere', async () => {
    const { error, elapsed, lines } = await failingAcquire(
      `redis://:${WRONG}@127.0.0.1:${port}`,
      'conn:wrong-password',
    );
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    const unavailable = error as RedlockUnavailableError;
    expect(unavailable.resources).toEqual(['conn:wrong-password']);
    expect(unavailable.nodes).toEqual([
      expect.objectContaining({ node: `redis://127.0.0.1:${port}/0`, outcome: 'error' }),
    ]);
    expect(elapsed).toBeLessThan(1_000);
    expect(lines.join('\n')).toMatch(/WRONGPASS|invalid password/i);
    expect(explanation(error)).toMatch(/WRONGPASS|invalid password|auth/i);
    expectNoCredentials(error);
    expect(await redis.keys('*')).toEqual([]);
  });

  it('no password against a requirepass server: RedlockUnavailableError naming NOAUTH', async () => {
    const { error, elapsed, lines } = await failingAcquire(
      { host: '127.0.0.1', port },
      'conn:no-password',
    );
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    expect((error as RedlockUnavailableError).nodes.map((n) => n.outcome)).toEqual(['error']);
    expect(elapsed).toBeLessThan(1_000);
    expect(lines.join('\n')).toMatch(/NOAUTH/);
    expect(explanation(error)).toMatch(/NOAUTH|auth/i);
    expectNoCredentials(error);
    expect(await redis.keys('*')).toEqual([]);
  });

  it('an unreachable node (nothing listens on the port): RedlockUnavailableError naming the refusal', async () => {
    const free = await findFreePort();
    try {
      const { error, elapsed } = await failingAcquire(
        `redis://:${SECRET}@127.0.0.1:${free}`,
        'conn:unreachable',
      );
      expect(error).toBeInstanceOf(RedlockUnavailableError);
      const unavailable = error as RedlockUnavailableError;
      expect(unavailable.nodes).toEqual([
        expect.objectContaining({ node: `redis://127.0.0.1:${free}/0`, outcome: 'error' }),
      ]);
      expect(elapsed).toBeLessThan(1_000);
      expect(explanation(error)).toMatch(/ECONNREFUSED|refused|not connected|connect/i);
      expectNoCredentials(error);
    } finally {
      releasePort(free);
    }
  });

  it('an unreachable node with a 1 s wait: still settles with RedlockUnavailableError within the wait', async () => {
    const free = await findFreePort();
    try {
      const { error, elapsed } = await failingAcquire(
        `redis://:${SECRET}@127.0.0.1:${free}`,
        'conn:unreachable-wait',
        { wait: 1_000, nodeTimeout: 200 },
      );
      expect(error).toBeInstanceOf(RedlockUnavailableError);
      expect(elapsed).toBeLessThan(2_000);
      expectNoCredentials(error);
    } finally {
      releasePort(free);
    }
  });

  it('TLS (rediss://) against a plain port: RedlockUnavailableError within a bound, no hang', async () => {
    const { error, elapsed } = await failingAcquire(
      `rediss://:${SECRET}@127.0.0.1:${port}`,
      'conn:tls-on-plain',
    );
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    const unavailable = error as RedlockUnavailableError;
    expect(unavailable.nodes).toEqual([
      expect.objectContaining({ node: `rediss://127.0.0.1:${port}/0` }),
    ]);
    expect(['error', 'timeout']).toContain(unavailable.nodes[0]!.outcome);
    expect(elapsed).toBeLessThan(1_000);
    expectNoCredentials(error);
    expect(await redis.keys('*')).toEqual([]);
  });
});
