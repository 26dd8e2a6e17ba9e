import { createHash } from 'node:crypto';
import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { HELPER_KEY_PREFIX } from '../interfaces/lock-adapter.interface.js';
import type {
  InspectedLock,
  InspectedNode,
  InspectOptions,
  LockHolder,
  LockInspection,
} from '../interfaces/lock-inspection.interface.js';
import type { KeyListing, KeyState } from '../interfaces/lock-inspector.interface.js';
import { escapeGlob, globProblem } from '../adapters/redis-glob.js';
import { MAX_KEY_BYTES } from '../redlock.constants.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { describeNodeError } from '../redaction.js';
import type { Clock } from './clock.js';
import { type InstanceInfo, ownerParts, parseInstanceRecord } from './instance-record.js';
import { describe } from './lock-options.js';
import type { NodeGuard } from './node-guard.js';
import type { NodeResult } from './quorum.js';

/** The engine parts an inspection needs. */
export interface InspectionParts {
  readonly adapters: readonly LockAdapter[];
  readonly keyPrefix: string;
  readonly quorum: number;
  readonly clock: Clock;
  readonly nodes: NodeGuard;
  /** How long each node may take to list (SCAN is slower than a lock call). */
  readonly timeout: number;
  /** The locks this engine holds: owner value -> fencing token (if any). */
  held(): ReadonlyMap<string, number | undefined>;
  ready(timeout: number): Promise<void>;
}

/** @default limit of `inspect()` */
export const DEFAULT_INSPECT_LIMIT = 1_000;

/**
 * The locks held on the nodes whose resource matches `pattern` (a Redis glob: `*`, `?`,
 * `[a-z]`, `\x`), merged over the nodes. Each node lists with `SCAN` (never `KEYS`); holders are
 * named from their owner values and the instance records those point to, so nothing was
 * written per lock to make this possible.
 */
export async function inspectLocks(
  parts: InspectionParts,
  pattern = '*',
  options: InspectOptions = {},
): Promise<LockInspection> {
  validatePattern(pattern);
  const limit = options.limit ?? DEFAULT_INSPECT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RedlockConfigError('limit', `expected a whole number >= 1, got ${describe(limit)}`);
  }
  const { adapters, keyPrefix, clock } = parts;
  await parts.ready(parts.timeout);
  const match = escapeGlob(keyPrefix) + pattern;
  const results = await parts.nodes.always(
    adapters,
    (adapter): Promise<KeyListing> =>
      adapter.inspector ? adapter.inspector.list(match, limit) : Promise.reject(UNSUPPORTED),
    parts.timeout,
  );
  const at = clock.wallNow();
  const byKey = new Map<string, KeyState[]>();
  let truncated = false;
  const nodes: InspectedNode[] = results.map((result, index) =>
    nodeSummary(adapters[index]!.name, result),
  );
  for (const result of results) {
    if (result.status !== 'ok') continue;
    truncated ||= result.value.truncated;
    for (const state of result.value.keys) {
      const states = byKey.get(state.key);
      if (states) states.push(state);
      else byKey.set(state.key, [state]);
    }
  }
  const instances = await readInstances(parts, tagsOf(byKey));
  const held = parts.held();
  const locks: InspectedLock[] = [];
  for (const [key, states] of byKey) {
    if (!key.startsWith(keyPrefix) || key.startsWith(HELPER_KEY_PREFIX)) continue;
    locks.push(merge(key.slice(keyPrefix.length), states, parts.quorum, instances, held));
  }
  locks.sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
  return { locks: locks.slice(0, limit), nodes, truncated: truncated || locks.length > limit, at };
}

/** Refuses what no store could match the same way: see `globProblem`. */
export function validatePattern(pattern: unknown): asserts pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new RedlockConfigError('pattern', `expected a non-empty glob, got ${describe(pattern)}`);
  }
  if (Buffer.byteLength(pattern) > MAX_KEY_BYTES) {
    throw new RedlockConfigError('pattern', `longer than ${MAX_KEY_BYTES} bytes`);
  }
  const problem = globProblem(pattern);
  if (problem) throw new RedlockConfigError('pattern', `not a valid glob: ${problem}`);
}

const UNSUPPORTED = new Error('this node cannot be inspected (its adapter has no inspector)');

function nodeSummary(node: string, result: NodeResult<KeyListing>): InspectedNode {
  switch (result.status) {
    case 'ok':
      return { node, status: 'ok', locks: result.value.keys.length };
    case 'error':
      return result.error === UNSUPPORTED
        ? { node, status: 'unsupported', message: UNSUPPORTED.message, locks: 0 }
        : { node, status: 'error', message: describeNodeError(result.error), locks: 0 };
    default:
      return { node, status: 'timeout', message: 'no answer in time', locks: 0 };
  }
}

function tagsOf(byKey: ReadonlyMap<string, KeyState[]>): string[] {
  const tags = new Set<string>();
  for (const states of byKey.values()) {
    for (const state of states) {
      for (const holder of state.holders) {
        const tag = ownerParts(holder.value)?.tag;
        if (tag) tags.add(tag);
      }
    }
  }
  return [...tags];
}

/** The records of `tags`, from whichever node has each (nodes restarted may have lost some). */
async function readInstances(
  parts: InspectionParts,
  tags: readonly string[],
): Promise<Map<string, InstanceInfo>> {
  const found = new Map<string, InstanceInfo>();
  if (tags.length === 0) return found;
  const results = await parts.nodes.always(
    parts.adapters,
    (adapter) => adapter.inspector?.instances(tags) ?? Promise.resolve(new Map<string, string>()),
    parts.timeout,
  );
  for (const result of results) {
    if (result.status !== 'ok') continue;
    for (const [tag, text] of result.value) {
      if (found.has(tag)) continue;
      const info = parseInstanceRecord(text);
      if (info) found.set(tag, info);
    }
  }
  return found;
}

/** One resource's states over the nodes, as one lock. */
function merge(
  resource: string,
  states: readonly KeyState[],
  quorum: number,
  instances: ReadonlyMap<string, InstanceInfo>,
  held: ReadonlyMap<string, number | undefined>,
): InspectedLock {
  const owners = new Map<string, { ttl: number; nodes: number }>();
  let fencingCounter: bigint | undefined;
  let waiters = 0;
  let writerWaiting = false;
  for (const state of states) {
    for (const { value, ttl } of state.holders) {
      const owner = owners.get(value);
      if (owner) {
        owner.nodes += 1;
        owner.ttl = ttl === -1 ? owner.ttl : owner.ttl === -1 ? ttl : Math.min(owner.ttl, ttl);
      } else owners.set(value, { ttl, nodes: 1 });
    }
    if (state.fenceCounter !== undefined) {
      const counter = BigInt(state.fenceCounter);
      if (fencingCounter === undefined || counter > fencingCounter) fencingCounter = counter;
    }
    // Each waiting process subscribes on every node: the most any node counts is the number.
    waiters = Math.max(waiters, state.waiters);
    writerWaiting ||= state.writerWaiting;
  }
  const holders: LockHolder[] = [...owners].map(([value, owner]) =>
    holder(value, owner, instances, held),
  );
  holders.sort((a, b) => b.nodes - a.nodes || b.ttl - a.ttl);
  const lock: InspectedLock = {
    resource,
    mode: states.some((state) => state.mode === 'read') ? 'read' : 'write',
    holders,
    ttl: holders.reduce(
      (longest, h) => (h.ttl === -1 || longest === -1 ? -1 : Math.max(longest, h.ttl)),
      0,
    ),
    nodes: states.length,
    quorum: holders.some((h) => h.nodes >= quorum),
    waiters,
    writerWaiting,
  };
  if (fencingCounter === undefined) return lock;
  const exact = fencingCounter <= BigInt(Number.MAX_SAFE_INTEGER);
  return { ...lock, fencingCounter: exact ? Number(fencingCounter) : fencingCounter.toString() };
}

function holder(
  value: string,
  owner: { ttl: number; nodes: number },
  instances: ReadonlyMap<string, InstanceInfo>,
  held: ReadonlyMap<string, number | undefined>,
): LockHolder {
  const parts = ownerParts(value);
  const info = parts && instances.get(parts.tag);
  const token = held.get(value);
  return {
    // 48 bits of a hash: tells holders apart, reveals nothing usable of the value.
    id: createHash('sha256').update(value).digest('base64url').slice(0, 8),
    ...(info ? { instance: { tag: parts.tag, ...info } } : {}),
    ...(parts ? { acquiredAt: parts.acquiredAt } : {}),
    ttl: owner.ttl,
    nodes: owner.nodes,
    local: held.has(value),
    ...(token !== undefined ? { fencingToken: token } : {}),
  };
}
