import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type INestApplicationContext, Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  LeaderElection,
  type Lock,
  type OnLeadershipAcquired,
  type OnLeadershipLost,
  RedlockModule,
  RedlockService,
} from '../../lib/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/**
 * `@LeaderElection` on 3 real Redis nodes, two application instances in this process: A reaches
 * the nodes through fault proxies, B directly. Cutting A off shows the order the design
 * promises: A hears that its lease is lost (its validity ends before the keys expire on the
 * nodes) before B can lead. Graceful shutdown shows the step-down: `onLeadershipLost`, then the
 * release, and the next leader at once rather than after the ttl.
 */
const TTL = 2_000;
const NAME = 'INSTANCE_NAME';

interface Entry {
  instance: string;
  event: 'acquired' | 'lost';
  token: number;
  at: number;
  leaderThen: boolean;
}

const log: Entry[] = [];
const waiting = new Set<(entry: Entry) => void>();
const when = (match: (entry: Entry) => boolean, timeout = 10_000) =>
  new Promise<Entry>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such leadership event')), timeout);
    const listener = (entry: Entry) => {
      if (!match(entry)) return;
      clearTimeout(timer);
      waiting.delete(listener);
      resolve(entry);
    };
    waiting.add(listener);
  });

@Injectable()
@LeaderElection('leader:integration', { ttl: TTL, nodeTimeout: 200 })
class Leader implements OnLeadershipAcquired, OnLeadershipLost {
  constructor(
    @Inject(NAME) private readonly name: string,
    private readonly redlock: RedlockService,
  ) {}

  onLeadershipAcquired(lock: Lock) {
    this.record('acquired', lock);
  }

  onLeadershipLost(lock: Lock) {
    this.record('lost', lock);
  }

  private record(event: Entry['event'], lock: Lock) {
    const entry: Entry = {
      instance: this.name,
      event,
      token: lock.fencingToken,
      at: performance.now(),
      leaderThen: this.redlock.isLeader('leader:integration'),
    };
    log.push(entry);
    for (const listener of [...waiting]) listener(entry);
  }
}

/**
 * Over the whole log: every term begins while no other instance believes it leads (the previous
 * leader has heard of its end), and terms only go up.
 */
function expectOneLeaderAtATime(): void {
  let leader: string | undefined;
  let token = 0;
  for (const entry of [...log].sort((x, y) => x.at - y.at)) {
    if (entry.event === 'acquired') {
      expect({ entry, leaderBefore: leader }).toEqual({ entry, leaderBefore: undefined });
      expect(entry.token).toBeGreaterThan(token);
      [leader, token] = [entry.instance, entry.token];
    } else if (leader === entry.instance) {
      leader = undefined;
    }
  }
}

async function instance(name: string, nodes: readonly string[]): Promise<INestApplicationContext> {
  @Module({
    imports: [RedlockModule.forRoot({ nodes, logger: false, shutdownTimeout: 1_000 })],
    providers: [Leader, { provide: NAME, useValue: name }],
  })
  class InstanceModule {}
  return NestFactory.createApplicationContext(InstanceModule, { logger: false });
}

describe('@LeaderElection on 3 Redis nodes', () => {
  let fleet: RedisFleet;
  let proxies: FaultProxy[];
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    proxies = await Promise.all(
      fleet.nodes.map((node) => FaultProxy.start({ target: { host: node.host, port: node.port } })),
    );
  }, 30_000);

  afterAll(async () => {
    for (const proxy of proxies ?? []) proxy.heal();
    for (const app of apps) await app.close();
    await Promise.all((proxies ?? []).map((proxy) => proxy.close()));
    await fleet?.stop();
  });

  it('a leader cut off from the nodes hears it has lost before another instance leads', async () => {
    const firstTerm = when((e) => e.instance === 'A' && e.event === 'acquired');
    const a = await instance(
      'A',
      proxies.map((proxy) => proxy.url),
    );
    apps.push(a);
    await firstTerm;
    const b = await instance('B', fleet.urls);
    apps.push(b);
    expect(a.get(RedlockService).isLeader('leader:integration')).toBe(true);
    expect(b.get(RedlockService).isLeader('leader:integration')).toBe(false);

    const taken = when((e) => e.instance === 'B' && e.event === 'acquired');
    const cutAt = performance.now();
    for (const proxy of proxies) proxy.blackhole();
    await taken;
    const heard = log.findLast((e) => e.instance === 'A' && e.event === 'lost')!;
    expect(heard.at).toBeGreaterThan(cutAt);
    expect(heard.leaderThen).toBe(false); // isLeader() already says no inside the hook
    expect(heard.at - cutAt).toBeLessThanOrEqual(TTL + 500); // its validity, plus timer slack
    expectOneLeaderAtATime();
    expect(a.get(RedlockService).isLeader('leader:integration')).toBe(false);
    expect(b.get(RedlockService).isLeader('leader:integration')).toBe(true);
    for (const proxy of proxies) proxy.heal();
  }, 20_000);

  it('at shutdown the leader steps down first, and the next one leads at once', async () => {
    // Fresh contenders on direct connections (A's were cut off above; it leaves first).
    const a = apps.shift()!;
    await a.close();
    const b = apps[0]!;
    expect(b.get(RedlockService).isLeader('leader:integration')).toBe(true);
    const c = await instance('C', fleet.urls);
    apps.push(c);
    const next = when((e) => e.instance === 'C' && e.event === 'acquired');
    const closing = performance.now();
    await b.close();
    apps.splice(apps.indexOf(b), 1);
    const up = await next;
    const down = log.findLast((e) => e.instance === 'B' && e.event === 'lost')!;
    expect(down.at).toBeGreaterThan(closing);
    expect(down.at).toBeLessThan(up.at);
    // Woken by the release, not by the expiry of the lease (at least TTL / 2 away).
    expect(up.at - closing).toBeLessThan(TTL / 2);
    expect(c.get(RedlockService).isLeader('leader:integration')).toBe(true);
    expectOneLeaderAtATime();
  }, 20_000);
});
