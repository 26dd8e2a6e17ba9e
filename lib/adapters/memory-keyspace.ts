import { type Expiring, ExpiringMap } from './expiring-map.js';

/**
 * The memory store's keys, shaped like the Redis keys the scripts in `redis-scripts.ts` keep,
 * so the memory adapter can follow those scripts step by step: a writer's key is a string
 * holding its owner value; readers share a key as a sorted set of owner value -> expiry, where
 * the member {@link WRITER_INTENT} marks a waiting writer. A key lives as long as its
 * longest-lived member, and an emptied set is gone, as in Redis.
 */

/** A key held by one writer. */
export interface WriterEntry extends Expiring {
  readonly kind: 'writer';
  readonly value: string;
}

/** A key held by readers: member -> expiry, on the store's clock. */
export interface ReadersEntry extends Expiring {
  readonly kind: 'readers';
  readonly members: Map<string, number>;
}

export type Entry = WriterEntry | ReadersEntry;

/** The member that marks a waiting writer (the same name as in the scripts). */
export const WRITER_INTENT = '\u0000writer';
/** How long a writer that found readers keeps new readers out (renewed while it waits). */
export const INTENT_MS = 1_000;

/** Entries checked per call: enough to outpace one new entry per call. */
const SWEEP_STEP = 4;

export class Keyspace {
  readonly entries = new ExpiringMap<Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** The live entry of `key` (an expired one is dropped on the way). */
  get(key: string, now: number): Entry | undefined {
    return this.entries.get(key, now);
  }

  setWriter(key: string, value: string, expiresAt: number): void {
    this.entries.set(key, { kind: 'writer', value, expiresAt });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** ZREMRANGEBYSCORE up to `now`, then the readers left (the writer mark does not count). */
  liveReaders(key: string, entry: ReadersEntry, now: number): number {
    for (const [member, expiresAt] of entry.members) {
      if (expiresAt <= now) entry.members.delete(member);
    }
    if (entry.members.size === 0) this.entries.delete(key);
    return entry.members.size - (entry.members.has(WRITER_INTENT) ? 1 : 0);
  }

  /** The readers' set of `key`, created empty when the key is free. */
  readers(key: string, now: number): ReadersEntry {
    const entry = this.entries.get(key, now);
    if (entry?.kind === 'readers') return entry;
    const created: ReadersEntry = { kind: 'readers', members: new Map(), expiresAt: now };
    this.entries.set(key, created);
    return created;
  }

  /** The key lives exactly as long as its longest-lived member (or is gone when it has none). */
  keepUntilLast(key: string, entry: ReadersEntry, now: number): void {
    if (entry.members.size === 0) {
      this.entries.delete(key);
      return;
    }
    let last = -Infinity;
    for (const expiresAt of entry.members.values()) last = Math.max(last, expiresAt);
    entry.expiresAt = Math.max(now + 1, last);
  }

  /** The expiry of the longest-lived reader (not the writer mark). */
  lastReader(entry: ReadersEntry): number {
    let last = -Infinity;
    for (const [member, expiresAt] of entry.members) {
      if (member !== WRITER_INTENT) last = Math.max(last, expiresAt);
    }
    return last;
  }

  sweep(now: number, budget = SWEEP_STEP): void {
    this.entries.sweep(now, budget);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Remaining ttl in whole ms, rounded up like a PTTL that never undershoots. */
export function remaining(entry: Expiring, now: number): number {
  return Math.ceil(entry.expiresAt - now);
}

/**
 * The busy reply of a call that found held keys: the longest remaining ttl, where -1 (no
 * expiry) beats everything, as the scripts' `busy` does.
 */
export class Longest {
  value: number | undefined;

  add(ttl: number): void {
    const longest = this.value;
    if (longest === undefined || ttl === -1 || (longest !== -1 && ttl > longest)) this.value = ttl;
  }
}
