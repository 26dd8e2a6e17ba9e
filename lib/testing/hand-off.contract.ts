import assert from 'node:assert/strict';
import type { HandOff, LockAdapter } from '../interfaces/lock-adapter.interface.js';
import {
  type ContractContext,
  type ContractTestFunctions,
  granted,
  LONG,
  owner,
  recorder,
  SHORT,
  takeAndRelease,
} from './contract-support.js';

/** Hand-offs (`adapter.handOff`): a held lock passed to its next owner value in one step. */
export function handOffContract(
  c: ContractContext,
  t: ContractTestFunctions,
  { shared }: { shared: boolean },
): void {
  const { describe, it } = t;
  const handOff = (adapter: LockAdapter = c.adapter): HandOff => {
    assert.ok(adapter.handOff, 'the adapter declares no hand-off (adapter.handOff)');
    return adapter.handOff;
  };
  /** Every key exists and none outlives `ttl`: no call since the owner's reset its ttl. */
  const ttlsAtMost = async (keys: readonly string[], ttl: number): Promise<void> => {
    for (const k of keys) {
      const left = await c.adapter.inspect([k]);
      assert.ok(left > 0 && left <= ttl, `${k}: ttl ${left}, expected 0 < ttl <= ${ttl}`);
    }
  };

  describe('hand-off (handOff.transfer)', () => {
    it('hands one key to the next owner value with the given ttl', async () => {
      const k = c.key('a');
      const [value, next] = [owner(), owner()];
      granted(await c.adapter.acquire([k], value, SHORT));
      assert.equal(await handOff().transfer([k], value, next, LONG), 'ok');
      const ttl = await c.adapter.inspect([k]);
      assert.ok(ttl > SHORT && ttl <= LONG, `ttl ${ttl}: the transfer sets the given ttl`);
      assert.equal(await c.adapter.extend([k], value, LONG), 'taken');
      assert.equal(await c.adapter.release([k], value), 'taken');
      assert.equal(await c.other.extend([k], next, LONG), 'ok');
      assert.equal(await c.other.release([k], next), 'ok');
      assert.equal(await c.adapter.inspect([k]), -2);
    });

    it('hands several keys at once, each with the given ttl even when shorter', async () => {
      const keys = [c.key('a'), c.key('b'), c.key('c')];
      const [value, next] = [owner(), owner()];
      granted(await c.adapter.acquire(keys, value, LONG));
      assert.equal(await handOff().transfer(keys, value, next, SHORT), 'ok');
      await ttlsAtMost(keys, SHORT);
      // The next owner first, before SHORT runs out: a stale extend would repair a lost key.
      assert.equal(await c.other.extend(keys, next, LONG), 'ok');
      assert.equal(await c.adapter.extend(keys, value, LONG), 'taken');
      assert.equal(await c.adapter.release(keys, value), 'taken');
      assert.equal(await c.other.release(keys, next), 'ok');
      assert.equal(await c.adapter.inspect(keys), -2);
    });

    it("answers a replay (every key already holds next) 'ok', changing nothing", async () => {
      const keys = [c.key('a'), c.key('b')];
      const [value, next] = [owner(), owner()];
      granted(await c.adapter.acquire(keys, value, SHORT));
      assert.equal(await handOff().transfer(keys, value, next, LONG), 'ok');
      assert.equal(await handOff().transfer(keys, value, next, 6 * LONG), 'ok');
      await ttlsAtMost(keys, LONG);
      assert.equal(await c.adapter.release(keys, next), 'ok');
    });

    it("answers 'taken' when a key holds another value, and changes no key", async () => {
      const [mine, gone, theirs] = [c.key('mine'), c.key('gone'), c.key('theirs')];
      const [value, holder] = [owner(), owner()];
      granted(await c.adapter.acquire([mine], value, LONG));
      granted(await c.other.acquire([theirs], holder, LONG));
      const next = owner();
      assert.equal(await handOff().transfer([theirs], value, next, 6 * LONG), 'taken');
      assert.equal(await handOff().transfer([mine, gone, theirs], value, next, 6 * LONG), 'taken');
      await ttlsAtMost([mine, theirs], LONG);
      assert.equal(await c.adapter.inspect([gone]), -2);
      assert.equal(await c.adapter.release([mine], value), 'ok');
      assert.equal(await c.other.release([theirs], holder), 'ok');
    });

    it("answers 'expired' when a key is missing, and creates or changes no key", async () => {
      const [mine, gone] = [c.key('mine'), c.key('gone')];
      const value = owner();
      granted(await c.adapter.acquire([mine], value, LONG));
      const next = owner();
      assert.equal(await handOff().transfer([gone], value, next, LONG), 'expired');
      assert.equal(await handOff().transfer([mine, gone], value, next, 6 * LONG), 'expired');
      assert.equal(await c.adapter.inspect([gone]), -2);
      await ttlsAtMost([mine], LONG);
      assert.equal(await c.adapter.release([mine], value), 'ok');
    });

    it('publishes no release notification: only the next owner release does, once', async () => {
      const [k, marker] = [c.key('a'), c.key('marker')];
      const [events, markers] = [recorder(), recorder()];
      const unsubscribe = await c.adapter.onRelease([k], events.listener);
      const unsubscribeMarker = await c.adapter.onRelease([marker], markers.listener);
      try {
        const [value, next] = [owner(), owner()];
        granted(await c.adapter.acquire([k], value, LONG));
        assert.equal(await handOff(c.other).transfer([k], value, next, LONG), 'ok');
        // Notifications arrive in release order, so one from the transfer would come first.
        await takeAndRelease(c.other, marker);
        await markers.reached(1);
        assert.equal(events.count, 0, 'the transfer announced a release');
        assert.equal(await c.other.release([k], next), 'ok');
        await events.reached(1);
        await takeAndRelease(c.other, marker);
        await markers.reached(2);
        assert.equal(events.count, 1);
      } finally {
        unsubscribe();
        unsubscribeMarker();
      }
    });

    if (shared) {
      it("answers 'taken' for a key held by readers or a semaphore, changing nothing", async () => {
        const [read, permits] = [c.key('read'), c.key('permits')];
        const readers = c.adapter.shared;
        assert.ok(readers, 'the adapter declares no read locks (adapter.shared)');
        const [reader, holder] = [owner(), owner()];
        granted(await readers.acquire([read], reader, LONG));
        granted(await readers.acquire([permits], holder, LONG, { permits: 2 }));
        // Even for the holder's own value: readers are no owner value a transfer can move.
        for (const [k, value] of [
          [read, reader],
          [permits, holder],
        ] as const) {
          assert.equal(await handOff().transfer([k], value, owner(), 6 * LONG), 'taken');
          assert.equal(await handOff().transfer([k], owner(), owner(), 6 * LONG), 'taken');
        }
        await ttlsAtMost([read, permits], LONG);
        assert.equal(await readers.release([read], reader), 'ok');
        assert.equal(await readers.release([permits], holder, { permits: 2 }), 'ok');
        assert.equal(await c.adapter.inspect([read, permits]), -2);
      });
    }

    it('rejects bad arguments with an Error naming the argument, changing nothing', async () => {
      const k = c.key('a');
      const value = owner();
      granted(await c.adapter.acquire([k], value, LONG));
      const next = owner();
      const bad: [string, () => Promise<unknown>, RegExp][] = [
        ['no keys', () => handOff().transfer([], value, next, LONG), /key/],
        ['ttl 0', () => handOff().transfer([k], value, next, 0), /ttl/],
        ['negative ttl', () => handOff().transfer([k], value, next, -1), /ttl/],
        ['fractional ttl', () => handOff().transfer([k], value, next, 1.5), /ttl/],
        ['NaN ttl', () => handOff().transfer([k], value, next, Number.NaN), /ttl/],
        ['empty value', () => handOff().transfer([k], '', next, LONG), /value/],
        ['empty next', () => handOff().transfer([k], value, '', LONG), /next/],
        [
          'next not a string',
          () => handOff().transfer([k], value, 42 as unknown as string, LONG),
          /next/,
        ],
        ['next equal to value', () => handOff().transfer([k], value, value, LONG), /next/],
      ];
      for (const [name, call, message] of bad) {
        // Called first, so a synchronous throw fails the test instead of counting as rejection.
        const reply = call();
        await assert.rejects(
          reply,
          (error: unknown) => error instanceof Error && message.test(error.message),
          `${name}: expected a rejection whose message matches ${String(message)}`,
        );
      }
      await ttlsAtMost([k], LONG);
      assert.equal(await c.adapter.release([k], next), 'taken');
      assert.equal(await c.adapter.release([k], value), 'ok');
    });
  });
}
