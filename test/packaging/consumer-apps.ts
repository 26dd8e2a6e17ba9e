/**
 * Two applications as users make them, written out as files: a Nest 11 CommonJS app laid out
 * and configured the way `nest new` (schematics 11) makes it (ts-jest, jest config in
 * package.json, TypeScript 5.7 with `nodenext`), and a Nest 12 ES-module app tested with jest in
 * native ESM mode. Both use the packed tarball of this library and nothing else of this
 * repository. Kept as strings so this repository's own typecheck, lint and jest never pick the
 * apps' files up.
 */

export interface ConsumerApp {
  /** Files relative to the app's directory. */
  files: Record<string, string>;
  /** Shell-free commands (`[command, ...args]`) that must all succeed, in order. */
  checks: string[][];
  /** The compiled entry point, for running the app under plain Node. */
  main: string;
}

/** The application code both apps share; `ext` is '' (CommonJS) or '.js' (ES modules). */
function sources(ext: string): Record<string, string> {
  return {
    'src/timeline.ts': `
// One JSON line per event on stdout when TIMELINE=1, for the SIGTERM timeline.
export function timeline(event: string, details: Record<string, unknown> = {}): void {
  if (process.env.TIMELINE !== '1') return;
  console.log(JSON.stringify({ t: Date.now(), pid: process.pid, event, ...details }));
}
`,
    'src/orders.service.ts': `
import { Injectable } from '@nestjs/common';
import { RedlockService, WithLock } from 'nestjs-redlock';
import { timeline } from './timeline${ext}';

@Injectable()
export class OrdersService {
  constructor(private readonly redlock: RedlockService) {}

  /** One payment per order at a time; a busy order answers 409 at once. */
  @WithLock('order:<0>', { wait: 0, fencing: true })
  async pay(id: number, work: () => Promise<void> = () => Promise.resolve()) {
    const lock = this.redlock.currentLock()!;
    await work();
    return { id, fencingToken: lock.fencingToken };
  }

  /** A slow job that waits its turn (up to 10 s) behind other instances. */
  @WithLock('settlement:<0>', { ttl: 1_000, wait: 10_000 })
  async settle(id: number, ms: number) {
    timeline('work-start', { id });
    await new Promise((resolve) => setTimeout(resolve, ms));
    timeline('work-end', { id });
    return { id, settled: true };
  }
}
`,
    'src/orders.controller.ts': `
import { Controller, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { OrdersService } from './orders.service${ext}';

@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post(':id/pay')
  pay(@Param('id', ParseIntPipe) id: number) {
    return this.orders.pay(id);
  }

  @Post(':id/settle')
  settle(@Param('id', ParseIntPipe) id: number, @Query('ms') ms?: string) {
    return this.orders.settle(id, Number(ms ?? 0));
  }
}
`,
    'src/app.module.ts': `
import { Module } from '@nestjs/common';
import { RedlockModule } from 'nestjs-redlock';
import { OrdersController } from './orders.controller${ext}';
import { OrdersService } from './orders.service${ext}';
import { timeline } from './timeline${ext}';

@Module({
  imports: [
    RedlockModule.forRootAsync({
      useFactory: () => ({
        nodes: (process.env.REDLOCK_NODES ?? 'memory://').split(','),
        onEvent: (event) => {
          if (event.type === 'acquired' || event.type === 'released') {
            timeline(\`lock-\${event.type}\`, { resources: event.resources });
          }
        },
      }),
    }),
  ],
  controllers: [OrdersController],
  providers: [OrdersService],
})
export class AppModule {}
`,
    'src/main.ts': `
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module${ext}';
import { timeline } from './timeline${ext}';

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  // Registered before Nest's own listener, so it records when the signal arrived.
  process.once('SIGTERM', () => timeline('sigterm'));
  process.once('exit', () => timeline('exit'));
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  timeline('listening', { port: Number(process.env.PORT ?? 3000) });
}
void bootstrap();
`,
    // Without the optional peers installed, \`nodes\` must still refuse what is not a node.
    'src/strict-nodes.check.ts': `
import { RedlockModule } from 'nestjs-redlock';

// @ts-expect-error a number is not a lock node
export const invalid = RedlockModule.forRoot({ nodes: [42] });
`,
    'src/orders.service.spec.ts': `
import { Test } from '@nestjs/testing';
import { LockNotAcquiredError, RedlockError, RedlockService } from 'nestjs-redlock';
import { RedlockTestingModule } from 'nestjs-redlock/testing';
import { OrdersService } from './orders.service${ext}';

describe('OrdersService', () => {
  it('pays one order at a time, with in-memory locks', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [RedlockTestingModule.forRoot()],
      providers: [OrdersService],
    }).compile();
    const orders = moduleRef.get(OrdersService);
    let started!: () => void;
    let finish!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    const first = orders.pay(1, () => {
      started();
      return new Promise<void>((resolve) => (finish = resolve));
    });
    await inside;
    await expect(orders.pay(1)).rejects.toBeInstanceOf(LockNotAcquiredError);
    await expect(orders.pay(2)).resolves.toMatchObject({ id: 2 });
    finish();
    const paid = await first;
    expect(typeof paid.fencingToken).toBe('number');
    await moduleRef.close();
  });

  it('fails closed, naming RedlockTestingModule, when RedlockService is a plain mock', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [OrdersService, { provide: RedlockService, useValue: {} }],
    }).compile();
    const error = await moduleRef
      .get(OrdersService)
      .pay(1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockError);
    expect((error as Error).message).toMatch(/RedlockTestingModule/);
  });
});
`,
    'test/app.e2e-spec.ts': `
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { RedlockModule, RedlockService } from 'nestjs-redlock';
import { RedlockTestingModule } from 'nestjs-redlock/testing';
import { AppModule } from '../src/app.module${ext}';

describe('orders (e2e)', () => {
  let app: INestApplication;

  afterEach(async () => {
    await app.close();
  });

  it('answers 409 with Retry-After while the order is held (real Redis)', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    const held = await app.get(RedlockService).acquire('order:7', { ttl: 4_000 });
    const busy = await request(app.getHttpServer()).post('/orders/7/pay');
    expect(busy.status).toBe(409);
    expect(busy.headers['retry-after']).toBe('4');
    await held.release();
    expect((await request(app.getHttpServer()).post('/orders/7/pay')).status).toBe(201);
  });

  it('runs on in-memory locks with overrideModule(RedlockModule)', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideModule(RedlockModule)
      .useModule(RedlockTestingModule.forRoot())
      .compile();
    app = moduleRef.createNestApplication();
    await app.init();
    const held = await app.get(RedlockService).acquire('order:8');
    expect((await request(app.getHttpServer()).post('/orders/8/pay')).status).toBe(409);
    await held.release();
    expect((await request(app.getHttpServer()).post('/orders/8/pay')).status).toBe(201);
  });
});
`,
  };
}

/** A Nest 11 app as `nest new` (schematics 11.1) makes it: CommonJS, ts-jest, TS 5.7. */
export function nest11App(tarball: string): ConsumerApp {
  return {
    main: 'dist/main.js',
    files: {
      ...sources(''),
      'package.json': JSON.stringify(
        {
          name: 'nest11-consumer',
          version: '0.0.1',
          private: true,
          license: 'UNLICENSED',
          scripts: {
            build: 'tsc -p tsconfig.build.json',
            test: 'jest',
            'test:e2e': 'jest --config ./test/jest-e2e.json',
          },
          dependencies: {
            '@nestjs/common': '^11.0.1',
            '@nestjs/core': '^11.0.1',
            '@nestjs/platform-express': '^11.0.1',
            // The oldest major of the ioredis peer range.
            ioredis: '^5.0.0',
            'nestjs-redlock': `file:${tarball}`,
            'reflect-metadata': '^0.2.2',
            rxjs: '^7.8.1',
          },
          devDependencies: {
            '@nestjs/testing': '^11.0.1',
            '@types/express': '^5.0.0',
            '@types/jest': '^30.0.0',
            '@types/node': '^22.0.0',
            '@types/supertest': '^7.0.0',
            jest: '^30.0.0',
            supertest: '^7.0.0',
            'ts-jest': '^29.2.5',
            // The version the issue saw fail with TS1479.
            typescript: '5.7.3',
          },
          jest: {
            moduleFileExtensions: ['js', 'json', 'ts'],
            rootDir: 'src',
            testRegex: '.*\\.spec\\.ts$',
            transform: { '^.+\\.(t|j)s$': 'ts-jest' },
            testEnvironment: 'node',
          },
        },
        null,
        2,
      ),
      'tsconfig.json': JSON.stringify(
        {
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            resolvePackageJsonExports: true,
            esModuleInterop: true,
            isolatedModules: true,
            declaration: true,
            removeComments: true,
            emitDecoratorMetadata: true,
            experimentalDecorators: true,
            allowSyntheticDefaultImports: true,
            target: 'ES2023',
            sourceMap: true,
            outDir: './dist',
            baseUrl: './',
            incremental: true,
            skipLibCheck: true,
            strictNullChecks: true,
            forceConsistentCasingInFileNames: true,
            noImplicitAny: true,
            strictBindCallApply: true,
            noFallthroughCasesInSwitch: true,
          },
        },
        null,
        2,
      ),
      'tsconfig.build.json': JSON.stringify({
        extends: './tsconfig.json',
        exclude: ['node_modules', 'test', 'dist', '**/*spec.ts'],
      }),
      'test/jest-e2e.json': JSON.stringify({
        moduleFileExtensions: ['js', 'json', 'ts'],
        rootDir: '.',
        testEnvironment: 'node',
        testRegex: '.e2e-spec.ts$',
        transform: { '^.+\\.(t|j)s$': 'ts-jest' },
      }),
    },
    checks: [
      ['npm', 'test'],
      ['npm', 'run', 'test:e2e'],
      // The case: the public types without iovalkey or redis installed, fully checked.
      ['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json', '--skipLibCheck', 'false'],
      ['npm', 'run', 'build'],
    ],
  };
}

/** A Nest 12 ES-module app, tested with jest in native ESM mode through ts-jest. */
export function nest12App(tarball: string): ConsumerApp {
  const jest = ['node', '--experimental-vm-modules', 'node_modules/jest/bin/jest.js'];
  return {
    main: 'dist/src/main.js',
    files: {
      ...sources('.js'),
      'package.json': JSON.stringify(
        {
          name: 'nest12-consumer',
          version: '0.0.1',
          private: true,
          license: 'UNLICENSED',
          type: 'module',
          scripts: { build: 'tsc -p tsconfig.build.json' },
          dependencies: {
            '@nestjs/common': '^12.0.1',
            '@nestjs/core': '^12.0.1',
            '@nestjs/platform-express': '^12.0.1',
            ioredis: '^6.0.0',
            'nestjs-redlock': `file:${tarball}`,
            'reflect-metadata': '^0.2.2',
            rxjs: '^7.8.1',
          },
          devDependencies: {
            '@nestjs/testing': '^12.0.1',
            '@types/express': '^5.0.0',
            '@types/jest': '^30.0.0',
            '@types/node': '^22.0.0',
            '@types/supertest': '^7.0.0',
            jest: '^30.0.0',
            supertest: '^7.0.0',
            'ts-jest': '^29.4.0',
            typescript: '^6.0.2',
          },
        },
        null,
        2,
      ),
      'jest.config.js': `
// jest in native ESM mode: NestJS 12 ships ES modules only.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*(\\\\.spec|\\\\.e2e-spec)\\\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\\\.{1,2}/.*)\\\\.js$': '$1' },
  transform: { '^.+\\\\.ts$': ['ts-jest', { useESM: true }] },
};
`,
      'tsconfig.json': JSON.stringify(
        {
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            esModuleInterop: true,
            isolatedModules: true,
            emitDecoratorMetadata: true,
            experimentalDecorators: true,
            target: 'ES2023',
            outDir: './dist',
            rootDir: '.',
            skipLibCheck: true,
            strict: true,
            strictPropertyInitialization: false,
            types: ['node', 'jest'],
          },
        },
        null,
        2,
      ),
      'tsconfig.build.json': JSON.stringify({
        extends: './tsconfig.json',
        exclude: ['node_modules', 'test', 'dist', '**/*spec.ts'],
      }),
    },
    checks: [
      jest,
      ['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json', '--skipLibCheck', 'false'],
      ['npm', 'run', 'build'],
    ],
  };
}
