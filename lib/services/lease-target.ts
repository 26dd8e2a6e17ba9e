/**
 * What a lease holds: the resources it covers and the keys it holds itself on the nodes.
 *
 * Most locks hold one resource under the key `keyPrefix + resource`. For them only the name is
 * kept, and the key and the lists are made when used (a release, an error): held locks are
 * counted in the thousands, and two one-entry arrays plus the key cost more than the lease.
 */
export type LeaseTarget =
  string | { readonly resources: readonly string[]; readonly keys: readonly string[] };

/** The compact form when `resources` is one resource under its own key, else both lists. */
export function leaseTarget(
  resources: readonly string[],
  keys: readonly string[],
  keyPrefix: string,
): LeaseTarget {
  return resources.length === 1 && keys.length === 1 && isKeyOf(keys[0]!, keyPrefix, resources[0]!)
    ? resources[0]!
    : { resources, keys };
}

/** Every resource the lease covers, those held through its parents included. */
export function resourcesOf(target: LeaseTarget): readonly string[] {
  return typeof target === 'string' ? [target] : target.resources;
}

/** The keys the lease holds itself. */
export function keysOf(target: LeaseTarget, keyPrefix: string): readonly string[] {
  return typeof target === 'string' ? [keyPrefix + target] : target.keys;
}

/** Whether the lease holds no key itself (a scope made only of locks up the chain). */
export function isKeyless(target: LeaseTarget): boolean {
  return typeof target !== 'string' && target.keys.length === 0;
}

/** Whether `key` is one of the keys the lease holds itself. */
export function holdsKey(target: LeaseTarget, keyPrefix: string, key: string): boolean {
  return typeof target === 'string' ? isKeyOf(key, keyPrefix, target) : target.keys.includes(key);
}

/** Whether `key` is `prefix + resource`, without building that string. */
function isKeyOf(key: string, prefix: string, resource: string): boolean {
  return (
    key.length === prefix.length + resource.length &&
    key.startsWith(prefix) &&
    key.endsWith(resource)
  );
}
