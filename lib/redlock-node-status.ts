import type { RedlockLogger } from './interfaces/redlock-events.interface.js';
import { describeNodeError } from './redaction.js';

/**
 * What the module knows about the connections it opened, for logs and health details.
 *
 * A node that goes down makes its client report the same error on every reconnect attempt and
 * every lock call fail: one warning when a node goes down (and when the reason changes), one
 * line when it is back, never one per request or per retry.
 */
export class NodeStatus {
  // Last error per node name while the node is down, as describeNodeError words it.
  readonly #down = new Map<string, string>();
  readonly #logger: RedlockLogger | undefined;

  constructor(logger: RedlockLogger | undefined) {
    this.#logger = logger;
  }

  /** A client of `node` reported `error`. */
  failed(node: string, error: unknown): void {
    const reason = describeNodeError(error);
    const previous = this.#down.get(node);
    if (previous === reason) return;
    this.#down.set(node, reason);
    this.#logger?.warn(
      previous === undefined
        ? `Lock node ${node} is down: ${reason}. Lock calls count it as failed meanwhile.`
        : `Lock node ${node} is still down, now: ${reason}.`,
    );
  }

  /** A client of `node` is connected and ready. */
  ready(node: string): void {
    if (!this.#down.delete(node)) return;
    this.#logger?.log(`Lock node ${node} is back.`);
  }

  /** Why `node` is down, or `undefined` when its client has not reported a failure. */
  reason(node: string): string | undefined {
    return this.#down.get(node);
  }
}
