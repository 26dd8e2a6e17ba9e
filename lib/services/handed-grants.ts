import type { Grant, RoundContext } from './quorum-round.js';

/*
 * A lock handed over in-process (see HandOffs) reaches its waiter asleep, or in the middle of
 * something else: a round on the nodes, its subscription, a pause after a split vote. In the
 * second case the waiter takes it only once that step is over, so the grant may have waited,
 * and the waiter may leave without taking it (it gave up, or its round got the keys after all).
 */

/**
 * The grant to run on, for a waiter that takes `grant` after the previous owner's validity ran
 * out (a grant still valid is taken as it is): the validity its transfer was confirmed with,
 * awaited. `undefined` when no quorum confirmed the transfer in time: the grant has then been
 * given back (see {@link giveBack}), and the waiter goes on as after a busy round.
 */
export async function confirmedHanded(
  ctx: RoundContext,
  keys: readonly string[],
  grant: Grant,
  ttl: number,
  timeout: number,
): Promise<Grant | undefined> {
  grant.handOff?.send(); // if it is still waiting for its turn of the event loop
  const deadline = await grant.handOff?.confirmed;
  if (deadline !== undefined && deadline > ctx.clock.now()) return { ...grant, deadline };
  giveBack(ctx, keys, grant, ttl, timeout);
  return undefined;
}

/**
 * Frees what the transfer of a grant no waiter took set on the nodes: the new owner value,
 * compare-and-delete, sent after the transfer on each connection and repeated on nodes that do
 * not answer, as any failed round's take-back. The release notification wakes the waiters.
 */
export function giveBack(
  ctx: RoundContext,
  keys: readonly string[],
  grant: Grant,
  ttl: number,
  timeout: number,
): void {
  // The take-back must follow the transfer on each connection.
  grant.handOff?.send();
  void ctx.rollbacks
    .undo(
      ctx.adapters,
      [],
      { keys, value: grant.value, read: false, timeout, until: ctx.clock.now() + ttl },
      0,
    )
    .catch(() => undefined);
}
