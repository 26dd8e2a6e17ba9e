import type { ConfigurableModuleAsyncOptions } from '@nestjs/common';
import type { RedlockNode } from '../adapters/lock-adapter.factory.js';
import type { CircuitBreakerOptions } from '../services/circuit-breaker.js';
import type { CredentialsOptions } from '../services/credentials.js';
import type { Duration } from '../services/duration.js';
import type { HandOffOptions } from '../services/hand-off.js';
import type { RedlockTelemetryOptions } from '../observability/telemetry-options.js';
import type { LockOptions } from './lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from './redlock-events.interface.js';

/**
 * Options of `RedlockModule.forRoot` / `forRootAsync` (what the factory of `forRootAsync`
 * returns). Validated at startup: a bad value throws `RedlockConfigError` naming it.
 *
 * @example
 * ```ts
 * RedlockModule.forRoot({
 *   nodes: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379', 'redis://10.0.0.3:6379'],
 *   keyPrefix: 'billing:lock:',
 *   lock: { ttl: 10_000, wait: 5_000 },
 * });
 * ```
 */
export interface RedlockModuleOptions {
  /**
   * The lock nodes, at least one: independent masters for Redlock (1, 3 or 5 is usual), a
   * Cluster, a Sentinel group, existing clients, adapters, or `memory://` for one process.
   */
  nodes: readonly RedlockNode[];
  /**
   * Prepended to every resource to form its Redis key (`lock:order:42`).
   * @default 'lock:'
   */
  keyPrefix?: string;
  /** Defaults for every acquisition (see `LockOptions` for each default). */
  lock?: LockOptions;
  /**
   * How long startup waits for each node's connection before going on (a node that is down at
   * startup is logged, not fatal: the quorum decides at lock time).
   * @default 5_000
   */
  connectTimeout?: Duration;
  /**
   * Per-node circuit breaker: a node that failed `failureThreshold` times in a row is skipped
   * (counted as failed at once) for `coolDown` ms, then probed with one call. `false` turns it off.
   * @default { failureThreshold: 5, coolDown: 2_000 }
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Opt-in: when no quorum of nodes answers, hand out process-local locks instead of failing,
   * with a warning and a `degraded` event on each transition; back to the nodes as soon as a
   * quorum answers. Process-local locks do not exclude other instances: use it only where
   * availability matters more than exclusion across instances.
   * @default false
   */
  degradedMode?: boolean;
  /**
   * Rotating credentials for the clients the module creates (URL and options nodes): the
   * provider is asked at startup and every `refreshInterval` ms; connections take the new
   * credentials without being replaced (held locks are kept). Status: `RedlockService
   * .credentialsStatus()` and the health details. Never logged.
   */
  credentials?: CredentialsOptions;
  /**
   * How long shutdown waits for work that still holds locks (`app.close()`, or SIGTERM with
   * `app.enableShutdownHooks()`). From the start of shutdown, new acquisitions fail at once with
   * `RedlockUnavailableError` (HTTP 503); locks held by running work stay held and keep renewing
   * until the work releases them or this many ms pass; then every remaining lock is released and
   * the connections the module opened are closed. Keep it below your orchestrator's grace period
   * (Kubernetes: `terminationGracePeriodSeconds`, 30 s by default).
   * @default 10_000
   */
  shutdownTimeout?: Duration;
  /**
   * `memory://` keeps locks inside one process, so two instances of the app would not exclude
   * each other. With `NODE_ENV=production` the module refuses to start on a `memory://` node
   * unless this is `true` (for an app that really runs as a single process).
   * @default false
   */
  allowMemoryInProduction?: boolean;
  /**
   * How `inspect()`, the console and the CLI name this instance as a lock holder (stored once per
   * node in its instance record, never per lock).
   * @default `${hostname}:${pid}`
   */
  instanceName?: string;
  /**
   * Holder information: owner values carry a short tag of this instance and the acquisition time
   * (no extra command per lock), so `inspect()` can say who holds a lock and since when.
   * `false`: owner values are plain random tokens and holders show as unknown.
   * @default true
   */
  holderInfo?: boolean;
  /**
   * In-process hand-offs: a released lock goes straight to the next caller of this process
   * waiting for the same keys, in one compare-and-set per node instead of a release, a
   * notification and a new race (the keys are never free in between; the new owner gets its own
   * owner value and a full validity). Bounded so waiters of other processes get their turn: at
   * most `max` in a row, none past `window` after the chain's first acquisition. Callers that
   * ask for a fencing token, read locks, semaphores and degraded mode never use it. `false`:
   * every release frees the keys.
   * @default { max: 3, window: 50 }
   */
  handOff?: HandOffOptions | false;
  /** Called with every lock event (also emitted as `redlock.<type>` on `@nestjs/event-emitter`). */
  onEvent?: (event: RedlockEvent) => void;
  /**
   * OpenTelemetry spans and metrics for the locks (see `instrumentRedlock`), through the optional
   * peer `@opentelemetry/api` (startup fails with `RedlockConfigError` when it is missing).
   * `true` reports to the global tracer and meter providers; `{ tracerProvider, meterProvider }`
   * to those (`false` for either turns it off). Process-wide: modules asking for the same
   * providers share one instrumentation, which reports the locks of every engine of the process.
   * @default false
   */
  telemetry?: boolean | RedlockTelemetryOptions;
  /**
   * Where log lines go; `false` silences them.
   * @default a Nest `Logger` with the context `Redlock`
   */
  logger?: RedlockLogger | false;
}

/**
 * Options that shape the module rather than the locks: given beside the options in `forRoot`,
 * and beside `useFactory` / `useClass` / `useExisting` in `forRootAsync`.
 *
 * @example
 * ```ts
 * RedlockModule.forRootAsync({ isGlobal: true, httpErrors: false, useFactory: () => ({ nodes }) });
 * ```
 */
export interface RedlockModuleExtras {
  /**
   * Whether `RedlockService` and the other providers are visible in every module.
   * @default true
   */
  isGlobal?: boolean;
  /**
   * Register the global interceptor and exception filter that turn lock errors into HTTP
   * answers (busy: 409 with `Retry-After`, unavailable: 503, a bad key from the request: 400),
   * so they come out right under Nest's default filter and under your own filters that extend
   * `BaseExceptionFilter`. `false`: neither is registered and lock errors reach your filters as
   * they are (`RedlockErrorsInterceptor` and `RedlockExceptionFilter` stay available to apply
   * where you want them).
   * @default true
   */
  httpErrors?: boolean;
}

/**
 * What `RedlockModule.forRootAsync` takes: `imports`, `inject` and one of `useFactory`,
 * `useClass` or `useExisting` (a class implementing `RedlockOptionsFactory`), plus the extras.
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
export interface RedlockModuleAsyncOptions
  extends
    ConfigurableModuleAsyncOptions<RedlockModuleOptions, 'createRedlockOptions'>,
    RedlockModuleExtras {}
