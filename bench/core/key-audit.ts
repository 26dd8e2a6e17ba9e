/**
 * What a contender leaves in Redis. Every resource name carries its contender's id
 * (`b:<id>:…`, see `resourceName`), so a key found on a node is attributed to whoever made it,
 * whatever prefix the library added; ours' helper keys live under `\u0000redlock:` (fencing
 * counters and the like) and are attributed to ours. Memory is `MEMORY USAGE` per key
 * (sampled when there are many, then scaled to the count).
 */
import type { Redis } from 'ioredis';

export const OURS_HELPERS = 'ours (helper keys)';
const HELPER_PREFIX = '\u0000redlock:';
const OWNER = /(?:^|[:{])b:([a-z-]+):/;
/** Keys per owner whose size and ttl are read; the rest are scaled from these. */
const SAMPLE = 1_000;

export interface OwnerKeys {
  readonly owner: string;
  readonly keys: number;
  /** `MEMORY USAGE`, summed (scaled up when sampled). */
  readonly bytes: number;
  /** Longest remaining ttl among the sampled keys, ms; -1 when a key has none. */
  readonly maxPttlMs: number;
  /** Sampled keys without an expiry (they stay until someone deletes them). */
  readonly persistent: number;
  /** A few key names, printable. */
  readonly examples: readonly string[];
}

export function ownerOf(key: string): string {
  if (key.startsWith(HELPER_PREFIX)) return OURS_HELPERS;
  return OWNER.exec(key)?.[1] ?? 'unattributed';
}

async function scanAll(client: Redis, each: (key: string) => void): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) each(key);
  } while (cursor !== '0');
}

/** Every key name on `clients` (prefixed with the node index), for a baseline. */
export async function keyNames(clients: readonly Redis[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const [index, client] of clients.entries()) {
    await scanAll(client, (key) => names.add(`${index}/${key}`));
  }
  return names;
}

/**
 * Every key on `clients`, grouped by owner; keys in `baseline` (from `keyNames`) are left out,
 * so what a library keeps per instance is not booked as what it keeps per lock.
 */
export async function auditKeys(
  clients: readonly Redis[],
  baseline?: ReadonlySet<string>,
): Promise<OwnerKeys[]> {
  const byOwner = new Map<string, { client: Redis; key: string }[]>();
  for (const [index, client] of clients.entries()) {
    await scanAll(client, (key) => {
      if (baseline?.has(`${index}/${key}`)) return;
      const owner = ownerOf(key);
      const list = byOwner.get(owner) ?? [];
      list.push({ client, key });
      byOwner.set(owner, list);
    });
  }
  const out: OwnerKeys[] = [];
  for (const [owner, list] of byOwner) {
    const sample = list.slice(0, SAMPLE);
    const read = await Promise.all(
      sample.map(async ({ client, key }) => {
        const [usage, pttl] = await Promise.all([
          client.memory('USAGE', key, 'SAMPLES', 0),
          client.pttl(key),
        ]);
        return { bytes: usage ?? 0, pttl };
      }),
    );
    const sampledBytes = read.reduce((sum, r) => sum + r.bytes, 0);
    out.push({
      owner,
      keys: list.length,
      bytes: sample.length === 0 ? 0 : (sampledBytes / sample.length) * list.length,
      maxPttlMs: read.some((r) => r.pttl === -1) ? -1 : Math.max(0, ...read.map((r) => r.pttl)),
      persistent: read.filter((r) => r.pttl === -1).length,
      examples: sample.slice(0, 3).map(({ key }) => JSON.stringify(key).slice(1, -1)),
    });
  }
  return out.sort((a, b) => a.owner.localeCompare(b.owner));
}

/** One audit, labelled with the moment it was taken. */
export interface Audit {
  readonly when: string;
  readonly nodes: number;
  readonly owners: readonly OwnerKeys[];
}
