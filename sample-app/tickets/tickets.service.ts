import { GoneException, Injectable } from '@nestjs/common';
import { RedlockService, WithLock } from 'nestjs-redlock';
import { InventoryStore } from './inventory.store.js';

/** What a purchase returns. */
export interface Purchase {
  eventId: string;
  remaining: number;
}

@Injectable()
export class TicketsService {
  constructor(
    private readonly inventory: InventoryStore,
    private readonly redlock: RedlockService,
  ) {}

  /**
   * Read, pay, write: correct only when no other purchase of the same event runs in between.
   * The controller decides whether a lock guards it.
   */
  async buy(eventId: string): Promise<Purchase> {
    const remaining = await this.inventory.remaining(eventId);
    if (remaining <= 0) throw new GoneException(`Event ${eventId} is sold out.`);
    await paymentProvider();
    await this.inventory.commitSale(eventId, remaining - 1);
    return { eventId, remaining: remaining - 1 };
  }

  /** Two seats change hands at once: both locked, all or nothing, in one call. */
  @WithLock(['seat:<0>:<1>', 'seat:<0>:<2>'])
  async swapSeats(eventId: string, a: string, b: string): Promise<Record<string, string | null>> {
    const [holderA, holderB] = await Promise.all([
      this.inventory.seat(eventId, a),
      this.inventory.seat(eventId, b),
    ]);
    const seats = { [a]: holderB, [b]: holderA };
    await this.inventory.assignSeats(eventId, seats);
    return seats;
  }

  async assignSeat(eventId: string, seat: string, holder: string): Promise<void> {
    await this.inventory.assignSeats(eventId, { [seat]: holder });
  }

  /**
   * Resets the event's capacity under the same lock as purchases. The work gets the lock's
   * signal (to stop if the lock is lost) and its fencing token (so the store can refuse a late
   * write from a holder that lost the lock).
   */
  restock(eventId: string, capacity: number): Promise<{ accepted: boolean; fencingToken: number }> {
    return this.redlock.using(
      `event:${eventId}`,
      async (lock) => {
        lock.signal.throwIfAborted();
        const accepted = await this.inventory.restock(eventId, capacity, lock.fencingToken);
        return { accepted, fencingToken: lock.fencingToken };
      },
      { fencing: true },
    );
  }
}

/** A payment call: a few ms of I/O during which other requests interleave. */
function paymentProvider(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 3 + Math.random() * 4));
}
