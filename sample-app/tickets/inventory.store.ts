import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';

/** Sales figures of one event. */
export interface EventStats {
  capacity: number;
  remaining: number;
  sold: number;
}

/**
 * Ticket inventory shared by every instance of the app: a Redis server when `INVENTORY_URL` (or
 * the first `REDLOCK_NODES` entry) is a redis:// URL, process memory otherwise. It is plain
 * read-then-write storage on purpose: without a lock, concurrent buyers oversell.
 */
@Injectable()
export class InventoryStore implements OnApplicationShutdown {
  private readonly redis: Redis | undefined;
  private readonly memory = new Map<string, string>();

  constructor(config: ConfigService) {
    const url =
      config.get<string>('INVENTORY_URL') ?? config.get<string>('REDLOCK_NODES')?.split(',')[0];
    this.redis = url?.startsWith('redis') ? new Redis(url) : undefined;
  }

  async reset(eventId: string, capacity: number): Promise<void> {
    await this.write({
      [key(eventId, 'capacity')]: String(capacity),
      [key(eventId, 'remaining')]: String(capacity),
      [key(eventId, 'sold')]: '0',
      [key(eventId, 'fence')]: '0',
    });
  }

  async remaining(eventId: string): Promise<number> {
    return Number((await this.read(key(eventId, 'remaining'))) ?? 0);
  }

  /** The unsafe half of a purchase: writes what the caller computed from an earlier read. */
  async commitSale(eventId: string, remaining: number): Promise<void> {
    await this.write({ [key(eventId, 'remaining')]: String(remaining) });
    if (this.redis) await this.redis.incr(key(eventId, 'sold'));
    else
      this.memory.set(
        key(eventId, 'sold'),
        String(Number(this.memory.get(key(eventId, 'sold')) ?? 0) + 1),
      );
  }

  /**
   * A fenced write: accepted only with a fencing token at least as high as every earlier one, so
   * a holder that lost its lock (paused past its ttl) cannot overwrite its successor's restock.
   */
  async restock(eventId: string, capacity: number, fencingToken: number): Promise<boolean> {
    if (this.redis) {
      const accepted = await this.redis.eval(
        `if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then return 0 end
         redis.call('SET', KEYS[1], ARGV[1])
         redis.call('SET', KEYS[2], ARGV[2])
         redis.call('SET', KEYS[3], ARGV[2])
         redis.call('SET', KEYS[4], '0')
         return 1`,
        4,
        key(eventId, 'fence'),
        key(eventId, 'capacity'),
        key(eventId, 'remaining'),
        key(eventId, 'sold'),
        fencingToken,
        capacity,
      );
      return accepted === 1;
    }
    if (Number(this.memory.get(key(eventId, 'fence')) ?? 0) > fencingToken) return false;
    await this.reset(eventId, capacity);
    this.memory.set(key(eventId, 'fence'), String(fencingToken));
    return true;
  }

  async stats(eventId: string): Promise<EventStats> {
    const [capacity, remaining, sold] = await Promise.all(
      (['capacity', 'remaining', 'sold'] as const).map((field) => this.read(key(eventId, field))),
    );
    return {
      capacity: Number(capacity ?? 0),
      remaining: Number(remaining ?? 0),
      sold: Number(sold ?? 0),
    };
  }

  async seat(eventId: string, seat: string): Promise<string | null> {
    return this.read(key(eventId, `seat:${seat}`));
  }

  async assignSeats(eventId: string, seats: Record<string, string | null>): Promise<void> {
    for (const [seat, holder] of Object.entries(seats)) {
      const name = key(eventId, `seat:${seat}`);
      if (holder === null) {
        if (this.redis) await this.redis.del(name);
        else this.memory.delete(name);
      } else {
        await this.write({ [name]: holder });
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit();
  }

  private async read(name: string): Promise<string | null> {
    return this.redis ? this.redis.get(name) : (this.memory.get(name) ?? null);
  }

  private async write(values: Record<string, string>): Promise<void> {
    if (this.redis) await this.redis.mset(values);
    else for (const [name, value] of Object.entries(values)) this.memory.set(name, value);
  }
}

function key(eventId: string, field: string): string {
  return `sample:event:${eventId}:${field}`;
}
