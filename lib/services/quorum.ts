import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { NodeOutcome, NodeOutcomeKind } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import { NodeSkippedError } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { type DeadlineWheel, deadlineWheel, type WheelItem } from './deadline-wheel.js';

/** One node's answer to a fanned-out call. */
export type NodeResult<T> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'timeout' }
  | { readonly status: 'pending' };

const PENDING: NodeResult<never> = { status: 'pending' };
const TIMEOUT: NodeResult<never> = { status: 'timeout' };

/**
 * Watches a fan-out per node, for circuit breakers: `allow` may refuse a call (it then settles
 * as an error at once), `settled` sees every answer (also late ones), `overdue` every node still
 * silent at the timeout (also after an early decision).
 */
export interface FanOutObserver {
  allow(index: number): Error | undefined;
  settled(index: number, ok: boolean, error?: unknown): void;
  overdue(index: number): void;
}

/**
 * Sends `call` to every node at once and resolves with each node's result as soon as `decided`
 * says the outcome is known, or when `timeout` ms pass, or when every node has answered.
 * Nodes that have not answered by then stay `pending` (decided early) or `timeout`; their late
 * answers are dropped, which is safe because every write the engine makes is undone or
 * overwritten by compare-and-set scripts sent afterwards on the same connection. `overdue` is
 * told of every node still silent at `timeout`, even after an early answer. The timer never
 * keeps the process alive. `now`: the caller's reading of the clock, when it just took one.
 */
export function fanOut<T>(
  clock: Clock,
  adapters: readonly LockAdapter[],
  call: (adapter: LockAdapter) => Promise<T>,
  timeout: number,
  decided: (results: readonly NodeResult<T>[], pending: number) => boolean = NEVER,
  observer?: FanOutObserver,
  now = clock.now(),
): Promise<NodeResult<T>[]> {
  return new Promise((resolve) => {
    const run = new FanOutRun<T>(deadlineWheel(clock), adapters.length, decided, observer, resolve);
    // The timeout is a wake-up on the clock's deadline wheel, not a Node timer per call: every
    // acquire and release fans out, and almost every fan-out is answered long before it.
    run.wheel.schedule(run, now + timeout, now);
    for (let index = 0; index < adapters.length; index += 1) {
      const refused = observer?.allow(index);
      if (refused) {
        run.settle(index, { status: 'error', error: refused });
        continue;
      }
      let promise: Promise<T>;
      try {
        promise = call(adapters[index]!);
      } catch (error) {
        // An adapter that throws instead of rejecting still counts as that node's error.
        run.failed(index, error);
        continue;
      }
      promise.then(
        (value) => run.succeeded(index, value),
        (error: unknown) => run.failed(index, error),
      );
    }
  });
}

const NEVER = (): boolean => false;

/**
 * One fan-out's state, and its own wake-up on the deadline wheel: methods on one object
 * rather than closures over shared variables, because two fan-outs run for every lock.
 */
class FanOutRun<T> implements WheelItem {
  wakeAt = 0;
  slot = -1;
  readonly results: NodeResult<T>[];
  private readonly answered: boolean[];
  private pending: number;
  private open = true;

  constructor(
    readonly wheel: DeadlineWheel,
    nodes: number,
    private readonly decided: (results: readonly NodeResult<T>[], pending: number) => boolean,
    private readonly observer: FanOutObserver | undefined,
    private readonly resolve: (results: NodeResult<T>[]) => void,
  ) {
    this.results = new Array<NodeResult<T>>(nodes).fill(PENDING);
    this.answered = new Array<boolean>(nodes).fill(false);
    this.pending = nodes;
  }

  succeeded(index: number, value: T): void {
    this.observer?.settled(index, true);
    this.settle(index, { status: 'ok', value });
  }

  failed(index: number, error: unknown): void {
    this.observer?.settled(index, false, error);
    this.settle(index, { status: 'error', error });
  }

  settle(index: number, result: NodeResult<T>): void {
    this.answered[index] = true;
    this.pending -= 1;
    if (!this.open) {
      if (this.pending === 0) this.wheel.cancel(this);
      return;
    }
    this.results[index] = result;
    if (this.pending === 0 || this.decided(this.results, this.pending)) this.finish();
  }

  /** The timeout: every node still silent is overdue (and `timeout` if still undecided). */
  wake(): void {
    for (let i = 0; i < this.results.length; i += 1) {
      if (this.answered[i]) continue;
      this.observer?.overdue(i);
      if (this.open) this.results[i] = TIMEOUT;
    }
    this.finish();
  }

  private finish(): void {
    if (!this.open) return;
    this.open = false;
    // With an observer the wake-up outlives an early answer, to report hung nodes.
    if (!this.observer || this.pending === 0) this.wheel.cancel(this);
    this.resolve(this.results);
  }
}

/** Per-node outcomes for errors and events; `ok` answers are mapped by `outcomeOf`. */
export function describeNodes<T>(
  adapters: readonly LockAdapter[],
  results: readonly NodeResult<T>[],
  outcomeOf: (value: T) => NodeOutcomeKind,
): NodeOutcome[] {
  return results.map((result, index) => {
    const node = adapters[index]!.name;
    switch (result.status) {
      case 'ok':
        return { node, outcome: outcomeOf(result.value) };
      case 'error':
        return result.error instanceof NodeSkippedError
          ? { node, outcome: 'skipped', message: result.error.message }
          : { node, outcome: 'error', message: safeMessage(result.error) };
      default:
        return { node, outcome: result.status };
    }
  });
}

/** A majority of `nodes`: the quorum of a lock (a semaphore's permit may need more). */
export function majorityOf(nodes: number): number {
  return Math.floor(nodes / 2) + 1;
}

/**
 * The monotonic time a lock set with `ttl` at `start` stays valid until: the ttl less the
 * drift allowance (`ttl * driftFactor + 2` ms), counted from before the first command was sent.
 */
export function validUntil(start: number, ttl: number, driftFactor: number): number {
  return Math.floor(start + ttl - (Math.floor(ttl * driftFactor) + 2));
}

/** How many nodes answered `ok`. */
export function countOk(results: readonly NodeResult<unknown>[]): number {
  let ok = 0;
  for (const result of results) if (result.status === 'ok' && result.value === 'ok') ok += 1;
  return ok;
}
