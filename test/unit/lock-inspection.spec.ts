import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { hostname } from 'node:os';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import { globMatcher, globProblem } from '../../lib/adapters/redis-glob.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { RedlockConfigError, RedlockUnavailableError } from '../../lib/redlock.errors.js';
import { ownerParts } from '../../lib/services/instance-record.js';
import { base64url16, ownerValue } from '../../lib/services/owner-value.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { eventually } from '../support/adapters.js';
import { FailingAdapter } from '../support/failing-adapter.js';

/** Holder information, inspect() and force release over memory nodes (Redis: integration/). */
describe('lock inspection (memory nodes)', () => {
  const opened: { close(): Promise<void> }[] = [];
  const nodes = (n: number): MemoryLockAdapter[] => {
    const list = Array.from({ length: n }, (_, i) => new MemoryLockAdapter({ name: `mem-${i}` }));
    opened.push(...list);
    return list;
  };
  const engine = (...args: ConstructorParameters<typeof Redlock>): Redlock => {
    const redlock = new Redlock(...args);
    opened.unshift(redlock);
    return redlock;
  };
  afterEach(async () => {
    for (const item of opened.splice(0)) await item.close();
  });

  it('makes owner values of 128 random bits plus the tag and time, at most 44 bytes', () => {
    const plain = ownerValue();
    expect(plain).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(plain, 'base64url')).toHaveLength(16);
    const tagged = ownerValue('k9Df0aZ1', { wallNow: () => 1_767_225_600_000 });
    expect(tagged.length).toBeLessThanOrEqual(44);
    expect(ownerParts(tagged)).toEqual({ tag: 'k9Df0aZ1', acquiredAt: 1_767_225_600_000 });
    expect(ownerParts(plain)).toBeUndefined();
  });

  it('encodes the random part exactly as base64url does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 40 }), fc.nat(24), (bytes, at) => {
        const offset = Math.min(at, bytes.length - 16);
        const target = new Uint8Array(22);
        expect(base64url16(bytes, offset, target)).toBe(22);
        const expected = Buffer.from(bytes.subarray(offset, offset + 16)).toString('base64url');
        expect(Buffer.from(target).toString('latin1')).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });

  it('names the holder of a lock another engine took, with ttl, nodes and fencing', async () => {
    const shared = nodes(3);
    const worker = engine(shared, { instanceName: 'billing-worker-7' });
    const viewer = engine(shared);
    const before = Date.now();
    const lock = await worker.acquire('order:42', { ttl: 30_000, fencing: true });
    const { locks, nodes: answered, truncated } = await viewer.inspect();
    expect(truncated).toBe(false);
    expect(answered.map((node) => node.status)).toEqual(['ok', 'ok', 'ok']);
    expect(locks).toHaveLength(1);
    const [seen] = locks;
    expect(seen).toMatchObject({
      resource: 'order:42',
      mode: 'write',
      nodes: 3,
      quorum: true,
      fencingCounter: 1,
      waiters: 0,
    });
    expect(seen!.ttl).toBeGreaterThan(29_000);
    const holder = seen!.holders[0]!;
    expect(holder.instance).toMatchObject({
      name: 'billing-worker-7',
      host: hostname(),
      pid: process.pid,
    });
    expect(holder.acquiredAt).toBeGreaterThanOrEqual(before);
    expect(holder).toMatchObject({ nodes: 3, local: false });
    // The owner value never leaves the engine: only a hash of it.
    expect(JSON.stringify(locks)).not.toContain(lock.value);
    // The engine that holds it knows its exact token.
    const own = await worker.inspect('order:*');
    expect(own.locks[0]!.holders[0]).toMatchObject({ local: true, fencingToken: 1 });
    await lock.release();
    expect((await viewer.inspect()).locks).toEqual([]);
  });

  it('lists readers, filters by glob, and refuses malformed patterns', async () => {
    const redlock = engine(nodes(1));
    const readers = [await redlock.acquireRead('catalog'), await redlock.acquireRead('catalog')];
    await redlock.acquire('order:1');
    await redlock.acquire('order:22');
    const catalog = (await redlock.inspect('cat*')).locks;
    expect(catalog).toHaveLength(1);
    expect(catalog[0]).toMatchObject({ resource: 'catalog', mode: 'read' });
    expect(catalog[0]!.holders).toHaveLength(2);
    expect((await redlock.inspect('order:?')).locks.map((l) => l.resource)).toEqual(['order:1']);
    expect((await redlock.inspect('order:[0-9][0-9]')).locks.map((l) => l.resource)).toEqual([
      'order:22',
    ]);
    const limited = await redlock.inspect('*', { limit: 2 });
    expect(limited).toMatchObject({ truncated: true });
    expect(limited.locks).toHaveLength(2);
    await expect(redlock.inspect('order:[')).rejects.toBeInstanceOf(RedlockConfigError);
    await expect(redlock.inspect('')).rejects.toBeInstanceOf(RedlockConfigError);
    for (const reader of readers) await reader.release();
  });

  it('matches globs as Redis does', () => {
    const cases: [string, string, boolean][] = [
      ['a*c', 'abbc', true],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['[^a]x', 'bx', true],
      ['[^a]x', 'ax', false],
      ['[z-a]', 'm', true],
      ['a\\*', 'a*', true],
      ['a\\*', 'ab', false],
      ['lock:\\[1]', 'lock:[1]', true],
    ];
    for (const [pattern, text, expected] of cases) {
      expect([pattern, text, globMatcher(pattern)(text)]).toEqual([pattern, text, expected]);
    }
    expect(globProblem('a[b')).toMatch(/never closed/);
    expect(globProblem('a\\')).toMatch(/lone/);
  });

  it('force-releases: key gone everywhere, waiter wakes, counter raised, event names who', async () => {
    const shared = nodes(3);
    const events: RedlockEvent[] = [];
    const holderEngine = engine(shared);
    const operator = engine(shared, { onEvent: (event) => events.push(event) });
    const lock = await holderEngine.acquire('job:stuck', { ttl: 60_000, fencing: true });
    const waiting = operator.acquire('job:stuck', {
      ttl: 5_000,
      wait: 30_000,
      retryDelay: 60_000,
      fencing: true,
    });
    // The waiter shows up in the inspection once it listens for the release.
    await eventually(async () => (await operator.inspect()).locks[0]?.waiters === 1);
    const result = await operator.forceRelease('job:stuck', { by: 'ops:alice\nforged line' });
    expect(result).toMatchObject({ resource: 'job:stuck', deleted: 3, fencingCounter: 2 });
    const next = await waiting; // woken by the release notification: its retry delay is 60 s
    expect(next.fencingToken).toBe(3);
    expect(events.find((event) => event.type === 'forceReleased')).toEqual({
      type: 'forceReleased',
      resources: ['job:stuck'],
      by: 'ops:alice forged line',
      deleted: 3,
      fencingCounter: 2,
    });
    await next.release();
    expect(await lock.release()).toBe('expired');
  });

  it('force release validates its input and needs a quorum of answers', async () => {
    const redlock = engine(nodes(1));
    await expect(redlock.forceRelease('x', { by: '  ' })).rejects.toBeInstanceOf(
      RedlockConfigError,
    );
    await expect(redlock.forceRelease('', { by: 'me' })).rejects.toThrow(/non-empty/);
    const [good, a, b] = nodes(3);
    // FailingAdapter has no inspector capability: those nodes cannot answer.
    const degraded = engine([
      good!,
      new FailingAdapter(a!, 'error'),
      new FailingAdapter(b!, 'error'),
    ]);
    await expect(degraded.forceRelease('x', { by: 'me' })).rejects.toBeInstanceOf(
      RedlockUnavailableError,
    );
    const seen = await degraded.inspect();
    expect(seen.nodes.map((node) => node.status)).toEqual(['ok', 'unsupported', 'unsupported']);
  });

  it('holderInfo: false keeps plain values and unknown holders', async () => {
    const redlock = engine(nodes(1), { holderInfo: false });
    const lock = await redlock.acquire('plain');
    expect(lock.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const [seen] = (await redlock.inspect()).locks;
    expect(seen!.holders[0]!.instance).toBeUndefined();
    expect(seen!.holders[0]!.acquiredAt).toBeUndefined();
    await lock.release();
  });
});
