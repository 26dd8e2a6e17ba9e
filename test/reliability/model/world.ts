/**
 * What the model runner runs against: a world of nodes (in-memory nodes behind simulated links,
 * `memory-world.ts`, or real Redis servers behind fault proxies, `redis-world.ts`) and one run's
 * connections into it, with the faults it can inject.
 */
import type { LockAdapter } from '../../../lib/interfaces/lock-adapter.interface.js';
import type { Fault, Plan } from './plan.js';

/** One run's connections into a world. */
export interface RunWorld {
  /** Adapters of each engine: its own connections or links to every node. */
  readonly adapters: readonly (readonly LockAdapter[])[];
  /** Fault-free adapters on the same nodes, for the checker's own questions. */
  readonly observer: readonly LockAdapter[];
  /** Applies a fault now; resolves to the function that heals it. */
  inject(fault: Fault, engines: number): Promise<() => Promise<void>>;
  /** Every lock key on every node (read directly, past any fault), with its remaining ttl. */
  lockKeys(): Promise<{ node: number; key: string; pttl: number }[]>;
  /** Stops a node for the engines' `close()`; resolves to the function that resumes it. */
  pauseNode(node: number): Promise<() => Promise<void>>;
  /** Closes the engines' adapters (what a shutdown does after `Redlock.close()`). */
  closeAdapters(): Promise<void>;
  /** Whether nothing is on its way any more (no delayed or queued command or reply). */
  idle(): boolean;
  /** Heals everything and closes what the run opened. */
  close(): Promise<void>;
}

export interface World {
  readonly kind: 'memory' | 'redis';
  /** Slack on top of computed bounds: event-loop and scheduling noise of a loaded machine. */
  readonly slack: number;
  open(plan: Plan, engines: number): Promise<RunWorld>;
}
