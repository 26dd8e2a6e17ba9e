import assert from 'node:assert/strict';
import { HELPER_KEY_PREFIX } from '../interfaces/lock-adapter.interface.js';
import {
  type ContractContext,
  type ContractTestFunctions,
  fenced,
  granted,
  LONG,
  owner,
  SHORT,
  waitUntilGone,
} from './contract-support.js';

/**
 * Fencing: one counter per node (per slot on a Cluster) that never expires, moves up by one per
 * fenced acquisition and otherwise only by `syncFence`. Tokens are compared exactly (bigint).
 */
export function fencingContract(c: ContractContext, t: ContractTestFunctions): void {
  const { describe, it } = t;

  /** A fenced acquisition and release of `keys`, returning the token. */
  const cycle = async (keys: readonly string[]): Promise<bigint> => {
    const value = owner();
    const token = fenced(await c.adapter.acquire(keys, value, LONG, { fence: true }));
    assert.equal(await c.adapter.release(keys, value), 'ok');
    return token;
  };

  describe('fencing', () => {
    it('raises the counter by exactly one per fenced acquisition, across keys', async () => {
      const first = await cycle([c.key('a')]);
      assert.equal(await cycle([c.key('a')]), first + 1n);
      assert.equal(await cycle([c.key('b')]), first + 2n);
      // Several keys: still one step, not one per key.
      assert.equal(await cycle([c.key('a'), c.key('b'), c.key('c')]), first + 3n);
    });

    it('leaves the counter alone on acquisitions without fence', async () => {
      const first = await cycle([c.key('a')]);
      for (const keys of [[c.key('a')], [c.key('a'), c.key('b')]]) {
        const value = owner();
        assert.equal(granted(await c.adapter.acquire(keys, value, LONG)), undefined);
        assert.equal(await c.adapter.extend(keys, value, LONG), 'ok');
        assert.equal(await c.adapter.release(keys, value), 'ok');
      }
      assert.equal(await cycle([c.key('a')]), first + 1n);
    });

    it('answers a replayed fenced acquisition with the same token, counting once', async () => {
      const k = c.key('a');
      const value = owner();
      const token = fenced(await c.adapter.acquire([k], value, LONG, { fence: true }));
      assert.equal(fenced(await c.other.acquire([k], value, LONG, { fence: true })), token);
      assert.equal(await c.adapter.release([k], value), 'ok');
      assert.equal(await cycle([k]), token + 1n);
    });

    it('keeps the counter after the lock expired', async () => {
      const k = c.key('a');
      const token = fenced(await c.adapter.acquire([k], owner(), SHORT, { fence: true }));
      await waitUntilGone(c.adapter, [k]);
      assert.equal(await cycle([k]), token + 1n);
    });

    it('keeps the counter in the helper namespace, without expiry', async () => {
      if (!c.target.fenceCounter) return;
      const keys = [c.key('a')];
      await cycle(keys);
      const counter = await c.target.fenceCounter(keys);
      assert.ok(
        counter.key.startsWith(HELPER_KEY_PREFIX),
        `the counter key ${JSON.stringify(counter.key)} is not under HELPER_KEY_PREFIX`,
      );
      assert.equal(counter.ttl, -1, 'the counter must never expire');
    });

    it('raises the counter on syncFence by the owner, never lowers it', async () => {
      const k = c.key('a');
      const value = owner();
      const token = fenced(await c.adapter.acquire([k], value, LONG, { fence: true }));
      const raised = token + 100n;
      assert.equal(await c.adapter.syncFence([k], value, String(raised)), 'ok');
      assert.equal(await c.adapter.syncFence([k], value, String(token - 1n)), 'ok');
      assert.equal(await c.adapter.syncFence([k], value, '0'), 'ok');
      assert.equal(await c.adapter.release([k], value), 'ok');
      assert.equal(await cycle([k]), raised + 1n);
    });

    it("answers 'taken' to syncFence by another owner and changes nothing", async () => {
      const k = c.key('a');
      const value = owner();
      const token = fenced(await c.adapter.acquire([k], value, LONG, { fence: true }));
      assert.equal(await c.other.syncFence([k], owner(), String(token + 1_000n)), 'taken');
      assert.equal(await c.adapter.release([k], value), 'ok');
      assert.equal(await cycle([k]), token + 1n);
    });

    it("answers 'expired' to syncFence once the keys are gone and changes nothing", async () => {
      const k = c.key('a');
      const value = owner();
      const token = fenced(await c.adapter.acquire([k], value, SHORT, { fence: true }));
      await waitUntilGone(c.adapter, [k]);
      assert.equal(await c.adapter.syncFence([k], value, String(token + 1_000n)), 'expired');
      assert.equal(await cycle([k]), token + 1n);
    });

    // Last: it leaves the counter past 2^53, where every later token is a string.
    it('hands out counters past 2^53 - 1 exactly, as decimal strings', async () => {
      const k = c.key('a');
      const value = owner();
      fenced(await c.adapter.acquire([k], value, LONG, { fence: true }));
      const top = BigInt(Number.MAX_SAFE_INTEGER);
      assert.equal(await c.adapter.syncFence([k], value, String(top)), 'ok');
      assert.equal(await c.adapter.release([k], value), 'ok');
      const next = await c.adapter.acquire([k], value, LONG, { fence: true });
      assert.ok(next.acquired && typeof next.fence === 'string', 'past 2^53 - 1, a string');
      const token = fenced(next);
      assert.ok(token > top);
      assert.equal(await c.adapter.release([k], value), 'ok');
      assert.equal(await cycle([k]), token + 1n);
    });
  });
}
