import { Redis } from 'ioredis';

/** Admin connections to the fleet's nodes, outside every contender's own connections. */
export class RedisAdmin {
  private readonly clients: Redis[];

  constructor(readonly urls: readonly string[]) {
    this.clients = urls.map(
      (url) =>
        new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false }),
    );
    for (const client of this.clients) client.on('error', () => undefined);
  }

  client(index: number): Redis {
    return this.clients[index]!;
  }

  /** Empties every node (synchronously on the server), so each run starts from the same state. */
  async flushAll(count = this.clients.length): Promise<void> {
    await Promise.all(this.clients.slice(0, count).map((client) => client.flushall('SYNC')));
  }

  async resetStats(count: number): Promise<void> {
    await Promise.all(this.clients.slice(0, count).map((client) => client.config('RESETSTAT')));
  }

  /** Server-side CPU spent in commands (µs) and the number of calls, summed over `count` nodes. */
  async commandStats(count: number): Promise<{ usec: number; calls: number }> {
    const infos = await Promise.all(
      this.clients.slice(0, count).map((client) => client.info('commandstats')),
    );
    let usec = 0;
    let calls = 0;
    for (const info of infos) {
      for (const match of info.matchAll(/calls=(\d+),usec=(\d+)/g)) {
        calls += Number(match[1]);
        usec += Number(match[2]);
      }
    }
    return { usec, calls };
  }

  async serverVersion(): Promise<string> {
    const info = await this.clients[0]!.info('server');
    return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  }

  /** Pub/sub channels with at least one subscriber, on node `index`. */
  async channelCount(index = 0): Promise<number> {
    const channels = await this.clients[index]!.pubsub('CHANNELS');
    return channels.length;
  }

  close(): void {
    for (const client of this.clients) client.disconnect();
  }
}

/**
 * Reads one key on every node at (nearly) the same moment, every `everyMs`, and counts the
 * samples in which some node holds the key but no value is held by a majority ("stuck").
 */
export class StuckSampler {
  private readonly clients: Redis[];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private previousStuck: string | undefined;
  samples = 0;
  held = 0;
  stuck = 0;
  /** Stuck samples whose split state is exactly the one of the previous sample (~5 ms before). */
  lingering = 0;
  errors = 0;

  constructor(
    urls: readonly string[],
    private readonly key: string,
    private readonly everyMs: number,
    private readonly maxSamples: number,
  ) {
    this.clients = urls.map(
      (url) => new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 }),
    );
    for (const client of this.clients) client.on('error', () => undefined);
  }

  async ready(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.ping()));
  }

  /** Samples until `endAt` (a `performance.now()` time) or `maxSamples`, whichever is first. */
  start(endAt: number): void {
    const quorum = Math.floor(this.clients.length / 2) + 1;
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      if (performance.now() >= endAt || this.samples >= this.maxSamples) {
        this.stop();
        return;
      }
      this.inFlight = true;
      Promise.all(this.clients.map((client) => client.get(this.key))).then(
        (values) => {
          this.inFlight = false;
          this.samples += 1;
          const counts = new Map<string, number>();
          for (const value of values) {
            if (value !== null) counts.set(value, (counts.get(value) ?? 0) + 1);
          }
          if (counts.size === 0) {
            this.previousStuck = undefined;
            return;
          }
          this.held += 1;
          if (Math.max(...counts.values()) >= quorum) {
            this.previousStuck = undefined;
            return;
          }
          this.stuck += 1;
          const state = values.map((value) => value ?? '').join('|');
          if (state === this.previousStuck) this.lingering += 1;
          this.previousStuck = state;
        },
        () => {
          this.inFlight = false;
          this.errors += 1;
        },
      );
    }, this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    for (const client of this.clients) client.disconnect();
  }
}
