import { inspect } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { createLockAdapter, type RedlockNode } from '../../lib/adapters/lock-adapter.factory.js';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { LockKeyError, RedlockConfigError } from '../../lib/redlock.errors.js';
import { ManualClock } from '../../lib/services/clock.js';
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

describe('nodes given outside the module: createLockAdapter and new Redlock', () => {
  // Each would otherwise throw a bare TypeError, or quietly connect somewhere else
  // ('' and [] to ioredis' default local address, 'http://x' to the unix socket /x, a port "x" to NaN).
  it.each([
    ['undefined', undefined, 'ERR_REDLOCK_INVALID_NODE'],
    ['null', null, 'ERR_REDLOCK_INVALID_NODE'],
    ['a number', 42, 'ERR_REDLOCK_INVALID_NODE'],
    ['an array', [], 'ERR_REDLOCK_INVALID_NODE'],
    ['a function', () => 'redis://h', 'ERR_REDLOCK_INVALID_NODE'],
    ['an empty string', '', 'ERR_REDLOCK_INVALID_NODE'],
    ['not a URL', 'cache:7000', 'ERR_REDLOCK_INVALID_NODE'],
    ['an http:// URL', 'http://cache', 'ERR_REDLOCK_INVALID_NODE'],
    ['a URL with a password that does not parse', 'redis://:hunter2@', 'ERR_REDLOCK_INVALID_NODE'],
    ['a URL whose path is not a database', 'redis://:hunter2@cache/db', 'ERR_REDLOCK_INVALID_NODE'],
    ['an empty cluster', { cluster: [] }, 'ERR_REDLOCK_INVALID_CLUSTER'],
    ['no sentinels', { sentinels: [], name: 'm' }, 'ERR_REDLOCK_INVALID_SENTINELS'],
    ['a port that is not a number', { port: 'x', password: 'hunter2' }, 'ERR_REDLOCK_INVALID_PORT'],
  ])(
    'createLockAdapter(%s) throws RedlockConfigError %s without the password',
    (_t, node, code) => {
      let adapter: unknown;
      let error: unknown;
      try {
        adapter = createLockAdapter(node as RedlockNode);
      } catch (thrown) {
        error = thrown;
      }
      expect(adapter).toBeUndefined();
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as RedlockConfigError).code).toBe(code);
      expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain('hunter2');
    },
  );

  it('createLockAdapter trims a URL as the module does', async () => {
    const adapter = createLockAdapter(' memory://trimmed ');
    expect(adapter.name).toBe('memory://trimmed');
    await adapter.close?.();
  });

  it.each([
    ['a URL string', 'redis://:hunter2@cache:7000', 'nodes'],
    ['a URL in the list', ['redis://:hunter2@cache:7000'], 'nodes[0]'],
    ['options in the list', [{ host: 'cache', password: 'hunter2' }], 'nodes[0]'],
    ['null in the list', [new MemoryLockAdapter(), null], 'nodes[1]'],
  ])('new Redlock(%s) throws RedlockConfigError naming the bad entry', (_t, nodes, option) => {
    let error: unknown;
    try {
      new Redlock(nodes as unknown as LockAdapter[]);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).option).toBe(option);
    expect((error as Error).message).toMatch(/createLockAdapter|array of LockAdapters/);
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain('hunter2');
  });
});

describe('engine options and close() options', () => {
  const adapters = () => [new MemoryLockAdapter()];

  it.each([
    ['null', null, 'options'],
    ['onEvent: 5', { onEvent: 5 }, 'onEvent'],
    ['clock: 5', { clock: 5 }, 'clock'],
    ['a clock without wallNow', { clock: { now: () => 0 } }, 'clock'],
    ['circuitBreaker: 5', { circuitBreaker: 5 }, 'circuitBreaker'],
    ['logger: console.log', { logger: console.log }, 'logger'],
    ['degraded: {}', { degraded: {} }, 'degraded'],
    ['keyPrefix: 5', { keyPrefix: 5 }, 'keyPrefix'],
    ['instanceName: ""', { instanceName: '' }, 'instanceName'],
  ])(
    'new Redlock(adapters, %s) throws RedlockConfigError naming the option',
    (_t, options, option) => {
      let error: unknown;
      try {
        new Redlock(adapters(), options as never);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as RedlockConfigError).option).toBe(option);
    },
  );

  it.each([
    ['null', null],
    ['onError: 5', { onError: 5 }],
    ['credentials without a password', { credentials: { username: 'u' } }],
  ])('createLockAdapter(url, %s) throws RedlockConfigError', (_t, options) => {
    expect(() => createLockAdapter('memory://x', options as never)).toThrow(RedlockConfigError);
  });

  it.each([
    ['null', null, 'options'],
    ['timeout: -1', { timeout: -1 }, 'timeout'],
    ['timeout: "soon"', { timeout: 'soon' }, 'timeout'],
    ['timeout: NaN', { timeout: Number.NaN }, 'timeout'],
  ])(
    'close(%s) rejects with RedlockConfigError and shuts nothing down',
    async (_t, options, option) => {
      const redlock = new Redlock(adapters());
      const lock = await redlock.acquire('close-bad');
      const error = await redlock.close(options as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as RedlockConfigError).option).toBe(option);
      // Still open: the lock is held, and new locks can be taken.
      expect(lock.isHeld()).toBe(true);
      await (await redlock.acquire('close-bad-2')).release();
      await lock.release();
      await redlock.close();
    },
  );

  it("close({ timeout: '5s' }) waits for held locks like close({ timeout: 5_000 })", async () => {
    const clock = new ManualClock();
    const redlock = new Redlock(adapters(), { clock });
    const lock = await redlock.acquire('close-duration', { ttl: 60_000 });
    const closing = redlock.close({ timeout: '5s' });
    // Nothing to wait for but the event loop: a close that ignored the duration has released
    // the lock by now.
    await new Promise((resolve) => setImmediate(resolve));
    expect(lock.isHeld()).toBe(true);
    await clock.advance(5_000);
    await closing;
    expect(lock.isHeld()).toBe(false);
  });
});
