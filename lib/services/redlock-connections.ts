import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { NodeStatus } from '../redlock-node-status.js';
import type { Clock } from './clock.js';
import type { ResolvedRedlockOptions } from './module-options.js';

/** @internal What the module's connection provider hands to the service. */
export interface RedlockConnections {
  readonly options: ResolvedRedlockOptions;
  /** One adapter per configured node, in order. */
  readonly pools: readonly LockAdapter[];
  /** The adapters this module created and must close (never those passed in). */
  readonly owned: readonly LockAdapter[];
  /** Connection state of the nodes, for logs and health details. */
  readonly status?: NodeStatus;
  /** Time for the engine (the testing module's `ManualClock`); the system clock otherwise. */
  readonly clock?: Clock;
}
