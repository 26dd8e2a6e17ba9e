// No type of `@opentelemetry/api` here: these types are public, and must compile in
// applications that do not install the optional peer (skipLibCheck off).
import { RedlockConfigError } from '../redlock.errors.js';
import type { CircuitState } from '../services/circuit-breaker.js';
import { describe } from '../services/lock-options.js';

/**
 * A `TracerProvider` of `@opentelemetry/api` (typed by its shape, so the library's types compile
 * in applications that do not install the optional peer).
 */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): unknown;
}

/** A `MeterProvider` of `@opentelemetry/api`, typed by its shape (see `TracerProviderLike`). */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): unknown;
}

/**
 * What `instrumentRedlock()` (or `RedlockModule.forRoot({ telemetry })`) reports to.
 *
 * @example
 * ```ts
 * RedlockModule.forRoot({ nodes, telemetry: { meterProvider, tracerProvider } });
 * ```
 */
export interface RedlockTelemetryOptions {
  /**
   * Where the `redlock.acquire` and `redlock.hold` spans go; `false`: no spans.
   * @default the global tracer provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProviderLike | false;
  /**
   * Where the lock metrics go; `false`: no metrics.
   * @default the global meter provider (`metrics.getMeterProvider()`)
   */
  meterProvider?: MeterProviderLike | false;
}

/** What reports node circuit states: an engine (`Redlock`) or `RedlockService.engine`. */
export interface NodeStatesSource {
  nodeStates(): readonly { readonly node: string; readonly circuit: CircuitState }[];
}

/**
 * Checks `telemetry` of the module options: `true`, `false`, or `RedlockTelemetryOptions`.
 * Returns the options to instrument with, or `undefined` when telemetry is off.
 */
export function resolveTelemetryOptions(value: unknown): RedlockTelemetryOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RedlockConfigError(
      'telemetry',
      `expected true, false or { tracerProvider?, meterProvider? }, got ${describe(value)}`,
    );
  }
  const { tracerProvider, meterProvider } = value as Record<string, unknown>;
  checkProvider(tracerProvider, 'telemetry.tracerProvider', 'getTracer');
  checkProvider(meterProvider, 'telemetry.meterProvider', 'getMeter');
  return value;
}

function checkProvider(provider: unknown, option: string, method: string): void {
  if (provider === undefined || provider === false) return;
  if (typeof (provider as Record<string, unknown> | null)?.[method] !== 'function') {
    throw new RedlockConfigError(
      option,
      `expected an OpenTelemetry provider (with ${method}()) or false, got ${describe(provider)}`,
    );
  }
}
