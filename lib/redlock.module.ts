import { Logger, Module, type Provider } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { createLockAdapter } from './adapters/lock-adapter.factory.js';
import { WithLockExplorer } from './decorators/with-lock.explorer.js';
import type { LockAdapter } from './interfaces/lock-adapter.interface.js';
import type { RedlockModuleOptions } from './interfaces/redlock-module-options.interface.js';
import { RedlockExceptionFilter } from './redlock-exception.filter.js';
import { REDLOCK_CONNECTIONS, REDLOCK_OPTIONS, REDLOCK_POOLS } from './redlock.constants.js';
import { RedlockConfigError, RedlockError } from './redlock.errors.js';
import type { RedisCredentials } from './services/credentials.js';
import { RedlockHealthIndicator } from './redlock.health-indicator.js';
import { ConfigurableRedlockModule, REDLOCK_MODULE_OPTIONS } from './redlock.module-definition.js';
import { resolveModuleOptions } from './services/module-options.js';
import { safeMessage } from './services/quorum.js';
import { type RedlockConnections, RedlockService } from './services/redlock.service.js';

const connectionsProvider: Provider = {
  provide: REDLOCK_CONNECTIONS,
  inject: [REDLOCK_MODULE_OPTIONS],
  useFactory: async (raw: RedlockModuleOptions): Promise<RedlockConnections> => {
    let options;
    try {
      options = resolveModuleOptions(raw);
    } catch (error) {
      // Raised from RedlockService.onModuleInit, so `app.init()` fails with it and no client
      // was ever opened.
      if (error instanceof RedlockConfigError) return { options: error, pools: [], owned: [] };
      throw error;
    }
    const logger = options.logger === false ? undefined : (options.logger ?? new Logger('Redlock'));
    let credentials: RedisCredentials | undefined;
    if (options.credentials) {
      try {
        credentials = await options.credentials.provider();
      } catch (error) {
        // Raised at init like a bad option: without credentials no node can be reached.
        return {
          options: new RedlockError(`The credentials provider failed: ${safeMessage(error)}`),
          pools: [],
          owned: [],
        };
      }
    }
    const pools: LockAdapter[] = [];
    const owned: LockAdapter[] = [];
    try {
      options.nodes.forEach((node, index) => {
        let name = `nodes[${index}]`;
        let last: string | undefined;
        const adapter = createLockAdapter(node, {
          // Reconnect loops repeat the same error: log each distinct one once.
          onError: (error) => {
            const message = safeMessage(error);
            if (message === last) return;
            last = message;
            logger?.warn(`Lock node ${name}: ${message}`);
          },
          credentials,
        });
        name = adapter.name;
        pools.push(adapter);
        if (adapter !== node) owned.push(adapter);
      });
    } catch (error) {
      void Promise.allSettled(owned.map((adapter) => adapter.close()));
      throw error;
    }
    return { options, pools, owned };
  },
};

/**
 * Distributed locks for NestJS: registers the node adapters (`REDLOCK_POOLS`), the resolved
 * options (`REDLOCK_OPTIONS`), `RedlockService`, `RedlockHealthIndicator`, and the HTTP mapping
 * of lock errors (409 / 503). Global unless `isGlobal: false`.
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
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    connectionsProvider,
    {
      provide: REDLOCK_OPTIONS,
      inject: [REDLOCK_CONNECTIONS],
      useFactory: ({ options }: RedlockConnections) =>
        options instanceof Error ? undefined : options,
    },
    {
      provide: REDLOCK_POOLS,
      inject: [REDLOCK_CONNECTIONS],
      useFactory: ({ pools }: RedlockConnections) => pools,
    },
    RedlockService,
    RedlockHealthIndicator,
    WithLockExplorer,
    { provide: APP_FILTER, useClass: RedlockExceptionFilter },
  ],
  exports: [REDLOCK_OPTIONS, REDLOCK_POOLS, RedlockService, RedlockHealthIndicator],
})
export class RedlockModule extends ConfigurableRedlockModule {}
