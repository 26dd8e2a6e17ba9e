import { type DynamicModule, type FactoryProvider, Module, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { createLockAdapter } from './adapters/lock-adapter.factory.js';
import { CoordinationExplorer } from './decorators/coordination.explorer.js';
import { WithLockExplorer } from './decorators/with-lock.explorer.js';
import type { LockAdapter } from './interfaces/lock-adapter.interface.js';
import type {
  RedlockModuleAsyncOptions,
  RedlockModuleExtras,
  RedlockModuleOptions,
} from './interfaces/redlock-module-options.interface.js';
import { describe, safeMessage } from './redaction.js';
import { RedlockErrorsInterceptor } from './redlock-errors.interceptor.js';
import { RedlockExceptionFilter } from './redlock-exception.filter.js';
import { NodeStatus } from './redlock-node-status.js';
import { REDLOCK_CONNECTIONS, REDLOCK_OPTIONS, REDLOCK_POOLS } from './redlock.constants.js';
import { RedlockConfigError, RedlockError } from './redlock.errors.js';
import { RedlockHealthIndicator } from './redlock.health-indicator.js';
import {
  DEFAULT_MODULE_EXTRAS,
  REDLOCK_MODULE_OPTIONS,
  RedlockOptionsModule,
} from './redlock.module-definition.js';
import type { RedisCredentials } from './services/credentials.js';
import { loggerOf, resolveModuleOptions } from './services/module-options.js';
import type { RedlockConnections } from './services/redlock-connections.js';
import { RedlockService } from './services/redlock.service.js';

/**
 * Validates the options and opens the node clients. Throws (so `compile()` / `NestFactory
 * .create()` fail with the error itself) on invalid options or a failing credentials provider;
 * no client is left open when it does.
 */
async function openConnections(raw: RedlockModuleOptions | undefined): Promise<RedlockConnections> {
  if (raw === undefined) {
    throw new RedlockConfigError(
      'options',
      'RedlockModule was imported without options: import RedlockModule.forRoot(options) or RedlockModule.forRootAsync({ useFactory }) (in tests: RedlockTestingModule.forRoot() from nestjs-redlock/testing).',
    );
  }
  const options = resolveModuleOptions(raw);
  const logger = loggerOf(options);
  if ((raw as { fair?: unknown }).fair !== undefined) {
    logger?.warn(
      'The `fair` option is gone and is ignored: waiters are woken by release notifications in every case.',
    );
  }
  let credentials: RedisCredentials | undefined;
  if (options.credentials) {
    try {
      credentials = await options.credentials.provider();
    } catch (error) {
      // No `cause`: the provider's error may describe the secret it failed to fetch.
      throw new RedlockError(
        `The credentials provider failed: ${safeMessage(error)}. Without credentials no lock node can be reached.`,
      );
    }
  }
  const status = new NodeStatus(logger);
  const pools: LockAdapter[] = [];
  const owned: LockAdapter[] = [];
  try {
    options.nodes.forEach((node, index) => {
      let name = `nodes[${index}]`;
      const adapter = createLockAdapter(node, {
        onError: (error) => status.failed(name, error),
        onReady: () => status.ready(name),
        credentials,
      });
      name = adapter.name;
      pools.push(adapter);
      if (adapter !== node) owned.push(adapter);
    });
  } catch (error) {
    await Promise.allSettled(owned.map((adapter) => adapter.close()));
    throw error;
  }
  return { options, pools, owned, status };
}

/** @internal The providers `RedlockModule` and `RedlockTestingModule` share. */
export const REDLOCK_CORE_PROVIDERS: Provider[] = [
  {
    provide: REDLOCK_OPTIONS,
    inject: [REDLOCK_CONNECTIONS],
    useFactory: ({ options }: RedlockConnections) => options,
  },
  {
    provide: REDLOCK_POOLS,
    inject: [REDLOCK_CONNECTIONS],
    useFactory: ({ pools }: RedlockConnections) => pools,
  },
  RedlockService,
  RedlockHealthIndicator,
  WithLockExplorer,
  CoordinationExplorer,
];

/** @internal What `RedlockModule` and `RedlockTestingModule` export. */
export const REDLOCK_EXPORTS = [
  REDLOCK_OPTIONS,
  REDLOCK_POOLS,
  RedlockService,
  RedlockHealthIndicator,
];

/** @internal The global HTTP mapping of lock errors (see `httpErrors`). */
export const HTTP_ERROR_PROVIDERS: Provider[] = [
  { provide: APP_INTERCEPTOR, useClass: RedlockErrorsInterceptor },
  { provide: APP_FILTER, useClass: RedlockExceptionFilter },
];

const connectionsProvider: FactoryProvider<Promise<RedlockConnections>> = {
  provide: REDLOCK_CONNECTIONS,
  inject: [{ token: REDLOCK_MODULE_OPTIONS, optional: true }],
  useFactory: openConnections,
};

/** Imports `forRoot` / `forRootAsync` return; see `RedlockModule` for why it exists. */
@Module({})
class RedlockRootModule {}

/**
 * Distributed locks for NestJS: registers the node adapters (`REDLOCK_POOLS`), the resolved
 * options (`REDLOCK_OPTIONS`), `RedlockService`, `RedlockHealthIndicator`, and the HTTP mapping
 * of lock errors (409 / 503 / 400). Global unless `isGlobal: false`; one per application.
 *
 * `forRoot` / `forRootAsync` import this class itself, as a plain (static) module, beside a
 * module that provides the options. That is what lets an e2e test swap the whole module for
 * in-memory locks with `overrideModule(RedlockModule)`: Nest's `overrideModule` matches a module
 * by the exact import entry, and a dynamic module's entry is a new object on every call.
 *
 * @example
 * ```ts
 * RedlockModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({
 *     nodes: config.getOrThrow<string>('REDLOCK_NODES').split(','),
 *   }),
 * });
 *
 * // In an e2e test:
 * Test.createTestingModule({ imports: [AppModule] })
 *   .overrideModule(RedlockModule)
 *   .useModule(RedlockTestingModule.forRoot());
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers: [connectionsProvider, ...REDLOCK_CORE_PROVIDERS],
  exports: REDLOCK_EXPORTS,
})
export class RedlockModule {
  /**
   * The module with options known up front.
   *
   * @example
   * ```ts
   * RedlockModule.forRoot({ nodes: ['redis://10.0.0.1:6379'], lock: { ttl: 10_000 } });
   * ```
   */
  static forRoot(options: RedlockModuleOptions & RedlockModuleExtras): DynamicModule {
    assertObject(options, 'RedlockModule.forRoot({ nodes: [...] })');
    return assemble(RedlockOptionsModule.forRoot(options), options);
  }

  /**
   * The module with options from a factory, a class or an existing provider (`ConfigService`).
   *
   * @example
   * ```ts
   * RedlockModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ nodes: [config.getOrThrow('REDIS_URL')] }),
   * });
   * ```
   */
  static forRootAsync(options: RedlockModuleAsyncOptions): DynamicModule {
    assertObject(options, 'RedlockModule.forRootAsync({ useFactory, inject })');
    const { useFactory, useClass, useExisting } = options as Record<string, unknown>;
    if (typeof useFactory !== 'function' && useClass === undefined && useExisting === undefined) {
      throw new RedlockConfigError(
        'options',
        'RedlockModule.forRootAsync needs useFactory (a function returning the options), useClass or useExisting',
      );
    }
    return assemble(RedlockOptionsModule.forRootAsync(options), options);
  }
}

/** Nest's module builder reads the options' keys at import time: a TypeError for null. */
function assertObject(options: unknown, usage: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RedlockConfigError('options', `expected ${usage}, got ${describe(options)}`);
  }
}

function assemble(optionsModule: DynamicModule, extras: RedlockModuleExtras): DynamicModule {
  const { isGlobal, httpErrors } = { ...DEFAULT_MODULE_EXTRAS, ...pickDefined(extras) };
  return {
    module: RedlockRootModule,
    global: isGlobal,
    imports: [optionsModule, RedlockModule],
    providers: httpErrors ? HTTP_ERROR_PROVIDERS : [],
    exports: [RedlockModule],
  };
}

function pickDefined(extras: RedlockModuleExtras): RedlockModuleExtras {
  const picked: RedlockModuleExtras = {};
  if (extras.isGlobal !== undefined) picked.isGlobal = extras.isGlobal;
  if (extras.httpErrors !== undefined) picked.httpErrors = extras.httpErrors;
  return picked;
}
