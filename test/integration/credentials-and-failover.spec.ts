import { afterAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { createLockAdapter } from '../../lib/adapters/lock-adapter.factory.js';
import {
  RedlockHealthIndicator,
  RedlockModule,
  RedlockService,
  type RedisCredentials,
} from '../../lib/index.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { eventually } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet, startRedisSentinel } from '../support/redis-fleet.js';

describe('rotating credentials with an ACL user (real Redis)', () => {
  let fleet: RedisFleet;
  let app: INestApplication | undefined;

  afterAll(async () => {
    await app?.close();
    await fleet?.stop();
  });

  it('re-authenticates on refresh, reconnects with the new password, and keeps held locks', async () => {
    fleet = await startRedisFleet({
      nodes: 1,
      args: ['--user', 'app', 'on', '>first-Secret', '~*', '&*', '+@all'],
    });
    const admin: Redis = fleet.nodes[0]!.client();
    let current: RedisCredentials = { username: 'app', password: 'first-Secret' };
    const logs: string[] = [];
    const logger = {
      log: (m: unknown) => logs.push(String(m)),
      warn: (m: unknown) => logs.push(String(m)),
      error: (m: unknown) => logs.push(String(m)),
      debug: () => undefined,
      verbose: () => undefined,
    };
    const ref = await Test.createTestingModule({
      imports: [
        RedlockModule.forRoot({
          nodes: [`redis://127.0.0.1:${fleet.nodes[0]!.port}`],
          credentials: { provider: () => current, refreshInterval: 60_000 },
          logger,
        }),
      ],
    }).compile();
    app = ref.createNestApplication({ logger });
    await app.init();
    const redlock = app.get(RedlockService);
    const held = await redlock.acquire('rotation:held', { ttl: 60_000 });
    expect(await admin.call('ACL', 'WHOAMI')).toBe('default');

    // Rotate: the server accepts only the new password from now on.
    await admin.call('ACL', 'SETUSER', 'app', '>second-Secret', '<first-Secret');
    current = { username: 'app', password: 'second-Secret' };
    expect(await redlock.refreshCredentials()).toBe(true);
    const status = redlock.credentialsStatus()!;
    expect(status.lastError).toBeUndefined();
    expect(status.lastRefresh).toBeGreaterThan(0);

    // Drop every connection of the user: the client must come back with the new password.
    await admin.call('CLIENT', 'KILL', 'USER', 'app');
    await eventually(
      async () => {
        const lock = await redlock.tryAcquire('rotation:after').catch(() => null);
        if (lock) await lock.release();
        return lock !== null;
      },
      10_000,
      'a lock after the reconnect',
    );
    expect(await held.release()).toBe('released');

    // A rotation the server does not accept is reported, not thrown, and shows in health.
    current = { username: 'app', password: 'wrong-Secret' };
    expect(await redlock.refreshCredentials()).toBe(false);
    expect(redlock.credentialsStatus()!.lastError).toMatch(/WRONGPASS|invalid/i);
    const health = await app.get(RedlockHealthIndicator).isHealthy('redlock');
    expect(health.redlock!.credentials?.lastError).toMatch(/WRONGPASS|invalid/i);
    for (const text of [
      ...logs,
      JSON.stringify(health),
      JSON.stringify(redlock.credentialsStatus()),
    ]) {
      expect(text).not.toMatch(/first-Secret|second-Secret|wrong-Secret/);
    }
  }, 30_000);
});

describe('Sentinel failover (1 master, 1 replica, 3 sentinels)', () => {
  it('keeps taking locks after the master dies and the replica is promoted', async () => {
    const sentinel = await startRedisSentinel();
    const adapter = createLockAdapter({ sentinels: [...sentinel.sentinels], name: sentinel.name });
    try {
      await adapter.ready?.(10_000);
      const redlock = new Redlock([adapter], { lock: { nodeTimeout: 200 } });
      const before = await redlock.acquire('failover:before');
      await before.release();

      const watcher = sentinel.sentinelNodes[0]!.client();
      await watcher.subscribe('+switch-master');
      const switched = new Promise<void>((resolve) => watcher.once('message', () => resolve()));
      await sentinel.master.kill();
      await switched;

      // The client asks the sentinels for the new master and reconnects; locks work again.
      await eventually(
        async () => {
          const lock = await redlock.tryAcquire('failover:after').catch(() => null);
          if (lock) await lock.release();
          return lock !== null;
        },
        15_000,
        'a lock on the promoted replica',
      );
      const after = await redlock.acquire('failover:after-2');
      expect(await sentinel.replica.client().get('lock:failover:after-2')).toBe(after.value);
      await after.release();
    } finally {
      await adapter.close();
      await sentinel.stop();
    }
  }, 45_000);
});
