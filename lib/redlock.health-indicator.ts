import { Inject, Injectable, Optional } from '@nestjs/common';
import type { LockAdapter } from './interfaces/lock-adapter.interface.js';
import { describeNodeError } from './redaction.js';
import { REDLOCK_CONNECTIONS, REDLOCK_POOLS } from './redlock.constants.js';
import type { CircuitState } from './services/circuit-breaker.js';
import { majorityOf } from './services/quorum.js';
import type { RedlockConnections } from './services/redlock-connections.js';
import { RedlockService } from './services/redlock.service.js';

/** One node in the health details. */
export interface RedlockNodeHealth {
  node: string;
  status: 'up' | 'down';
  /** Round trip of a PING in ms, when it answered. */
  latency?: number;
  /** Why it is down, in plain words: `connection refused (10.0.0.5:6379)`, `authentication failed (...)`. */
  error?: string;
  /** The node's circuit breaker: `open` means lock calls skip it for now. */
  circuit: CircuitState;
}

/** The `@nestjs/terminus` result shape: `{ [key]: { status, ...details } }`. */
export type RedlockHealthResult = Record<
  string,
  {
    status: 'up' | 'down';
    quorum: number;
    reachable: number;
    /** Whether degraded mode is handing out process-local locks. */
    degraded: boolean;
    /** Rotating credentials: last refresh and error (present with the `credentials` option). */
    credentials?: { lastRefresh: number | undefined; lastError: string | undefined };
    nodes: RedlockNodeHealth[];
  }
>;

/**
 * A `@nestjs/terminus` health indicator: up when a quorum of lock nodes answers PING within the
 * timeout. Works without importing terminus (an optional peer): terminus reads the result shape.
 *
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.redlock.isHealthy('redlock')]); }
 * ```
 */
@Injectable()
export class RedlockHealthIndicator {
  // ES private fields: the adapters reach clients whose options carry passwords.
  readonly #pools: readonly LockAdapter[];
  readonly #redlock: RedlockService | undefined;
  readonly #connections: RedlockConnections | undefined;

  constructor(
    @Inject(REDLOCK_POOLS) pools: readonly LockAdapter[],
    @Optional() redlock?: RedlockService,
    @Optional() @Inject(REDLOCK_CONNECTIONS) connections?: RedlockConnections,
  ) {
    this.#pools = pools;
    this.#redlock = redlock;
    this.#connections = connections;
  }

  /**
   * PINGs every node (in parallel, each bounded by `timeout` ms, default 1 s) and reports up
   * when a quorum answered.
   *
   * @example
   * ```ts
   * const result = await indicator.isHealthy('redlock', { timeout: 500 });
   * ```
   */
  async isHealthy(
    key = 'redlock',
    options: { timeout?: number } = {},
  ): Promise<RedlockHealthResult> {
    const timeout = options.timeout ?? 1_000;
    const circuits = this.#redlock?.engine.nodeStates();
    const credentials = this.#redlock?.credentialsStatus();
    const status = this.#connections?.status;
    const nodes = await Promise.all(
      this.#pools.map(async (pool, index) => {
        const health = await probe(pool, timeout);
        // A client without a connection only says "not connected"; the reason it has none
        // (refused, auth) came with its last connection error.
        const reason = health.status === 'down' ? status?.reason(pool.name) : undefined;
        if (reason && (health.error === 'not connected' || health.error === undefined)) {
          health.error = reason;
        }
        return { ...health, circuit: circuits?.[index]?.circuit ?? 'closed' };
      }),
    );
    const reachable = nodes.filter((node) => node.status === 'up').length;
    const quorum = majorityOf(this.#pools.length);
    return {
      [key]: {
        status: reachable >= quorum ? 'up' : 'down',
        quorum,
        reachable,
        degraded: this.#redlock?.engine.isDegraded ?? false,
        ...(credentials && {
          credentials: { lastRefresh: credentials.lastRefresh, lastError: credentials.lastError },
        }),
        nodes,
      },
    };
  }
}

async function probe(
  pool: LockAdapter,
  timeout: number,
): Promise<Omit<RedlockNodeHealth, 'circuit'>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pool.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
      }),
    ]);
    return {
      node: pool.name,
      status: 'up',
      latency: Math.round((performance.now() - started) * 100) / 100,
    };
  } catch (error) {
    return { node: pool.name, status: 'down', error: describeNodeError(error) };
  } finally {
    clearTimeout(timer);
  }
}
