import type { RedlockEvent } from '../interfaces/redlock-events.interface.js';
import type { QuorumOutageLog } from './quorum-outage-log.js';

/** What the service uses of `@nestjs/event-emitter`'s emitter (an optional peer). */
export interface EventEmitterLike {
  emit(event: string, ...values: unknown[]): boolean;
}

/**
 * Everyone who hears the service's events: the `onEvent` option, in-process followers, the
 * application's `@nestjs/event-emitter`, the quorum outage log.
 */
export class EventDelivery {
  readonly #onEvent: ((event: RedlockEvent) => void) | undefined;
  readonly #outages: QuorumOutageLog;
  // In-process followers of every event (the lock console's recent events).
  readonly #observers = new Set<(event: RedlockEvent) => void>();
  #eventEmitter: EventEmitterLike | undefined;

  constructor(onEvent: ((event: RedlockEvent) => void) | undefined, outages: QuorumOutageLog) {
    this.#onEvent = onEvent;
    this.#outages = outages;
  }

  /** The application's event emitter, once the module has looked it up. */
  set eventEmitter(emitter: EventEmitterLike | undefined) {
    this.#eventEmitter = emitter;
  }

  /** Follows every event; returns the unfollow. */
  observe(listener: (event: RedlockEvent) => void): () => void {
    this.#observers.add(listener);
    return () => this.#observers.delete(listener);
  }

  dispatch(event: RedlockEvent): void {
    this.#onEvent?.(event);
    for (const observer of this.#observers) observer(event);
    this.#eventEmitter?.emit(`redlock.${event.type}`, event);
    this.#outages.observe(event);
  }
}
