import { Inject, Injectable, Optional } from '@nestjs/common';
import type { LockAdapter } from './interfaces/lock-adapter.interface.js';
import { REDLOCK_POOLS } from './redlock.constants.js';
import type { CircuitState } from './services/circuit-breaker.js';
import { safeMessage } from './services/quorum.js';
import { RedlockService } from './services/redlock.service.js';

/** One node in the health details. */
export interface RedlockNodeHealth {
  node: string;
  status: 'up' | 'down';
  /** Round trip of a PING in ms, when it answered. */
  latency?: number;
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
  constructor(
    @Inject(REDLOCK_POOLS) private readonly pools: readonly LockAdapter[],
    @Optional() private readonly redlock?: RedlockService,
  ) {}

  async isHealthy(
    key = 'redlock',
    options: { timeout?: number } = {},
  ): Promise<RedlockHealthResult> {
    const timeout = options.timeout ?? 1_000;
    const circuits = this.redlock?.engine.nodeStates();
    const credentials = this.redlock?.credentialsStatus();
    const nodes = await Promise.all(
      this.pools.map(async (pool, index) => ({
        ...(await probe(pool, timeout)),
        circuit: circuits?.[index]?.circuit ?? 'closed',
      })),
    );
    const reachable = nodes.filter((node) => node.status === 'up').length;
    const quorum = Math.floor(this.pools.length / 2) + 1;
    return {
      [key]: {
        status: reachable >= quorum ? 'up' : 'down',
        quorum,
        reachable,
        degraded: this.redlock?.engine.isDegraded ?? false,
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
    return { node: pool.name, status: 'down', error: safeMessage(error) };
  } finally {
    clearTimeout(timer);
  }
}
