import { isLockAdapter, type LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  NodeSkippedError,
} from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { describe } from './lock-options.js';
import { safeMessage } from '../redaction.js';
import { fanOut, type FanOutObserver, type NodeResult } from './quorum.js';

const SILENCE = 'no answer within the per-node timeout';

/**
 * Sends calls to the nodes through their circuit breakers: a node whose circuit is open is
 * skipped at once, every answer (also a late one) feeds its breaker, and a node still silent
 * at the per-node timeout counts as failed even when the quorum answered without it.
 */
export class NodeGuard {
  private readonly breakers = new Map<LockAdapter, CircuitBreaker>();
  private observer: FanOutObserver | undefined;

  constructor(
    private readonly adapters: readonly LockAdapter[],
    options: CircuitBreakerOptions | false | undefined,
    private readonly clock: Clock,
    onChange: (node: string, from: CircuitState, to: CircuitState) => void,
  ) {
    if (options === false) return;
    const settings = validateBreaker(options ?? {});
    for (const adapter of adapters) {
      this.breakers.set(
        adapter,
        new CircuitBreaker(settings, clock, (from, to) => onChange(adapter.name, from, to)),
      );
    }
  }

  /** Each node's name and circuit state (`closed` when breakers are off), in node order. */
  states(): { node: string; circuit: CircuitState }[] {
    return this.adapters.map((adapter) => ({
      node: adapter.name,
      circuit: this.breakers.get(adapter)?.state ?? 'closed',
    }));
  }

  /** `fanOut` over `adapters` (all nodes or a subset) through their breakers. */
  ask<T>(
    adapters: readonly LockAdapter[],
    call: (adapter: LockAdapter) => Promise<T>,
    timeout: number,
    decided?: (results: readonly NodeResult<T>[], pending: number) => boolean,
    now?: number,
  ): Promise<NodeResult<T>[]> {
    const observer =
      this.breakers.size === 0
        ? undefined
        : adapters === this.adapters
          ? (this.observer ??= this.observe(this.adapters))
          : this.observe(adapters);
    return fanOut(this.clock, adapters, call, timeout, decided, observer, now);
  }

  /**
   * `fanOut` that no open circuit can stop: for releases and for undoing what an attempt
   * took. A node whose circuit opened meanwhile may still hold the key (or have the attempt
   * queued in its client); skipping it would leave that key blocking everyone for its ttl
   * once the node answers again.
   */
  always<T>(
    adapters: readonly LockAdapter[],
    call: (adapter: LockAdapter) => Promise<T>,
    timeout: number,
    decided?: (results: readonly NodeResult<T>[], pending: number) => boolean,
  ): Promise<NodeResult<T>[]> {
    return fanOut(this.clock, adapters, call, timeout, decided);
  }

  private observe(adapters: readonly LockAdapter[]): FanOutObserver {
    const breakers = adapters.map((adapter) => this.breakers.get(adapter));
    return {
      allow: (index) => {
        const breaker = breakers[index];
        return !breaker || breaker.allow()
          ? undefined
          : new NodeSkippedError(adapters[index]!.name, breaker.lastFailure);
      },
      settled: (index, ok, error) => {
        if (ok) breakers[index]?.success();
        else breakers[index]?.failure(safeMessage(error));
      },
      overdue: (index) => breakers[index]?.failure(SILENCE),
    };
  }
}

function validateBreaker(options: CircuitBreakerOptions): CircuitBreakerOptions {
  const { failureThreshold = 5, coolDown = 2_000 } = options;
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
    throw new RedlockConfigError(
      'circuitBreaker.failureThreshold',
      `expected a whole number >= 1, got ${describe(failureThreshold)}`,
    );
  }
  if (typeof coolDown !== 'number' || !Number.isFinite(coolDown) || coolDown < 0) {
    throw new RedlockConfigError(
      'circuitBreaker.coolDown',
      `expected ms >= 0, got ${describe(coolDown)}`,
    );
  }
  return { failureThreshold, coolDown };
}

/**
 * At least one node, each node once: the same node listed twice would count twice toward the
 * quorum (with [A, A, A, B, C], A alone would confirm an extension). Memory stores are
 * distinct per instance whatever their display name.
 */
export function validateNodes(adapters: readonly LockAdapter[]): void {
  const list: unknown = adapters;
  if (!Array.isArray(list)) {
    // Not `describe`: a string here is most likely a URL, and may carry its password.
    const got = typeof list === 'string' ? 'a string' : describe(list);
    throw new RedlockConfigError('nodes', `expected an array of LockAdapters, got ${got}`);
  }
  if (list.length === 0) throw new RedlockConfigError('nodes', 'give at least one node');
  const names = new Map<string, number>();
  adapters.forEach((adapter: unknown, index) => {
    // Named, too: the engine names nodes in every message and event.
    if (!isLockAdapter(adapter) || typeof adapter.name !== 'string') {
      throw new RedlockConfigError(
        `nodes[${index}]`,
        `expected a LockAdapter (build one with createLockAdapter(url)), got ${describe(adapter)}`,
      );
    }
    const first = adapters.indexOf(adapter);
    const earlier = adapter.name.startsWith('memory:') ? undefined : names.get(adapter.name);
    if (first !== index || earlier !== undefined) {
      throw new RedlockConfigError(
        `nodes[${index}]`,
        `node ${adapter.name} is listed twice (also at nodes[${first !== index ? first : earlier}]); each node may count once toward the quorum`,
      );
    }
    names.set(adapter.name, index);
  });
}
