import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { REDLOCK_CONNECTIONS } from '../redlock.constants.js';
import type { Lock } from './lock.js';
import type { ResolvedRedlockOptions } from './module-options.js';
import { MemoryLockAdapter } from '../adapters/memory.adapter.js';
import {
  type CredentialsStatus,
  CredentialsRefresher,
  type CredentialsTarget,
} from './credentials.js';
import { safeMessage } from './quorum.js';
import { Redlock, type Resources } from './redlock.engine.js';

/** What the module's connection provider hands to the service. */
export interface RedlockConnections {
  /** Resolved options, or the configuration error to raise at `onModuleInit`. */
  readonly options: ResolvedRedlockOptions | Error;
  /** One adapter per configured node, in order (empty when the options are invalid). */
  readonly pools: readonly LockAdapter[];
  /** The adapters this module created and must close (never those passed in). */
  readonly owned: readonly LockAdapter[];
}

interface EventEmitterLike {
  emit(event: string, ...values: unknown[]): boolean;
}

/**
 * Distributed locks for the application: the injectable face of the Redlock engine.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class ReportService {
 *   constructor(private readonly redlock: RedlockService) {}
 *
 *   rebuild() {
 *     return this.redlock.using('report:rebuild', async (lock) => {
 *       await this.build({ signal: lock.signal, fencingToken: lock.fencingToken });
 *     });
 *   }
 * }
 * ```
 */
@Injectable()
export class RedlockService
  implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger: RedlockLogger | undefined;
  private readonly redlock: Redlock | undefined;
  private eventEmitter: EventEmitterLike | undefined;
  private readonly credentials: CredentialsRefresher | undefined;

  constructor(
    @Inject(REDLOCK_CONNECTIONS) private readonly connections: RedlockConnections,
    private readonly moduleRef: ModuleRef,
  ) {
    const { options, pools } = connections;
    if (options instanceof Error) return;
    this.logger = options.logger === false ? undefined : (options.logger ?? new Logger('Redlock'));
    this.redlock = new Redlock(pools, {
      keyPrefix: options.keyPrefix,
      lock: options.lock,
      logger: this.logger,
      onEvent: (event) => this.dispatch(event, options.onEvent),
      circuitBreaker: options.circuitBreaker,
      fair: options.fair,
      degraded: options.degradedMode
        ? { store: new MemoryLockAdapter({ name: 'memory://degraded' }) }
        : undefined,
    });
    if (options.credentials) {
      const targets = connections.owned.filter(
        (adapter): adapter is LockAdapter & CredentialsTarget =>
          typeof (adapter as Partial<CredentialsTarget>).updateCredentials === 'function',
      );
      this.credentials = new CredentialsRefresher(options.credentials, targets, this.logger);
    }
  }

  /** The engine behind this service (quorum, adapters, defaults). */
  get engine(): Redlock {
    if (!this.redlock) throw this.connections.options as Error;
    return this.redlock;
  }

  /**
   * Acquires the resources, waiting per the retry policy while they are busy.
   * @throws LockNotAcquiredError when they stay busy for the whole `wait`.
   * @throws RedlockUnavailableError when no quorum of nodes answers.
   *
   * @example
   * ```ts
   * const lock = await redlock.acquire(['account:1', 'account:2'], { ttl: 5_000 });
   * try { await transfer(); } finally { await lock.release(); }
   * ```
   */
  acquire(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.engine.acquire(resources, options);
  }

  /**
   * A read (shared) lock: many readers at once, none while a writer holds or waits for the
   * resources. `using(resources, fn, { mode: 'read' })` and `@WithLock(key, { mode: 'read' })`
   * take one too.
   * @throws WriteLockHeldError when a writer held (or waited for) the resources for the whole wait.
   *
   * @example
   * ```ts
   * const lock = await redlock.acquireRead('catalog');
   * try { return await readCatalog(); } finally { await lock.release(); }
   * ```
   */
  acquireRead(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.engine.acquireRead(resources, options);
  }

  /** A write (exclusive) lock; the same as `acquire`. */
  acquireWrite(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.engine.acquireWrite(resources, options);
  }

  /**
   * One attempt; `null` when the resources are busy.
   *
   * @example
   * ```ts
   * const lock = await redlock.tryAcquire('nightly-report');
   * if (!lock) return; // another instance is on it
   * ```
   */
  tryAcquire(resources: Resources, options?: LockOptions): Promise<Lock | null> {
    return this.engine.tryAcquire(resources, options);
  }

  /**
   * Acquires, runs `fn`, releases in `finally`; the lease extends itself while `fn` runs and
   * `lock.signal` aborts if it is lost (then `using` rejects with `LockLostError`).
   *
   * @example
   * ```ts
   * await redlock.using('ledger:rebuild', (lock) => rebuild({ signal: lock.signal }));
   * ```
   */
  using<T>(
    resources: Resources,
    fn: (lock: Lock) => T | Promise<T>,
    options?: LockOptions,
  ): Promise<T> {
    return this.engine.using(resources, fn, options);
  }

  /** Whether anyone holds the resources on a quorum of nodes right now. */
  isLocked(resources: Resources): Promise<boolean> {
    return this.engine.isLocked(resources);
  }

  async onModuleInit(): Promise<void> {
    const { options, pools } = this.connections;
    if (options instanceof Error) throw options;
    this.eventEmitter = await this.findEventEmitter();
    this.credentials?.start();
    if (pools.some((pool) => pool instanceof MemoryLockAdapter)) {
      this.logger?.log(
        'Using the in-memory lock store (memory://): locks are not shared with other processes.',
      );
    }
    const results = await Promise.allSettled(
      pools.map((pool) => pool.ready?.(options.connectTimeout) ?? Promise.resolve()),
    );
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        this.logger?.warn(
          `Lock node ${pools[index]!.name} is not reachable yet (${safeMessage(result.reason)}); the quorum decides at lock time.`,
        );
      }
    });
  }

  /**
   * The state of rotating credentials (`credentials` option): last refresh, last error.
   * `undefined` when the option is not used. Never contains the credentials.
   */
  credentialsStatus(): CredentialsStatus | undefined {
    return this.credentials?.status;
  }

  /** Fetches and applies fresh credentials now, instead of waiting for the schedule. */
  refreshCredentials(): Promise<boolean> {
    return this.credentials?.refresh() ?? Promise.resolve(true);
  }

  /** Releases the locks still held, while the connections are still open. */
  async beforeApplicationShutdown(): Promise<void> {
    this.credentials?.stop();
    await this.redlock?.close();
  }

  /** Closes what the module opened; clients and adapters passed in stay open. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.connections.owned.map((adapter) => adapter.close()));
  }

  private dispatch(
    event: RedlockEvent,
    onEvent: ((event: RedlockEvent) => void) | undefined,
  ): void {
    onEvent?.(event);
    this.eventEmitter?.emit(`redlock.${event.type}`, event);
    // Busy is normal contention, and every acquisition is an event: only outages are logged.
    if (event.type === 'failed' && event.error.name === 'RedlockUnavailableError') {
      this.logger?.warn(event.error.message);
    }
  }

  /** `@nestjs/event-emitter` is an optional peer: used when the application registered it. */
  private async findEventEmitter(): Promise<EventEmitterLike | undefined> {
    try {
      const { EventEmitter2 } = await import('@nestjs/event-emitter');
      return this.moduleRef.get(EventEmitter2, { strict: false });
    } catch {
      return undefined;
    }
  }
}
