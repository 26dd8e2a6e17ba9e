import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { FaultProxy } from '../support/fault-proxy.js';
import { saveResult } from './report.js';
import { type RedisFleet, type RedisNode, startRedisFleet } from '../support/redis-fleet.js';

/**
 * The fault-injecting proxy against a real redis-server: every fault does what it says, and
 * the fleet's process faults (SIGSTOP/SIGCONT, SIGKILL + restart) compose with it.
 */
describe('FaultProxy (one real redis-server behind it)', () => {
  let fleet: RedisFleet;
  let node: RedisNode;
  let direct: Redis;
  let proxy: FaultProxy;
  const clients: Redis[] = [];

  // Lock-client style: fail fast, never replay.
  const FAIL_FAST: RedisOptions = {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 20,
    disconnectTimeout: 100,
  };
  // What ioredis does by default for a client an application passes in: replay after reconnect.
  const REPLAYING: RedisOptions = {
    retryStrategy: () => 20,
    disconnectTimeout: 100,
  };

  // events.once rejects on 'error', which a reset connection emits before 'close'.
  function event(emitter: EventEmitter, name: string): Promise<void> {
    return new Promise((resolve) => emitter.once(name, () => resolve()));
  }

  function client(options: RedisOptions): Redis {
    const redis = new Redis({ host: proxy.host, port: proxy.port, ...options });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  }

  async function connected(options: RedisOptions = FAIL_FAST): Promise<Redis> {
    const redis = client(options);
    if (redis.status !== 'ready') await event(redis, 'ready');
    return redis;
  }

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 1 });
    node = fleet.nodes[0]!;
    direct = node.client();
  });

  const started = performance.now();
  const outcomes: { name: string; passed: boolean }[] = [];

  /** `it`, recording the outcome for RELIABILITY.md. */
  function check(name: string, fn: () => Promise<void>): void {
    it(name, async () => {
      try {
        await fn();
        outcomes.push({ name, passed: true });
      } catch (error) {
        outcomes.push({ name, passed: false });
        throw error;
      }
    });
  }

  afterAll(async () => {
    await fleet?.stop();
    await saveResult({
      suite: 'fault-proxy',
      title: 'Fault proxy against a real redis-server',
      file: 'test/reliability/fault-proxy.spec.ts',
      kind: 'examples',
      scale: 1,
      at: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      seeds: [],
      failed: outcomes.some((o) => !o.passed),
      summary: {
        tests: outcomes.length,
        passed: outcomes.filter((o) => o.passed).length,
      },
      faults: {},
      violations: outcomes.filter((o) => !o.passed).map((o) => ({ kind: 'proxy', detail: o.name })),
    });
  });

  afterEach(async () => {
    for (const redis of clients.splice(0)) redis.disconnect();
    await proxy?.close();
    if (node.pid === undefined) await node.restart();
    await node.resume().catch(() => undefined);
    await direct.flushall();
  });

  async function startProxy(): Promise<FaultProxy> {
    proxy = await FaultProxy.start({ target: { host: node.host, port: node.port } });
    return proxy;
  }

  check('listens on a loopback port of its own and forwards commands both ways', async () => {
    await startProxy();
    expect(proxy.host).toBe('127.0.0.1');
    expect(proxy.port).not.toBe(node.port);
    expect(proxy.port).not.toBe(6379);
    const redis = await connected();
    expect(await redis.set('k', 'v')).toBe('OK');
    expect(await direct.get('k')).toBe('v');
    expect(await redis.get('k')).toBe('v');
    expect(proxy.stats).toMatchObject({ accepted: 1, active: 1, cuts: 0 });
    expect(proxy.stats.bytesToServer).toBeGreaterThan(0);
    expect(proxy.stats.bytesToClient).toBeGreaterThan(0);
  });

  check('adds latency per direction, and heals', async () => {
    await startProxy();
    const redis = await connected();
    proxy.setLatency({ toServer: 80 });
    let started = performance.now();
    await redis.ping();
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    proxy.setLatency({ toServer: 0, toClient: 80 });
    started = performance.now();
    await redis.ping();
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    proxy.heal();
    started = performance.now();
    await redis.ping();
    expect(performance.now() - started).toBeLessThan(60);
  });

  check('keeps the order of commands when latency shrinks in between', async () => {
    await startProxy();
    const redis = await connected();
    proxy.setLatency(60);
    const first = redis.rpush('order', 'a');
    proxy.setLatency(0);
    const second = redis.rpush('order', 'b');
    await Promise.all([first, second]);
    expect(await direct.lrange('order', 0, -1)).toEqual(['a', 'b']);
  });

  check('blackholes requests: the server never sees them until the partition heals', async () => {
    await startProxy();
    const redis = await connected();
    proxy.blackhole('toServer');
    const held = proxy.nextHeld('toServer');
    const reply = redis.set('bh', '1');
    await held;
    // The bytes are with the proxy, not with Redis.
    expect(await direct.get('bh')).toBeNull();
    proxy.heal();
    expect(await reply).toBe('OK');
    expect(await direct.get('bh')).toBe('1');
  });

  check(
    'blackholes replies: the server executes, the client hears nothing until healed',
    async () => {
      await startProxy();
      const redis = await connected();
      proxy.blackhole('toClient');
      const held = proxy.nextHeld('toClient');
      let settled = false;
      const reply = redis.incr('n').finally(() => (settled = true));
      await held;
      expect(await direct.get('n')).toBe('1');
      expect(settled).toBe(false);
      proxy.heal();
      expect(await reply).toBe(1);
    },
  );

  check('lifts a blackhole one way: requests run while replies stay held', async () => {
    await startProxy();
    const redis = await connected();
    proxy.blackhole();
    const held = proxy.nextHeld('toServer');
    const reply = redis.incr('oneway');
    await held;
    const answered = proxy.nextArrived('toClient');
    proxy.lift('toServer');
    await answered; // Redis answered: the reply is with the proxy now
    expect(await direct.get('oneway')).toBe('1');
    proxy.lift('toClient');
    expect(await reply).toBe(1);
  });

  check(
    'can cut the connections that a partition held bytes on, instead of delivering',
    async () => {
      await startProxy();
      const redis = await connected();
      proxy.blackhole();
      const held = proxy.nextHeld();
      const reply = redis.set('dropped', '1');
      await held;
      proxy.heal({ held: 'cut' });
      await expect(reply).rejects.toThrow();
      expect(await direct.get('dropped')).toBeNull();
      expect(proxy.stats.cuts).toBe(1);
    },
  );

  check('cuts every connection at once', async () => {
    await startProxy();
    const a = await connected();
    const b = await connected();
    const closed = Promise.all([event(a, 'close'), event(b, 'close')]);
    expect(proxy.cut()).toBe(2);
    await closed;
    expect(proxy.stats).toMatchObject({ cuts: 2, active: 0 });
  });

  check('cuts mid-command: the server executed it, a fail-fast client gets an error', async () => {
    await startProxy();
    const redis = await connected(FAIL_FAST);
    const cut = proxy.cutMidCommand({ match: 'INCR' });
    await expect(redis.incr('counter')).rejects.toThrow();
    await cut;
    expect(await direct.get('counter')).toBe('1');
    expect(proxy.stats.midCommandCuts).toBe(1);
  });

  check(
    'cuts mid-command: a replaying client (ioredis defaults) sends it a second time',
    async () => {
      await startProxy();
      const redis = await connected(REPLAYING);
      const cut = proxy.cutMidCommand({ match: /\bincr\b/i });
      // The reply the client finally gets is the replay's: the command ran twice.
      expect(await redis.incr('replayed')).toBe(2);
      await cut;
      expect(await direct.get('replayed')).toBe('2');
    },
  );

  check('only arms on matching requests', async () => {
    await startProxy();
    const redis = await connected(FAIL_FAST);
    const cut = proxy.cutMidCommand({ match: 'EVALSHA' });
    expect(await redis.set('x', '1')).toBe('OK');
    expect(proxy.stats.midCommandCuts).toBe(0);
    proxy.heal();
    await cut; // heal disarms and resolves
  });

  check('refuses new connections while existing ones keep working, until healed', async () => {
    await startProxy();
    const existing = await connected();
    proxy.refuse();
    const refused = client({ ...FAIL_FAST, retryStrategy: () => null });
    await event(refused, 'end');
    expect(proxy.stats.refused).toBeGreaterThanOrEqual(1);
    expect(await existing.ping()).toBe('PONG');
    proxy.heal();
    const later = await connected();
    expect(await later.ping()).toBe('PONG');
  });

  check('passes SIGSTOP through: commands wait for SIGCONT and then run', async () => {
    await startProxy();
    const redis = await connected(REPLAYING);
    await node.pause();
    let settled = false;
    const forwarded = proxy.nextForwarded('toServer');
    const reply = redis.set('paused', '1').finally(() => (settled = true));
    // The request went into the stopped server's socket; no reply can come.
    await forwarded;
    expect(settled).toBe(false);
    await node.resume();
    expect(await reply).toBe('OK');
    expect(await direct.get('paused')).toBe('1');
  });

  check('follows a SIGKILLed and restarted server on the same port (data gone)', async () => {
    await startProxy();
    const redis = await connected(FAIL_FAST);
    await redis.set('gone', '1');
    const closed = event(redis, 'close');
    await node.kill();
    await closed;
    await expect(redis.get('gone')).rejects.toThrow();
    // While the target is down, connections through the proxy fail upstream.
    await event(redis, 'reconnecting');
    await node.restart();
    if (redis.status !== 'ready') await event(redis, 'ready');
    expect(await redis.get('gone')).toBeNull();
    expect(proxy.stats.accepted).toBeGreaterThanOrEqual(2);
  });
});
