import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { NodeOutcome, NodeOutcomeKind } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import { NodeSkippedError } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { deadlineWheel, type WheelItem } from './deadline-wheel.js';

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
 * keeps the process alive.
 */
export function fanOut<T>(
  clock: Clock,
  adapters: readonly LockAdapter[],
  call: (adapter: LockAdapter) => Promise<T>,
  timeout: number,
  decided: (results: readonly NodeResult<T>[], pending: number) => boolean = () => false,
  observer?: FanOutObserver,
): Promise<NodeResult<T>[]> {
  const results: NodeResult<T>[] = adapters.map(() => PENDING);
  const answered: boolean[] = adapters.map(() => false);
  let pending = adapters.length;
  // The timeout is a wake-up on the clock's deadline wheel, not a Node timer per call: every
  // acquire and release fans out, and almost every fan-out is answered long before it.
  const wheel = deadlineWheel(clock);
  return new Promise((resolve) => {
    let open = true;
    const finish = (): void => {
      if (!open) return;
      open = false;
      // With an observer the timer outlives an early answer, to report hung nodes.
      if (!observer || pending === 0) wheel.cancel(timer);
      resolve(results);
    };
    const settle = (index: number, result: NodeResult<T>): void => {
      answered[index] = true;
      pending -= 1;
      if (!open) {
        if (pending === 0) wheel.cancel(timer);
        return;
      }
      results[index] = result;
      if (pending === 0 || decided(results, pending)) finish();
    };
    const timer: WheelItem = {
      wakeAt: 0,
      slot: -1,
      wake: () => {
        for (let i = 0; i < results.length; i += 1) {
          if (answered[i]) continue;
          observer?.overdue(i);
          if (open) results[i] = TIMEOUT;
        }
        finish();
      },
    };
    const now = clock.now();
    wheel.schedule(timer, now + timeout, now);
    for (let index = 0; index < adapters.length; index += 1) {
      const refused = observer?.allow(index);
      if (refused) {
        settle(index, { status: 'error', error: refused });
        continue;
      }
      let promise: Promise<T>;
      try {
        promise = call(adapters[index]!);
      } catch (error) {
        // An adapter that throws instead of rejecting still counts as that node's error.
        observer?.settled(index, false, error);
        settle(index, { status: 'error', error });
        continue;
      }
      promise.then(
        (value) => {
          observer?.settled(index, true);
          settle(index, { status: 'ok', value });
        },
        (error: unknown) => {
          observer?.settled(index, false, error);
          settle(index, { status: 'error', error });
        },
      );
    }
  });
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
