/**
 * The Redis world: three real `redis-server` processes (test/support/redis-fleet.ts), each
 * engine reaching each server through a fault proxy of its own (test/support/fault-proxy.ts),
 * so a fault can hit one client's connection to one node. Node faults are the fleet's:
 * SIGSTOP/SIGCONT, SIGKILL and restart without data.
 *
 * Engines connect like applications do: a fail-fast client (the options the library forces on
 * clients it creates), or a client the application passes in with ioredis defaults (offline
 * queue, commands replayed after a reconnect).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { IoredisLockAdapter } from '../../../lib/adapters/ioredis.adapter.js';
import type { LockAdapter } from '../../../lib/interfaces/lock-adapter.interface.js';
import { FaultProxy } from '../../support/fault-proxy.js';
import { type RedisFleet, startRedisFleet } from '../../support/redis-fleet.js';
import type { Fault, Plan } from './plan.js';
import type { RunWorld, World } from './world.js';

const NODES = 3;
const MAX_ENGINES = 3;

/** What the library forces on clients it creates (lock-adapter.factory.ts): fail fast. */
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  disconnectTimeout: 200,
  retryStrategy: (attempt: number) => Math.min(20 * attempt, 200),
};

/** An application's client with ioredis defaults (replays), reconnecting quickly. */
const REPLAYING: RedisOptions = {
  connectTimeout: 2_000,
  disconnectTimeout: 200,
  retryStrategy: (attempt: number) => Math.min(20 * attempt, 200),
};

/** A synchronous repair as the `() => Promise<void>` the runner expects. */
function heal(fn: () => void): () => Promise<void> {
  return () => {
    fn();
    return Promise.resolve();
  };
}

/** Requests the mid-command cut waits for: the lock commands (plain SET or a script). */
const LOCK_COMMANDS = /\b(evalsha|eval|set)\b/i;

export class RedisWorld implements World {
  readonly kind = 'redis' as const;
  readonly slack = 300;

  private constructor(
    private readonly fleet: RedisFleet,
    /** proxies[engine][node] */
    private readonly proxies: FaultProxy[][],
    private readonly direct: Redis[],
  ) {}

  static async start(): Promise<RedisWorld> {
    const fleet = await startRedisFleet({ nodes: NODES });
    try {
      const proxies = await Promise.all(
        Array.from({ length: MAX_ENGINES }, (_, e) =>
          Promise.all(
            fleet.nodes.map((node, n) =>
              FaultProxy.start({
                target: { host: node.host, port: node.port },
                name: `e${e}->redis-${n + 1}`,
              }),
            ),
          ),
        ),
      );
      const direct = fleet.nodes.map((node) => node.client({ maxRetriesPerRequest: 1 }));
      return new RedisWorld(fleet, proxies, direct);
    } catch (error) {
      await fleet.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.proxies.flat().map((proxy) => proxy.close()));
    await this.fleet.stop();
  }

  /** Every node up and answering, every proxy healed, no data. */
  private async reset(): Promise<void> {
    for (const proxy of this.proxies.flat()) {
      proxy.heal({ held: 'cut' });
      proxy.cut();
    }
    for (const node of this.fleet.nodes) {
      if (node.pid === undefined) await node.restart();
      else await node.resume();
    }
    await Promise.all(this.direct.map((client) => client.flushall()));
  }

  async open(plan: Plan, engines: number): Promise<RunWorld> {
    await this.reset();
    // RELIABILITY_MONITOR=<dir>: every command each node executed, for debugging a plan.
    const monitors = process.env.RELIABILITY_MONITOR
      ? await Promise.all(
          this.fleet.nodes.map(async (node, n) => {
            const lines: string[] = [];
            const monitor = await node.client().monitor();
            monitor.on('monitor', (time: string, args: unknown[]) =>
              lines.push(`${time} ${JSON.stringify(args)}`),
            );
            return { n, lines, monitor };
          }),
        )
      : [];
    const clients: Redis[] = [];
    const connect = (port: number, options: RedisOptions): Redis => {
      const client = new Redis({
        host: '127.0.0.1',
        port,
        ...options,
        // With RELIABILITY_TRACE, a failed command's error says where the command was sent.
        showFriendlyErrorStack: process.env.RELIABILITY_TRACE === '1',
      });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    };
    const adapters: LockAdapter[][] = Array.from({ length: engines }, (_, e) =>
      this.proxies[e]!.map(
        (proxy) =>
          new IoredisLockAdapter(
            connect(proxy.port, plan.engines[e]!.replaying ? REPLAYING : FAIL_FAST),
            { owned: true },
          ),
      ),
    );
    const observer: LockAdapter[] = this.fleet.nodes.map(
      (node) => new IoredisLockAdapter(connect(node.port, FAIL_FAST), { owned: true }),
    );
    await Promise.all(
      [...adapters.flat(), ...observer].map((a) => (a.ready ? a.ready(5_000) : Promise.resolve())),
    );
    const proxyOf = (engine: number, node: number): FaultProxy =>
      this.proxies[engine % engines]![node % NODES]!;
    const fleet = this.fleet;
    const direct = this.direct;
    const proxies = this.proxies.flat();
    let adaptersClosed = false;
    // Faults may overlap: a node stays stopped until the last pause on it heals, and a node
    // that is down (killed, not yet restarted) is not paused at all.
    const pauses = fleet.nodes.map(() => 0);
    const pause = async (n: number): Promise<() => Promise<void>> => {
      const node = fleet.nodes[n]!;
      if (node.pid === undefined) return heal(() => undefined);
      pauses[n]! += 1;
      if (pauses[n] === 1) await node.pause();
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        pauses[n] = Math.max(0, pauses[n]! - 1);
        if (pauses[n] === 0 && node.pid !== undefined) await node.resume();
      };
    };

    const closeAll = async (list: readonly LockAdapter[]): Promise<void> => {
      await Promise.allSettled(list.map((adapter) => adapter.close()));
    };

    return {
      adapters,
      observer,
      async inject(fault: Fault): Promise<() => Promise<void>> {
        switch (fault.kind) {
          case 'latency': {
            const proxy = proxyOf(fault.engine, fault.node);
            proxy.setLatency(fault.ms);
            return heal(() => proxy.setLatency(0));
          }
          case 'blackhole': {
            const proxy = proxyOf(fault.engine, fault.node);
            proxy.blackhole();
            return heal(() => proxy.heal());
          }
          case 'partition': {
            const keep = fault.engine % NODES;
            const cut = [0, 1, 2].filter((n) => n !== keep).map((n) => proxyOf(fault.engine, n));
            for (const proxy of cut) proxy.blackhole();
            return heal(() => {
              for (const proxy of cut) proxy.heal();
            });
          }
          case 'cut':
            proxyOf(fault.engine, fault.node).cut();
            return heal(() => undefined);
          case 'cutMid': {
            const proxy = proxyOf(fault.engine, fault.node);
            void proxy.cutMidCommand({ match: LOCK_COMMANDS });
            return heal(() => proxy.heal());
          }
          case 'refuse': {
            const proxy = proxyOf(fault.engine, fault.node);
            proxy.refuse();
            proxy.cut();
            return heal(() => proxy.heal());
          }
          case 'pause':
            return pause(fault.node % NODES);
          case 'restart': {
            const node = fleet.nodes[fault.node % NODES]!;
            await node.kill();
            pauses[fault.node % NODES] = 0; // SIGKILL ends a stopped process too
            return async () => {
              if (node.pid === undefined) await node.restart();
            };
          }
        }
      },
      async lockKeys() {
        const found: { node: number; key: string; pttl: number }[] = [];
        await Promise.all(
          direct.map(async (client, node) => {
            if (fleet.nodes[node]!.pid === undefined) return;
            const keys = await client.keys('lock:*');
            for (const key of keys) {
              const pttl = await client.pttl(key);
              if (pttl !== -2) found.push({ node, key, pttl });
            }
          }),
        );
        return found;
      },
      pauseNode: (index: number) => pause(index % NODES),
      idle: () => proxies.every((proxy) => proxy.idle),
      async closeAdapters() {
        adaptersClosed = true;
        await closeAll(adapters.flat());
      },
      async close() {
        for (const { n, lines, monitor } of monitors) {
          monitor.disconnect();
          const { writeFileSync } = await import('node:fs');
          writeFileSync(`${process.env.RELIABILITY_MONITOR}/node${n}.log`, lines.join('\n'));
        }
        for (const node of fleet.nodes) {
          if (node.pid === undefined) await node.restart();
          else await node.resume();
        }
        if (!adaptersClosed) await closeAll(adapters.flat());
        await closeAll(observer);
        for (const client of clients) client.disconnect();
      },
    };
  }
}
