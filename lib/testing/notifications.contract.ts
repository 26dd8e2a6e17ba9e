import assert from 'node:assert/strict';
import {
  type ContractContext,
  type ContractTestFunctions,
  granted,
  LONG,
  owner,
  recorder,
  takeAndRelease,
} from './contract-support.js';

/** How long `close()` may take on a node that stopped answering. */
const CLOSE_BOUND_MS = 2_500;

/** Release notifications (`onRelease`) and the connection's lifecycle. */
export function notificationContract(c: ContractContext, t: ContractTestFunctions): void {
  const { describe, it } = t;

  describe('onRelease', () => {
    it('calls the listener when another client releases the key', async () => {
      const k = c.key('a');
      const events = recorder();
      const unsubscribe = await c.adapter.onRelease([k], events.listener);
      try {
        await takeAndRelease(c.other, k);
        await events.reached(1);
      } finally {
        unsubscribe();
      }
    });

    it('calls the listener for any of its keys', async () => {
      const [k1, k2] = [c.key('a'), c.key('b')];
      const events = recorder();
      const unsubscribe = await c.adapter.onRelease([k1, k2], events.listener);
      try {
        await takeAndRelease(c.other, k2);
        await events.reached(1);
      } finally {
        unsubscribe();
      }
    });

    it('announces at most the public suffix of a released owner value, never its secret part, and no holder for an undo', async () => {
      const k = c.key('a');
      const messages: (string | undefined)[] = [];
      const events = recorder();
      const unsubscribe = await c.adapter.onRelease([k], (message?: string) => {
        messages.push(message);
        events.listener();
      });
      try {
        // As the engine makes them: 22 random characters, then `.<instance tag>.<time>`.
        const secret = owner().slice(0, 22);
        const value = `${secret}.t3stTag.mx62b8pq`;
        granted(await c.other.acquire([k], value, LONG));
        assert.equal(await c.other.release([k], value), 'ok');
        await events.reached(1);
        const plain = owner(); // no holder suffix: nothing of it is announced
        granted(await c.other.acquire([k], plain, LONG));
        assert.equal(await c.other.release([k], plain), 'ok');
        await events.reached(2);
        // An engine's undo of an attempt that never held the lock ended nobody's turn.
        granted(await c.other.acquire([k], value, LONG));
        assert.equal(await c.other.release([k], value, { undo: true }), 'ok');
        await events.reached(3);
        assert.ok([undefined, ''].includes(messages[2]), `undo message ${String(messages[2])}`);
        for (const message of messages) {
          assert.ok(!message?.includes(secret) && !message?.includes(plain.slice(0, 22)));
        }
        const suffixes = c.target.announcesHolder
          ? [['.t3stTag.mx62b8pq'], ['']]
          : [
              [undefined, '', '.t3stTag.mx62b8pq'],
              [undefined, ''],
            ];
        assert.ok(suffixes[0]!.includes(messages[0]), `message ${String(messages[0])}`);
        assert.ok(suffixes[1]!.includes(messages[1]), `message ${String(messages[1])}`);
      } finally {
        unsubscribe();
      }
    });

    it('stays silent on a release that deleted nothing', async () => {
      const [k, marker] = [c.key('a'), c.key('marker')];
      const [events, markers] = [recorder(), recorder()];
      const unsubscribe = await c.adapter.onRelease([k], events.listener);
      const unsubscribeMarker = await c.adapter.onRelease([marker], markers.listener);
      try {
        const holder = owner();
        granted(await c.other.acquire([k], holder, LONG));
        assert.equal(await c.adapter.release([k], owner()), 'taken');
        assert.equal(await c.adapter.release([c.key('never')], owner()), 'expired');
        await takeAndRelease(c.other, marker);
        // Notifications arrive in release order, so a wrong one would have come before this.
        await markers.reached(1);
        assert.equal(events.count, 0);
        assert.equal(await c.other.release([k], holder), 'ok');
        await events.reached(1);
      } finally {
        unsubscribe();
        unsubscribeMarker();
      }
    });

    it('stops calling the listener after unsubscribe, and unsubscribe is idempotent', async () => {
      const [k1, k2] = [c.key('a'), c.key('b')];
      const [gone, marker] = [recorder(), recorder()];
      const unsubscribe = await c.adapter.onRelease([k1], gone.listener);
      const unsubscribeMarker = await c.adapter.onRelease([k2], marker.listener);
      try {
        unsubscribe();
        unsubscribe();
        await takeAndRelease(c.other, k1);
        await takeAndRelease(c.other, k2);
        await marker.reached(1);
        assert.equal(gone.count, 0);
      } finally {
        unsubscribeMarker();
      }
    });

    it('shares a key between subscriptions, each ending on its own', async () => {
      const [k, later] = [c.key('a'), c.key('later')];
      const [first, second, marker] = [recorder(), recorder(), recorder()];
      const unsubscribeFirst = await c.adapter.onRelease([k], first.listener);
      const unsubscribeSecond = await c.adapter.onRelease([k], second.listener);
      const unsubscribeMarker = await c.adapter.onRelease([later], marker.listener);
      try {
        await takeAndRelease(c.other, k);
        await Promise.all([first.reached(1), second.reached(1)]);
        unsubscribeFirst();
        await takeAndRelease(c.other, k);
        await second.reached(2);
        await takeAndRelease(c.other, later);
        await marker.reached(1);
        assert.equal(first.count, 1);
      } finally {
        unsubscribeFirst();
        unsubscribeSecond();
        unsubscribeMarker();
      }
    });
  });

  describe('connection', () => {
    it('answers ping', async () => {
      await c.adapter.ping();
      await c.other.ping();
    });

    it('closes idempotently', async () => {
      const own = await c.setup();
      try {
        await own.adapter.close();
        await own.adapter.close();
      } finally {
        await own.teardown();
      }
    });

    it(`closes within ${CLOSE_BOUND_MS} ms when the node stopped answering`, async () => {
      const own = await c.setup();
      let resume: (() => Promise<void>) | undefined;
      try {
        // With a subscription, so a subscriber connection has to go too.
        const stop = await own.adapter.onRelease([c.key('a')], () => undefined);
        stop();
        resume = await own.pause?.();
        const started = performance.now();
        await own.adapter.close();
        const took = performance.now() - started;
        assert.ok(took < CLOSE_BOUND_MS, `close() took ${Math.round(took)} ms`);
      } finally {
        await resume?.();
        await own.teardown();
      }
    });
  });
}
