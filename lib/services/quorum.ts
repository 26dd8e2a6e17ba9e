import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { NodeOutcome, NodeOutcomeKind } from '../redlock.errors.js';
import { NodeSkippedError } from './circuit-breaker.js';

/** One node's answer to a fanned-out call. */
export type NodeResult<T> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'timeout' }
  | { readonly status: 'pending' };

const PENDING: NodeResult<never> = { status: 'pending' };
const TIMEOUT: NodeResult<never> = { status: 'timeout' };

/**
 * Sends `call` to every node at once and resolves with each node's result as soon as `decided`
 * says the outcome is known, or when `timeout` ms pass, or when every node has answered.
 * Nodes that have not answered by then stay `pending` (decided early) or `timeout`; their late
 * answers are dropped, which is safe because every write the engine makes is undone or
 * overwritten by compare-and-set scripts sent afterwards on the same connection. `overdue` is
 * told of every node still silent at `timeout`, even after an early answer.
 */
export function fanOut<T>(
  adapters: readonly LockAdapter[],
  call: (adapter: LockAdapter, index: number) => Promise<T>,
  timeout: number,
  decided: (results: readonly NodeResult<T>[], pending: number) => boolean = () => false,
  overdue?: (index: number) => void,
): Promise<NodeResult<T>[]> {
  const results: NodeResult<T>[] = adapters.map(() => PENDING);
  const answered: boolean[] = adapters.map(() => false);
  let pending = adapters.length;
  return new Promise((resolve) => {
    let open = true;
    const finish = (): void => {
      if (!open) return;
      open = false;
      // With an `overdue` listener the timer outlives an early answer, to report hung nodes.
      if (!overdue || pending === 0) clearTimeout(timer);
      resolve(results);
    };
    const settle = (index: number, result: NodeResult<T>): void => {
      answered[index] = true;
      pending -= 1;
      if (!open) {
        if (pending === 0) clearTimeout(timer);
        return;
      }
      results[index] = result;
      if (pending === 0 || decided(results, pending)) finish();
    };
    const timer = setTimeout(() => {
      for (let i = 0; i < results.length; i += 1) {
        if (answered[i]) continue;
        overdue?.(i);
        if (open) results[i] = TIMEOUT;
      }
      finish();
    }, timeout);
    adapters.forEach((adapter, index) => {
      let promise: Promise<T>;
      try {
        promise = call(adapter, index);
      } catch (error) {
        // An adapter that throws instead of rejecting still counts as that node's error.
        settle(index, { status: 'error', error });
        return;
      }
      promise.then(
        (value) => settle(index, { status: 'ok', value }),
        (error: unknown) => settle(index, { status: 'error', error }),
      );
    });
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

/** An error's message with any `scheme://user:password@` credentials removed. */
export function safeMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // Up to the last '@' of the address: a password may itself contain '@'.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, '$1');
}
