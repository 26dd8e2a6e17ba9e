import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { MemoryLockAdapter } from '../adapters/memory.adapter.js';
import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { describeNodeError } from '../redaction.js';
import { shareInstrumentation } from '../observability/otel-instrumentation.js';
import type {
  ForceReleaseOptions,
  ForceReleaseResult,
  InspectOptions,
  LockInspection,
} from '../interfaces/lock-inspection.interface.js';
import {
  COORDINATION,
  OBSERVE_EVENTS,
  REDLOCK_CONNECTIONS,
  REDLOCK_POOLS,
  TRACK_RESPONSE,
  WITH_LOCK_ENTER,
} from '../redlock.constants.js';
import {
  type CredentialsStatus,
  CredentialsRefresher,
  type CredentialsTarget,
} from './credentials.js';
import { EventDelivery, type EventEmitterLike } from './event-delivery.js';
import { JobCoordinator } from './job-coordinator.js';
import { QuorumOutageLog } from './quorum-outage-log.js';
import { ResponsesInFlight } from './responses-in-flight.js';
import { LeaderElections } from './leader-elections.js';
import type { Lock } from './lock.js';
import { loggerOf } from './module-options.js';
import type { RedlockConnections } from './redlock-connections.js';
import { type LockScope, Redlock, type Resources } from './redlock.engine.js';

/**
 * Distributed locks for the application: the injectable face of the Redlock engine.
 *
 * Everything it holds lives in ES private fields: the engine reaches the node clients, whose
 * options carry passwords, and `util.inspect(service, { depth: 12 })` must not print them.
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
  readonly #connections: RedlockConnections;
  readonly #moduleRef: ModuleRef;
  readonly #logger: RedlockLogger | undefined;
  readonly #engine: Redlock;
  readonly #credentials: CredentialsRefresher | undefined;
  readonly #jobs: JobCoordinator;
  readonly #elections: LeaderElections;
  readonly #outages: QuorumOutageLog;
  readonly #events: EventDelivery;
  // HTTP responses in flight (seen by RedlockErrorsInterceptor), until written or abandoned.
  readonly #responses = new ResponsesInFlight();
  // Stops this module's share of the OpenTelemetry instrumentation (`telemetry` option).
  #stopTelemetry: (() => void) | undefined;

  constructor(
    @Inject(REDLOCK_CONNECTIONS) connections: RedlockConnections,
    @Inject(REDLOCK_POOLS) pools: readonly LockAdapter[],
    moduleRef: ModuleRef,
  ) {
    this.#connections = connections;
    this.#moduleRef = moduleRef;
    const { options } = connections;
    this.#logger = loggerOf(options);
    this.#outages = new QuorumOutageLog(this.#logger);
    const events = new EventDelivery(options.onEvent, this.#outages);
    this.#events = events;
    this.#engine = new Redlock(pools, {
      keyPrefix: options.keyPrefix,
      lock: options.lock,
      clock: connections.clock,
      logger: this.#logger,
      onEvent: (event) => events.dispatch(event),
      circuitBreaker: options.circuitBreaker,
      instanceName: options.instanceName,
      holderInfo: options.holderInfo,
      handOff: options.handOff,
      degraded: options.degradedMode
        ? { store: new MemoryLockAdapter({ name: 'memory://degraded' }) }
        : undefined,
    });
    this.#jobs = new JobCoordinator(this.#engine, this.#logger);
    this.#elections = new LeaderElections(this.#engine, this.#logger);
    if (options.credentials) {
      const targets = connections.owned.filter(
        (adapter): adapter is LockAdapter & CredentialsTarget =>
          typeof (adapter as Partial<CredentialsTarget>).updateCredentials === 'function',
      );
      this.#credentials = new CredentialsRefresher(options.credentials, targets, this.#logger);
    }
  }

  /** The engine behind this service (quorum, adapters, defaults). */
  get engine(): Redlock {
    return this.#engine;
  }

  /**
   * Acquires the resources, waiting per the retry policy while they are busy.
   * @throws LockNotAcquiredError when they stay busy for the whole `wait`.
   * @throws RedlockUnavailableError when no quorum of nodes answers, or during shutdown.
   *
   * @example
   * ```ts
   * const lock = await redlock.acquire(['account:1', 'account:2'], { ttl: 5_000 });
   * try { await transfer(); } finally { await lock.release(); }
   * ```
   */
  acquire(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.#engine.acquire(resources, options);
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
    return this.#engine.acquireRead(resources, options);
  }

  /**
   * A write (exclusive) lock; the same as `acquire`.
   *
   * @example
   * ```ts
   * const lock = await redlock.acquireWrite('catalog');
   * ```
   */
  acquireWrite(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.#engine.acquireWrite(resources, options);
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
    return this.#engine.tryAcquire(resources, options);
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
    return this.#engine.using(resources, fn, options);
  }

  /**
   * Whether anyone holds the resources on a quorum of nodes right now.
   *
   * @example
   * ```ts
   * if (await redlock.isLocked('ledger:rebuild')) return 'a rebuild is running';
   * ```
   */
  isLocked(resources: Resources): Promise<boolean> {
    return this.#engine.isLocked(resources);
  }

  /**
   * The lock the calling async context holds: inside a `@WithLock` method, a `using` callback or
   * anything they call (also across `await`). Without `resource`, the innermost; with it, the
   * held lock covering that resource. `undefined` outside any lock.
   *
   * @example
   * ```ts
   * @WithLock('invoice:<0>')
   * async issue(id: string) {
   *   const lock = this.redlock.currentLock()!;
   *   await this.invoices.save(id, { fencingToken: lock.fencingToken, signal: lock.signal });
   * }
   * ```
   */
  currentLock(resource?: string): Lock | undefined {
    return this.#engine.currentLock(resource);
  }

  /**
   * The locks held on the nodes right now whose resource matches `pattern` (a Redis glob: `*`,
   * `?`, `[a-z]`; default every lock), merged over the nodes: holder (instance name, host, pid,
   * since when), ttl left, mode, fencing counter, waiters, on how many nodes. Each node is listed
   * with `SCAN`, never `KEYS`. Owner values are never part of the answer.
   * @throws RedlockConfigError for a malformed pattern.
   *
   * @example
   * ```ts
   * const { locks } = await redlock.inspect('order:*');
   * for (const lock of locks) {
   *   console.log(lock.resource, lock.holders[0]?.instance?.name, `${lock.ttl} ms left`);
   * }
   * ```
   */
  inspect(pattern?: string, options?: InspectOptions): Promise<LockInspection> {
    return this.#engine.inspect(pattern, options);
  }

  /**
   * Deletes the lock on `resource` on every node, whoever holds it: an operator's last resort for
   * a holder that is stuck but alive. Waiters go at once, the fencing counter is raised (the
   * result's `fencingCounter`: give it to the protected store as its new minimum to refuse the
   * old holder's writes), a warning is logged and a `forceReleased` event names `by`. The holder
   * learns it at its next extension (`lock.signal` aborts); until then it may still run.
   * @throws RedlockUnavailableError when fewer than a quorum of nodes answered.
   *
   * @example
   * ```ts
   * await redlock.forceRelease('report:nightly', { by: 'ops:alice' });
   * ```
   */
  forceRelease(resource: string, options: ForceReleaseOptions): Promise<ForceReleaseResult> {
    return this.#engine.forceRelease(resource, options);
  }

  /** @internal Follows every event of this service (the lock console); returns the unfollow. */
  [OBSERVE_EVENTS](listener: (event: RedlockEvent) => void): () => void {
    return this.#events.observe(listener);
  }

  /**
   * Whether this instance of the application leads the `@LeaderElection` of `key` right now
   * (its lease is held and valid). `false` for a key no provider of the application elects on.
   *
   * @example
   * ```ts
   * if (!this.redlock.isLeader('leader:billing')) return; // only the leader sends reminders
   * ```
   */
  isLeader(key: string): boolean {
    return this.#elections.isLeader(key);
  }

  async onModuleInit(): Promise<void> {
    const { options, pools } = this.#connections;
    this.#events.eventEmitter = await this.#findEventEmitter();
    if (options.telemetry) {
      const { instrumentation, release } = await shareInstrumentation(options.telemetry);
      const unobserve = instrumentation.observe(this.#engine);
      this.#stopTelemetry = () => {
        unobserve();
        release();
      };
    }
    this.#credentials?.start();
    if (pools.some((pool) => pool instanceof MemoryLockAdapter)) {
      this.#logger?.log(
        'Using the in-memory lock store (memory://): locks are not shared with other processes.',
      );
    }
    const results = await Promise.allSettled(
      pools.map((pool) => pool.ready?.(options.connectTimeout) ?? Promise.resolve()),
    );
    results.forEach((result, index) => {
      const name = pools[index]!.name;
      // The node's own error was logged already when the module opened its client.
      if (result.status === 'rejected' && !this.#connections.status?.reason(name)) {
        this.#logger?.warn(
          `Lock node ${name} is not reachable yet (${describeNodeError(result.reason)}); the quorum decides at lock time.`,
        );
      }
    });
  }

  /**
   * The state of rotating credentials (`credentials` option): last refresh, last error.
   * `undefined` when the option is not used. Never contains the credentials.
   */
  credentialsStatus(): CredentialsStatus | undefined {
    return this.#credentials?.status;
  }

  /** Fetches and applies fresh credentials now, instead of waiting for the schedule. */
  refreshCredentials(): Promise<boolean> {
    return this.#credentials?.refresh() ?? Promise.resolve(true);
  }

  /**
   * Graceful shutdown, while the HTTP server still serves the requests in flight: from here
   * on new acquisitions fail at once (503 on HTTP); locks held by running work stay held and
   * keep renewing until the work releases them or `shutdownTimeout` passes; then the remaining
   * locks are released, while the connections are still open.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.#outages.shuttingDown = true;
    this.#credentials?.stop();
    // Jobs hand over once their current run ends; leaders step down (onLeadershipLost first).
    this.#jobs.stepDown();
    await this.#elections.stepDown();
    const timeout = this.#connections.options.shutdownTimeout;
    const began = performance.now();
    const pending = this.#engine.heldCount;
    if (pending > 0) {
      this.#logger?.log(
        `Shutting down: waiting up to ${timeout} ms for ${pending} held lock(s) to be released.`,
      );
    }
    await this.#engine.close({ timeout });
    // Nest closes the HTTP server right after this hook: the requests in flight get the rest of
    // shutdownTimeout (at least 1 s, for the responses of work that just released its locks).
    await this.#responses.settled(Math.max(1_000, timeout - (performance.now() - began)));
  }

  /**
   * @internal Called by `RedlockErrorsInterceptor` for every HTTP request it sees: shutdown
   * waits for the response to be written (or its connection to close) before Nest closes the
   * HTTP server.
   */
  [TRACK_RESPONSE](response: unknown): void {
    this.#responses.track(response);
  }

  /** Closes what the module opened; clients and adapters passed in stay open. */
  async onApplicationShutdown(): Promise<void> {
    this.#stopTelemetry?.();
    this.#stopTelemetry = undefined;
    await Promise.allSettled(this.#connections.owned.map((adapter) => adapter.close()));
  }

  /** @internal The runtime of `@OnOneInstance`, `@WithoutOverlapping` and `@LeaderElection`. */
  [COORDINATION](): { jobs: JobCoordinator; elections: LeaderElections } {
    return { jobs: this.#jobs, elections: this.#elections };
  }

  /** @internal The entry point of `@WithLock`; its absence tells a mock from the service. */
  [WITH_LOCK_ENTER](resources: Resources, options: LockOptions): Promise<LockScope> {
    return this.#engine.enter(resources, options);
  }

  /** `@nestjs/event-emitter` is an optional peer: used when the application registered it. */
  async #findEventEmitter(): Promise<EventEmitterLike | undefined> {
    try {
      const { EventEmitter2 } = await import('@nestjs/event-emitter');
      return this.#moduleRef.get(EventEmitter2, { strict: false });
    } catch {
      return undefined;
    }
  }
}
