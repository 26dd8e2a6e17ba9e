import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import {
  METRIC_NAMES,
  RedlockModule,
  RedlockService,
  SPAN_NAMES,
  WithLock,
} from '../../lib/index.js';
import { eventually } from '../support/adapters.js';
import { useOtelHarness } from '../support/otel-harness.js';

@Injectable()
class Jobs {
  @WithLock('otel-job:<0>', { onBusy: 'skip' })
  async run(_name: string): Promise<string> {
    await Promise.resolve();
    return 'ran';
  }
}

/** OpenTelemetry metrics, and the module's `telemetry` option, over 3 redis-servers. */
describe('OpenTelemetry metrics and RedlockModule({ telemetry }) (real Redis)', () => {
  const otel = useOtelHarness();

  it('measures waits and holds in seconds, locks held, and node circuit states', async () => {
    const redlock = await otel.engine({
      circuitBreaker: { failureThreshold: 1, coolDown: 60_000 },
    });
    const stop = otel.instrumentation.observe(redlock);
    const nodes = redlock.nodeStates().map((state) => state.node);
    expect(
      (await otel.points(METRIC_NAMES.circuitState)).map((point) => [
        point.attributes['redlock.node'],
        point.value,
      ]),
    ).toEqual(nodes.map((node) => [node, 0]));

    const name = otel.resource('metrics');
    const first = await redlock.acquire(name);
    const second = await redlock.acquire(otel.resource('other'));
    expect(await otel.valueOf(METRIC_NAMES.held)).toBe(2);
    setTimeout(() => void first.release(), 100);
    const third = await redlock.acquire(name, { wait: 5_000 });
    await Promise.all([second.release(), third.release()]);
    expect(await otel.valueOf(METRIC_NAMES.held)).toBe(0);
    expect(await otel.valueOf(METRIC_NAMES.acquisitions, { 'redlock.outcome': 'acquired' })).toBe(
      3,
    );
    const waits = (await otel.valueOf(METRIC_NAMES.waitDuration, {
      'redlock.outcome': 'acquired',
    })) as Histogram;
    expect(waits.count).toBe(3);
    expect(waits.max).toBeGreaterThanOrEqual(0.09);
    expect(waits.max).toBeLessThan(5);
    const holds = (await otel.valueOf(METRIC_NAMES.holdDuration, {
      'redlock.release.status': 'released',
    })) as Histogram;
    expect(holds.count).toBe(3);
    expect(holds.sum).toBeGreaterThanOrEqual(0.09);

    await otel.fleet.nodes[0]!.pause();
    // The paused node stays silent past the per-node timeout: its circuit opens. (On a loaded
    // machine the release may miss its quorum too; it is not what this checks.)
    await redlock
      .tryAcquire(otel.resource('during'), { nodeTimeout: 150 })
      .then((lock) => lock?.release())
      .catch(() => undefined);
    await eventually(
      async () => (await otel.points(METRIC_NAMES.circuitState)).some((point) => point.value === 2),
      2_000,
      'the open circuit',
    );
    const states = await otel.points(METRIC_NAMES.circuitState);
    expect(states.find((point) => point.value === 2)?.attributes['redlock.node']).toBe(nodes[0]);
    stop();
  });

  it('RedlockModule({ telemetry }) instruments the app: spans, extensions, skips, node states; stops at close', async () => {
    otel.stopInstrumentation();
    @Module({
      imports: [
        RedlockModule.forRoot({
          nodes: otel.fleet.urls,
          logger: false,
          telemetry: { tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider },
        }),
      ],
      providers: [Jobs],
    })
    class AppModule {}
    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    const redlock = app.get(RedlockService);
    const tracer = otel.tracerProvider.getTracer('test');
    const name = otel.resource('module');
    let skipped: unknown;
    try {
      expect(await otel.points(METRIC_NAMES.circuitState)).toHaveLength(3);
      await redlock.using(name, () => sleep(400), { ttl: 300 });
      const held = await redlock.acquire(`otel-job:${name}`, { ttl: 5_000 });
      await tracer.startActiveSpan('cron', async (span) => {
        skipped = await app.get(Jobs).run(name);
        span.end();
      });
      await held.release();
    } finally {
      await app.close();
    }
    expect(skipped).toBeUndefined();
    const hold = otel
      .spans(SPAN_NAMES.hold)
      .find((span) => (span.attributes['redlock.resources'] as string[])[0] === name)!;
    expect(hold.events.filter((event) => event.name === 'redlock.extended').length).toBeGreaterThan(
      0,
    );
    const cron = otel.spans('cron')[0]!;
    expect(cron.events).toEqual([
      expect.objectContaining({
        name: 'redlock.skipped',
        attributes: expect.objectContaining({
          'redlock.resources': [`otel-job:${name}`],
          'code.function': 'Jobs.run',
        }),
      }),
    ]);

    // After close, the module's instrumentation is gone: other engines report nothing more.
    const before = otel.exporter.getFinishedSpans().length;
    const other = await otel.engine();
    await (await other.acquire(otel.resource('after'))).release();
    expect(otel.exporter.getFinishedSpans()).toHaveLength(before);
  });

  it('modules of one process asking for the same providers share one instrumentation', async () => {
    otel.stopInstrumentation();
    const start = async () => {
      const ref = await Test.createTestingModule({
        imports: [
          RedlockModule.forRoot({
            nodes: otel.fleet.urls,
            logger: false,
            telemetry: { tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider },
          }),
        ],
      }).compile();
      const app = ref.createNestApplication({ logger: false });
      await app.init();
      return app;
    };
    const [first, second] = [await start(), await start()];
    const acquired = () =>
      otel.valueOf(METRIC_NAMES.acquisitions, { 'redlock.outcome': 'acquired' });
    await first.get(RedlockService).using(otel.resource('shared'), () => undefined);
    expect(await acquired()).toBe(1);
    await first.close();
    await second.get(RedlockService).using(otel.resource('shared'), () => undefined);
    expect(await acquired()).toBe(2);
    await second.close();
    const other = await otel.engine();
    await (await other.acquire(otel.resource('after'))).release();
    expect(await acquired()).toBe(2);
  });
});
