import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, Module, Param, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  type LockAdapter,
  LockNotAcquiredError,
  REDLOCK_POOLS,
  RedlockError,
  RedlockModule,
  RedlockService,
  WithLock,
} from '../../lib/index.js';
import {
  describeLockAdapterContract,
  ManualClock,
  MemoryLockAdapter,
  RedlockTestingModule,
} from '../../lib/testing/index.js';
import { AppModule } from '../../sample-app/app.module.js';
import { deferred } from '../support/deferred.js';
import { call, PLATFORMS, type RunningApp, startOn } from './support/platforms.js';

/** A provider as an application writes it: a locked method that reads its own lock. */
@Injectable()
class Ledger {
  inFlight = 0;
  maxInFlight = 0;
  readonly tokens: bigint[] = [];
  hold = Promise.resolve();

  constructor(private readonly redlock: RedlockService) {}

  @WithLock('account:<0>', { fencing: true })
  async post(account: string): Promise<string> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const lock = this.redlock.currentLock(`account:${account}`)!;
    this.tokens.push(BigInt(lock.fencingToken));
    await this.hold;
    this.inFlight -= 1;
    return lock.resources[0]!;
  }
}

describe('RedlockTestingModule in a unit test', () => {
  it('locks really exclude, and a locked method reaches its lock through currentLock()', async () => {
    const ref = await Test.createTestingModule({
      imports: [RedlockTestingModule.forRoot()],
      providers: [Ledger],
    }).compile();
    await ref.init();
    const ledger = ref.get(Ledger);
    const gate = deferred();
    ledger.hold = gate.promise;
    const calls = [ledger.post('1'), ledger.post('1'), ledger.post('1'), ledger.post('2')];
    await new Promise((resolve) => setImmediate(resolve));
    // account:1 and account:2 run side by side; the other two account:1 calls wait.
    expect(ledger.inFlight).toBe(2);
    gate.resolve();
    expect(await Promise.all(calls)).toEqual(['account:1', 'account:1', 'account:1', 'account:2']);
    expect(ledger.maxInFlight).toBe(2);
    const ones = ledger.tokens.filter((_, i) => i !== 1);
    for (let i = 1; i < ones.length; i += 1) expect(ones[i]! > ones[i - 1]!).toBe(true);
    expect(ref.get<LockAdapter[]>(REDLOCK_POOLS).map((pool) => pool.name)).toEqual([
      'memory://testing',
    ]);
    await ref.close();
  });

  it('with a ManualClock, ttls and waits run on test time, without sleeping', async () => {
    const clock = new ManualClock();
    const ref = await Test.createTestingModule({
      imports: [RedlockTestingModule.forRoot({ clock })],
    }).compile();
    await ref.init();
    const redlock = ref.get(RedlockService);
    const held = await redlock.acquire('report', { ttl: 60_000 });
    await expect(redlock.acquire('report', { wait: 0 })).rejects.toBeInstanceOf(
      LockNotAcquiredError,
    );
    // A waiter with a 2-minute wait: it gets the lock when the holder's ttl runs out.
    const waiter = redlock.acquire('report', { ttl: 10_000, wait: 120_000 });
    let settled = false;
    void waiter.then(() => (settled = true));
    await clock.advance(59_000);
    expect(settled).toBe(false);
    expect(held.isHeld()).toBe(true);
    await clock.advance(1_500);
    expect(held.isHeld()).toBe(false);
    const next = await waiter;
    expect(next.isHeld()).toBe(true);
    await clock.advance(10_000);
    expect(next.isHeld()).toBe(false);
    await ref.close();
  });

  it('two applications on one shared store exclude each other, like two instances', async () => {
    const store = new MemoryLockAdapter({ name: 'memory://shared' });
    const build = async () => {
      const ref = await Test.createTestingModule({
        imports: [RedlockTestingModule.forRoot({ store })],
      }).compile();
      await ref.init();
      return ref;
    };
    const [one, two] = await Promise.all([build(), build()]);
    const lock = await one.get(RedlockService).acquire('nightly');
    expect(await two.get(RedlockService).tryAcquire('nightly')).toBeNull();
    await lock.release();
    const again = await two.get(RedlockService).tryAcquire('nightly');
    expect(again).not.toBeNull();
    await again!.release();
    await Promise.all([one.close(), two.close()]);
    await store.close();
  });
});

describe('a @WithLock method without a working RedlockService fails closed, naming the way out', () => {
  const cases: [string, unknown[]][] = [
    ['RedlockService mocked with useValue: {}', [{ provide: RedlockService, useValue: {} }]],
    [
      'RedlockService auto-mocked (every member a function returning undefined)',
      [
        {
          provide: RedlockService,
          useValue: new Proxy(
            {},
            { get: (_target, property) => (property === 'then' ? undefined : () => undefined) },
          ),
        },
      ],
    ],
    ['no RedlockService at all', []],
  ];

  it.each(cases)('%s', async (_title, extra) => {
    @Injectable()
    class Jobs {
      runs = 0;

      @WithLock('job')
      run(): Promise<void> {
        this.runs += 1;
        return Promise.resolve();
      }
    }
    const ref = await Test.createTestingModule({
      providers: [Jobs, ...(extra as [])],
    }).compile();
    const jobs = ref.get(Jobs);
    const error = await jobs.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RedlockError);
    expect((error as Error).message).toMatch(/RedlockTestingModule\.forRoot\(\)/);
    expect((error as Error).message).toMatch(/nestjs-redlock\/testing/);
    expect(jobs.runs).toBe(0);
    await ref.close();
  });
});

describe.each(PLATFORMS)('overrideModule(RedlockModule) in an e2e test on %s', (platform) => {
  const saved = { ...process.env };
  let running: RunningApp;

  beforeAll(async () => {
    // Nothing listens there: without the override every lock call would fail.
    process.env.REDLOCK_NODES = 'redis://127.0.0.1:1';
    process.env.INVENTORY_URL = 'memory';
    running = await startOn(
      platform,
      { imports: [AppModule] },
      {
        override: (builder) =>
          builder.overrideModule(RedlockModule).useModule(RedlockTestingModule.forRoot()),
      },
    );
  });

  afterAll(async () => {
    await running?.app.close();
    process.env = saved;
  });

  it('runs the whole app on the in-memory store: locked routes serialise, no node is contacted', async () => {
    const pools = running.app.get<LockAdapter[]>(REDLOCK_POOLS);
    expect(pools.map((pool) => pool.name)).toEqual(['memory://testing']);
    const { url } = running;
    expect((await call(`${url}/events/kit`, 'PUT', { capacity: 5 })).status).toBe(200);
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => call(`${url}/events/kit/tickets`, 'POST')),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(5);
    expect(statuses.filter((status) => status !== 201 && status !== 410)).toEqual([]);
    expect(await call(`${url}/events/kit`, 'GET')).toMatchObject({
      body: { capacity: 5, remaining: 0, sold: 5 },
    });
  });
});

describe('a controller in a plain unit test with RedlockTestingModule', () => {
  @Controller('orders')
  class OrdersController {
    @Post(':id')
    @WithLock('order:<0>', { wait: 0 })
    pay(@Param('id') id: string) {
      return { id };
    }
  }

  @Module({ controllers: [OrdersController] })
  class OrdersModule {}

  let running: RunningApp;

  beforeEach(async () => {
    running = await startOn('express', {
      imports: [RedlockTestingModule.forRoot(), OrdersModule],
    });
  });

  afterEach(async () => {
    await running.app.close();
  });

  it('answers 409 with Retry-After while the order is locked', async () => {
    const held = await running.app.get(RedlockService).acquire('order:7', { ttl: 3_000 });
    const response = await call(`${running.url}/orders/7`, 'POST');
    expect(response.status).toBe(409);
    expect(Number(response.headers.get('retry-after'))).toBe(3);
    await held.release();
    expect((await call(`${running.url}/orders/7`, 'POST')).status).toBe(201);
  });
});

describe('the adapter contract suite, as nestjs-redlock/testing exports it', () => {
  describeLockAdapterContract(
    'MemoryLockAdapter',
    () => {
      const store = new MemoryLockAdapter();
      return Promise.resolve({ adapter: store, other: store, teardown: () => store.close() });
    },
    { describe, it, beforeAll, afterAll, beforeEach },
  );
});
