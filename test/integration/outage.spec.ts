import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  RedlockHealthIndicator,
  RedlockModule,
  RedlockService,
  RedlockUnavailableError,
} from '../../lib/index.js';
import { eventually } from '../support/adapters.js';
import { captureLogs, rejectionOf } from '../support/leak-check.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/** Lock calls while the only node is down, as an app under traffic makes them. */
describe('a lock node that goes down and comes back (real Redis)', () => {
  const logs = captureLogs();
  let fleet: RedisFleet;
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 1 });
    port = fleet.nodes[0]!.port;
    const ref = await Test.createTestingModule({
      imports: [
        RedlockModule.forRoot({
          nodes: fleet.urls,
          lock: { wait: 5_000, nodeTimeout: 100 },
          logger: logs.logger,
        }),
      ],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.init();
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await fleet?.stop();
  });

  const warnings = () => logs.lines.filter((line) => line.startsWith('warn:'));

  it('fails each call within about two node timeouts, not after the wait, and warns once per transition', async () => {
    const redlock = app.get(RedlockService);
    expect(await redlock.isLocked('x')).toBe(false);
    await fleet.nodes[0]!.kill();
    for (let i = 0; i < 20; i += 1) {
      const began = performance.now();
      const error = await rejectionOf(redlock.acquire(`outage:${i}`));
      expect(error).toBeInstanceOf(RedlockUnavailableError);
      // The wait is 5 s: an outage must not cost it.
      expect(performance.now() - began).toBeLessThan(1_000);
    }
    const down = warnings().filter((line) =>
      line.includes(`Lock node redis://127.0.0.1:${port}/0 is down`),
    );
    expect(down).toHaveLength(1);
    expect(down[0]).toMatch(/connection refused/);
    expect(
      warnings().filter((line) => line.includes('No quorum of lock nodes answers')),
    ).toHaveLength(1);
    // Nothing else repeats per request: a handful of lines for 20 failed calls.
    expect(warnings().length).toBeLessThan(6);
  });

  it('says "connection refused" in the health details', async () => {
    const health = await app.get(RedlockHealthIndicator).isHealthy('redlock', { timeout: 300 });
    expect(health.redlock?.status).toBe('down');
    expect(health.redlock?.nodes[0]?.error).toBe(`connection refused (127.0.0.1:${port})`);
  });

  it('logs the recovery once and takes locks again', async () => {
    await fleet.nodes[0]!.restart();
    await eventually(
      () => logs.lines.some((line) => line.endsWith('is back.')),
      10_000,
      'the node to be reported back',
    );
    const lock = await app.get(RedlockService).acquire('after-outage', {
      wait: 5_000,
      // The node's circuit stays open for its cool-down (2 s) after the node is back.
      waitForNodes: true,
    });
    await lock.release();
    expect(logs.lines.filter((line) => line.endsWith('is back.'))).toHaveLength(1);
    expect(logs.lines.filter((line) => line.includes('lock calls succeed'))).toHaveLength(1);
    const health = await app.get(RedlockHealthIndicator).isHealthy();
    expect(health.redlock?.status).toBe('up');
  });
});
