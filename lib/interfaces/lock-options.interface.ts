import type { Duration } from '../services/duration.js';

/**
 * How one acquisition behaves. Every field is optional: unset fields come from the module's
 * `lock` defaults, then from the library defaults documented here. Every length of time is a
 * {@link Duration}: milliseconds, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'1h'`.
 *
 * @example
 * ```ts
 * await redlock.acquire('report:daily', { ttl: 30_000, wait: 0 }); // one attempt, 30 s lease
 * ```
 */
export interface LockOptions {
  /**
   * Lease length in ms: how long the keys live on each node before they expire by themselves.
   * @default 10_000
   */
  ttl?: Duration;
  /**
   * Longest total time in ms to wait for a busy resource; `0` means a single attempt.
   * @default 5_000
   */
  wait?: Duration;
  /**
   * Fallback pause in ms between attempts, or a function of the attempt number (1-based) that
   * returns it. Waiters normally wake earlier: on the holder's release notification, or when the
   * holder's ttl runs out.
   * @default 200
   */
  retryDelay?: Duration | ((attempt: number) => number);
  /**
   * Random extra pause in ms, 0 to this value, added to each wait so waiters do not move in step.
   * @default 50
   */
  retryJitter?: Duration;
  /**
   * Cap on the number of attempts, first one included, within `wait`.
   * @default Infinity (bounded by `wait`)
   */
  retryCount?: number;
  /**
   * Share of the ttl subtracted from the validity to allow for clock drift between nodes; the
   * validity is `ttl - elapsed - (ttl * driftFactor + 2)`. Must be in [0, 1).
   * @default 0.01
   */
  driftFactor?: number;
  /**
   * Per-node timeout in ms for one command; a node that has not answered by then counts as
   * failed for this attempt. Must be smaller than `ttl`.
   * @default min(500, ttl / 10)
   */
  nodeTimeout?: Duration;
  /**
   * Keep extending the lease before it expires while the lock is held. On a failed extension or
   * when the validity runs out, `lock.signal` aborts with `LockLostError`.
   * @default true inside `using` and `@WithLock`, false for `acquire`/`tryAcquire`
   */
  autoExtend?: boolean;
  /** Abandons the wait (not a held lock) when aborted; the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * `'write'`: exclusive. `'read'`: shared with other readers, exclusive of writers; each reader
   * expires on its own, and a waiting writer keeps new readers out so writers never starve.
   * @default 'write'
   */
  mode?: LockMode;
  /**
   * Issue a fencing token (`lock.fencingToken`): one counter per node that never expires and
   * only goes up, raised by each fenced acquisition. Costs one `INCR` inside the acquisition
   * script on each node; without it the uncontended acquisition is a single `SET NX PX`.
   * @default false
   */
  fencing?: boolean;
  /**
   * Keep retrying for the whole `wait` while no quorum of nodes answers. By default an
   * acquisition gives up with `RedlockUnavailableError` after two rounds in a row in which no
   * quorum answered (about two node timeouts), so an outage is reported at once.
   * @default false
   */
  waitForNodes?: boolean;
  /**
   * Keep the lock at least this long after it was taken, even when the work ends sooner
   * (ShedLock's `lockAtLeastFor`): `release()` then leaves the keys in place with their ttl cut
   * to what is left of the window (one compare-and-set `PEXPIRE`, or no command at all when the
   * keys expire at the end of the window anyway), so another instance cannot start the same work
   * again right away. Only the engine's shutdown (`app.close()`) releases them before that.
   * @default 0 (release deletes the keys at once)
   */
  holdAtLeast?: Duration;
  /**
   * The longest the lock may be held, counted from the acquisition: renewals (automatic, or by
   * `lock.extend()`) never carry it past this point, and when it is reached the lock is lost:
   * `lock.signal` aborts with a `LockLostError` whose message says that `maxHold` was reached,
   * and the keys are deleted. A cap on how long a stuck process can keep a resource.
   * @default no limit
   */
  maxHold?: Duration;
  /**
   * A semaphore: at most `permits` holders of the resource at once, across processes and nodes
   * (each node counts holders, the quorum decides). Each holder's permit expires with its own
   * ttl (a crashed holder frees its permit), extends itself like a lock, and is waited for by
   * release notification. With `fencing`, every permit grant raises the counters: its token is
   * greater than that of every grant (permit or lock) released before it was asked for (two
   * holders at the same time may share a token over several nodes; on one node they never
   * do). Give the same
   * `permits` everywhere a resource is used: a plain lock (`permits: 1`) on the resource waits
   * for every permit holder, like a writer for readers. Not combinable with `mode: 'read'`.
   * @example
   * ```ts
   * // At most 3 exports at once, cluster-wide.
   * await redlock.using('exports', () => runExport(), { permits: 3, wait: '1m' });
   * ```
   * @default 1 (an exclusive lock)
   */
  permits?: number;
}

/** Exclusive (`write`) or shared (`read`) lock. */
export type LockMode = 'write' | 'read';

/** `LockOptions` with every default applied; what the engine works with. */
export interface ResolvedLockOptions {
  ttl: number;
  wait: number;
  retryDelay: number | ((attempt: number) => number);
  retryJitter: number;
  retryCount: number;
  driftFactor: number;
  nodeTimeout: number | undefined;
  autoExtend: boolean | undefined;
  signal: AbortSignal | undefined;
  mode: LockMode;
  fencing: boolean;
  waitForNodes: boolean;
  /** 0 when the lock is released at once. */
  holdAtLeast: number;
  /** `undefined` when there is no limit. */
  maxHold: number | undefined;
  /** 1: an exclusive lock; more: a semaphore's permit. */
  permits: number;
}
