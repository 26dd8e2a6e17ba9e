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
      /**
       * The lock came straight from its previous holder in this process, by an in-process
       * hand-off (see the `handOff` option), rather than from a round on free keys.
       */
      readonly handedOver?: boolean;
    }
  | {
      readonly type: 'extended';
      readonly resources: readonly string[];
      readonly expiresAt: number;
    }
  | {
      /**
       * A lock of this process ended: by `release()` (`status` is what it resolved to), or left
       * to expire on the nodes (a cron job's tick claim: `released`, its keys stay until their
       * ttl runs out, as a `holdAtLeast` release keeps them until its window ends).
       */
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
      /** Milliseconds from the acquisition to the loss. */
      readonly held: number;
    }
  | {
      /** An acquisition gave up: `error` is `LockNotAcquiredError` or `RedlockUnavailableError`. */
      readonly type: 'failed';
      readonly resources: readonly string[];
      readonly attempts: number;
      /** Milliseconds from the call to giving up. */
      readonly waited: number;
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
       * An operator force-released a lock (`RedlockService.forceRelease`, the console, the CLI):
       * its key was deleted on `deleted` nodes whoever held it, and the fencing counter raised.
       */
      readonly type: 'forceReleased';
      readonly resources: readonly string[];
      /** Who did it, as they were named (`{ by }`): for the audit trail. */
      readonly by: string;
      /** Nodes on which a key was there to delete. */
      readonly deleted: number;
      /** The raised fencing counter, when fenced locks were ever taken on those nodes. */
      readonly fencingCounter: number | string | undefined;
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
