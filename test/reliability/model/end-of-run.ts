/**
 * The end of a run, once every task settled: no section left open, the scope checks, liveness
 * (locks and permits), no key or lease left once the ttls passed, and a prompt shutdown (also
 * with a node stopped).
 */
import { clearTimeout, setTimeout } from 'node:timers';
import { checkScopes } from './checks.js';
import type { RunContext } from './context.js';
import { settlesWithin } from './helpers.js';
import type { RunWorld } from './world.js';

/** Heals every fault and checks what must hold after everything settled; closes the engines. */
export async function finish(ctx: RunContext, runWorld: RunWorld): Promise<void> {
  for (const timer of ctx.timers) clearTimeout(timer);
  ctx.timers.clear();
  await Promise.allSettled(ctx.heals.splice(0).map((heal) => heal()));
  if (ctx.witness.open > 0) {
    ctx.fail('harness', `${ctx.witness.open} section(s) never left`);
  }
  checkScopes(ctx);
  // Healed faults may leave commands on their way (delayed, queued while disconnected): a
  // network settles before anyone can say what the nodes hold.
  const quiet = ctx.now() + 3_000;
  while (!runWorld.idle() && ctx.now() < quiet) {
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
  const liveness = ctx.witness.checkLiveness(ctx.windows);
  ctx.book.check(ctx.plan.nodes, ctx.windows);
  ctx.stats.livenessChecked = liveness.checked;
  ctx.stats.longestGapMs = Math.round(liveness.longestGap);

  // Keys: each expires by itself within its ttl, and nothing renews it any more.
  let keys = await runWorld.lockKeys();
  if (process.env.RELIABILITY_TRACE === '1') {
    process.stdout.write(
      `[reliability] keys at +${Math.round(ctx.now() - ctx.origin)}: ${JSON.stringify(keys)}\n`,
    );
  }
  for (const key of keys) {
    if (key.pttl === -1 || key.pttl > ctx.maxTtl + 50) {
      ctx.fail('key-without-bound', `node ${key.node} holds ${key.key} with pttl ${key.pttl}`);
    }
  }
  const registered = ctx.engines.some((engine) => engine.heldCount > 0);
  const longest = Math.max(0, ...keys.map((k) => k.pttl));
  if (longest > 0 || registered) {
    // No event tells that a ttl ran out: wait for it (at most one ttl).
    const wait = Math.min(Math.max(longest, registered ? ctx.maxTtl : 0), ctx.maxTtl) + 30;
    await new Promise<void>((resolve) => setTimeout(resolve, wait));
    keys = await runWorld.lockKeys();
    const late = Math.max(0, ...keys.map((k) => k.pttl));
    if (late > 0) {
      // A write the network still held when the quiet wait above gave up (it is capped) can
      // land afterwards and set a key with a fresh ttl. That key too must expire within its
      // own ttl, with nothing renewing it: one more wait for it, then none may remain.
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(late, ctx.maxTtl) + 30));
      keys = await runWorld.lockKeys();
    }
    for (const key of keys) {
      ctx.fail(
        'key-left-behind',
        `node ${key.node} still holds ${key.key} (pttl ${key.pttl}) after every scope ended and the ttl passed`,
      );
    }
    ctx.engines.forEach((engine, index) => {
      if (engine.heldCount > 0) {
        ctx.fail(
          'lease-leak',
          `engine e${index} still registers ${engine.heldCount} lease(s) after every scope ended and the ttl passed`,
        );
      }
    });
  }

  // Shutdown: returns promptly, also with a node stopped.
  const resume = ctx.plan.closeWhilePaused ? await runWorld.pauseNode(0) : undefined;
  const closeStarted = ctx.now();
  const closing = Promise.allSettled([
    ...ctx.engines.map((engine) => engine.close()),
    ctx.observer!.close(),
  ]);
  const closed = await settlesWithin(closing, 2_000);
  if (!closed) ctx.fail('hang', 'Redlock.close() did not return within 2 s');
  else if (ctx.now() - closeStarted > 2 * ctx.nt + ctx.world.slack) {
    ctx.fail('slow-settle', `close() took ${Math.round(ctx.now() - closeStarted)} ms`);
  }
  // The adapters close within a bounded time too, also on a stopped node.
  const adaptersClosed = runWorld.closeAdapters();
  const done = await settlesWithin(adaptersClosed, 3_000);
  if (!done) ctx.fail('hang', 'closing the adapters did not return within 3 s');
  await resume?.();
}
