import type { RedlockEvent } from '../interfaces/redlock-events.interface.js';
import { listForMessage, safeMessage } from '../redaction.js';
import { LockNotAcquiredError } from '../redlock.errors.js';

/** One line of the console's recent events: plain, bounded text, never credentials. */
export interface ConsoleEvent {
  /** Epoch ms. */
  readonly at: number;
  /** The event type, with `failed` split into `busy` and `unavailable`. */
  readonly type: string;
  /** The resources, as one bounded line. */
  readonly resources: string;
  /** What happened, in a few words. */
  readonly detail: string;
}

/**
 * The last `size` lock events of the application, for the console: fed by every event of
 * `RedlockService`, and kept as small display records (so a held `error` does not keep node
 * state alive). Extensions are left out: every held lock renews every ttl / 2, and they would
 * push everything else out of the buffer.
 */
export class ConsoleEventLog {
  readonly #events: (ConsoleEvent | undefined)[];
  #next = 0;

  constructor(size: number) {
    this.#events = new Array<ConsoleEvent | undefined>(size);
  }

  add(event: RedlockEvent, at = Date.now()): void {
    const line = describeEvent(event, at);
    if (!line) return;
    this.#events[this.#next] = line;
    this.#next = (this.#next + 1) % this.#events.length;
  }

  /** Newest first. */
  recent(): ConsoleEvent[] {
    const size = this.#events.length;
    const list: ConsoleEvent[] = [];
    for (let i = 1; i <= size; i += 1) {
      const event = this.#events[(this.#next - i + size) % size];
      if (event) list.push(event);
    }
    return list;
  }
}

function describeEvent(event: RedlockEvent, at: number): ConsoleEvent | undefined {
  const resources = listForMessage(event.resources, 5);
  const line = (type: string, detail: string): ConsoleEvent => ({ at, type, resources, detail });
  switch (event.type) {
    case 'acquired':
      return line('acquired', `after ${Math.round(event.waited)} ms, ${event.attempts} attempt(s)`);
    case 'released':
      return line('released', `${event.status} after ${Math.round(event.held)} ms`);
    case 'lost':
      return line('lost', safeMessage(event.error, 200));
    case 'failed':
      return event.error instanceof LockNotAcquiredError
        ? line('busy', `gave up after ${event.attempts} attempt(s)`)
        : line('unavailable', safeMessage(event.error, 200));
    case 'circuit':
      return line('circuit', `${event.node}: ${event.from} → ${event.to}`);
    case 'degraded':
      return line('degraded', event.active ? 'process-local locks' : 'back to the nodes');
    case 'forceReleased':
      return line(
        'forceReleased',
        `by ${event.by}, deleted on ${event.deleted} node(s)` +
          (event.fencingCounter === undefined ? '' : `, fencing counter ${event.fencingCounter}`),
      );
    default:
      return undefined;
  }
}
