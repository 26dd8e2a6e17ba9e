import type { ForcedRelease } from '../interfaces/lock-inspector.interface.js';
import type {
  ForceReleaseOptions,
  ForceReleaseResult,
} from '../interfaces/lock-inspection.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { redact, truncate } from '../redaction.js';
import { RedlockConfigError, RedlockUnavailableError } from '../redlock.errors.js';
import type { InspectionParts } from './lock-inspection.js';
import { describe } from './lock-options.js';
import { describeNodes } from './quorum.js';
import type { Target } from './quorum-round.js';

/** What a force release needs beyond an inspection's parts. */
export interface ForceReleaseParts extends InspectionParts {
  readonly logger: RedlockLogger | undefined;
  target(resource: string): Target;
  emit(event: RedlockEvent): void;
}

/** Longest `by` kept: it goes into log lines and events. */
const MAX_BY = 200;

/**
 * Deletes the resource's key on every node whoever holds it, announces the release (waiters go at
 * once), raises the fencing counters, then logs and emits `forceReleased` naming `by`. The
 * holder is not asked: it learns it at its next extension (`lock.signal` aborts with
 * `LockLostError`), or not at all if it never extends, which is why the fencing counter matters.
 *
 * @throws RedlockUnavailableError when fewer than a quorum of nodes answered (the nodes that
 *   did answer have deleted the key).
 */
export async function forceRelease(
  parts: ForceReleaseParts,
  resource: string,
  options: ForceReleaseOptions,
): Promise<ForceReleaseResult> {
  if (typeof resource !== 'string') {
    throw new RedlockConfigError(
      'resource',
      `expected one resource name, got ${describe(resource)}`,
    );
  }
  const by = auditName(options?.by);
  const [key] = parts.target(resource).keys as [string];
  await parts.ready(parts.timeout);
  const results = await parts.nodes.always(
    parts.adapters,
    (adapter): Promise<ForcedRelease> =>
      adapter.inspector
        ? adapter.inspector.forceRelease(key)
        : Promise.reject(
            new Error('this node cannot force-release (its adapter has no inspector)'),
          ),
    parts.timeout,
  );
  let deleted = 0;
  let answered = 0;
  let counter: bigint | undefined;
  for (const result of results) {
    if (result.status !== 'ok') continue;
    answered += 1;
    if (result.value.deleted) deleted += 1;
    const raised = result.value.fenceCounter;
    if (raised !== undefined && (counter === undefined || BigInt(raised) > counter)) {
      counter = BigInt(raised);
    }
  }
  const nodes = describeNodes(parts.adapters, results, (reply) =>
    reply.deleted ? 'acquired' : 'expired',
  );
  const fencingCounter =
    counter === undefined
      ? undefined
      : counter <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(counter)
        : counter.toString();
  const what = truncate(resource, 200);
  const total = parts.adapters.length;
  parts.logger?.warn(
    `Lock on ${what} was force-released by ${by}: deleted on ${deleted} of ${total} nodes` +
      (fencingCounter === undefined ? '' : `, fencing counter raised to ${fencingCounter}`) +
      `; ${answered} of ${total} nodes answered.`,
  );
  parts.emit({ type: 'forceReleased', resources: [resource], by, deleted, fencingCounter });
  if (answered < parts.quorum) {
    throw new RedlockUnavailableError(
      `Force release of ${what}: only ${answered} of ${total} nodes answered (${parts.quorum} needed); the others may still hold it until its ttl.`,
      { resources: [resource], nodes },
    );
  }
  return {
    resource,
    deleted,
    nodes,
    ...(fencingCounter === undefined ? {} : { fencingCounter }),
  };
}

/** `by` as it may appear in a log line: one line, bounded, free of credentials. */
function auditName(by: unknown): string {
  // eslint-disable-next-line no-control-regex -- a line break would forge a second log line
  const name = typeof by === 'string' ? by.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() : '';
  if (name.length === 0) {
    throw new RedlockConfigError(
      'by',
      `name who force-releases the lock (for the log and the event), got ${describe(by)}`,
    );
  }
  return truncate(redact(name), MAX_BY);
}
