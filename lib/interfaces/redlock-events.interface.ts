import type { NodeOutcome, RedlockError } from '../redlock.errors.js';
import type { CircuitState } from '../services/circuit-breaker.js';

/** How `release()` ended: `released` by us, already `expired`, or `taken` by another owner. */
export type ReleaseStatus = 'released' | 'expired' | 'taken';

/**
 * What the engine reports while it works; subscribe through the module's `onEvent` option or,
 * in a Nest app, through `@nestjs/event-emitter` (`redlock.<type>`).
 */
export type RedlockEvent =
  | {
      readonly type: 'acquired';
      readonly resources: readonly string[];
      /** The lock's fencing token, when it was taken with `{ fencing: true }`. */
      readonly fencingToken: number | undefined;
      /** Attempts the acquisition took, the successful one included. */
      readonly attempts: number;
      /** Milliseconds from the call to the lock. */
      readonly waited: number;
    }
  | {
      readonly type: 'extended';
      readonly resources: readonly string[];
      readonly expiresAt: number;
    }
  | {
      readonly type: 'released';
      readonly resources: readonly string[];
      readonly status: ReleaseStatus;
      /** Milliseconds the lock was held. */
      readonly held: number;
    }
  | {
      readonly type: 'lost';
      readonly resources: readonly string[];
      readonly error: RedlockError;
    }
  | {
      /** An acquisition gave up: `error` is `LockNotAcquiredError` or `RedlockUnavailableError`. */
      readonly type: 'failed';
      readonly resources: readonly string[];
      readonly attempts: number;
      readonly error: RedlockError;
      readonly nodes: readonly NodeOutcome[];
    }
  | {
      /** A node's circuit breaker changed state (`resources` is empty). */
      readonly type: 'circuit';
      readonly resources: readonly string[];
      readonly node: string;
      readonly from: CircuitState;
      readonly to: CircuitState;
    }
  | {
      /**
       * Degraded mode started (`active: true`: no quorum, locks are process-local) or ended
       * (`active: false`: the quorum answers again). `resources` names the triggering call.
       */
      readonly type: 'degraded';
      readonly resources: readonly string[];
      readonly active: boolean;
    };

/** The part of Nest's `LoggerService` the engine uses; any console-like logger fits. */
export interface RedlockLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}
