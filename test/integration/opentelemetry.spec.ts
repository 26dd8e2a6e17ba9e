import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  LockNotAcquiredError,
  RedlockUnavailableError,
  METRIC_NAMES,
  SPAN_NAMES,
} from '../../lib/index.js';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { eventually } from '../support/adapters.js';
import { ms, useOtelHarness } from '../support/otel-harness.js';

/** OpenTelemetry spans of the wait and the hold, with the SDK's in-memory exporter, over 3 redis-servers. */
describe('OpenTelemetry spans (real Redis)', () => {
  const otel = useOtelHarness();

  it("makes the wait and the hold children of the caller's span, the hold linked to its wait", async () => {
    const redlock = await otel.engine();
    const name = otel.resource('cycle');
    const tracer = otel.tracerProvider.getTracer('test');
    const job = await tracer.startActiveSpan('job', async (span) => {
      const lock = await redlock.acquire(name, { fencing: true });
      await sleep(50);
      await lock.release();
      span.end();
      return span;
    });

    const [acquire] = otel.spans(SPAN_NAMES.acquire);
    const [hold] = otel.spans(SPAN_NAMES.hold);
    expect(acquire?.parentSpanContext?.spanId).toBe(job.spanContext().spanId);
    expect(hold?.parentSpanContext?.spanId).toBe(job.spanContext().spanId);
    expect(hold!.spanContext().traceId).toBe(job.spanContext().traceId);
    expect(acquire!.attributes).toEqual({
      'redlock.resources': [name],
      'redlock.outcome': 'acquired',
      'redlock.attempts': 1,
    });
    expect(acquire!.links).toEqual([]);
    expect(hold!.attributes).toEqual({
      'redlock.resources': [name],
      'redlock.lock_id': expect.any(Number),
      'redlock.mode': 'write',
      'redlock.fencing_token': expect.any(Number),
      'redlock.release.status': 'released',
    });
    expect(hold!.links.map((link) => link.context.spanId)).toEqual([acquire!.spanContext().spanId]);
    expect(ms(hold!.duration)).toBeGreaterThanOrEqual(45);
    // The hold starts where the wait ends.
    expect(Math.abs(ms(hold!.startTime) - ms(acquire!.endTime))).toBeLessThan(1);
    expect(hold!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("gives a waiter a span over its whole wait, linked to the holder's hold span in the holder's trace", async () => {
    const [holderEngine, waiterEngine] = [await otel.engine(), await otel.engine()];
    const name = otel.resource('contended');
    const tracer = otel.tracerProvider.getTracer('test');
    const lock = await tracer.startActiveSpan('holder-job', async (span) => {
      const held = await holderEngine.acquire(name, { ttl: 10_000 });
      span.end();
      return held;
    });
    const holderTrace = otel.spans('holder-job')[0]!.spanContext().traceId;
    setTimeout(() => void lock.release(), 150);
    const called = performance.timeOrigin + performance.now();
    const waiterTrace = await tracer.startActiveSpan('waiter-job', async (span) => {
      const mine = await waiterEngine.acquire(name, { wait: 5_000 });
      await mine.release();
      span.end();
      return span.spanContext().traceId;
    });

    const waits = otel
      .spans(SPAN_NAMES.acquire)
      .filter((span) => span.spanContext().traceId === waiterTrace);
    expect(waits).toHaveLength(1);
    const wait = waits[0]!;
    expect(wait.attributes['redlock.outcome']).toBe('acquired');
    expect(wait.attributes['redlock.attempts']).toBeGreaterThan(1);
    expect(ms(wait.duration)).toBeGreaterThanOrEqual(140);
    expect(Math.abs(ms(wait.startTime) - called)).toBeLessThan(50);
    const holderHold = otel
      .spans(SPAN_NAMES.hold)
      .find((span) => span.spanContext().traceId === holderTrace)!;
    expect(wait.links).toEqual([
      {
        context: expect.objectContaining({
          traceId: holderTrace,
          spanId: holderHold.spanContext().spanId,
        }),
        attributes: { 'redlock.link': 'holder' },
      },
    ]);
  });

  it('marks busy as an outcome and no quorum as an error, both linked to the holder where known', async () => {
    const redlock = await otel.engine({ circuitBreaker: false });
    const name = otel.resource('busy');
    const lock = await redlock.acquire(name, { ttl: 10_000 });
    expect(await redlock.tryAcquire(name)).toBeNull();
    await expect(redlock.acquire(name, { wait: 100 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    await Promise.all(otel.fleet.nodes.slice(0, 2).map((node) => node.pause()));
    await expect(
      redlock.tryAcquire(otel.resource('down'), { nodeTimeout: 50 }),
    ).rejects.toBeInstanceOf(RedlockUnavailableError);
    await Promise.all(otel.fleet.nodes.map((node) => node.resume()));
    await lock.release();

    const hold = otel.spans(SPAN_NAMES.hold)[0]!;
    const [, busyOnce, busyWaited, down] = otel.spans(SPAN_NAMES.acquire);
    for (const busy of [busyOnce!, busyWaited!]) {
      expect(busy.attributes).toMatchObject({
        'redlock.outcome': 'busy',
        'error.type': 'LockNotAcquiredError',
      });
      expect(busy.status.code).toBe(SpanStatusCode.UNSET);
      expect(busy.links.map((link) => link.context.spanId)).toEqual([hold.spanContext().spanId]);
    }
    expect(ms(busyWaited!.duration)).toBeGreaterThanOrEqual(95);
    expect(down!.attributes).toMatchObject({
      'redlock.outcome': 'unavailable',
      'error.type': 'RedlockUnavailableError',
    });
    expect(down!.status.code).toBe(SpanStatusCode.ERROR);
    expect(down!.links).toEqual([]);
    expect(await otel.valueOf(METRIC_NAMES.acquisitions, { 'redlock.outcome': 'busy' })).toBe(2);
    expect(
      await otel.valueOf(METRIC_NAMES.acquisitions, { 'redlock.outcome': 'unavailable' }),
    ).toBe(1);
    expect(await otel.valueOf(METRIC_NAMES.acquisitions, { 'redlock.outcome': 'acquired' })).toBe(
      1,
    );
  });

  it('ends the hold span of a lost lock with an error and counts it lost', async () => {
    const redlock = await otel.engine();
    await redlock.acquire(otel.resource('lost'), { ttl: 300 });
    expect(await otel.valueOf(METRIC_NAMES.held)).toBe(1);
    await eventually(() => otel.spans(SPAN_NAMES.hold).length > 0, 5_000, 'the hold span');
    const hold = otel.spans(SPAN_NAMES.hold)[0]!;
    expect(hold.status.code).toBe(SpanStatusCode.ERROR);
    expect(hold.attributes['error.type']).toBe('LockLostError');
    expect(hold.events.map((event) => event.name)).toContain('exception');
    expect(ms(hold.duration)).toBeGreaterThanOrEqual(250);
    expect(await otel.valueOf(METRIC_NAMES.lost)).toBe(1);
    expect(await otel.valueOf(METRIC_NAMES.held)).toBe(0);
    const lostHold = (await otel.valueOf(METRIC_NAMES.holdDuration, {
      'redlock.release.status': 'lost',
    })) as Histogram;
    expect(lostHold.count).toBe(1);
    expect(lostHold.sum).toBeGreaterThanOrEqual(0.25);
  });

  it('disable() unsubscribes and ends the hold spans still open', async () => {
    const redlock = await otel.engine();
    const lock = await redlock.acquire(otel.resource('open'));
    expect(otel.spans(SPAN_NAMES.hold)).toHaveLength(0);
    otel.stopInstrumentation();
    expect(otel.spans(SPAN_NAMES.hold)).toHaveLength(1);
    await lock.release();
    await (await redlock.acquire(otel.resource('after'))).release();
    expect(otel.exporter.getFinishedSpans()).toHaveLength(2);
  });
});
