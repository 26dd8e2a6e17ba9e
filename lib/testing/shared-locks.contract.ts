import assert from 'node:assert/strict';
import type { SharedLocks } from '../interfaces/lock-adapter.interface.js';
import {
  busyTtl,
  type ContractContext,
  type ContractTestFunctions,
  fenced,
  granted,
  LONG,
  owner,
  recorder,
  SHORT,
  sleep,
  waitUntilGone,
} from './contract-support.js';

/** Read locks (`adapter.shared`): many readers, no writer beside them, writers not starved. */
export function sharedLockContract(
  c: ContractContext,
  t: ContractTestFunctions,
  { fencing }: { fencing: boolean },
): void {
  const { describe, it } = t;
  const readers = (): SharedLocks => {
    assert.ok(c.adapter.shared, 'the adapter declares no read locks (adapter.shared)');
    return c.adapter.shared;
  };
  const others = (): SharedLocks => {
    assert.ok(c.other.shared, 'the adapter declares no read locks (adapter.shared)');
    return c.other.shared;
  };

  describe('read locks (shared)', () => {
    it('lets readers share a key, and keeps writers out while they read', async () => {
      const keys = [c.key('a'), c.key('b')];
      const [r1, r2] = [owner(), owner()];
      granted(await readers().acquire(keys, r1, LONG));
      granted(await others().acquire(keys, r2, LONG));
      assert.ok((await c.adapter.inspect(keys)) > 0);
      busyTtl(await c.adapter.acquire([keys[0]!], owner(), LONG));
      // A writer's release of a key readers hold is refused and changes nothing.
      assert.equal(await c.adapter.release([keys[0]!], r1), 'taken');
      assert.equal(await readers().release(keys, r1), 'ok');
      assert.equal(await others().release(keys, r2), 'ok');
      // Only the refused writer's mark is left on the first key (at most a second).
      assert.equal(await c.adapter.inspect([keys[1]!]), -2);
      assert.ok((await c.adapter.inspect(keys)) <= 1_000);
      granted(await c.adapter.acquire(keys, owner(), LONG));
    });

    it('keeps readers out while a writer holds a key, with its remaining ttl', async () => {
      const k = c.key('a');
      const writer = owner();
      granted(await c.other.acquire([k], writer, 1_000));
      const ttl = busyTtl(await readers().acquire([c.key('free'), k], owner(), LONG));
      assert.ok(ttl > 0 && ttl <= 1_000, `ttl ${ttl}`);
      assert.equal(await c.adapter.inspect([c.key('free')]), -2);
      assert.equal(await readers().extend([k], writer, LONG), 'taken');
      assert.equal(await readers().release([k], writer), 'taken');
      assert.equal(await c.other.release([k], writer), 'ok');
    });

    it('keeps new readers out once a writer waits, so writers are not starved', async () => {
      const k = c.key('a');
      const reader = owner();
      granted(await readers().acquire([k], reader, LONG));
      const wait = busyTtl(await c.other.acquire([k], owner(), LONG));
      assert.ok(wait > 0 && wait <= 1_000, `the writer comes back within the mark (${wait})`);
      const ttl = busyTtl(await readers().acquire([k], owner(), LONG));
      assert.ok(ttl > 0 && ttl <= 1_000, `ttl ${ttl}`);
      // The reader already in keeps its lease, and may renew it.
      assert.equal(await readers().extend([k], reader, LONG), 'ok');
      assert.equal(await readers().release([k], reader), 'ok');
      granted(await c.other.acquire([k], owner(), LONG));
    });

    it('answers a replayed read acquisition as acquired', async () => {
      const keys = [c.key('a'), c.key('b')];
      const reader = owner();
      granted(await readers().acquire(keys, reader, LONG));
      granted(await others().acquire(keys, reader, LONG));
      assert.equal(await readers().release(keys, reader), 'ok');
      assert.equal(await c.adapter.inspect(keys), -2);
    });

    it('renews a reader, and lets each reader expire on its own', async () => {
      const k = c.key('a');
      const [short, long] = [owner(), owner()];
      granted(await readers().acquire([k], short, SHORT));
      granted(await readers().acquire([k], long, SHORT));
      assert.equal(await readers().extend([k], long, LONG), 'ok');
      assert.ok((await c.adapter.inspect([k])) > SHORT);
      await sleep(SHORT * 2);
      assert.equal(await readers().extend([k], short, LONG), 'expired');
      assert.equal(await readers().release([k], short), 'expired');
      assert.equal(await readers().extend([k], long, LONG), 'ok');
      assert.equal(await readers().release([k], long), 'ok');
      assert.equal(await readers().extend([k], long, LONG), 'expired');
      await waitUntilGone(c.adapter, [k]);
    });

    it('announces a key when its last reader leaves', async () => {
      const [k, marker] = [c.key('a'), c.key('marker')];
      const [events, markers] = [recorder(), recorder()];
      const stop = await c.adapter.onRelease([k], events.listener);
      const stopMarker = await c.adapter.onRelease([marker], markers.listener);
      try {
        const [r1, r2] = [owner(), owner()];
        granted(await readers().acquire([k], r1, LONG));
        granted(await readers().acquire([k], r2, LONG));
        assert.equal(await readers().release([k], r1), 'ok');
        granted(await readers().acquire([marker], r1, LONG));
        assert.equal(await readers().release([marker], r1), 'ok');
        // Notifications arrive in order: one for the first reader would have come by now.
        await markers.reached(1);
        assert.equal(events.count, 0);
        assert.equal(await others().release([k], r2), 'ok');
        await events.reached(1);
      } finally {
        stop();
        stopMarker();
      }
    });

    describe('semaphores (shared with a cap)', () => {
      it('lets at most `permits` holders in, and lets the next in once one leaves', async () => {
        const keys = [c.key('a'), c.key('b')];
        const [h1, h2, h3] = [owner(), owner(), owner()];
        granted(await readers().acquire(keys, h1, LONG, { permits: 2 }));
        granted(await others().acquire(keys, h2, LONG, { permits: 2 }));
        const ttl = busyTtl(await readers().acquire(keys, h3, LONG, { permits: 2 }));
        assert.ok(ttl > 0 && ttl <= LONG, `comes back when the first holder expires (${ttl})`);
        // A replay of a holder's grant is still answered as acquired, not as busy.
        granted(await readers().acquire(keys, h1, LONG, { permits: 2 }));
        assert.equal(await readers().release(keys, h1, { permits: 2 }), 'ok');
        granted(await readers().acquire(keys, h3, LONG, { permits: 2 }));
        assert.equal(await readers().release(keys, h2, { permits: 2 }), 'ok');
        assert.equal(await readers().release(keys, h3, { permits: 2 }), 'ok');
      });

      it('keeps a plain lock out while permits are held, and new holders out once it waits', async () => {
        const k = c.key('a');
        const holder = owner();
        granted(await readers().acquire([k], holder, LONG, { permits: 3 }));
        const wait = busyTtl(await c.adapter.acquire([k], owner(), LONG));
        assert.ok(wait > 0 && wait <= 1_000, `the lock comes back within its mark (${wait})`);
        busyTtl(await others().acquire([k], owner(), LONG, { permits: 3 }));
        assert.equal(await readers().release([k], holder, { permits: 3 }), 'ok');
        const next = owner();
        granted(await c.adapter.acquire([k], next, LONG));
        busyTtl(await others().acquire([k], owner(), LONG, { permits: 3 }));
        assert.equal(await c.adapter.release([k], next), 'ok');
      });

      it('frees the permit of a holder that never releases when its ttl runs out', async () => {
        const k = c.key('a');
        granted(await readers().acquire([k], owner(), SHORT, { permits: 1 }));
        const ttl = busyTtl(await others().acquire([k], owner(), LONG, { permits: 1 }));
        assert.ok(ttl <= SHORT, `busy for at most the crashed holder's ttl (${ttl})`);
        await sleep(SHORT * 2);
        const next = owner();
        granted(await others().acquire([k], next, LONG, { permits: 1 }));
        assert.equal(await others().release([k], next, { permits: 1 }), 'ok');
      });

      it('announces every release of a permit, not only the last', async () => {
        const k = c.key('a');
        const events = recorder();
        const stop = await c.adapter.onRelease([k], events.listener);
        try {
          const [h1, h2] = [owner(), owner()];
          granted(await readers().acquire([k], h1, LONG, { permits: 3 }));
          granted(await readers().acquire([k], h2, LONG, { permits: 3 }));
          assert.equal(await readers().release([k], h1, { permits: 3 }), 'ok');
          await events.reached(1);
          assert.equal(await readers().release([k], h2, { permits: 3 }), 'ok');
          await events.reached(2);
        } finally {
          stop();
        }
      });

      if (fencing) {
        it('gives every permit grant its own token, and a replay the same one', async () => {
          const k = c.key('a');
          const [h1, h2] = [owner(), owner()];
          const first = fenced(await readers().acquire([k], h1, LONG, { fence: true, permits: 2 }));
          const second = fenced(await others().acquire([k], h2, LONG, { fence: true, permits: 2 }));
          assert.equal(second, first + 1n);
          assert.equal(
            fenced(await others().acquire([k], h2, LONG, { fence: true, permits: 2 })),
            second,
            'a replay does not raise the counter again',
          );
          // The engine writes an agreed token back to a holder's node.
          assert.equal(await c.adapter.syncFence([k], h1, String(second + 5n)), 'ok');
          assert.equal(await c.adapter.syncFence([k], owner(), String(second + 9n)), 'expired');
          const next = owner();
          assert.equal(await readers().release([k], h1, { permits: 2 }), 'ok');
          assert.equal(
            fenced(await readers().acquire([k], next, LONG, { fence: true, permits: 2 })),
            second + 6n,
          );
          assert.equal(await readers().release([k], next, { permits: 2 }), 'ok');
          assert.equal(await readers().release([k], h2, { permits: 2 }), 'ok');
        });
      }
    });

    if (fencing) {
      it('answers a fenced read with the current counter, unchanged', async () => {
        const k = c.key('a');
        const writer = owner();
        const token = fenced(await c.adapter.acquire([k], writer, LONG, { fence: true }));
        assert.equal(await c.adapter.release([k], writer), 'ok');
        const reader = owner();
        assert.equal(fenced(await readers().acquire([k], reader, LONG, { fence: true })), token);
        assert.equal(fenced(await readers().acquire([k], reader, LONG, { fence: true })), token);
        assert.equal(await readers().release([k], reader), 'ok');
        const next = owner();
        assert.equal(fenced(await c.adapter.acquire([k], next, LONG, { fence: true })), token + 1n);
        assert.equal(await c.adapter.release([k], next), 'ok');
      });
    }
  });
}
