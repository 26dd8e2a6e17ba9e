/** Injection token of the resolved `RedlockModuleOptions`. */
export const REDLOCK_OPTIONS = Symbol('REDLOCK_OPTIONS');
/** Injection token of the node adapters (`LockAdapter[]`), one per configured node, in order. */
export const REDLOCK_POOLS = Symbol('REDLOCK_POOLS');

/** Prefix of every lock key unless `keyPrefix` says otherwise. */
export const DEFAULT_KEY_PREFIX = 'lock:';
/** Longest accepted Redis key (prefix + resource) in UTF-8 bytes; longer keys are rejected. */
export const MAX_KEY_BYTES = 1024;
/** @internal Options, adapters and ownership, built once per module instance. */
export const REDLOCK_CONNECTIONS = Symbol('REDLOCK_CONNECTIONS');
/** @internal Property under which `@WithLock` finds the `RedlockService` of an instance. */
export const REDLOCK_SERVICE = Symbol('REDLOCK_SERVICE');
/** @internal The method of `RedlockService` that `@WithLock` enters locks through. */
export const WITH_LOCK_ENTER = Symbol('nestjs-redlock:with-lock-enter');
/** @internal The method of `RedlockService` that hears of responses on their way out. */
export const TRACK_RESPONSE = Symbol('nestjs-redlock:track-response');
/** @internal The method of `RedlockService` through which the lock console follows events. */
export const OBSERVE_EVENTS = Symbol('nestjs-redlock:observe-events');
/** @internal The method of `RedlockService` that hands scheduled jobs and elections their runtime. */
export const COORDINATION = Symbol('nestjs-redlock:coordination');
