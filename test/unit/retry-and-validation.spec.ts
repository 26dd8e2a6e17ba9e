import { describe, expect, it } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import { LockKeyError, RedlockConfigError } from '../../lib/redlock.errors.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { exponentialBackoff, LockPresets } from '../../lib/services/retry-policies.js';

describe('retry policies and presets', () => {
  it('backs off exponentially with full jitter, capped', () => {
    const delay = exponentialBackoff({ base: 10, factor: 2, max: 100 });
    for (let attempt = 1; attempt <= 8; attempt += 1) {
      const ceiling = Math.min(100, 10 * 2 ** (attempt - 1));
      const samples = Array.from({ length: 200 }, () => delay(attempt));
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...samples)).toBeLessThanOrEqual(ceiling);
      // Full jitter: spread over the range, not pinned to the ceiling.
      expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(ceiling / 4);
    }
  });

  it('refuses nonsense backoff settings', () => {
    expect(() => exponentialBackoff({ base: -1 })).toThrow(RedlockConfigError);
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(/factor/);
    expect(() => exponentialBackoff({ max: Number.NaN })).toThrow(/max/);
  });

  it('ships presets that are valid lock options', async () => {
    const node = new MemoryLockAdapter();
    const redlock = new Redlock([node]);
    for (const preset of [LockPresets.default, LockPresets.fast]) {
      const lock = await redlock.acquire('preset', preset);
      expect(lock.isHeld()).toBe(true);
      await lock.release();
    }
    const held = await redlock.acquire('preset');
    // The fast preset gives up within its short wait instead of the default 5 s.
    await expect(redlock.acquire('preset', LockPresets.fast)).rejects.toThrow(/locked/);
    await held.release();
    await node.close();
  });
});

describe('validation: one typed code per rule', () => {
  const node = new MemoryLockAdapter();
  const redlock = new Redlock([node]);

  const codeOf = async (run: () => Promise<unknown>) => {
    const error = await run().catch((e: unknown) => e);
    return (error as { code?: string }).code;
  };

  it.each([
    ['ttl <= 0', { ttl: 0 }, 'ERR_REDLOCK_INVALID_TTL'],
    ['ttl NaN', { ttl: Number.NaN }, 'ERR_REDLOCK_INVALID_TTL'],
    ['tries < 1', { retryCount: 0 }, 'ERR_REDLOCK_INVALID_RETRY_COUNT'],
    ['tries above the maximum', { retryCount: 1e12 }, 'ERR_REDLOCK_INVALID_RETRY_COUNT'],
    ['negative retry delay', { retryDelay: -1 }, 'ERR_REDLOCK_INVALID_RETRY_DELAY'],
    ['drift factor 1', { driftFactor: 1 }, 'ERR_REDLOCK_INVALID_DRIFT_FACTOR'],
    ['drift factor < 0', { driftFactor: -0.1 }, 'ERR_REDLOCK_INVALID_DRIFT_FACTOR'],
    ['negative wait', { wait: -5 }, 'ERR_REDLOCK_INVALID_WAIT'],
  ])('%s → RedlockConfigError %s', async (_name, options, code) => {
    const error = await redlock.acquire('k', options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).code).toBe(code);
  });

  it('gives an empty key its own LockKeyError code', async () => {
    expect(await codeOf(() => redlock.acquire(''))).toBe('ERR_REDLOCK_EMPTY_KEY');
    expect(await codeOf(() => redlock.acquire([]))).toBe('ERR_REDLOCK_EMPTY_KEY');
    expect(await codeOf(() => redlock.acquire(42 as unknown as string))).toBe(
      'ERR_REDLOCK_INVALID_KEY',
    );
    const error = await redlock.acquire('x'.repeat(2_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as LockKeyError).code).toBe('ERR_REDLOCK_KEY_TOO_LONG');
  });
});
