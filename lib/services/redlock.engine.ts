import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import type { FenceArgs, LineArgs, LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { LockOptions, ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type {
  RedlockEvent,
  RedlockLogger,
  ReleaseStatus,
} from '../interfaces/redlock-events.interface.js';
import { DEFAULT_KEY_PREFIX, FENCE_RETENTION_MS, MAX_KEY_BYTES } from '../redlock.constants.js';
import {
  LockKeyError,
  LockLostError,
  LockNotAcquiredError,
  type NodeOutcome,
  RedlockConfigError,
  RedlockError,
  RedlockUnavailableError,
  WriteLockHeldError,
} from '../redlock.errors.js';
import { type Clock, systemClock } from './clock.js';
import { Lease, type LeaseDriver, type Lock } from './lock.js';
import {
  DEFAULT_LOCK_OPTIONS,
  describe,
  nodeTimeoutOf,
  resolveLockOptions,
  validateTtl,
} from './lock-options.js';
import type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
import { NodeGuard } from './node-guard.js';
import { describeNodes, type NodeResult } from './quorum.js';
import { type ReleaseWaiter, WaitingLines } from './release-waiter.js';

/** Options of the engine; the Nest module builds them from `RedlockModuleOptions`. */
export interface RedlockEngineOptions {
  /** @default 'lock:' */
  keyPrefix?: string;
  /** Defaults for every acquisition. */
  lock?: LockOptions;
  clock?: Clock;
  logger?: RedlockLogger;
  onEvent?: (event: RedlockEvent) => void;
  /**
   * Skip a node that keeps failing instead of waiting for its timeout on every call; `false`
   * turns it off. @default { failureThreshold: 5, coolDown: 2_000 }
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Opt-in degraded mode: when no quorum of nodes can answer, hand out locks from `store` (a
   * process-local store such as `MemoryLockAdapter`) instead of failing, loudly (a warning and a
   * `degraded` event on each transition), and go back to the nodes as soon as a quorum answers.
   * Absent by default: without a quorum the library fails closed.
   */
  degraded?: { store: LockAdapter };
  /**
   * Whether waiters for one key are served in call order across processes, through a line on
   * the nodes (when every node's adapter keeps lines). `false` lets every process's first waiter
   * race for a released key: more hand-offs stay in one process, at the cost of fairness.
   * @default true
   */
  fair?: boolean;
}

/** One or several resource names; several are locked all or nothing. */
export type Resources = string | readonly string[];

/** A lock held for the length of some work; see {@link Redlock.enter}. */
export interface LockScope {
  readonly lock: Lock;
  /** Runs `fn` in the async context that owns the lock (for reentrancy). */
  run<T>(fn: () => T): T;
  /** Releases the lock unless the scope reused a lock held further up; never rejects. */
  exit(): Promise<void>;
  /** Throws the `LockLostError` if the lock was lost while the scope was open. */
  throwIfLost(): void;
}

interface Target {
  readonly resources: readonly string[];
  readonly keys: readonly string[];
}

interface Failure {
  readonly busy: boolean;
  readonly nodes: readonly NodeOutcome[];
  /** Shortest remaining ttl a busy node reported, for the next sleep. */
  readonly holderTtl: number | undefined;
  readonly reason: string;
  /** We took some nodes but not a quorum: a split vote with other contenders. */
  readonly split: boolean;
}

const ACQUIRE_OUTCOME = (reply: { acquired: boolean }) => (reply.acquired ? 'acquired' : 'taken');
const OWNER_OUTCOME = (reply: string) =>
  reply === 'ok' ? 'acquired' : (reply as 'taken' | 'expired');

/**
 * The Redlock algorithm over N independent nodes, free of NestJS.
 *
 * An acquisition sends one atomic script to every node at once and answers as soon as a quorum
 * (`floor(N/2) + 1`) has decided it; a failed attempt takes back whatever it took on every node
 * before anything else happens, so partial locks never pile up across retries.
 *
 * @example
 * ```ts
 * const redlock = new Redlock([new IoredisLockAdapter(new Redis())]);
 * await redlock.using('report', async (lock) => build({ signal: lock.signal }));
 * ```
 */
export class Redlock implements LeaseDriver {
  readonly quorum: number;
  readonly keyPrefix: string;
  readonly clock: Clock;
  private readonly defaults: Readonly<ResolvedLockOptions>;
  private readonly logger: RedlockLogger | undefined;
  private readonly onEvent: ((event: RedlockEvent) => void) | undefined;
  private readonly held = new Set<Lease>();
  // Per engine, so two applications in one process never see each other's held locks.
  private readonly context = new AsyncLocalStorage<readonly Lease[]>();
  private readonly nodes: NodeGuard;
  private readonly fallback: Redlock | undefined;
  private degraded = false;
  private closed = false;
  // Callers of this process waiting for the same keys, in arrival order (see obtain).
  private readonly lines: WaitingLines;
  // Whether every node keeps a waiting line per key, so waiters are served in call order
  // across processes (see LockAdapter.leaveLine).
  private readonly fair: boolean;
  private lastTicket = 0;
  // Settles once every node has had its first chance to connect (see firstConnect).
  private connecting: Promise<void> | undefined;
  private connected = false;

  constructor(
    readonly adapters: readonly LockAdapter[],
    options: RedlockEngineOptions = {},
  ) {
    if (!Array.isArray(adapters) || adapters.length === 0) {
      throw new RedlockConfigError('nodes', 'give at least one node');
    }
    const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (typeof keyPrefix !== 'string') {
      throw new RedlockConfigError('keyPrefix', `expected a string, got ${describe(keyPrefix)}`);
    }
    this.keyPrefix = keyPrefix;
    this.quorum = Math.floor(adapters.length / 2) + 1;
    this.clock = options.clock ?? systemClock;
    this.defaults = resolveLockOptions(DEFAULT_LOCK_OPTIONS, options.lock, 'lock');
    this.logger = options.logger;
    this.onEvent = options.onEvent;
    this.lines = new WaitingLines(this.adapters, this.quorum);
    this.fair =
      options.fair !== false &&
      this.adapters.every((adapter) => typeof adapter.leaveLine === 'function');
    this.nodes = new NodeGuard(
      this.adapters,
      options.circuitBreaker,
      this.clock,
      (node, from, to) => {
        const line = `Lock node ${node}: circuit ${from} -> ${to}.`;
        if (to === 'open') this.logger?.warn(line);
        else this.logger?.log(line);
        this.emit({ type: 'circuit', resources: [], node, from, to });
      },
    );
    if (options.degraded) {
      this.fallback = new Redlock([options.degraded.store], {
        keyPrefix,
        lock: options.lock,
        clock: this.clock,
        logger: options.logger,
        onEvent: options.onEvent,
        circuitBreaker: false,
      });
    }
  }

  /** Each node's name and circuit state (`closed` when breakers are off), in node order. */
  nodeStates(): { node: string; circuit: CircuitState }[] {
    return this.nodes.states();
  }

  /** Whether degraded mode is handing out process-local locks right now. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  /** Resolves call options over the defaults, validating them; exposed for `@WithLock`. */
  resolveOptions(options?: LockOptions): ResolvedLockOptions {
    return resolveLockOptions(this.defaults, options);
  }

  /**
   * Acquires the resources, waiting per the retry policy while they are busy.
   * Rejects with `LockNotAcquiredError` when they stay busy for the whole `wait`, and with
   * `RedlockUnavailableError` when no quorum of nodes answers.
   */
  async acquire(resources: Resources, options?: LockOptions): Promise<Lock> {
    const opts = this.resolveOptions(options);
    const lease = await this.obtain(this.target(resources), opts, opts.autoExtend ?? false);
    if (lease instanceof Lease) return lease.lock;
    throw lease;
  }

  /**
   * A read (shared) lock: any number of readers at once, none while a writer holds the
   * resources or waits for them. Rejects with `WriteLockHeldError` when that lasts the wait.
   */
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
   * Called again for resources this async call chain already holds, it reuses the held lock.
   * If the lock is lost while `fn` runs, `lock.signal` aborts and `using` rejects with
   * `LockLostError` even when `fn` resolved: the caller cannot assume the work was exclusive.
   */
  async using<T>(
    resources: Resources,
    fn: (lock: Lock) => T | Promise<T>,
    options?: LockOptions,
  ): Promise<T> {
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
   * holds the resources, reuses) a lock that extends itself by default. Work started through
   * `run` sees the lock as held by its async chain; `exit` releases it unless it was reused.
   */
  async enter(resources: Resources, options?: LockOptions): Promise<LockScope> {
    const opts = this.resolveOptions(options);
    const target = this.target(resources);
    const live = (this.context.getStore() ?? []).filter((lease) => lease.isHeld());
    // A held write lock covers reads and writes; a held read lock covers reads only.
    const covers = (lease: Lease) => lease.mode === 'write' || opts.mode === 'read';
    const covering = live.find(
      (lease) => covers(lease) && target.keys.every((key) => lease.keys.includes(key)),
    );
    if (covering) {
      const lock = covering.lock;
      return {
        lock,
        run: (fn) => fn(),
        exit: () => Promise.resolve(),
        throwIfLost: () => undefined,
      };
    }
    // Only what the chain does not hold yet: taking a held key again would wait on ourselves.
    const missing = target.keys.filter(
      (key) => !live.some((lease) => covers(lease) && lease.keys.includes(key)),
    );
    const own =
      missing.length === target.keys.length
        ? target
        : { keys: missing, resources: missing.map((key) => key.slice(this.keyPrefix.length)) };
    const lease = await this.obtain(own, opts, opts.autoExtend ?? true);
    if (!(lease instanceof Lease)) throw lease;
    const chain = [...live, lease];
    return {
      lock: lease.lock,
      run: (fn) => this.context.run(chain, fn),
      exit: () =>
        lease.release().then(
          () => undefined,
          (error: unknown) => {
            this.logger?.warn(
              `Release of ${own.resources.join(', ')} failed (${messageOf(error)}); the keys expire by themselves.`,
            );
          },
        ),
      throwIfLost: () => {
        if (lease.lost) throw lease.lost;
      },
    };
  }

  /** Whether the resources are held by anyone (on a quorum of nodes) right now. */
  async isLocked(resources: Resources): Promise<boolean> {
    this.assertOpen();
    const { keys, resources: names } = this.target(resources);
    const results = await this.nodes.ask(
      this.adapters,
      (adapter) => adapter.inspect(keys),
      nodeTimeoutOf(this.defaults),
    );
    let answered = 0;
    let locked = 0;
    for (const result of results) {
      if (result.status !== 'ok') continue;
      answered += 1;
      if (result.value !== -2) locked += 1;
    }
    if (answered < this.quorum) {
      throw new RedlockUnavailableError(
        `Cannot tell whether ${names.join(', ')} is locked: ${answered} of ${this.adapters.length} nodes answered, ${this.quorum} needed.`,
        {
          resources: names,
          nodes: describeNodes(this.adapters, results, (ttl) => (ttl === -2 ? 'expired' : 'taken')),
        },
      );
    }
    return locked >= this.quorum;
  }

  /** Releases every lock still held (used at shutdown), then refuses new acquisitions. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.held].map((lease) => lease.release()));
  }

  /** Locks currently held through this engine. */
  get heldCount(): number {
    return this.held.size;
  }

  // ---- acquisition -------------------------------------------------------------------------

  private async obtain(
    target: Target,
    opts: ResolvedLockOptions,
    autoExtend: boolean,
  ): Promise<Lease | RedlockError> {
    this.assertOpen();
    if (opts.mode === 'read') {
      const lacking = this.adapters.find((adapter) => typeof adapter.acquireShared !== 'function');
      if (lacking) {
        throw new RedlockConfigError('mode', `node ${lacking.name} does not support read locks`);
      }
    }
    const { signal } = opts;
    signal?.throwIfAborted();
    const started = this.clock.now();
    const waitUntil = started + opts.wait;
    const timeout = nodeTimeoutOf(opts);
    if (!this.connected) await this.firstConnect(timeout);
    // Writers line up; readers do not (they can all go in together once the writer is done).
    const lined = opts.mode === 'write';
    const queueId = target.keys.join('\n');
    // A waiting writer of one key takes a place in the nodes' line of the key, by call time.
    // Its id is drawn only once it waits: an uncontended call sends none and costs nothing more.
    const line: { id: string; ticket: number } | undefined =
      this.fair && lined && opts.wait > 0 && target.keys.length === 1
        ? { id: '', ticket: this.nextTicket() }
        : undefined;
    // Subscribes and joins this process's line; a caller with a line draws its id here.
    const join = (within: number) =>
      this.lines.join(queueId, target.keys, within, lined, line && (line.id ||= ownerValue()));
    let waiter: ReleaseWaiter | undefined;
    let attempts = 0;
    let failure: Failure | undefined;
    let acquired = false;
    try {
      // Callers in this process queue in order: one that arrives while others wait joins the
      // line instead of racing them (it would win every time, being one round trip ahead of
      // their release notification). Nodes that keep lines make the same promise across
      // processes; there only the first caller of this process holds a place, by call time.
      if (lined && opts.wait > 0 && this.lines.length(queueId) > 0) {
        waiter = await join(Math.min(timeout, opts.wait));
        // With the nodes' lines, this caller takes its place there once it is first here and
        // the key is contended from other processes: then the caller before it hands on as soon
        // as it holds the lock, so the place is taken off the path of the hand-off (see
        // WaitingLines.leave).
        await waiter.wait(Math.max(0, waitUntil - this.clock.now()), signal);
      }
      for (;;) {
        if (failure && waitUntil - this.clock.now() <= 0) break;
        attempts += 1;
        waiter?.reset();
        // With a place, decided before the attempt: the line must keep it for as long as this
        // waiter may sleep after it (a lost notification) plus two round trips. Without one
        // (an uncontended call) it is only drawn if a sleep comes.
        let delay: number | undefined;
        let place: LineArgs | undefined;
        if (line?.id) {
          delay = this.retryDelayOf(attempts, opts);
          place = { ...line, patience: Math.ceil(delay + 2 * timeout + LINE_SLACK_MS) };
        }
        const outcome = await this.attempt(target, opts, timeout, autoExtend, place);
        // A busy answer to an attempt with a place means the nodes now keep it.
        if (waiter && place && !(outcome instanceof Lease)) waiter.registered = true;
        if (outcome instanceof Lease && this.degraded) this.setDegraded(false, target.resources);
        if (!(outcome instanceof Lease) && !outcome.busy && this.fallback) {
          // No quorum: degraded mode hands out a process-local lock instead of failing.
          this.setDegraded(true, target.resources);
          return this.fallback.obtain(target, opts, autoExtend);
        }
        if (outcome instanceof Lease) {
          if (signal?.aborted) {
            // The caller gave up while the attempt was in flight and will never see this lock.
            await outcome.release().catch(() => undefined);
            signal.throwIfAborted();
          }
          acquired = true;
          this.emit({
            type: 'acquired',
            resources: target.resources,
            fencingToken: outcome.fencingToken,
            attempts,
            waited: this.clock.now() - started,
          });
          return outcome;
        }
        failure = outcome;
        const remaining = waitUntil - this.clock.now();
        if (attempts >= opts.retryCount || remaining <= 0) break;
        if (!waiter) {
          // Subscribe only once contended, then retry at once: a release that happened while
          // subscribing would otherwise go unnoticed until the timer.
          waiter = await join(Math.min(timeout, remaining));
          signal?.throwIfAborted();
          continue;
        }
        if (outcome.split && !line) {
          // Split vote: every contender took some nodes and all are now taking them back. The
          // releases would wake them all at once into the same split again; a random pause of a
          // few round trips breaks the symmetry so that one of them gets a quorum.
          await sleepUnlessAborted(
            Math.random() * Math.min(remaining, 4 * timeoutFloor(timeout)),
            signal,
          );
          continue;
        }
        // Only the head of the line wakes on a release; everyone still wakes on the fallback
        // timer, so a holder that expires instead of releasing cannot stall the line. With the
        // nodes' lines a split needs no random pause either: only the head can take free keys,
        // and the releases it still waits for name it.
        delay ??= this.retryDelayOf(attempts, opts);
        await waiter.wait(this.sleepFor(delay, opts, outcome, remaining), signal);
      }
    } finally {
      if (waiter) this.lines.leave(queueId, waiter, acquired, line !== undefined);
      // Give the place in the nodes' lines back, or the next waiter would wait for it to lapse.
      if (line?.id && !acquired) await this.leaveLine(target.keys[0]!, line.id, timeout);
    }
    // Every path out of the loop above went through at least one failed attempt.
    const failed = failure;
    const error = this.failureError(target, failed, opts);
    this.emit({
      type: 'failed',
      resources: target.resources,
      attempts,
      error,
      nodes: failed.nodes,
    });
    return error;
  }

  /**
   * Waits, at most `timeout` ms, for nodes still making their first connection.
   *
   * Why: lock clients fail fast while disconnected (no offline queue), so the calls of an engine
   * used right after construction would all fail on a connection that is a millisecond away,
   * and enough of them trip the circuit breaker for its whole cool-down. A node that is really
   * down costs the first call `timeout` once; after that calls fail fast as usual.
   */
  private async firstConnect(timeout: number): Promise<void> {
    this.connecting ??= Promise.all(
      this.adapters.map((adapter) =>
        adapter.ready ? adapter.ready(timeout).catch(() => undefined) : Promise.resolve(),
      ),
    ).then(() => {
      this.connected = true;
    });
    await this.connecting;
  }

  /** The retry policy's pause after attempt `attempt`, jitter included. */
  private retryDelayOf(attempt: number, opts: ResolvedLockOptions): number {
    const base = typeof opts.retryDelay === 'function' ? opts.retryDelay(attempt) : opts.retryDelay;
    return (Number.isFinite(base) && base > 0 ? base : 0) + Math.random() * opts.retryJitter;
  }

  /** A ticket for the nodes' lines: the wall clock in µs, strictly increasing in this process. */
  private nextTicket(): number {
    // Date.now() has whole milliseconds: callers of two processes in one millisecond would be
    // ordered by their random ids. The high-resolution wall clock keeps them in call order.
    const wall =
      this.clock === systemClock
        ? performance.timeOrigin + performance.now()
        : this.clock.wallNow();
    this.lastTicket = Math.max(this.lastTicket + 1, Math.floor(wall * 1000));
    return this.lastTicket;
  }

  /** Takes waiter `id` out of the line of `key` on every node (best effort, bounded). */
  private async leaveLine(key: string, id: string, timeout: number): Promise<void> {
    await this.nodes.ask(this.adapters, (adapter) => adapter.leaveLine!(key, id), timeout);
  }

  private sleepFor(
    retryDelay: number,
    opts: ResolvedLockOptions,
    failure: Failure,
    remaining: number,
  ): number {
    let delay = retryDelay;
    // Never sleep past the holder's expiry: the notification may be lost (crashed holder).
    if (failure.holderTtl !== undefined) {
      delay = Math.min(delay, failure.holderTtl + Math.random() * opts.retryJitter);
    }
    return Math.max(0, Math.min(delay, remaining));
  }

  private async attempt(
    target: Target,
    opts: ResolvedLockOptions,
    timeout: number,
    autoExtend: boolean,
    line?: LineArgs,
  ): Promise<Lease | Failure> {
    const { keys } = target;
    const { ttl } = opts;
    const read = opts.mode === 'read';
    const quorum = this.quorum;
    const value = ownerValue();
    const fence: FenceArgs = {
      seed: Math.floor(this.clock.wallNow() * 1000),
      retention: FENCE_RETENTION_MS,
    };
    const start = this.clock.now();
    const results = await this.nodes.ask(
      this.adapters,
      read
        ? (adapter) => adapter.acquireShared!(keys, value, ttl, fence)
        : (adapter) => adapter.acquire(keys, value, ttl, fence, line),
      timeout,
      (partial, pending) => {
        let acquired = 0;
        let busy = 0;
        for (const result of partial) {
          if (result.status === 'ok') {
            if (result.value.acquired) acquired += 1;
            else busy += 1;
          }
        }
        if (acquired >= quorum) return true;
        // Success is out of reach and we can already tell busy from unavailable.
        return acquired + pending < quorum && acquired + busy >= quorum;
      },
    );

    let acquired = 0;
    let answered = 0;
    let holderTtl: number | undefined;
    const fences: number[] = [];
    const cleanup: LockAdapter[] = [];
    results.forEach((result, index) => {
      if (result.status === 'ok') {
        answered += 1;
        if (result.value.acquired) {
          acquired += 1;
          fences.push(result.value.fence);
        } else {
          if (result.value.ttl >= 0) holderTtl = Math.min(holderTtl ?? Infinity, result.value.ttl);
          return; // a busy node took nothing
        }
      }
      cleanup.push(this.adapters[index]!);
    });
    const drift = Math.floor(ttl * opts.driftFactor) + 2;
    const deadline = start + ttl - drift;
    let reason = `${acquired} of ${this.adapters.length} nodes granted the lock, ${quorum} needed`;

    if (acquired >= quorum) {
      let fencingToken = Math.max(...fences);
      let fenced = true;
      // Readers do not raise the counters: they carry the latest write's token as it is.
      if (!read && fences.some((token) => token !== fencingToken)) {
        fenced = await this.syncFences(results, keys, value, fencingToken, timeout);
        reason = 'the fencing counters could not be brought in line on a quorum';
      }
      if (fenced && deadline > this.clock.now()) {
        const lease = new Lease(this, {
          resources: target.resources,
          keys,
          value,
          fencingToken,
          ttl,
          nodeTimeout: timeout,
          driftFactor: opts.driftFactor,
          deadline,
          autoExtend,
          acquiredAt: start,
          mode: opts.mode,
        });
        this.held.add(lease);
        if (line && acquired < this.adapters.length) {
          // Nodes that did not grant keep this waiter's place (or will, if their answer is still
          // on its way: the leave goes after it on the same connection); free it for the others.
          results.forEach((result, index) => {
            if (result.status === 'ok' && result.value.acquired) return;
            this.adapters[index]!.leaveLine!(keys[0]!, line.id).catch(() => undefined);
          });
        }
        return lease;
      }
      if (fenced) reason = `the validity ran out while acquiring (ttl ${ttl} ms is too short)`;
      fencingToken = 0;
    }

    // Take back whatever this attempt took, on every node, before anyone retries.
    if (cleanup.length > 0) {
      // A reader's partial lease is a member of the readers' set, not the key's value.
      await this.nodes.ask(
        cleanup,
        read
          ? (adapter) => adapter.releaseShared!(keys, value)
          : // A waiter keeps its place while it gives back what it took (see RELEASE_SCRIPT).
            (adapter) => adapter.release(keys, value, line),
        timeout,
      );
    }
    return {
      busy: answered >= quorum && acquired < quorum,
      nodes: describeNodes(this.adapters, results, ACQUIRE_OUTCOME),
      holderTtl,
      reason,
      split: acquired > 0 && this.adapters.length > 1,
    };
  }

  /**
   * Brings the fencing counters of the granting nodes up to `token`.
   *
   * Why: each node keeps its own counter, and attempts that reached only a minority (then were
   * taken back) leave the counters diverged. The maximum over one quorum is then not monotonic
   * on its own: a later quorum may miss the node that held the high value. Writing `token` back
   * to a quorum before the lock is handed out restores the invariant the proof needs: every
   * issued token is stored on a quorum, any later quorum shares a node with it, and that node
   * answers a later acquisition with at least `token + 1`. When all nodes agree (the common
   * case: the acquire script already stored the token everywhere it answered) nothing is sent.
   */
  private async syncFences(
    results: readonly NodeResult<{ acquired: boolean }>[],
    keys: readonly string[],
    value: string,
    token: number,
    timeout: number,
  ): Promise<boolean> {
    const granted = this.adapters.filter((_, index) => {
      const result = results[index]!;
      return result.status === 'ok' && result.value.acquired;
    });
    const quorum = this.quorum;
    const synced = await this.nodes.ask(
      granted,
      (adapter) =>
        adapter.syncFence(keys, value, { seed: token, retention: FENCE_RETENTION_MS, token }),
      timeout,
      (partial) => countOk(partial) >= quorum,
    );
    return countOk(synced) >= quorum;
  }

  // ---- lease driver ------------------------------------------------------------------------

  /** @internal */
  async extendLease(lease: Lease, ttl: number): Promise<number> {
    validateTtl(ttl, 'ttl');
    const timeout = Math.min(lease.nodeTimeout, Math.max(1, Math.floor(ttl / 2)));
    const quorum = this.quorum;
    const start = this.clock.now();
    const results = await this.nodes.ask(
      this.adapters,
      (adapter) =>
        lease.mode === 'read'
          ? adapter.extendShared!(lease.keys, lease.value, ttl, {
              seed: 0,
              retention: FENCE_RETENTION_MS,
            })
          : adapter.extend(lease.keys, lease.value, ttl, {
              seed: 0,
              retention: FENCE_RETENTION_MS,
            }),
      timeout,
      (partial) => countOk(partial) >= quorum,
    );
    const deadline = start + ttl - (Math.floor(ttl * lease.driftFactor) + 2);
    const ok = countOk(results);
    const nodes = describeNodes(this.adapters, results, OWNER_OUTCOME);
    const what = lease.resources.join(', ');
    if (ok >= quorum && deadline > this.clock.now()) {
      this.emit({ type: 'extended', resources: lease.resources, expiresAt: lease.expiresAt() });
      return deadline;
    }
    const refused = results.filter((r) => r.status === 'ok' && r.value !== 'ok').length;
    if (refused > this.adapters.length - quorum) {
      throw new LockLostError(
        `Lock on ${what} was lost: ${refused} of ${this.adapters.length} nodes no longer hold it for this owner.`,
        { resources: lease.resources, nodes },
      );
    }
    throw new RedlockUnavailableError(
      `Could not extend the lock on ${what}: ${ok} of ${this.adapters.length} nodes confirmed, ${quorum} needed.`,
      { resources: lease.resources, nodes },
    );
  }

  /** @internal */
  async releaseLease(lease: Lease): Promise<ReleaseStatus> {
    this.held.delete(lease);
    const quorum = this.quorum;
    const results = await this.nodes.ask(
      this.adapters,
      (adapter) =>
        lease.mode === 'read'
          ? adapter.releaseShared!(lease.keys, lease.value)
          : adapter.release(lease.keys, lease.value),
      lease.nodeTimeout,
      (partial) => countOk(partial) >= quorum,
    );
    // Waiters of this process hear of the release through the nodes' notification, like those
    // of every other process: waking them here first made this process win most hand-offs.
    let released = 0;
    let taken = 0;
    let answered = 0;
    for (const result of results) {
      if (result.status !== 'ok') continue;
      answered += 1;
      if (result.value === 'ok') released += 1;
      else if (result.value === 'taken') taken += 1;
    }
    let status: ReleaseStatus;
    if (released >= quorum) status = 'released';
    else if (taken > 0) status = 'taken';
    else if (answered >= quorum) status = 'expired';
    else {
      throw new RedlockUnavailableError(
        `Could not confirm the release of ${lease.resources.join(', ')}: ${answered} of ${this.adapters.length} nodes answered; the keys expire by themselves.`,
        { resources: lease.resources, nodes: describeNodes(this.adapters, results, OWNER_OUTCOME) },
      );
    }
    this.emit({
      type: 'released',
      resources: lease.resources,
      status,
      held: this.clock.now() - lease.acquiredAt,
    });
    return status;
  }

  /** @internal */
  leaseLost(lease: Lease, error: LockLostError): void {
    this.held.delete(lease);
    this.logger?.warn(error.message);
    this.emit({ type: 'lost', resources: lease.resources, error });
  }

  // ---- helpers -----------------------------------------------------------------------------

  private setDegraded(active: boolean, resources: readonly string[]): void {
    if (this.degraded === active) return;
    this.degraded = active;
    if (active) {
      this.logger?.warn(
        'DEGRADED MODE: no quorum of lock nodes answers; locks are now process-local and do NOT exclude other instances.',
      );
    } else {
      this.logger?.warn(
        'Degraded mode over: a quorum of lock nodes answers again; locks are distributed.',
      );
    }
    this.emit({ type: 'degraded', resources, active });
  }

  /** Validates resource names and maps them to keys (`keyPrefix + resource`), deduplicated. */
  target(resources: Resources): Target {
    const list: readonly unknown[] =
      typeof resources === 'string'
        ? [resources]
        : Array.isArray(resources)
          ? resources
          : [resources];
    if (list.length === 0) {
      throw new LockKeyError('Give at least one resource to lock.', {
        code: 'ERR_REDLOCK_EMPTY_KEY',
      });
    }
    const names: string[] = [];
    const keys: string[] = [];
    for (const resource of list) {
      if (typeof resource !== 'string' || resource.length === 0) {
        throw new LockKeyError(
          `A resource must be a non-empty string, got ${describe(resource)}.`,
          {
            resources: names,
            code: resource === '' ? 'ERR_REDLOCK_EMPTY_KEY' : 'ERR_REDLOCK_INVALID_KEY',
          },
        );
      }
      const key = this.keyPrefix + resource;
      if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
        throw new LockKeyError(
          `Key for resource ${describe(resource)} is ${Buffer.byteLength(key)} bytes; the limit is ${MAX_KEY_BYTES} (prefix included). Use a shorter name or a hash of it.`,
          { resources: [resource.slice(0, 64)], code: 'ERR_REDLOCK_KEY_TOO_LONG' },
        );
      }
      if (keys.includes(key)) continue;
      names.push(resource);
      keys.push(key);
    }
    for (const adapter of this.adapters) {
      try {
        adapter.validateKeys?.(keys);
      } catch (error) {
        throw new LockKeyError(`${adapter.name}: ${messageOf(error)}`, {
          code: 'ERR_REDLOCK_CROSS_SLOT',
          resources: names,
          cause: error,
        });
      }
    }
    return { resources: names, keys };
  }

  private failureError(target: Target, failure: Failure, opts: ResolvedLockOptions): RedlockError {
    const what = target.resources.join(', ');
    if (failure.busy) {
      const ErrorClass = opts.mode === 'read' ? WriteLockHeldError : LockNotAcquiredError;
      return new ErrorClass(
        (opts.mode === 'read'
          ? `Resource ${what} is write-locked, or a writer is waiting for it,`
          : `Resource ${what} is locked by another owner`) +
          (opts.wait > 0 ? ` and stayed locked for the ${opts.wait} ms wait.` : '.'),
        { resources: target.resources, nodes: failure.nodes, retryAfter: failure.holderTtl },
      );
    }
    return new RedlockUnavailableError(`Could not lock ${what}: ${failure.reason}.`, {
      resources: target.resources,
      nodes: failure.nodes,
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new RedlockError('Redlock is shut down; no new locks are taken.');
  }

  private emit(event: RedlockEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(event);
    } catch (error) {
      this.logger?.error(`A redlock event listener threw: ${messageOf(error)}`);
    }
  }
}

/** A round trip's worth of pause, bounded by the per-node timeout: 1 ms, at most a tenth of it. */
function timeoutFloor(timeout: number): number {
  return Math.max(0.5, Math.min(1, timeout / 10));
}

function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function countOk(results: readonly NodeResult<unknown>[]): number {
  let ok = 0;
  for (const result of results) if (result.status === 'ok' && result.value === 'ok') ok += 1;
  return ok;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Owner values come from a pooled buffer of crypto-random bytes: one syscall per 256 locks.
const POOL = Buffer.alloc(16 * 256);
let poolOffset = POOL.length;

/** 128 random bits from `node:crypto`, hex-encoded; new for every acquisition attempt. */
/** Margin of a place in the nodes' lines beyond the waiter's longest sleep and round trips. */
const LINE_SLACK_MS = 50;

export function ownerValue(): string {
  if (poolOffset >= POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const value = POOL.toString('hex', poolOffset, poolOffset + 16);
  poolOffset += 16;
  return value;
}
