/** Injection token of the resolved `RedlockModuleOptions`. */
export const REDLOCK_OPTIONS = Symbol('REDLOCK_OPTIONS');
/** Injection token of the node adapters (`LockAdapter[]`), one per configured node, in order. */
export const REDLOCK_POOLS = Symbol('REDLOCK_POOLS');

/** Prefix of every lock key unless `keyPrefix` says otherwise. */
export const DEFAULT_KEY_PREFIX = 'lock:';
/** Longest accepted Redis key (prefix + resource) in UTF-8 bytes; longer keys are rejected. */
export const MAX_KEY_BYTES = 1024;
/**
 * How long a fencing counter outlives its lock's ttl. Counters re-seed from the acquiring
 * client's clock once they expire, so this must exceed the clock skew between application hosts.
 */
export const FENCE_RETENTION_MS = 60_000;
/** @internal Options, adapters and ownership, built once per module instance. */
export const REDLOCK_CONNECTIONS = Symbol('REDLOCK_CONNECTIONS');
/** @internal Property under which `@WithLock` finds the `RedlockService` of an instance. */
export const REDLOCK_SERVICE = Symbol('REDLOCK_SERVICE');
