import { HELPER_KEY_PREFIX, type LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { MAX_KEY_BYTES } from '../redlock.constants.js';
import { LockKeyError } from '../redlock.errors.js';
import { describe } from './lock-options.js';
import type { Target } from './quorum-round.js';
import { safeMessage } from '../redaction.js';

const NONE: readonly string[] = [];

/** One or several resource names; several are locked all or nothing. */
export type Resources = string | readonly string[];

/**
 * Validates resource names and maps them to keys (`keyPrefix + resource`), deduplicated, in
 * linear time: a request naming thousands of resources must not block the event loop (and
 * with it every other lock's renewal).
 */
export function buildTarget(
  keyPrefix: string,
  adapters: readonly LockAdapter[],
  resources: Resources,
): Target {
  // Most locks name one resource: no list, no set to deduplicate, no copies for them.
  if (typeof resources === 'string') {
    const keys = [keyOf(keyPrefix, resources, NONE)];
    const names = [resources];
    validateKeys(adapters, names, keys);
    return { resources: names, keys };
  }
  const list: readonly unknown[] = Array.isArray(resources) ? resources : [resources];
  if (list.length === 0) {
    throw new LockKeyError('Give at least one resource to lock.', {
      code: 'ERR_REDLOCK_EMPTY_KEY',
    });
  }
  const names: string[] = [];
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const resource of list) {
    const key = keyOf(keyPrefix, resource, names);
    if (seen.has(key)) continue;
    seen.add(key);
    names.push(resource as string);
    keys.push(key);
  }
  validateKeys(adapters, names, keys);
  // Exact-size copies: an array grown by push keeps room for 17 entries (152 bytes), and a
  // held lock keeps both arrays for as long as it lives.
  return { resources: names.slice(), keys: keys.slice() };
}

/** The key of one resource, validated; `before` are the resources named before it. */
function keyOf(keyPrefix: string, resource: unknown, before: readonly string[]): string {
  if (typeof resource !== 'string' || resource.length === 0) {
    throw new LockKeyError(`A resource must be a non-empty string, got ${describe(resource)}.`, {
      resources: before.slice(0, 10),
      code: resource === '' ? 'ERR_REDLOCK_EMPTY_KEY' : 'ERR_REDLOCK_INVALID_KEY',
    });
  }
  const key = keyPrefix + resource;
  if (key.startsWith(HELPER_KEY_PREFIX)) {
    // Helper keys (fencing counters) live there: a resource must never be able to name one.
    throw new LockKeyError(
      `Resource ${describe(resource)} would use a key reserved for the library's helper keys (starting with "\\u0000redlock:").`,
      { resources: [resource.slice(0, 64)], code: 'ERR_REDLOCK_INVALID_KEY' },
    );
  }
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new LockKeyError(
      `Key for resource ${describe(resource)} is ${Buffer.byteLength(key)} bytes; the limit is ${MAX_KEY_BYTES} (prefix included). Use a shorter name or a hash of it.`,
      { resources: [resource.slice(0, 64)], code: 'ERR_REDLOCK_KEY_TOO_LONG' },
    );
  }
  return key;
}

function validateKeys(
  adapters: readonly LockAdapter[],
  names: readonly string[],
  keys: readonly string[],
): void {
  for (const adapter of adapters) {
    try {
      adapter.validateKeys?.(keys);
    } catch (error) {
      throw new LockKeyError(`${adapter.name}: ${safeMessage(error)}`, {
        code: 'ERR_REDLOCK_CROSS_SLOT',
        resources: names.slice(0, 10),
        cause: error,
      });
    }
  }
}
