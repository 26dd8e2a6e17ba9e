import { truncate } from './redaction.js';

/** Longest message an error keeps; longer ones (a call naming 9,000 resources) are cut. */
const MAX_MESSAGE_LENGTH = 2_000;

/**
 * What one node did during an operation:
 * - `acquired`: it took (or extended, or released) the keys for us;
 * - `taken`: another owner holds at least one of the keys;
 * - `expired`: the keys were gone (extend or release of a lock that had already expired);
 * - `error`: the node answered with an error or the connection failed;
 * - `timeout`: no answer within the per-node timeout;
 * - `pending`: the outcome was decided before this node answered;
 * - `skipped`: not asked, because the node's circuit breaker is open after repeated failures.
 */
export type NodeOutcomeKind =
  'acquired' | 'taken' | 'expired' | 'error' | 'timeout' | 'pending' | 'skipped';

/** One node's part in an operation. `node` is a display name that never holds credentials. */
export interface NodeOutcome {
  readonly node: string;
  readonly outcome: NodeOutcomeKind;
  /** The error's message for `error` and `skipped` outcomes (already free of credentials). */
  readonly message?: string;
}

/**
 * Base class of every error this library throws, so callers can catch them all at once.
 * Messages are cut to 2,000 characters (the start and the end are kept), so a call naming
 * thousands of resources never produces a log line of that size; `resources` keeps them all.
 *
 * @example
 * ```ts
 * try { await redlock.acquire('report'); } catch (e) { if (e instanceof RedlockError) ... }
 * ```
 */
export class RedlockError extends Error {
  /**
   * A stable, Node-style identifier of what went wrong (`ERR_REDLOCK_BUSY`, ...), for logs,
   * RPC replies and GraphQL error extensions, where the class does not travel.
   */
  readonly code: string = 'ERR_REDLOCK';
  /** Resources (without the key prefix) the failed operation was about. */
  readonly resources: readonly string[];
  /** What each node did, in the order the nodes were configured; empty when no node was asked. */
  readonly nodes: readonly NodeOutcome[];

  constructor(
    message: string,
    details: {
      resources?: readonly string[];
      nodes?: readonly NodeOutcome[];
      cause?: unknown;
    } = {},
  ) {
    super(
      truncate(message, MAX_MESSAGE_LENGTH),
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = new.target.name;
    this.resources = Object.freeze([...(details.resources ?? [])]);
    this.nodes = Object.freeze([...(details.nodes ?? [])]);
  }
}

/**
 * The resource stayed busy (held by another owner on a quorum of the nodes that answered) for
 * the whole wait. Mapped to HTTP 409 Conflict by `@WithLock` on controllers.
 */
export class LockNotAcquiredError extends RedlockError {
  override readonly code: string = 'ERR_REDLOCK_BUSY';
  /** Milliseconds until the holder's lock expires at the latest, when the nodes said so. */
  readonly retryAfter: number | undefined;

  constructor(
    message: string,
    details: {
      resources: readonly string[];
      nodes?: readonly NodeOutcome[];
      retryAfter?: number;
      cause?: unknown;
    },
  ) {
    super(message, details);
    this.retryAfter = details.retryAfter;
  }
}

/**
 * A read lock stayed unavailable for the whole wait because a writer held the resource or was
 * waiting for it (writers go first, so they are never starved by readers).
 */
export class WriteLockHeldError extends LockNotAcquiredError {}

/**
 * Fewer than a quorum of nodes answered (or the application is shutting down): the lock state
 * is unknown. HTTP 503 on controllers.
 */
export class RedlockUnavailableError extends RedlockError {
  override readonly code: string = 'ERR_REDLOCK_UNAVAILABLE';
}

/**
 * A held lock was lost: an extension failed, the validity ran out, or the keys were changed
 * behind its back. `lock.signal` aborts with this error as its reason.
 */
export class LockLostError extends RedlockError {
  override readonly code: string = 'ERR_REDLOCK_LOCK_LOST';
}

/** Why a key was refused, one code per rule (Node-style `error.code`). */
export type LockKeyErrorCode =
  | 'ERR_REDLOCK_EMPTY_KEY'
  | 'ERR_REDLOCK_INVALID_KEY'
  | 'ERR_REDLOCK_KEY_TOO_LONG'
  | 'ERR_REDLOCK_CROSS_SLOT'
  | 'ERR_REDLOCK_MALFORMED_TEMPLATE'
  | 'ERR_REDLOCK_UNRESOLVED_PLACEHOLDER'
  | 'ERR_REDLOCK_KEY_COLLISION';

/**
 * A key or key template cannot be turned into a valid resource name, or (`ERR_REDLOCK_KEY_COLLISION`)
 * two jobs, elections or locks of the application use the same key.
 */
export class LockKeyError extends RedlockError {
  override readonly code: LockKeyErrorCode;

  constructor(
    message: string,
    details: { code: LockKeyErrorCode; resources?: readonly string[]; cause?: unknown },
  ) {
    super(message, details);
    this.code = details.code;
  }
}

/**
 * Which rule an option broke: `ERR_REDLOCK_INVALID_` + the option's name in capitals, e.g.
 * `ERR_REDLOCK_INVALID_TTL`, `ERR_REDLOCK_INVALID_RETRY_COUNT`, `ERR_REDLOCK_INVALID_DRIFT_FACTOR`.
 */
export type RedlockConfigErrorCode = `ERR_REDLOCK_INVALID_${Uppercase<string>}`;

/** An option has a value the library cannot work with. The message names the option. */
export class RedlockConfigError extends RedlockError {
  /** The option path, e.g. `lock.ttl` or `nodes[2]`. */
  readonly option: string;
  override readonly code: RedlockConfigErrorCode;

  constructor(option: string, message: string) {
    super(`Invalid option ${option}: ${message}`);
    this.option = option;
    this.code = configErrorCode(option);
  }
}

/** `lock.retryCount` → `ERR_REDLOCK_INVALID_RETRY_COUNT`; `nodes[2].port` → `..._PORT`. */
function configErrorCode(option: string): RedlockConfigErrorCode {
  const last = option
    .split('.')
    .pop()!
    .replace(/\[\d+\]$/, '')
    .replace(/^@/, '');
  const snake = last.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_');
  return `ERR_REDLOCK_INVALID_${snake.toUpperCase() as Uppercase<string>}`;
}
