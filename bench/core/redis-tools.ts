/**
 * Admin connections to the fleet's nodes, apart from every contender's own connections: server
 * statistics around each turn, memory, and the cleanup between workloads.
 */
import { Redis } from 'ioredis';

/** Calls and server time (µs) of one command type, e.g. `set`, `evalsha`, `script|load`. */
export interface CommandStat {
  calls: number;
  usec: number;
}

/** What one `INFO cpu commandstats` says, summed over the nodes asked. */
export interface ServerStats {
  readonly commands: Map<string, CommandStat>;
  /** `used_cpu_user_main_thread + used_cpu_sys_main_thread`, µs. */
  readonly mainThreadCpuUs: number;
}

export class RedisAdmin {
  private readonly clients: Redis[];

  constructor(readonly urls: readonly string[]) {
    this.clients = urls.map(
      (url) => new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 }),
    );
    for (const client of this.clients) client.on('error', () => undefined);
  }

  client(index: number): Redis {
    return this.clients[index]!;
  }

  /** The first `count` nodes. */
  first(count: number): Redis[] {
    return this.clients.slice(0, count);
  }

  /**
   * Command statistics and main-thread CPU of the first `count` nodes. One `INFO` per node: the
   * call itself lands in `cmdstat_info` of the next reading, which `topLevelUsec` leaves out.
   */
  async stats(count: number): Promise<ServerStats> {
    const infos = await Promise.all(this.first(count).map((c) => c.info('cpu', 'commandstats')));
    const commands = new Map<string, CommandStat>();
    let cpu = 0;
    for (const info of infos) {
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
        const stat = commands.get(m[1]!) ?? { calls: 0, usec: 0 };
        stat.calls += Number(m[2]);
        stat.usec += Number(m[3]);
        commands.set(m[1]!, stat);
      }
      const user = /used_cpu_user_main_thread:([\d.]+)/.exec(info)?.[1];
      const sys = /used_cpu_sys_main_thread:([\d.]+)/.exec(info)?.[1];
      cpu += (Number(user ?? 0) + Number(sys ?? 0)) * 1e6;
    }
    return { commands, mainThreadCpuUs: cpu };
  }

  /** `used_memory` of node `index`, bytes. */
  async usedMemory(index = 0): Promise<number> {
    const info = await this.clients[index]!.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  }

  /**
   * Empties the first `count` nodes. Callers audit what is left first (`auditKeys`): a flush
   * that nobody counted would hide exactly the keys a lock library forgets.
   */
  async flushAll(count = this.clients.length): Promise<void> {
    await Promise.all(this.first(count).map((client) => client.flushall('SYNC')));
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

/** `after - before`, per command type and for the CPU. */
export function statsDelta(before: ServerStats, after: ServerStats): ServerStats {
  const commands = new Map<string, CommandStat>();
  for (const [name, stat] of after.commands) {
    const prior = before.commands.get(name) ?? { calls: 0, usec: 0 };
    const calls = stat.calls - prior.calls;
    if (calls > 0) commands.set(name, { calls, usec: stat.usec - prior.usec });
  }
  return { commands, mainThreadCpuUs: after.mainThreadCpuUs - before.mainThreadCpuUs };
}
