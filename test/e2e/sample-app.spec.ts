import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../sample-app/app.module.js';
import { burst } from '../../sample-app/demo/burst.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

async function startApp(): Promise<{ app: INestApplication; url: string }> {
  const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl() };
}

/** The sample ticket shop over HTTP: three instances on three Redis lock nodes. */
describe('sample app (e2e, 3 instances, 3 lock nodes)', () => {
  let fleet: RedisFleet;
  let instances: { app: INestApplication; url: string }[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 4 });
    process.env.REDLOCK_NODES = fleet.urls.slice(0, 3).join(',');
    process.env.INVENTORY_URL = fleet.urls[3];
    instances = await Promise.all([startApp(), startApp(), startApp()]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(instances.map(({ app }) => app.close()));
    process.env = saved;
    await fleet?.stop();
  });

  const urls = () => instances.map(({ url }) => url);

  it('never oversells through the locked route, while the unlocked control route does', async () => {
    const unlocked = await burst(urls(), 'unlocked', {
      eventId: 'e2e-u',
      capacity: 10,
      requests: 60,
    });
    const locked = await burst(urls(), 'locked', { eventId: 'e2e-l', capacity: 10, requests: 60 });
    // The control shows the race is real on this machine; otherwise zero below would prove nothing.
    expect(unlocked.oversold).toBeGreaterThan(0);
    expect(locked).toMatchObject({ sold: 10, oversold: 0, soldOut: 50, conflicts: 0, errors: 0 });
  });

  it('swaps two seats under a multi-resource lock', async () => {
    const [a] = urls();
    const put = (seat: string, holder: string) =>
      fetch(`${a}/events/e2e-s/seats/${seat}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ holder }),
      });
    expect((await put('A1', 'ann')).status).toBe(204);
    expect((await put('B2', 'bob')).status).toBe(204);
    const swapped = await fetch(`${a}/events/e2e-s/seats/swap`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'A1', b: 'B2' }),
    });
    expect(await swapped.json()).toEqual({ A1: 'bob', B2: 'ann' });
  });

  it('restocks with increasing fencing tokens, from any instance', async () => {
    const tokens: number[] = [];
    for (const url of [...urls(), ...urls()]) {
      const response = await fetch(`${url}/events/e2e-r`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ capacity: 5 }),
      });
      const body = (await response.json()) as { accepted: boolean; fencingToken: number };
      expect(body.accepted).toBe(true);
      tokens.push(body.fencingToken);
    }
    for (let i = 1; i < tokens.length; i += 1) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  });

  it('runs at most two exports at once across the instances (a semaphore of 2 permits)', async () => {
    const replies = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const response = await fetch(`${urls()[i % 3]}/exports/e2e-${i}`, { method: 'POST' });
        expect(response.status).toBe(201);
        return (await response.json()) as { startedAt: string; finishedAt: string };
      }),
    );
    const runs = replies.map((r) => [Date.parse(r.startedAt), Date.parse(r.finishedAt)] as const);
    // Exports running when each one started (itself included): never 3, and 2 at some point.
    const atOnce = runs.map(([start]) => runs.filter(([s, f]) => s <= start && start < f).length);
    expect(Math.max(...atOnce)).toBe(2);
  });

  it('reports health with every node up', async () => {
    const response = await fetch(`${urls()[0]}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      details: { redlock: { status: string; nodes: unknown[] } };
    };
    expect(body.details.redlock.status).toBe('up');
    expect(body.details.redlock.nodes).toHaveLength(3);
  });
});

describe('sample app without REDLOCK_NODES', () => {
  const saved = { ...process.env };
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    process.env = saved;
  });

  it('runs on the in-memory store and says so in one log line', async () => {
    delete process.env.REDLOCK_NODES;
    delete process.env.INVENTORY_URL;
    const lines: string[] = [];
    const logger = {
      log: (message: unknown) => lines.push(String(message)),
      error: () => undefined,
      warn: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    };
    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = ref.createNestApplication({ logger });
    await app.listen(0, '127.0.0.1');
    expect(lines.filter((line) => line.includes('in-memory lock store'))).toHaveLength(1);
    const url = await app.getUrl();
    const result = await burst([url], 'locked', { eventId: 'mem', capacity: 5, requests: 20 });
    expect(result).toMatchObject({ sold: 5, oversold: 0, errors: 0 });
  });
});
