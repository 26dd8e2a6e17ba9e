import { RedlockConfigError } from '../redlock.errors.js';

/** Units a duration string may end with. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/**
 * A length of time: milliseconds as a number, or a string of a number and a unit, `'500ms'`,
 * `'30s'`, `'1.5s'`, `'5m'`, `'1h'`, `'1d'`. Accepted by every option that takes milliseconds.
 *
 * @example
 * ```ts
 * await redlock.acquire('report', { ttl: '30s', wait: '2s' });
 * ```
 */
export type Duration = number | `${number}${DurationUnit}`;

const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)$/;

/**
 * Turns a {@link Duration} into milliseconds. Numbers pass through unchanged (each option
 * checks its own range); strings must be a non-negative number and a unit, and come out as whole
 * milliseconds. A bare number in a string (`'5000'`, typical of environment variables) is
 * refused: whether it meant milliseconds or seconds is exactly the mistake this guards against.
 *
 * @throws RedlockConfigError naming `option` and the value.
 */
export function parseDuration(value: unknown, option: string): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  const match = DURATION.exec(text);
  if (!match) {
    const shown = JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
    throw new RedlockConfigError(
      option,
      /^\d+(\.\d+)?$/.test(text)
        ? `expected milliseconds as a number, or a duration with its unit ("${text}ms", "${text}s"), got ${shown}`
        : `expected milliseconds or a duration such as '500ms', '30s', '5m', '1h', '1d', got ${shown}`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
  const rounded = Math.round(ms);
  // Floating point: '1.1s' is 1100.0000000000002 ms; a real fraction of a millisecond is refused.
  if (Math.abs(ms - rounded) > 1e-6 || !Number.isSafeInteger(rounded)) {
    throw new RedlockConfigError(
      option,
      `${JSON.stringify(value)} is not a whole number of milliseconds below 2^53`,
    );
  }
  return rounded;
}

/** {@link parseDuration} for options that must end up as a number of milliseconds. */
export function durationMs(value: Duration, option: string): number {
  const ms = parseDuration(value, option);
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw new RedlockConfigError(
      option,
      `expected milliseconds or a duration such as '30s', got ${typeof ms === 'number' ? 'NaN' : typeof ms}`,
    );
  }
  return ms;
}
