import type { DynamicModule } from '@nestjs/common';
import { MemoryLockAdapter } from '../adapters/memory.adapter.js';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { REDLOCK_CONNECTIONS } from '../redlock.constants.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { describe } from '../redaction.js';
import { HTTP_ERROR_PROVIDERS, REDLOCK_EXPORTS, RedlockModule } from '../redlock.module.js';
import type { ManualClock } from '../services/clock.js';
import { resolveModuleOptions } from '../services/module-options.js';
import type { RedlockConnections } from '../services/redlock-connections.js';

/** Options of {@link RedlockTestingModule.forRoot}; every one is optional. */
export interface RedlockTestingModuleOptions {
  /**
   * Drives ttls, renewals and retry delays by hand (`await clock.advance(ms)`), so a test of
   * expiry or of a waiting caller never sleeps.
   * @default the system clock
   */
  clock?: ManualClock;
  /**
   * The in-memory store to lock in. Give two applications the same store to test that two
   * instances of your app exclude each other. A store passed in is not closed by the module.
   * @default a new store per application
   */
  store?: MemoryLockAdapter;
  /** @default 'lock:' */
  keyPrefix?: string;
  /** Defaults for every acquisition, as `RedlockModule`'s `lock` option. */
  lock?: LockOptions;
  /**
   * How long `app.close()` waits for work that still holds locks (see `RedlockModule`'s
   * `shutdownTimeout`). Tests rarely want to wait.
   * @default 0
   */
  shutdownTimeout?: number;
  /** Called with every lock event. */
  onEvent?: (event: RedlockEvent) => void;
  /**
   * Where log lines go.
   * @default false (tests stay quiet)
   */
  logger?: RedlockLogger | false;
  /**
   * Register the HTTP mapping of lock errors (409 / 503 / 400), as `RedlockModule` does.
   * @default true
   */
  httpErrors?: boolean;
}

/**
 * `RedlockModule` on an in-memory store, for tests: the same providers and API
 * (`RedlockService`, `@WithLock`, `REDLOCK_POOLS`, health, HTTP mapping), locks that really
 * exclude (ttl, owner checks, fencing tokens, reentrancy), no Redis and no connection.
 *
 * @example
 * ```ts
 * // A unit test of a provider with @WithLock methods:
 * const moduleRef = await Test.createTestingModule({
 *   imports: [RedlockTestingModule.forRoot()],
 *   providers: [OrdersService],
 * }).compile();
 *
 * // An e2e test of the whole app, whatever RedlockModule.forRootAsync reads from the env:
 * const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
 *   .overrideModule(RedlockModule)
 *   .useModule(RedlockTestingModule.forRoot())
 *   .compile();
 * ```
 */
export class RedlockTestingModule {
  /**
   * The in-memory module. Returns a definition of `RedlockModule` itself (with the memory
   * store in place of the node connections), which is what lets
   * `overrideModule(RedlockModule).useModule(...)` keep every import of the app working.
   *
   * @example
   * ```ts
   * const clock = new ManualClock();
   * Test.createTestingModule({ imports: [RedlockTestingModule.forRoot({ clock })] });
   * ```
   */
  static forRoot(options: RedlockTestingModuleOptions = {}): DynamicModule {
    if (typeof options !== 'object' || options === null) {
      throw new RedlockConfigError(
        'options',
        `expected RedlockTestingModule.forRoot({ clock?, store?, httpErrors? }), got ${describe(options)}`,
      );
    }
    const { clock, store, httpErrors = true } = options;
    return {
      module: RedlockModule,
      global: true,
      providers: [
        {
          // Replaces RedlockModule's own connection provider (same token, declared later).
          provide: REDLOCK_CONNECTIONS,
          useFactory: (): RedlockConnections => {
            const pool =
              store ??
              new MemoryLockAdapter({
                name: 'memory://testing',
                ...(clock && { now: () => clock.now() }),
              });
            const resolved = resolveModuleOptions({
              nodes: [pool],
              keyPrefix: options.keyPrefix,
              lock: options.lock,
              shutdownTimeout: options.shutdownTimeout ?? 0,
              onEvent: options.onEvent,
              logger: options.logger ?? false,
            });
            return { options: resolved, pools: [pool], owned: store ? [] : [pool], clock };
          },
        },
        ...(httpErrors ? HTTP_ERROR_PROVIDERS : []),
      ],
      exports: REDLOCK_EXPORTS,
    };
  }
}
