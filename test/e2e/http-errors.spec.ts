import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  type ArgumentsHost,
  Body,
  type CanActivate,
  Catch,
  Controller,
  type ExceptionFilter,
  type ExecutionContext,
  Get,
  HttpException,
  HttpStatus,
  type INestApplication,
  Injectable,
  Param,
  Post,
  type Provider,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { APP_FILTER, BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import type { Redis } from 'ioredis';
import {
  RedlockErrorsInterceptor,
  RedlockModule,
  type RedlockModuleExtras,
  RedlockService,
  WithLock,
} from '../../lib/index.js';
import { captureLogs } from '../support/leak-check.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { call, PLATFORMS, type Platform, type RunningApp, startOn } from './support/platforms.js';

/** Takes a lock in a guard, where no interceptor runs: only an exception filter can map it. */
@Injectable()
class LockGuard implements CanActivate {
  constructor(private readonly redlock: RedlockService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const { id } = context.switchToHttp().getRequest<{ params: { id: string } }>().params;
    const lock = await this.redlock.acquire(`guard:${id}`, { wait: 0 });
    await lock.release();
    return true;
  }
}

@Controller()
class LockedController {
  constructor(private readonly redlock: RedlockService) {}

  @Post('orders/:id')
  @WithLock('order:<0>', { wait: 0, ttl: 10_000 })
  pay(@Param('id') id: string) {
    return { id };
  }

  @Get('docs/:id')
  @WithLock('doc:<0>')
  doc(@Param('id') id: string) {
    return { id };
  }

  @Post('by-path')
  @WithLock('customer:<0.customer.id>')
  byPath(@Body() _body: unknown) {
    return { ok: true };
  }

  @Post('by-function')
  @WithLock((body: { ids?: unknown }) => body.ids as string[], { wait: 0 })
  byFunction(@Body() body: { ids?: unknown }) {
    return { locked: Array.isArray(body.ids) ? body.ids.length : 0 };
  }

  @Post('with-options')
  withOptions(@Body() body: { ttl: unknown }) {
    return this.redlock.using('opts', () => ({ ok: true }), { ttl: body.ttl as number });
  }

  @Get('guarded/:id')
  @UseGuards(LockGuard)
  guarded(@Param('id') id: string) {
    return { id };
  }
}

/** With `httpErrors: false`: the mapping applied to one controller only. */
@Controller('mapped')
@UseInterceptors(RedlockErrorsInterceptor)
class MappedController {
  @Post(':id')
  @WithLock('order:<0>', { wait: 0 })
  pay(@Param('id') id: string) {
    return { id };
  }
}

/** The NestJS docs' catch-all filter: everything goes to `BaseExceptionFilter`. */
@Catch()
class AllExceptionsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    super.catch(exception, host);
  }
}

/** The NestJS docs' other catch-all: its own body, the status from `HttpException`. */
@Catch()
class CatchEverythingFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const status =
      exception instanceof HttpException ? exception.getStatus() : HttpStatus.INTERNAL_SERVER_ERROR;
    httpAdapter.reply(host.switchToHttp().getResponse(), { status, custom: true }, status);
  }
}

interface FilterSetup {
  /** Whether the body is ours (`code`, `resources`) or the user's filter's own. */
  ourBody: boolean;
  /** Whether a lock error thrown in a guard still maps (only filters see guard errors). */
  guards: boolean;
  providers?: Provider[];
  configure?: (app: INestApplication) => void;
}

const SETUPS: Record<string, FilterSetup> = {
  "Nest's default filter": { ourBody: true, guards: true },
  'a catch-all extending BaseExceptionFilter (useGlobalFilters)': {
    ourBody: true,
    guards: false,
    configure: (app) =>
      app.useGlobalFilters(new AllExceptionsFilter(app.get(HttpAdapterHost).httpAdapter)),
  },
  'a catch-all reading HttpException.getStatus() (useGlobalFilters)': {
    ourBody: false,
    guards: false,
    configure: (app) => app.useGlobalFilters(new CatchEverythingFilter(app.get(HttpAdapterHost))),
  },
  // An APP_FILTER of the root module is registered before RedlockModule's, so for lock errors
  // RedlockExceptionFilter is asked first, guards included.
  'a catch-all extending BaseExceptionFilter (APP_FILTER)': {
    ourBody: true,
    guards: true,
    providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
  },
};

let fleet: RedisFleet;
let redis: Redis;

beforeAll(async () => {
  fleet = await startRedisFleet({ nodes: 3 });
  redis = fleet.nodes[0]!.client();
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

function start(
  platform: Platform,
  setup: Pick<FilterSetup, 'providers' | 'configure'>,
  extras: RedlockModuleExtras = {},
  logger = captureLogs().logger,
): Promise<RunningApp> {
  return startOn(
    platform,
    {
      imports: [
        RedlockModule.forRoot({
          nodes: fleet.urls,
          lock: { nodeTimeout: 100 },
          circuitBreaker: false,
          logger,
          ...extras,
        }),
      ],
      controllers: [LockedController, MappedController],
      providers: [LockGuard, ...(setup.providers ?? [])],
    },
    { configure: setup.configure, logger },
  );
}

/** Holds `resource` on every node for `ttl` ms, as another instance of the app would. */
async function holdElsewhere(resource: string, ttl: number): Promise<void> {
  await Promise.all(
    fleet.nodes.map((node) => node.client().set(`lock:${resource}`, 'another-instance', 'PX', ttl)),
  );
}

describe.each(PLATFORMS)('lock errors over HTTP on %s', (platform) => {
  describe.each(Object.entries(SETUPS))('under %s', (_name, setup) => {
    let running: RunningApp;

    beforeAll(async () => {
      running = await start(platform, setup);
    });

    afterAll(async () => {
      await running?.app.close();
    });

    beforeEach(async () => {
      await Promise.all(fleet.nodes.map((node) => node.client().flushdb()));
    });

    it("busy: 409 with Retry-After = the holder's remaining time, rounded up", async () => {
      for (const ttl of [4_500, 700]) {
        await holdElsewhere(`order:${ttl}`, ttl);
        const before = await redis.pttl(`lock:order:${ttl}`);
        const response = await call(`${running.url}/orders/${ttl}`, 'POST');
        const after = await redis.pttl(`lock:order:${ttl}`);
        expect(response.status).toBe(409);
        const retryAfter = Number(response.headers.get('retry-after'));
        // Between the holder's remaining time just after and just before the attempt; not
        // the route's own ttl (10 s).
        expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil(after / 1_000));
        expect(retryAfter).toBeLessThanOrEqual(Math.ceil(before / 1_000));
        if (setup.ourBody) {
          expect(response.body).toMatchObject({
            statusCode: 409,
            error: 'Conflict',
            code: 'ERR_REDLOCK_BUSY',
            resources: [`order:${ttl}`],
          });
        } else {
          expect(response.body).toEqual({ status: 409, custom: true });
        }
        expect(response.text).not.toContain('127.0.0.1');
      }
      expect(Number((await call(`${running.url}/orders/4500`, 'POST')).status)).toBe(409);
      expect((await call(`${running.url}/orders/free`, 'POST')).status).toBe(201);
    });

    it(`a key over 1,024 bytes from a route parameter: ${platform === 'express' ? '400' : '414 from Fastify itself (maxParamLength)'}`, async () => {
      const response = await call(`${running.url}/docs/${'x'.repeat(1_100)}`, 'GET');
      expect(response.status).toBe(platform === 'express' ? 400 : 414);
      if (platform === 'express' && setup.ourBody) {
        expect(response.body).toMatchObject({ code: 'ERR_REDLOCK_KEY_TOO_LONG' });
      }
    });

    it.each([
      [
        'a key over 1,024 bytes from the body',
        'POST',
        'by-function',
        { ids: ['x'.repeat(1_100)] },
        'ERR_REDLOCK_KEY_TOO_LONG',
      ],
      [
        'an unresolved <0.customer.id>',
        'POST',
        'by-path',
        { customer: {} },
        'ERR_REDLOCK_UNRESOLVED_PLACEHOLDER',
      ],
      ['a key function returning []', 'POST', 'by-function', { ids: [] }, 'ERR_REDLOCK_EMPTY_KEY'],
      [
        'a key function returning null',
        'POST',
        'by-function',
        { ids: null },
        'ERR_REDLOCK_INVALID_KEY',
      ],
      [
        'a key function returning an object',
        'POST',
        'by-function',
        { ids: { a: 1 } },
        'ERR_REDLOCK_INVALID_KEY',
      ],
      [
        'a lock option taken from the body',
        'POST',
        'with-options',
        { ttl: 'soon' },
        'ERR_REDLOCK_INVALID_TTL',
      ],
    ] as const)(
      'client input that cannot be a key or an option, %s: 400',
      async (_what, method, path, body, code) => {
        const response = await call(`${running.url}/${path}`, method, body);
        expect(response.status).toBe(400);
        if (setup.ourBody) {
          expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code });
        }
        expect(response.text.length).toBeLessThan(2_000);
      },
    );

    it(`a lock error thrown in a guard: ${setup.guards ? '409 through RedlockExceptionFilter' : "the user's filter decides (no interceptor runs before guards)"}`, async () => {
      await holdElsewhere('guard:1', 5_000);
      const response = await call(`${running.url}/guarded/1`, 'GET');
      if (setup.guards) {
        expect(response.status).toBe(409);
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(4);
        expect(response.body).toMatchObject({ code: 'ERR_REDLOCK_BUSY' });
      } else {
        expect(response.status).toBe(500);
      }
      expect((await call(`${running.url}/guarded/2`, 'GET')).status).toBe(200);
    });

    it('no quorum: 503 with Retry-After, naming no node', async () => {
      await Promise.all([fleet.nodes[1]!.pause(), fleet.nodes[2]!.pause()]);
      try {
        const response = await call(`${running.url}/orders/9`, 'POST');
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('1');
        if (setup.ourBody) {
          expect(response.body).toMatchObject({ statusCode: 503, code: 'ERR_REDLOCK_UNAVAILABLE' });
        }
        expect(response.text).not.toContain('127.0.0.1');
      } finally {
        await Promise.all([fleet.nodes[1]!.resume(), fleet.nodes[2]!.resume()]);
      }
    });
  });

  describe('with httpErrors: false', () => {
    let running: RunningApp;

    beforeAll(async () => {
      running = await start(platform, {}, { httpErrors: false });
    });

    afterAll(async () => {
      await running?.app.close();
    });

    it('registers no mapping: a busy lock reaches the default filter as a 500', async () => {
      await holdElsewhere('order:off', 5_000);
      const response = await call(`${running.url}/orders/off`, 'POST');
      expect(response.status).toBe(500);
      expect(response.headers.get('retry-after')).toBeNull();
    });

    it('RedlockErrorsInterceptor applied to one controller still maps there', async () => {
      await holdElsewhere('order:mapped', 5_000);
      const response = await call(`${running.url}/mapped/mapped`, 'POST');
      expect(response.status).toBe(409);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(4);
    });
  });

  describe('a 9,000-key request body', () => {
    const logs = captureLogs();
    let running: RunningApp;

    beforeAll(async () => {
      running = await start(platform, {}, {}, logs.logger);
    });

    afterAll(async () => {
      await running?.app.close();
    });

    afterEach(() => {
      logs.lines.length = 0;
    });

    it('answers with a bounded body and logs no line longer than 4 KB', async () => {
      // Short names: 9,000 of them stay under Express' 100 KB body limit.
      const ids = Array.from({ length: 9_000 }, (_, i) => String(i));
      await holdElsewhere('4500', 5_000);
      const response = await call(`${running.url}/by-function`, 'POST', { ids });
      expect([201, 409, 503]).toContain(response.status);
      expect(response.text.length).toBeLessThan(2_000);
      const longest = Math.max(0, ...logs.lines.map((line) => line.length));
      expect(longest).toBeLessThan(4_096);
    });
  });
});
