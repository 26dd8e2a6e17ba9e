/**
 * What a released, uncontended lock leaves in Redis after its ttl. Each contender takes and
 * releases `locks` locks with a short ttl on one node; the node is audited right after, and
 * again once the ttl (plus a grace for Redis' lazy/sampled expiry) has passed. Anything still
 * there then is kept by something other than the lock's own expiry: a helper key with a longer
 * ttl, or no ttl at all. Keys that exist before the first lock (a library's per-instance
 * records) are counted apart: they are not left by a lock.
 */
import { sleep } from '../core/clock.js';
import type { WorkloadEnv } from '../core/config.js';
import {
  type Contender,
  type ContenderId,
  contenderInfo,
  createContender,
  resourceName,
} from '../core/contenders.js';
import {
  type Audit,
  auditKeys,
  keyNames,
  OURS_HELPERS,
  type OwnerKeys,
} from '../core/key-audit.js';
import { runLanes } from './throughput.js';

export interface LingeringRow {
  readonly contender: ContenderId;
  readonly label: string;
  readonly locks: number;
  readonly errors: number;
  /** Keys the contender had after 10 warm-up locks: per instance, not per lock. */
  readonly perInstance: { keys: number; bytes: number };
  /** Keys (and bytes) of this contender right after the last release. */
  readonly afterRelease: { keys: number; bytes: number };
  /** … and once the ttl plus the grace passed. */
  readonly afterTtl: { keys: number; bytes: number; maxPttlMs: number; examples: string[] };
}

export interface LingeringBlock {
  readonly ttl: number;
  readonly graceMs: number;
  readonly rows: readonly LingeringRow[];
  /** What was on the node before the probe emptied it (counted, never silently flushed). */
  readonly before: Audit;
}

function owned(owners: readonly OwnerKeys[], id: string): OwnerKeys[] {
  // Only ours writes under `\u0000redlock:`; the probe runs ours (the service) alone of its kind.
  return owners.filter((o) => o.owner === id || (id === 'ours' && o.owner === OURS_HELPERS));
}

export async function runLingering(
  ids: readonly ContenderId[],
  { urls, admin, config, log }: WorkloadEnv,
): Promise<LingeringBlock> {
  const { locks, ttl, graceMs } = config.lingering;
  const before: Audit = {
    when: 'before the lingering probe',
    nodes: 1,
    owners: await auditKeys(admin.first(1)),
  };
  await admin.flushAll(1);
  const contenders = new Map<ContenderId, Contender>();
  const errors = new Map<string, number>();
  try {
    for (const id of ids) {
      const contender = await createContender(id, urls.slice(0, 1), {
        mode: 'uncontended',
        ttl,
        waitMs: 0,
      });
      contenders.set(id, contender);
    }
    // A few locks first, so state a library creates lazily once per instance (ours writes an
    // instance record on its first lock) exists before the baseline; whatever exists then
    // belongs to the instances, not to the locks measured next.
    for (const [id, contender] of contenders) {
      await runLanes(contender, resourceName(id, 'linger-warm', ''), 1, 5_000, 10, undefined);
    }
    const baseline = await keyNames(admin.first(1));
    const instances = await auditKeys(admin.first(1));
    for (const [id, contender] of contenders) {
      const outcome = await runLanes(
        contender,
        resourceName(id, 'linger', ''),
        16,
        30_000,
        locks,
        undefined,
      );
      errors.set(id, outcome.errors);
    }
    const released = await auditKeys(admin.first(1), baseline);
    await sleep(ttl + graceMs);
    const expired = await auditKeys(admin.first(1), baseline);
    const rows = ids.map((id): LingeringRow => {
      const now = owned(released, id);
      const later = owned(expired, id);
      const sum = (list: OwnerKeys[], pick: (o: OwnerKeys) => number): number =>
        list.reduce((total, o) => total + pick(o), 0);
      const row: LingeringRow = {
        contender: id,
        label: contenderInfo(id).label(1),
        locks,
        errors: errors.get(id) ?? 0,
        perInstance: {
          keys: sum(owned(instances, id), (o) => o.keys),
          bytes: sum(owned(instances, id), (o) => o.bytes),
        },
        afterRelease: { keys: sum(now, (o) => o.keys), bytes: sum(now, (o) => o.bytes) },
        afterTtl: {
          keys: sum(later, (o) => o.keys),
          bytes: sum(later, (o) => o.bytes),
          maxPttlMs: later.some((o) => o.maxPttlMs === -1)
            ? -1
            : Math.max(0, ...later.map((o) => o.maxPttlMs)),
          examples: later.flatMap((o) => o.examples).slice(0, 3),
        },
      };
      log(
        `  lingering ${row.label}: ${row.afterRelease.keys} keys right after release, ` +
          `${row.afterTtl.keys} keys (${row.afterTtl.bytes.toFixed(0)} B) ${ttl + graceMs} ms later`,
      );
      return row;
    });
    return { ttl, graceMs, rows, before };
  } finally {
    await Promise.allSettled([...contenders.values()].map((contender) => contender.close()));
  }
}
