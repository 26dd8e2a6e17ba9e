import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { listForMessage } from '../redaction.js';
import { RedlockUnavailableError } from '../redlock.errors.js';

/**
 * One warning when lock calls start failing for want of a quorum, one line when they recover:
 * an outage is logged when it starts and ends, not once per request.
 */
export class QuorumOutageLog {
  #lost = false;
  /** Set at shutdown: acquisitions refused then are not an outage of the nodes. */
  shuttingDown = false;

  constructor(private readonly logger: RedlockLogger | undefined) {}

  observe(event: RedlockEvent): void {
    if (event.type === 'acquired' && this.#lost) {
      this.#lost = false;
      this.logger?.log('A quorum of lock nodes answers again: lock calls succeed.');
      return;
    }
    if (
      event.type !== 'failed' ||
      !(event.error instanceof RedlockUnavailableError) ||
      this.#lost ||
      this.shuttingDown
    ) {
      return;
    }
    this.#lost = true;
    const failing = event.nodes.filter(
      (node) => node.outcome !== 'acquired' && node.outcome !== 'taken',
    );
    this.logger?.warn(
      `No quorum of lock nodes answers (${failing.length} of ${event.nodes.length} failing: ${listForMessage(
        failing.map(
          (node) => `${node.node} ${node.outcome}${node.message ? ` (${node.message})` : ''}`,
        ),
        5,
      )}); lock calls fail with RedlockUnavailableError until enough nodes are back.`,
    );
  }
}
