import assert from 'node:assert/strict';
import {
  busyTtl,
  type ContractContext,
  type ContractTestFunctions,
  granted,
  LONG,
  owner,
  SHORT,
  waitUntilGone,
} from './contract-support.js';

/** acquire, extend (with repair) and release of exclusive (writer) locks. */
export function exclusiveLockContract(c: ContractContext, t: ContractTestFunctions): void {
  const { describe, it } = t;

  describe('acquire', () => {
    it('takes a free key with the given ttl', async () => {
      const k = c.key('a');
      assert.equal(await c.adapter.inspect([k]), -2);
      assert.equal(granted(await c.adapter.acquire([k], owner(), LONG)), undefined);
      const ttl = await c.adapter.inspect([k]);
      assert.ok(ttl > 0 && ttl <= LONG, `ttl ${ttl}`);
    });

    it('takes several keys in one call', async () => {
      const keys = [c.key('a'), c.key('b'), c.key('c')];
      granted(await c.adapter.acquire(keys, owner(), LONG));
      for (const k of keys) assert.ok((await c.adapter.inspect([k])) > 0);
    });

    it('answers busy with the remaining ttl of the holder', async () => {
      const k = c.key('a');
      granted(await c.other.acquire([k], owner(), 1_000));
      const ttl = busyTtl(await c.adapter.acquire([k], owner(), LONG));
      assert.ok(ttl > 0 && ttl <= 1_000, `ttl ${ttl}`);
    });

    it('answers busy with the longest remaining ttl of the held keys', async () => {
      const [k1, k2, k3] = [c.key('a'), c.key('b'), c.key('c')];
      granted(await c.other.acquire([k1], owner(), 1_000));
      granted(await c.other.acquire([k2], owner(), 5_000));
      const ttl = busyTtl(await c.adapter.acquire([k1, k2, k3], owner(), LONG));
      assert.ok(ttl > 1_000 && ttl <= 5_000, `ttl ${ttl}`);
      assert.ok((await c.adapter.inspect([k1, k2, k3])) > 1_000);
    });

    it('takes nothing when one of the keys is held', async () => {
      const [held, free] = [c.key('held'), c.key('free')];
      const holder = owner();
      granted(await c.other.acquire([held], holder, LONG));
      busyTtl(await c.adapter.acquire([free, held], owner(), LONG));
      assert.equal(await c.adapter.inspect([free]), -2);
      assert.equal(await c.other.release([held], holder), 'ok');
    });

    it('answers a replay (every key already holds the value) as acquired, with one holder', async () => {
      for (const keys of [[c.key('one')], [c.key('a'), c.key('b')]]) {
        const value = owner();
        granted(await c.adapter.acquire(keys, value, LONG));
        granted(await c.other.acquire(keys, value, LONG));
        busyTtl(await c.other.acquire(keys, owner(), LONG));
        assert.equal(await c.adapter.release(keys, value), 'ok');
        assert.equal(await c.adapter.inspect(keys), -2);
      }
    });

    it('lets keys expire after their ttl', async () => {
      const keys = [c.key('a'), c.key('b')];
      granted(await c.adapter.acquire(keys, owner(), SHORT));
      assert.ok((await c.adapter.inspect(keys)) <= SHORT);
      await waitUntilGone(c.adapter, keys);
      granted(await c.other.acquire(keys, owner(), LONG));
    });
  });

  describe('extend', () => {
    it('resets the ttl of every key for the owner', async () => {
      const keys = [c.key('a'), c.key('b')];
      const value = owner();
      granted(await c.adapter.acquire(keys, value, SHORT));
      assert.equal(await c.adapter.extend(keys, value, LONG), 'ok');
      for (const k of keys) assert.ok((await c.adapter.inspect([k])) > SHORT);
    });

    it("answers 'taken' to a stale owner and leaves the new owner's ttl alone", async () => {
      const k = c.key('a');
      const stale = owner();
      granted(await c.adapter.acquire([k], stale, SHORT));
      await waitUntilGone(c.adapter, [k]);
      granted(await c.other.acquire([k], owner(), LONG));
      assert.equal(await c.adapter.extend([k], stale, 6 * LONG), 'taken');
      assert.ok((await c.adapter.inspect([k])) <= LONG);
    });

    it("re-creates a key the node lost for its owner, but answers 'expired'", async () => {
      const k = c.key('a');
      const value = owner();
      granted(await c.adapter.acquire([k], value, SHORT));
      await waitUntilGone(c.adapter, [k]);
      assert.equal(await c.adapter.extend([k], value, LONG), 'expired');
      assert.ok((await c.adapter.inspect([k])) > SHORT, 'the key is back with the new ttl');
      busyTtl(await c.other.acquire([k], owner(), LONG));
      // Repaired for the owner: its next extension is a full one, and its release works.
      assert.equal(await c.adapter.extend([k], value, LONG), 'ok');
      assert.equal(await c.adapter.release([k], value), 'ok');
    });

    it('repairs only the missing keys of a call and extends the others', async () => {
      const [mine, gone] = [c.key('mine'), c.key('gone')];
      const value = owner();
      granted(await c.adapter.acquire([mine], value, SHORT));
      assert.equal(await c.adapter.extend([mine, gone], value, LONG), 'expired');
      for (const k of [mine, gone]) assert.ok((await c.adapter.inspect([k])) > SHORT);
      assert.equal(await c.adapter.release([mine, gone], value), 'ok');
    });

    it('changes nothing, repairs nothing, when any key holds another value', async () => {
      const [mine, gone, theirs] = [c.key('mine'), c.key('gone'), c.key('theirs')];
      const value = owner();
      granted(await c.adapter.acquire([mine], value, LONG));
      granted(await c.other.acquire([theirs], owner(), LONG));
      assert.equal(await c.adapter.extend([mine, gone, theirs], value, 6 * LONG), 'taken');
      assert.ok((await c.adapter.inspect([mine])) <= LONG);
      assert.equal(await c.adapter.inspect([gone]), -2);
    });
  });

  describe('release', () => {
    it('deletes the keys of the owner', async () => {
      const keys = [c.key('a'), c.key('b')];
      const value = owner();
      granted(await c.adapter.acquire(keys, value, LONG));
      assert.equal(await c.adapter.release(keys, value), 'ok');
      assert.equal(await c.adapter.inspect(keys), -2);
      granted(await c.other.acquire(keys, owner(), LONG));
    });

    it("answers 'taken' to another value and leaves the holder's key in place", async () => {
      const k = c.key('a');
      const holder = owner();
      granted(await c.other.acquire([k], holder, LONG));
      assert.equal(await c.adapter.release([k], owner()), 'taken');
      assert.ok((await c.adapter.inspect([k])) > 0);
      assert.equal(await c.other.release([k], holder), 'ok');
    });

    it("answers 'expired' once the keys are gone", async () => {
      const k = c.key('a');
      const value = owner();
      granted(await c.adapter.acquire([k], value, SHORT));
      await waitUntilGone(c.adapter, [k]);
      assert.equal(await c.adapter.release([k], value), 'expired');
    });

    it('deletes the keys it owns even when others are gone or taken', async () => {
      const [mine, gone, theirs] = [c.key('mine'), c.key('gone'), c.key('theirs')];
      const value = owner();
      granted(await c.adapter.acquire([mine], value, LONG));
      assert.equal(await c.adapter.release([mine, gone], value), 'expired');
      assert.equal(await c.adapter.inspect([mine]), -2);

      granted(await c.adapter.acquire([mine], value, LONG));
      granted(await c.other.acquire([theirs], owner(), LONG));
      assert.equal(await c.adapter.release([mine, gone, theirs], value), 'taken');
      assert.equal(await c.adapter.inspect([mine]), -2);
      assert.ok((await c.adapter.inspect([theirs])) > 0);
    });
  });
}
