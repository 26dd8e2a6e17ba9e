import 'reflect-metadata';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  type INestApplication,
  Injectable,
  Module,
  Param,
  ParseIntPipe,
  Post,
  Scope,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { ApiOperation, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  type LockAdapter,
  LockNotAcquiredError,
  type RedlockModuleOptions,
  type RedlockOptionsFactory,
  RedlockConfigError,
  RedlockModule,
  RedlockService,
  REDLOCK_OPTIONS,
  REDLOCK_POOLS,
  WithLock,
  InjectRedlockPools,
} from '../../lib/index.js';
import { deferred } from '../support/deferred.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/** Tracks how many calls run at once per key; the assertion that locks serialise work. */
@Injectable()
class Probe {
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  readonly calls: string[] = [];
  /** Resolves when two different ids are in flight together: proof they run in parallel. */
  readonly together = deferred();

  async enter(key: string, hold: () => Promise<unknown>): Promise<number> {
    const now = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, now);
    this.maxInFlight.set(key, Math.max(now, this.maxInFlight.get(key) ?? 0));
    this.calls.push(key);
    if ([...this.inFlight.values()].filter((n) => n > 0).length >= 2) this.together.resolve();
    try {
      await hold();
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    }
    return now;
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedWorker {
  constructor(private readonly redlock: RedlockService) {}

  @WithLock('req:<0>')
  async work(id: string): Promise<boolean> {
    return this.redlock.isLocked(`req:${id}`);
  }
}

class FactoryBuilt {
  redlock?: RedlockService;

  @WithLock('factory:<0>')
  async work(id: string): Promise<boolean> {
    return this.redlock!.isLocked(`factory:${id}`);
  }
}

@Controller('orders')
class OrdersController {
  constructor(
    private readonly probe: Probe,
    private readonly redlock: RedlockService,
    private readonly scoped: RequestScopedWorker,
    private readonly factoryBuilt: FactoryBuilt,
  ) {}

  @Post(':id')
  @WithLock('order:<0>', { wait: 20_000, retryDelay: 5, ttl: 5_000 })
  async pay(@Param('id', ParseIntPipe) id: number) {
    const key = `order:${id}`;
    const locked = await this.redlock.isLocked(key);
    await this.probe.enter(key, () =>
      id >= 100 ? this.probe.together.promise : new Promise((resolve) => setImmediate(resolve)),
    );
    return { id, type: typeof id, locked };
  }

  @Post(':id/now')
  @WithLock('order:<0>', { wait: 0 })
  payNow(@Param('id', ParseIntPipe) id: number) {
    return { id };
  }

  @WithLock('above:<0>')
  @Get('above/:id')
  @ApiOperation({ summary: 'decorator above' })
  async above(@Param('id') id: string) {
    return { locked: await this.redlock.isLocked(`above:${id}`) };
  }

  @Get('below/:id')
  @ApiOperation({ summary: 'decorator below' })
  @WithLock('below:<0>')
  async below(@Param('id') id: string) {
    return { locked: await this.redlock.isLocked(`below:${id}`) };
  }

  @Get('scoped/:id')
  scopedWork(@Param('id') id: string) {
    return this.scoped.work(id);
  }

  @Get('factory/:id')
  factoryWork(@Param('id') id: string) {
    return this.factoryBuilt.work(id);
  }
}

@Injectable()
class Jobs {
  readonly release = deferred();
  readonly started = deferred();
  runs = 0;

  // waitForCompletion makes fireOnTick() resolve when the (wrapped) job has settled. The test
  // fires ticks by hand, several within one second: tick claims off (tickTolerance: 0), so this
  // checks the lock alone; once per tick is checked in multi-instance.spec.ts.
  @Cron('0 0 1 1 *', { name: 'report', waitForCompletion: true })
  @WithLock('jobs:report', { onBusy: 'skip', tickTolerance: 0 })
  async report(): Promise<void> {
    this.runs += 1;
    this.started.resolve();
    await this.release.promise;
  }
}

function appModule(options: RedlockModuleOptions | (() => Promise<RedlockModuleOptions>)) {
  @Module({
    imports: [
      typeof options === 'function'
        ? RedlockModule.forRootAsync({ useFactory: options })
        : RedlockModule.forRoot(options),
    ],
    controllers: [OrdersController],
    providers: [
      Probe,
      RequestScopedWorker,
      {
        provide: FactoryBuilt,
        inject: [RedlockService],
        useFactory: (redlock: RedlockService) => Object.assign(new FactoryBuilt(), { redlock }),
      },
    ],
  })
  class AppModule {}
  return AppModule;
}

/** The app's HTTP server, typed for supertest. */
function http(app: INestApplication): Server {
  return app.getHttpServer() as Server;
}

async function start(module: ReturnType<typeof appModule>): Promise<INestApplication> {
  const ref = await Test.createTestingModule({ imports: [module] }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('RedlockModule in a Nest application (real Redis)', () => {
  let fleet: RedisFleet;
  let other: RedisFleet;
  let app: INestApplication;

  beforeAll(async () => {
    [fleet, other] = await Promise.all([
      startRedisFleet({ nodes: 3 }),
      startRedisFleet({ nodes: 1 }),
    ]);
    app = await start(appModule({ nodes: fleet.urls }));
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await Promise.all([fleet?.stop(), other?.stop()]);
  });

  describe('configuration', () => {
    it('builds from ConfigService with forRootAsync (useFactory, useClass, useExisting)', async () => {
      const env = { REDLOCK_NODES: fleet.urls.join(','), REDLOCK_TTL: '4321' };
      const fromConfig = (config: ConfigService): RedlockModuleOptions => ({
        nodes: config.getOrThrow<string>('REDLOCK_NODES').split(','),
        lock: { ttl: Number(config.getOrThrow<string>('REDLOCK_TTL')) },
      });
      @Injectable()
      class RedlockConfig implements RedlockOptionsFactory {
        constructor(private readonly config: ConfigService) {}
        createRedlockOptions() {
          return fromConfig(this.config);
        }
      }
      @Module({ imports: [ConfigModule], providers: [RedlockConfig], exports: [RedlockConfig] })
      class RedlockConfigModule {}

      const configModule = ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => env] });
      const variants = [
        RedlockModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: fromConfig,
        }),
        RedlockModule.forRootAsync({ imports: [ConfigModule], useClass: RedlockConfig }),
        RedlockModule.forRootAsync({ imports: [RedlockConfigModule], useExisting: RedlockConfig }),
      ];
      for (const redlockModule of variants) {
        const ref = await Test.createTestingModule({
          imports: [configModule, redlockModule],
        }).compile();
        const nest = ref.createNestApplication({ logger: false });
        await nest.init();
        const pools = nest.get<LockAdapter[]>(REDLOCK_POOLS);
        expect(pools.map((pool) => pool.name)).toEqual(
          fleet.nodes.map((node) => `redis://127.0.0.1:${node.port}/0`),
        );
        expect(nest.get<{ lock: { ttl: number } }>(REDLOCK_OPTIONS).lock.ttl).toBe(4321);
        const lock = await nest.get(RedlockService).acquire('config-check');
        expect(lock.expiresAt - Date.now()).toBeLessThanOrEqual(4321);
        await lock.release();
        await nest.close();
      }
    });

    it('fails compile() with RedlockConfigError naming the option, without the password', async () => {
      const bad = [
        { nodes: [] },
        { nodes: ['redis://:hunter2@localhost:notaport'] },
        { nodes: [fleet.urls[0]!], lock: { ttl: -5 } },
        { nodes: [fleet.urls[0]!], lock: { driftFactor: 2 } },
        { nodes: [fleet.urls[0]!], shutdownTimeout: -1 },
      ] as RedlockModuleOptions[];
      const names = ['nodes', 'nodes[0]', 'lock.ttl', 'lock.driftFactor', 'shutdownTimeout'];
      for (const [i, options] of bad.entries()) {
        // Thrown by the provider factory itself: Nest fails the build of the app with it.
        const error = await Test.createTestingModule({
          imports: [RedlockModule.forRoot({ ...options, logger: false })],
        })
          .compile()
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toBeInstanceOf(RedlockConfigError);
        expect((error as RedlockConfigError).option).toBe(names[i]);
        expect(String((error as Error).message)).not.toContain('hunter2');
      }
    });

    it('injects the pools in configured order with @InjectRedlockPools()', async () => {
      @Injectable()
      class NeedsPools {
        constructor(@InjectRedlockPools() readonly pools: LockAdapter[]) {}
      }
      const ref = await Test.createTestingModule({
        imports: [RedlockModule.forRoot({ nodes: [other.urls[0]!, 'memory://second'] })],
        providers: [NeedsPools],
      }).compile();
      const nest = ref.createNestApplication({ logger: false });
      await nest.init();
      expect(nest.get(NeedsPools).pools.map((p) => p.name)).toEqual([
        `redis://127.0.0.1:${other.nodes[0]!.port}/0`,
        'memory://second',
      ]);
      await nest.close();
    });
  });

  describe('@WithLock on controllers', () => {
    it('lets at most one of 20 concurrent requests per id run, after pipes, while other ids run in parallel', async () => {
      const probe = app.get(Probe);
      const server = http(app);
      // Two ids whose handlers wait for each other: they only finish if they overlap.
      const parallel = Promise.all([
        request(server).post('/orders/100'),
        request(server).post('/orders/101'),
      ]);
      const same = await Promise.all(
        Array.from({ length: 20 }, () => request(server).post('/orders/007')),
      );
      for (const response of same) {
        expect(response.status).toBe(201);
        expect(response.body).toEqual({ id: 7, type: 'number', locked: true });
      }
      expect(probe.maxInFlight.get('order:7')).toBe(1);
      expect(probe.calls.filter((key) => key === 'order:7')).toHaveLength(20);
      const [a, b] = await parallel;
      expect([a.status, b.status]).toEqual([201, 201]);
    });

    it('answers 409 with Retry-After and a body that names the resource, not the nodes', async () => {
      const held = await app.get(RedlockService).acquire('order:55', { ttl: 10_000 });
      const response = await request(http(app)).post('/orders/55/now');
      expect(response.status).toBe(409);
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(10);
      expect(response.body).toMatchObject({ statusCode: 409, resources: ['order:55'] });
      expect(JSON.stringify(response.body)).not.toContain('127.0.0.1');
      await held.release();
      expect((await request(http(app)).post('/orders/55/now')).status).toBe(201);
    });

    it('answers 503 when no quorum of nodes answers', async () => {
      const three = await startRedisFleet({ nodes: 3 });
      const nest = await start(
        appModule({ nodes: three.urls, lock: { nodeTimeout: 100, wait: 200 } }),
      );
      try {
        await Promise.all([three.nodes[0]!.pause(), three.nodes[1]!.pause()]);
        const response = await request(http(nest)).post('/orders/9/now');
        expect(response.status).toBe(503);
        expect(JSON.stringify(response.body)).not.toContain('127.0.0.1');
      } finally {
        await Promise.all(three.nodes.map((node) => node.resume()));
        await nest.close();
        await three.stop();
      }
    });

    it('works above and below @Get, and keeps Swagger metadata', async () => {
      const server = http(app);
      expect((await request(server).get('/orders/above/1')).body).toEqual({ locked: true });
      expect((await request(server).get('/orders/below/1')).body).toEqual({ locked: true });
      const document = SwaggerModule.createDocument(app, new DocumentBuilder().build());
      expect(document.paths['/orders/above/{id}']?.get?.summary).toBe('decorator above');
      expect(document.paths['/orders/below/{id}']?.get?.summary).toBe('decorator below');
      expect(OrdersController.prototype.above.name).toBe('above');
    });

    it('locks request-scoped and factory-built providers', async () => {
      const server = http(app);
      expect((await request(server).get('/orders/scoped/1')).text).toBe('true');
      expect((await request(server).get('/orders/factory/1')).text).toBe('true');
    });
  });

  describe('@WithLock on scheduled jobs', () => {
    it('runs a @Cron job with onBusy: skip on one of two app instances at a time', async () => {
      const jobsModule = (urls: readonly string[]) => {
        @Module({
          imports: [ScheduleModule.forRoot(), RedlockModule.forRoot({ nodes: urls })],
          providers: [Jobs],
        })
        class JobsModule {}
        return JobsModule;
      };
      const [one, two] = await Promise.all(
        [0, 1].map(async () => {
          const ref = await Test.createTestingModule({
            imports: [jobsModule(fleet.urls)],
          }).compile();
          const nest = ref.createNestApplication({ logger: false });
          await nest.init();
          return nest;
        }),
      );
      try {
        const first = one!.get(SchedulerRegistry).getCronJob('report').fireOnTick();
        await one!.get(Jobs).started.promise; // inside the job, holding the lock
        await two!.get(SchedulerRegistry).getCronJob('report').fireOnTick();
        expect(two!.get(Jobs).runs).toBe(0); // skipped: busy on the other instance
        one!.get(Jobs).release.resolve();
        await first; // settled, lock released
        two!.get(Jobs).release.resolve();
        await two!.get(SchedulerRegistry).getCronJob('report').fireOnTick();
        expect(two!.get(Jobs).runs).toBe(1); // free again: runs
      } finally {
        await Promise.all([one!.close(), two!.close()]);
      }
    });
  });

  describe('isolation and lifecycle', () => {
    it('keeps two apps in one process on their own fleets', async () => {
      const second = await start(appModule({ nodes: other.urls }));
      try {
        const held = await app.get(RedlockService).acquire('order:77');
        // The same resource is free on the other app's fleet.
        const response = await request(http(second)).post('/orders/77/now');
        expect(response.status).toBe(201);
        expect(await second.get(RedlockService).isLocked('order:77')).toBe(false);
        await held.release();
      } finally {
        await second.close();
      }
    });

    it('releases locks still held after shutdownTimeout on app.close() and leaves clients it was given open', async () => {
      const userClient = new Redis(other.urls[0]!);
      const nest = await start(appModule({ nodes: [userClient], shutdownTimeout: 300 }));
      const lock = await nest.get(RedlockService).acquire('shutdown:1', { ttl: 60_000 });
      expect(await userClient.get('lock:shutdown:1')).toBe(lock.value);
      const started = performance.now();
      await nest.close();
      // Nobody released it: shutdown waited the whole shutdownTimeout, then released it.
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect(await userClient.get('lock:shutdown:1')).toBeNull();
      expect(await userClient.ping()).toBe('PONG');
      await userClient.quit();
    });

    it('rejects service callers with the typed error', async () => {
      const redlock = app.get(RedlockService);
      const held = await redlock.acquire('typed');
      await expect(redlock.acquire('typed', { wait: 0 })).rejects.toBeInstanceOf(
        LockNotAcquiredError,
      );
      await held.release();
    });
  });
});
