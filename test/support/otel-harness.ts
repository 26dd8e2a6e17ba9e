import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { context, type HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type DataPoint, type Histogram, MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import {
  instrumentRedlock,
  type RedlockInstrumentation,
} from '../../lib/observability/otel-instrumentation.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters } from './adapters.js';
import { ManualMetricReader } from './manual-metric-reader.js';
import { type RedisFleet, startRedisFleet } from './redis-fleet.js';

/** Milliseconds of an OpenTelemetry time. */
export const ms = (time: HrTime): number => time[0] * 1_000 + time[1] / 1e6;

/** What a test of the OpenTelemetry instrumentation works with (fresh for each test). */
export interface OtelHarness {
  readonly fleet: RedisFleet;
  readonly exporter: InMemorySpanExporter;
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** `instrumentRedlock({ tracerProvider, meterProvider })`, made before each test. */
  readonly instrumentation: RedlockInstrumentation;
  /** Disables the test's own instrumentation (to test the module's). */
  stopInstrumentation(): void;
  /** An engine over the fleet, closed after the test. */
  engine(options?: ConstructorParameters<typeof Redlock>[1]): Promise<Redlock>;
  /** A resource name unique to this run. */
  resource(name: string): string;
  /** Finished spans named `name`. */
  spans(name: string): ReadableSpan[];
  /** Data points of one metric, collected now. */
  points(name: string): Promise<DataPoint<number | Histogram>[]>;
  /** The value of the data point of `name` whose attributes include `attributes`. */
  valueOf(
    name: string,
    attributes?: Record<string, string>,
  ): Promise<number | Histogram | undefined>;
}

/**
 * Registers the hooks of an OpenTelemetry test file: 3 redis-servers and the global
 * AsyncLocalStorage context manager for the file; for each test, an in-memory span exporter,
 * a metric reader and an instrumentation over them.
 */
export function useOtelHarness(): OtelHarness {
  let fleet: RedisFleet | undefined;
  const open: LockAdapter[][] = [];
  let exporter: InMemorySpanExporter | undefined;
  let tracerProvider: BasicTracerProvider | undefined;
  let reader: ManualMetricReader | undefined;
  let meterProvider: MeterProvider | undefined;
  let instrumentation: RedlockInstrumentation | undefined;
  let seq = 0;
  const defined = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not set up`);
    return value;
  };

  const harness: OtelHarness = {
    get fleet() {
      return defined(fleet, 'fleet');
    },
    get exporter() {
      return defined(exporter, 'exporter');
    },
    get tracerProvider() {
      return defined(tracerProvider, 'tracerProvider');
    },
    get meterProvider() {
      return defined(meterProvider, 'meterProvider');
    },
    get instrumentation() {
      return defined(instrumentation, 'instrumentation');
    },
    stopInstrumentation() {
      instrumentation?.disable();
      instrumentation = undefined;
    },
    async engine(options = {}) {
      const adapters = await connectAdapters(harness.fleet.urls);
      open.push(adapters);
      return new Redlock(adapters, { lock: { nodeTimeout: 200 }, ...options });
    },
    resource: (name) => `otel:${name}:${process.pid}:${(seq += 1)}`,
    spans: (name) => harness.exporter.getFinishedSpans().filter((span) => span.name === name),
    async points(name) {
      const { resourceMetrics } = await defined(reader, 'reader').collect();
      const metric = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((candidate) => candidate.descriptor.name === name);
      return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
    },
    async valueOf(name, attributes = {}) {
      const point = (await harness.points(name)).find((candidate) =>
        Object.entries(attributes).every(([key, value]) => candidate.attributes[key] === value),
      );
      return point?.value;
    },
  };

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }, 30_000);

  beforeEach(async () => {
    exporter = new InMemorySpanExporter();
    tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    reader = new ManualMetricReader();
    meterProvider = new MeterProvider({ readers: [reader] });
    instrumentation = await instrumentRedlock({ tracerProvider, meterProvider });
  });

  afterEach(async () => {
    harness.stopInstrumentation();
    await Promise.all(harness.fleet.nodes.map((node) => node.resume()));
    await Promise.all(open.splice(0).map(closeAdapters));
    await meterProvider?.shutdown();
    await tracerProvider?.shutdown();
  });

  afterAll(async () => {
    context.disable();
    await fleet?.stop();
  });

  return harness;
}
