import { describe, expect, it } from '@jest/globals';
import { resolveTelemetryOptions } from '../../lib/observability/telemetry-options.js';
import { RedlockConfigError } from '../../lib/redlock.errors.js';
import { resolveModuleOptions } from '../../lib/services/module-options.js';

describe('the telemetry option', () => {
  it('is off by default and with false; true means the global providers', () => {
    expect(resolveModuleOptions({ nodes: ['memory://'] }).telemetry).toBeUndefined();
    expect(resolveTelemetryOptions(false)).toBeUndefined();
    expect(resolveTelemetryOptions(true)).toEqual({});
    const meterProvider = { getMeter: () => ({}) };
    expect(resolveTelemetryOptions({ meterProvider, tracerProvider: false })).toEqual({
      meterProvider,
      tracerProvider: false,
    });
  });

  it.each([
    ['yes', 'telemetry', 'ERR_REDLOCK_INVALID_TELEMETRY'],
    [[], 'telemetry', 'ERR_REDLOCK_INVALID_TELEMETRY'],
    [{ tracerProvider: {} }, 'telemetry.tracerProvider', 'ERR_REDLOCK_INVALID_TRACER_PROVIDER'],
    [{ meterProvider: 'prom' }, 'telemetry.meterProvider', 'ERR_REDLOCK_INVALID_METER_PROVIDER'],
  ])('refuses %p at startup, naming %s', (telemetry, option, code) => {
    const attempt = () => resolveModuleOptions({ nodes: ['memory://'], telemetry } as never);
    expect(attempt).toThrow(RedlockConfigError);
    expect(attempt).toThrow(expect.objectContaining({ option, code }));
  });
});
