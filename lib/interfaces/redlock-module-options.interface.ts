import type { RedlockNode } from '../adapters/lock-adapter.factory.js';
import type { CircuitBreakerOptions } from '../services/circuit-breaker.js';
import type { CredentialsOptions } from '../services/credentials.js';
import type { LockOptions } from './lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from './redlock-events.interface.js';

/**
 * Options of `RedlockModule.forRoot` / `forRootAsync`.
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
  connectTimeout?: number;
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
   * Serve waiters for one key in call order across processes and hosts, through a line kept on
   * the nodes (see the README, "Waiting"). `false`: every process's first waiter races for a
   * released key (higher throughput under contention, no fairness across processes).
   * @default true
   */
  fair?: boolean;
  /**
   * Rotating credentials for the clients the module creates (URL and options nodes): the
   * provider is asked at startup and every `refreshInterval` ms; connections take the new
   * credentials without being replaced (held locks are kept). Status: `RedlockService
   * .credentialsStatus()` and the health details. Never logged.
   */
  credentials?: CredentialsOptions;
  /** Called with every lock event (also emitted as `redlock.<type>` on `@nestjs/event-emitter`). */
  onEvent?: (event: RedlockEvent) => void;
  /**
   * Where log lines go; `false` silences them.
   * @default a Nest `Logger` with the context `Redlock`
   */
  logger?: RedlockLogger | false;
}
