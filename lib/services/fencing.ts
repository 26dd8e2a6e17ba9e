/**
 * Fencing tokens: what the engine accepts from a node and how it picks the token of a quorum.
 *
 * Each node keeps one counter that only ever goes up and never expires; a fenced acquisition
 * raises it on every node that grants. The token handed out is the largest value among the
 * granting quorum, written back to that quorum when the nodes disagree (see QuorumRound), so
 * any later quorum shares a node that already stores at least this token and answers the next
 * fenced acquisition with more. Nothing here depends on a client clock.
 */

/** A node's fence reply that the engine refuses to turn into a token. */
export class FenceError extends Error {}

/**
 * The token a node returned, as a safe integer (at least `min`: a writer's is at least 1, a
 * reader's may be 0 when no fenced writer ever held the resource). Rejects anything else (a negative, a fraction,
 * `null`, a counter past 2^53 - 1 that a double cannot hold exactly): a token that might not be
 * larger than the previous one must never reach the protected storage.
 */
export function parseFence(reply: unknown, min = 1): number {
  const value =
    typeof reply === 'string' && /^\d+$/.test(reply)
      ? Number(reply)
      : typeof reply === 'number'
        ? reply
        : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    const shown = typeof reply === 'string' ? reply.slice(0, 32) : String(reply);
    throw new FenceError(
      Number.isFinite(value) && value > Number.MAX_SAFE_INTEGER
        ? `fencing counter ${shown} is past 2^53 - 1 and cannot be handed out exactly; reset the counter keys only after every protected store has been reset too`
        : `node returned an invalid fencing token (${shown})`,
    );
  }
  return value;
}
