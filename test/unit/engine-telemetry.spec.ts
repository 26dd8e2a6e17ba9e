import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from '@jest/globals';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import {
  REDLOCK_CHANNELS,
  type RedlockDegradedMessage,
  type RedlockForceReleaseMessage,
  type RedlockReleaseMessage,
} from '../../lib/observability/diagnostics-channels.js';
import {
  instrumentRedlock,
  type RedlockInstrumentation,
} from '../../lib/observability/otel-instrumentation.js';
import { METRIC_NAMES } from '../../lib/observability/telemetry-names.js';
import { Redlock, type RedlockEngineOptions } from '../../lib/services/redlock.engine.js';
import { TickClaims } from '../../lib/services/tick-claims.js';
import { ManualMetricReader } from '../support/manual-metric-reader.js';
import { tapAdapter } from '../support/tap-adapter.js';

/**
 * Engine events as a subscriber sees them, end to end over memory nodes: the diagnostics
 * channels, and the OpenTelemetry metrics made from them (real Redis: integration/).
 */
describe('engine events on the channels and in the metrics (memory nodes)', () => {
  const cleanups: (() => unknown)[] = [];
  let storeCount = 0;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const memory = (): MemoryLockAdapter => {
    const store = new MemoryLockAdapter({ name: `memory://telemetry-${(storeCount += 1)}` });
    cleanups.push(() => store.close());
    return store;
  };
  const engine = (adapters: readonly LockAdapter[], options: RedlockEngineOptions = {}) => {
    const redlock = new Redlock(adapters, options);
    cleanups.push(() => redlock.close({ timeout: 200 }));
    return redlock;
  };
  const listen = <T>(name: string): T[] => {
    const messages: T[] = [];
    const listener = (message: unknown): void => void messages.push(message as T);
    subscribe(name, listener);
    cleanups.push(() => unsubscribe(name, listener));
    return messages;
  };
  const metrics = async () => {
    const reader = new ManualMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const instrumentation: RedlockInstrumentation = await instrumentRedlock({
      meterProvider,
      tracerProvider: false,
    });
    cleanups.push(() => meterProvider.shutdown());
    cleanups.push(() => instrumentation.disable());
    return async (name: string) => {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((candidate) => candidate.descriptor.name === name);
      return metric?.dataPoints.map((point) => point.value);
    };
  };

  it('a tick claim left to expire ends: release message, released event, locks held back to 0', async () => {
    const valueOf = await metrics();
    const released = listen<RedlockReleaseMessage>(REDLOCK_CHANNELS.release);
    const events: RedlockEvent[] = [];
    const node = memory();
    const redlock = engine([node], { onEvent: (event) => events.push(event) });

    const lock = await redlock.acquire('plain');
    expect(await valueOf(METRIC_NAMES.held)).toEqual([1]);
    await lock.release();
    expect(await valueOf(METRIC_NAMES.held)).toEqual([0]);

    expect(await new TickClaims(redlock, undefined).claim(['job'], 1_000, 'job')).toBe(true);
    expect(await valueOf(METRIC_NAMES.held)).toEqual([0]);
    const claim = released[1]!;
    expect(claim).toEqual({
      lockId: expect.any(Number),
      resources: [expect.stringMatching(/^job:tick:\d+$/)],
      status: 'released',
      held: expect.any(Number),
      fencingToken: undefined,
    });
    expect(claim.held).toBeGreaterThanOrEqual(0);
    expect(events.filter((event) => event.type === 'released')).toEqual([
      { type: 'released', resources: ['plain'], status: 'released', held: expect.any(Number) },
      { type: 'released', resources: claim.resources, status: 'released', held: claim.held },
    ]);
    // Still left to expire: the claim's key stays on the node until its ttl.
    expect(await node.inspect([`lock:${claim.resources[0]}`])).toBeGreaterThan(0);
  });

  it('degraded mode publishes nestjs-redlock:degraded when it starts and when it ends', async () => {
    const degraded = listen<RedlockDegradedMessage>(REDLOCK_CHANNELS.degraded);
    let down = true;
    const node = tapAdapter(memory(), (_method, call) =>
      down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) : call(),
    );
    const redlock = engine([node], {
      degraded: { store: memory() },
      circuitBreaker: false,
      lock: { wait: 0 },
    });

    await (await redlock.acquire('outage')).release();
    await (await redlock.acquire('during')).release();
    expect(degraded).toEqual([{ active: true, resources: ['outage'] }]);
    down = false;
    await (await redlock.acquire('back')).release();
    expect(degraded).toEqual([
      { active: true, resources: ['outage'] },
      { active: false, resources: ['back'] },
    ]);
  });

  it('forceRelease publishes nestjs-redlock:force-release: who, where, the raised counter', async () => {
    const forced = listen<RedlockForceReleaseMessage>(REDLOCK_CHANNELS.forceRelease);
    const shared = [memory(), memory(), memory()];
    const holder = engine(shared);
    const operator = engine(shared);
    await holder.acquire('job:stuck', { ttl: 60_000, fencing: true });

    const stuck = await operator.forceRelease('job:stuck', { by: 'ops:alice\nforged line' });
    const free = await operator.forceRelease('job:free', { by: 'ops:bob' });
    expect([stuck.deleted, free.deleted]).toEqual([3, 0]);
    expect(forced).toEqual([
      {
        resources: ['job:stuck'],
        by: 'ops:alice forged line',
        deleted: 3,
        fencingCounter: stuck.fencingCounter,
      },
      { resources: ['job:free'], by: 'ops:bob', deleted: 0, fencingCounter: free.fencingCounter },
    ]);
    expect(stuck.fencingCounter).toEqual(expect.any(Number));
  });
});
