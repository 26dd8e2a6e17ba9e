import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import {
  REDLOCK_CHANNELS,
  type RedlockAcquireMessage,
  type RedlockBusyMessage,
  type RedlockCircuitMessage,
  type RedlockExtendMessage,
  type RedlockLostMessage,
  type RedlockReleaseMessage,
} from './diagnostics-channels.js';
import { LockMetrics } from './lock-metrics.js';
import { LockTraces } from './lock-traces.js';
import { INSTRUMENTATION_SCOPE, loadOpenTelemetryApi, type OpenTelemetry } from './otel-api.js';
import type { NodeStatesSource, RedlockTelemetryOptions } from './telemetry-options.js';

/** A running OpenTelemetry instrumentation of the library (see `instrumentRedlock`). */
export interface RedlockInstrumentation {
  /**
   * Reports the circuit state of an engine's nodes (`redlock.node.circuit.state`) from now on,
   * including nodes that never changed state. Without it, nodes appear once their circuit
   * changes. Returns the function that stops it. `RedlockModule`'s `telemetry` option does it.
   */
  observe(source: NodeStatesSource): () => void;
  /** Unsubscribes from the channels, ends the hold spans still open and stops the gauge. */
  disable(): void;
}

type Listener = (message: unknown, name: string | symbol) => void;

/**
 * Instruments nestjs-redlock with OpenTelemetry: spans for the wait (`redlock.acquire`) and
 * for the hold (`redlock.hold`) of every lock, and the lock metrics (see `LockMetrics`). It is a
 * subscriber of the library's diagnostics channels, so it sees every engine of the process,
 * whichever module or `new Redlock()` created it; call it once per process (per provider).
 *
 * Spans are children of the caller's active span: register a context manager (the Node SDK
 * does; by hand, `AsyncLocalStorageContextManager` of `@opentelemetry/context-async-hooks`).
 *
 * @throws RedlockConfigError (rejects) when the optional peer `@opentelemetry/api` is missing.
 *
 * @example
 * ```ts
 * const instrumentation = await instrumentRedlock({ meterProvider, tracerProvider });
 * // ... at shutdown
 * instrumentation.disable();
 * ```
 */
export async function instrumentRedlock(
  options: RedlockTelemetryOptions = {},
): Promise<RedlockInstrumentation> {
  const api = await loadOpenTelemetryApi();
  return new Instrumentation(api, options);
}

class Instrumentation implements RedlockInstrumentation {
  private readonly traces: LockTraces | undefined;
  private readonly metrics: LockMetrics | undefined;
  private readonly listeners: [string, Listener][] = [];

  constructor(api: OpenTelemetry, options: RedlockTelemetryOptions) {
    const { tracerProvider, meterProvider } = options;
    if (tracerProvider !== false) {
      const provider = (tracerProvider as TracerProvider | undefined) ?? api.trace;
      this.traces = new LockTraces(api, provider.getTracer(INSTRUMENTATION_SCOPE));
    }
    if (meterProvider !== false) {
      const provider = (meterProvider as MeterProvider | undefined) ?? api.metrics;
      this.metrics = new LockMetrics(api, provider.getMeter(INSTRUMENTATION_SCOPE));
    }
    const { traces, metrics } = this;
    this.on<RedlockAcquireMessage>(REDLOCK_CHANNELS.acquire, (message, now) => {
      metrics?.acquired(message);
      traces?.acquired(message, now);
    });
    this.on<RedlockReleaseMessage>(REDLOCK_CHANNELS.release, (message, now) => {
      metrics?.released(message);
      traces?.released(message, now);
    });
    this.on<RedlockLostMessage>(REDLOCK_CHANNELS.lost, (message, now) => {
      metrics?.lost(message);
      traces?.lost(message, now);
    });
    if (traces) {
      this.on<RedlockExtendMessage>(REDLOCK_CHANNELS.extend, (message) => traces.extended(message));
      this.on<RedlockBusyMessage>(REDLOCK_CHANNELS.busy, (message) => {
        if (message.skipped) traces.skipped(message);
      });
    }
    if (metrics) {
      this.on<RedlockCircuitMessage>(REDLOCK_CHANNELS.circuit, (message) =>
        metrics.circuit(message),
      );
    }
  }

  observe(source: NodeStatesSource): () => void {
    return this.metrics?.observe(source) ?? (() => undefined);
  }

  disable(): void {
    for (const [name, listener] of this.listeners.splice(0)) unsubscribe(name, listener);
    this.traces?.close(now());
    this.metrics?.close();
  }

  private on<M>(name: string, handle: (message: M, now: number) => void): void {
    const listener: Listener = (message) => {
      // A throwing subscriber would surface as an uncaught exception (diagnostics_channel
      // rethrows on the next tick): telemetry must never take the application down.
      try {
        handle(message as M, now());
      } catch {
        // Dropped: one sample less is better than a crash.
      }
    };
    subscribe(name, listener);
    this.listeners.push([name, listener]);
  }
}

/** Epoch ms on the monotonic clock, the way the OpenTelemetry SDK timestamps spans. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

interface Shared {
  readonly tracerProvider: unknown;
  readonly meterProvider: unknown;
  readonly instrumentation: Promise<RedlockInstrumentation>;
  users: number;
}

const shared: Shared[] = [];

/**
 * @internal The instrumentation of `RedlockModule`'s `telemetry` option: one per pair of
 * providers in the process, however many modules ask, so two apps of one process (or two
 * modules) do not count every lock twice. Call the returned `release` at shutdown.
 */
export async function shareInstrumentation(
  options: RedlockTelemetryOptions,
): Promise<{ instrumentation: RedlockInstrumentation; release: () => void }> {
  const { tracerProvider, meterProvider } = options;
  let entry = shared.find(
    (candidate) =>
      candidate.tracerProvider === tracerProvider && candidate.meterProvider === meterProvider,
  );
  if (!entry) {
    entry = {
      tracerProvider,
      meterProvider,
      instrumentation: instrumentRedlock(options),
      users: 0,
    };
    shared.push(entry);
  }
  const mine = entry;
  mine.users += 1;
  let instrumentation: RedlockInstrumentation;
  try {
    instrumentation = await mine.instrumentation;
  } catch (error) {
    forget(mine);
    throw error;
  }
  let released = false;
  return {
    instrumentation,
    release: () => {
      if (released) return;
      released = true;
      mine.users -= 1;
      if (mine.users > 0) return;
      forget(mine);
      instrumentation.disable();
    },
  };
}

function forget(entry: Shared): void {
  const index = shared.indexOf(entry);
  if (index !== -1) shared.splice(index, 1);
}
