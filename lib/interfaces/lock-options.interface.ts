/**
 * How one acquisition behaves. Every field is optional: unset fields come from the module's
 * `lock` defaults, then from the library defaults documented here.
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
  ttl?: number;
  /**
   * Longest total time in ms to wait for a busy resource; `0` means a single attempt.
   * @default 5_000
   */
  wait?: number;
  /**
   * Fallback pause in ms between attempts, or a function of the attempt number (1-based) that
   * returns it. Waiters normally wake earlier: on the holder's release notification, or when the
   * holder's ttl runs out.
   * @default 200
   */
  retryDelay?: number | ((attempt: number) => number);
  /**
   * Random extra pause in ms, 0 to this value, added to each wait so waiters do not move in step.
   * @default 50
   */
  retryJitter?: number;
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
  nodeTimeout?: number;
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
}
