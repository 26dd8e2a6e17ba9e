import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { LockOptions, ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { DEFAULT_KEY_PREFIX } from '../redlock.constants.js';
import {
  LockNotAcquiredError,
  RedlockConfigError,
  type RedlockError,
  RedlockUnavailableError,
} from '../redlock.errors.js';
import { type AcquisitionContext, obtain } from './acquisition.js';
import type { CircuitState } from './circuit-breaker.js';
import { type Clock, sleep, withTimers } from './clock.js';
import { DegradedMode } from './degraded-mode.js';
import {
  type RedlockEngineOptions,
  resolveCloseTimeout,
  validateEngineOptions,
} from './engine-options.js';
import { Lease } from './lease.js';
import { HandOffs, resolveHandOff } from './hand-off.js';
import { LeaseIO } from './lease-io.js';
import type { Lock } from './lock.js';
import {
  DEFAULT_LOCK_OPTIONS,
  describe,
  nodeTimeoutOf,
  resolveLockOptions,
} from './lock-options.js';
import { NodeGuard, validateNodes } from './node-guard.js';
import { safeMessage } from '../redaction.js';
import { publishRedlockEvent } from '../observability/diagnostics-publisher.js';
import { majorityOf } from './quorum.js';
import { lockedOnQuorum } from './lock-presence.js';
import type { Grant, Target } from './quorum-round.js';
import { type LockScope, openScope, type ScopeParts } from './lock-scope.js';
import { Reentrancy } from './reentrancy.js';
import { WaitingLines } from './release-waiter.js';
import { buildTarget, type Resources } from './resource-target.js';
import { rejection } from './rejection.js';
import { Rollbacks } from './rollback.js';
import { InstanceRecord } from './instance-record.js';
import { inspectLocks, type InspectionParts } from './lock-inspection.js';
import { forceRelease, type ForceReleaseParts } from './force-release.js';
import type {
  ForceReleaseOptions,
  ForceReleaseResult,
  InspectOptions,
  LockInspection,
} from '../interfaces/lock-inspection.interface.js';

export type { Resources } from './resource-target.js';
export type { LockScope } from './lock-scope.js';
export type { RedlockEngineOptions } from './engine-options.js';

/**
 * The Redlock algorithm over N independent nodes, free of NestJS.
 *
 * @example
 * ```ts
 * const redlock = new Redlock([new IoredisLockAdapter(new Redis())]);
 * await redlock.using('report', async (lock) => build({ signal: lock.signal }));
 * ```
 */
export class Redlock {
  readonly quorum: number;
  readonly keyPrefix: string;
  readonly clock: Clock;
  private readonly defaults: Readonly<ResolvedLockOptions>;
  private readonly logger: RedlockLogger | undefined;
  private readonly onEvent: ((event: RedlockEvent) => void) | undefined;
  private readonly leases: LeaseIO;
  private readonly nodes: NodeGuard;
  private readonly rollbacks: Rollbacks;
  private readonly handOffs: HandOffs | undefined;
  private readonly reentrancy: Reentrancy;
  private readonly context: AcquisitionContext;
  private readonly scopeParts: ScopeParts;
  private readonly degraded: DegradedMode | undefined;
  private readonly fallback: Redlock | undefined;
  private state: 'open' | 'closing' | 'closed' = 'open';
  /** Holder information: the tag in this engine's owner values and the record it points to. */
  private readonly instance: InstanceRecord | undefined;
  // Whether events go to the diagnostics channels (not for the degraded-mode fallback's own).
  private publishes = true;
  // Settles once every node has had its first chance to connect (see ready()).
  private connecting: Promise<void> | undefined;
  // Once it has: acquisitions skip the await (a microtask hop per lock).
  private connected = false;

  constructor(
    readonly adapters: readonly LockAdapter[],
    options: RedlockEngineOptions = {},
  ) {
    validateNodes(adapters);
    validateEngineOptions(options);
    const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.keyPrefix = keyPrefix;
    this.quorum = majorityOf(adapters.length);
    this.clock = withTimers(options.clock);
    this.defaults = resolveLockOptions(DEFAULT_LOCK_OPTIONS, options.lock, 'lock');
    this.logger = options.logger;
    this.onEvent = options.onEvent;
    this.nodes = new NodeGuard(adapters, options.circuitBreaker, this.clock, (node, from, to) => {
      // One line per outage and one per recovery; half-open probes in between are events only.
      if (from === 'closed' && to === 'open')
        this.logger?.warn(`Lock node ${node} is failing: circuit open.`);
      if (to === 'closed') this.logger?.log(`Lock node ${node} answers again: circuit closed.`);
      this.emit({ type: 'circuit', resources: [], node, from, to });
    });
    this.rollbacks = new Rollbacks(this.clock, this.nodes);
    const lines = new WaitingLines(this.clock, adapters, () => this.instance?.tag);
    // Not in degraded mode: there every lock is also an in-process lock of the fallback store,
    // whose companions a hand-off would have to carry along.
    const handOff = options.degraded ? undefined : resolveHandOff(options.handOff);
    this.handOffs =
      handOff && HandOffs.supported(adapters)
        ? new HandOffs(
            adapters,
            this.quorum,
            this.clock,
            this.nodes,
            lines,
            handOff,
            () => this.instance?.tag,
            () => this.state === 'open',
          )
        : undefined;
    this.leases = new LeaseIO(
      adapters,
      this.quorum,
      this.clock,
      keyPrefix,
      this.nodes,
      this.logger,
      (event, lease) => this.emit(event, lease),
      this.handOffs,
      (lease) => lines.ended(lease),
    );
    this.reentrancy = new Reentrancy(this.clock);
    if (options.holderInfo !== false) {
      this.instance = new InstanceRecord(options.instanceName, this.clock, this.logger);
    }
    this.context = {
      instanceTag: this.instance?.tag,
      adapters,
      quorum: this.quorum,
      clock: this.clock,
      nodes: this.nodes,
      rollbacks: this.rollbacks,
      lines,
      held: this.leases.held,
      ready: (timeout) => this.ready(timeout),
      grant: (target, opts, grant, autoExtend, parents) =>
        this.grant(target, opts, grant, autoExtend, parents),
      assertOpen: (resources) => this.assertOpen(resources),
      emit: (event, lease) => this.emit(event, lease),
    };
    this.scopeParts = {
      reentrancy: this.reentrancy,
      clock: this.clock,
      logger: this.logger,
      obtain: (target, opts, autoExtend, parents) => this.obtain(target, opts, autoExtend, parents),
      grant: (target, opts, grant, autoExtend, parents, keys) =>
        this.grant(target, opts, grant, autoExtend, parents, keys),
    };
    if (options.degraded) {
      // Its own events would double every acquisition; the engine reports for both.
      const fallback = new Redlock([options.degraded.store], {
        ...options,
        onEvent: undefined,
        degraded: undefined,
        handOff: false,
        circuitBreaker: false,
      });
      fallback.publishes = false;
      this.fallback = fallback;
      this.degraded = new DegradedMode(
        (target, opts, autoExtend, parents) =>
          obtain(fallback.context, target, opts, autoExtend, parents),
        (target, opts, autoExtend, parents) =>
          obtain(this.context, target, opts, autoExtend, parents),
        this.clock,
        this.logger,
        (event) => this.emit(event),
      );
    }
  }

  /** Each node's name and circuit state (`closed` when breakers are off), in node order. */
  nodeStates(): { node: string; circuit: CircuitState }[] {
    return this.nodes.states();
  }

  /** Whether degraded mode is handing out process-local locks right now. */
  get isDegraded(): boolean {
    return this.degraded?.isActive ?? false;
  }

  /** Resolves call options over the defaults, validating them; exposed for `@WithLock`. */
  resolveOptions(options?: LockOptions): ResolvedLockOptions {
    return resolveLockOptions(this.defaults, options);
  }

  /**
   * Acquires the resources, waiting per the retry policy while they are busy. Not reentrant:
   * the caller owns the returned lock and must release it.
   * @throws LockNotAcquiredError when they stay busy for the whole `wait`.
   * @throws RedlockUnavailableError when no quorum of nodes answers.
   */
  acquire(resources: Resources, options?: LockOptions): Promise<Lock> {
    // Not async: one promise per call instead of the function's and its await's, which count
    // once AsyncLocalStorage's promise hooks are on (after the first `using` or `@WithLock`).
    try {
      const opts = this.resolveOptions(options);
      return this.obtain(this.target(resources), opts, opts.autoExtend ?? false).then(lockOf);
    } catch (error) {
      return rejection(error);
    }
  }

  /** A read (shared) lock: any number of readers at once, none while a writer holds or waits. */
  acquireRead(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.acquire(resources, { ...options, mode: 'read' });
  }

  /** A write (exclusive) lock: the same as `acquire`, named for symmetry with `acquireRead`. */
  acquireWrite(resources: Resources, options?: LockOptions): Promise<Lock> {
    return this.acquire(resources, { ...options, mode: 'write' });
  }

  /** One attempt: the lock, or `null` when the resources are busy. */
  async tryAcquire(resources: Resources, options?: LockOptions): Promise<Lock | null> {
    const opts = { ...this.resolveOptions(options), wait: 0 };
    const lease = await this.obtain(this.target(resources), opts, opts.autoExtend ?? false);
    if (lease instanceof Lease) return lease.lock;
    if (lease instanceof LockNotAcquiredError) return null;
    throw lease;
  }

  /**
   * Acquires, runs `fn`, and releases in `finally`; the lease extends itself while `fn` runs.
   * Reentrant (see `Reentrancy`). If the lock is lost while `fn` runs, `lock.signal` aborts
   * and `using` rejects with `LockLostError` even when `fn` resolved.
   */
  async using<T>(
    resources: Resources,
    fn: (lock: Lock) => T | Promise<T>,
    options?: LockOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      throw new RedlockConfigError(
        'fn',
        `expected the function to run under the lock, got ${describe(fn)}`,
      );
    }
    const scope = await this.enter(resources, options);
    let result: T;
    try {
      result = await scope.run(() => fn(scope.lock));
    } finally {
      await scope.exit();
    }
    scope.throwIfLost();
    return result;
  }

  /**
   * The building block of `using` and `@WithLock`: acquires (or, inside a scope that already
   * holds the resources, joins) a lock that extends itself by default. Work started through
   * `run` sees the lock as held by its async chain.
   */
  enter(resources: Resources, options?: LockOptions): Promise<LockScope> {
    // Not async: the scope's own promise, one promise and two turns fewer per `@WithLock` call.
    try {
      const opts = this.resolveOptions(options);
      return openScope(this.scopeParts, this.target(resources), opts);
    } catch (error) {
      return rejection(error);
    }
  }

  /** The lock the calling async context holds: the innermost, or the one covering `resource`. */
  currentLock(resource?: string): Lock | undefined {
    return this.reentrancy.current(resource === undefined ? undefined : this.keyPrefix + resource);
  }

  /** Whether the resources are held by anyone (on a quorum of nodes) right now. */
  async isLocked(resources: Resources): Promise<boolean> {
    this.assertOpen([]);
    const { keys, resources: names } = this.target(resources);
    // Like an acquisition, wait (bounded) for nodes still making their first connection.
    const connecting = this.ready(nodeTimeoutOf(this.defaults));
    if (connecting) await connecting;
    const results = await this.nodes.ask(
      this.adapters,
      (adapter) => adapter.inspect(keys),
      nodeTimeoutOf(this.defaults),
    );
    return lockedOnQuorum(results, this.adapters, this.quorum, names);
  }

  /**
   * Shuts down gracefully: new acquisitions fail at once with `RedlockUnavailableError`; locks
   * still held stay held (and keep renewing) until released or until `timeout` ms pass; then
   * every remaining lock is released. `timeout` is milliseconds or a duration such as `'10s'`;
   * a bad one rejects with `RedlockConfigError` before anything is shut down. @default timeout 0
   */
  async close(options?: { timeout?: number | string }): Promise<void> {
    const timeout = resolveCloseTimeout(options);
    if (this.state !== 'open') return;
    this.state = 'closing';
    // Keys kept for a holdAtLeast window are freed now; releases from here on delete at once.
    const heldBack = this.leases.beginShutdown();
    if (timeout > 0) {
      // The wait's timer goes once drained: it would keep the process alive for the rest of
      // `timeout` (a Nest app lingered 10 s after app.close()).
      const drained = new AbortController();
      await Promise.race([
        this.leases.whenDrained(),
        sleep(this.clock, timeout, drained.signal).catch(() => undefined),
      ]);
      drained.abort();
    }
    const remaining = [...this.leases.held];
    const results = await Promise.allSettled(remaining.map((lease) => lease.release()));
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        this.logger?.warn(
          `At shutdown, release of ${remaining[index]!.resources.join(', ')} failed (${safeMessage(result.reason)}); the keys expire by themselves.`,
        );
      }
    });
    await heldBack;
    this.state = 'closed';
    this.instance?.stop();
    this.rollbacks.close();
    await this.fallback?.close();
  }

  /**
   * The locks held on the nodes whose resource matches `pattern` (a Redis glob), with their
   * holders, ttl, fencing counter and waiters; see `RedlockService.inspect`.
   */
  inspect(pattern?: string, options?: InspectOptions): Promise<LockInspection> {
    return inspectLocks(this.inspection(), pattern, options);
  }

  /** Deletes a lock whoever holds it; see `RedlockService.forceRelease`. */
  forceRelease(resource: string, options: ForceReleaseOptions): Promise<ForceReleaseResult> {
    return forceRelease(this.inspection(), resource, options);
  }

  /** Locks currently held through this engine. */
  get heldCount(): number {
    return this.leases.held.size;
  }

  /** Validates resource names and maps them to keys; exposed for `@WithLock`. */
  target(resources: Resources): Target {
    return buildTarget(this.keyPrefix, this.adapters, resources);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private obtain(
    target: Target,
    opts: ResolvedLockOptions,
    autoExtend: boolean,
    parents?: readonly Lease[],
  ): Promise<Lease | RedlockError> {
    if (opts.mode === 'read' || opts.permits > 1) {
      const lacking = this.adapters.find((adapter) => !adapter.shared);
      if (lacking) {
        const [option, what] =
          opts.mode === 'read' ? ['mode', 'read locks'] : ['permits', 'semaphores'];
        throw new RedlockConfigError(option, `node ${lacking.name} does not support ${what}`);
      }
    }
    // Every acquisition of a degraded-mode engine, nested ones included, takes the in-process
    // lock first: that is what keeps one process from ever having two holders.
    if (this.degraded) return this.degraded.obtain(target, opts, autoExtend, parents);
    return obtain(this.context, target, opts, autoExtend, parents);
  }

  private grant(
    target: Target,
    opts: ResolvedLockOptions,
    grant: Grant,
    autoExtend: boolean,
    parents?: readonly Lease[],
    keys = target.keys,
  ): Lease {
    const lease = new Lease(this.leases, {
      resources: target.resources,
      keys,
      value: grant.value,
      fencingToken: grant.fencingToken,
      ttl: opts.ttl,
      nodeTimeout: nodeTimeoutOf(opts),
      driftFactor: opts.driftFactor,
      deadline: grant.deadline,
      autoExtend,
      acquiredAt: grant.start,
      mode: opts.mode,
      permits: opts.permits,
      parents,
      holdAtLeast: opts.holdAtLeast,
      maxHold: opts.maxHold,
    });
    if (keys.length > 0) this.leases.held.add(lease);
    if (grant.handOff) this.handOffs?.adopt(lease, grant.handOff);
    return lease;
  }

  /**
   * Waits, at most `timeout` ms, for nodes still making their first connection: lock clients
   * fail fast while disconnected, so the first calls would fail on a connection a millisecond
   * away and trip the breakers. A node that is really down costs the first call `timeout` once.
   */
  private ready(timeout: number): Promise<void> | undefined {
    if (this.connected) return undefined;
    this.connecting ??= Promise.all(
      this.adapters.map((adapter) =>
        adapter.ready ? adapter.ready(timeout).catch(() => undefined) : Promise.resolve(),
      ),
    ).then(() => {
      this.instance?.start(this.adapters);
      this.connected = true;
    });
    return this.connecting;
  }

  private inspection(): InspectionParts & ForceReleaseParts {
    return {
      adapters: this.adapters,
      keyPrefix: this.keyPrefix,
      quorum: this.quorum,
      clock: this.clock,
      nodes: this.nodes,
      // Listing a large keyspace takes longer than a lock call; never less than 5 s.
      timeout: Math.max(5_000, nodeTimeoutOf(this.defaults)),
      held: () => new Map([...this.leases.held].map((lease) => [lease.value, lease.token])),
      ready: (timeout) => this.ready(timeout) ?? Promise.resolve(),
      logger: this.logger,
      target: (resource) => this.target(resource),
      emit: (event) => this.emit(event),
    };
  }

  private assertOpen(resources: readonly string[]): void {
    if (this.state === 'open') return;
    throw new RedlockUnavailableError(
      'The lock service is shutting down; no new locks are taken.',
      { resources },
    );
  }

  private emit(event: RedlockEvent, lease?: Lease): void {
    // Costs a few property reads when nobody subscribes to the diagnostics channels.
    if (this.publishes) publishRedlockEvent(event, lease);
    if (!this.onEvent) return;
    try {
      this.onEvent(event);
    } catch (error) {
      this.logger?.error(`A redlock event listener threw: ${safeMessage(error)}`);
    }
  }
}

/** The lock an acquisition resolved to, or its error thrown. */
function lockOf(lease: Lease | RedlockError): Lock {
  if (lease instanceof Lease) return lease.lock;
  throw lease;
}
