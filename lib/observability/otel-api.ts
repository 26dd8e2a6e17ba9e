// Types only: `@opentelemetry/api` is an optional peer, loaded at run time by
// loadOpenTelemetryApi() when telemetry is asked for, never by importing the library.
import type * as OpenTelemetryApi from '@opentelemetry/api';
import { RedlockConfigError } from '../redlock.errors.js';

/** The `@opentelemetry/api` module, as loaded at run time. */
export type OpenTelemetry = typeof OpenTelemetryApi;

/** Instrumentation scope name of the tracer and the meter. */
export const INSTRUMENTATION_SCOPE = 'nestjs-redlock';

/**
 * Loads the optional peer `@opentelemetry/api`. A dynamic import, so the library loads and
 * works without it (the CommonJS build turns it into a `require` inside the promise); a missing
 * package becomes a `RedlockConfigError` that says what to install.
 */
export async function loadOpenTelemetryApi(): Promise<OpenTelemetry> {
  try {
    return await import('@opentelemetry/api');
  } catch (error) {
    throw new RedlockConfigError(
      'telemetry',
      `OpenTelemetry needs the optional peer dependency @opentelemetry/api, which could not be loaded (${codeOf(error)}): install it with \`npm install @opentelemetry/api\`.`,
    );
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'load error';
}
