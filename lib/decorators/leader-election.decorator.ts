import 'reflect-metadata';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';
import {
  DEFAULT_LOCK_OPTIONS,
  MAX_TTL,
  describe,
  resolveLockOptions,
} from '../services/lock-options.js';
import { recordKeySite } from './key-sites.js';

/** Options of `@LeaderElection`: the leader's lease. */
export interface LeaderElectionOptions extends Pick<
  LockOptions,
  'ttl' | 'nodeTimeout' | 'driftFactor'
> {
  /**
   * The leader's lease, renewed while it leads: when the leader dies another instance leads
   * within this long.
   * @default the module's `lock.ttl` (10 s)
   */
  ttl?: LockOptions['ttl'];
}

/** @internal Where the explorer finds an election on a provider class. */
export const LEADER_ELECTION = Symbol('nestjs-redlock:leader-election');

/** @internal What `@LeaderElection` records. */
export interface LeaderElectionMetadata {
  readonly key: string;
  readonly options: LockOptions;
}

const OPTION_KEYS = ['ttl', 'nodeTimeout', 'driftFactor'];

/**
 * Makes every instance of the application campaign for the leadership `key`, from bootstrap to
 * shutdown: at most one leads at a time. The provider hears of it through
 * `OnLeadershipAcquired.onLeadershipAcquired(lock)` and `OnLeadershipLost.onLeadershipLost(lock)`;
 * `RedlockService.isLeader(key)` answers anywhere. `lock.fencingToken` numbers the term. A
 * leader that dies is replaced within `ttl`; a leader whose lease is lost hears it before any
 * other instance can lead; at shutdown the leader steps down (its `onLeadershipLost` runs, then
 * the lease is released, and another instance leads at once).
 *
 * @example
 * ```ts
 * @Injectable()
 * @LeaderElection('leader:outbox', { ttl: '5s' })
 * export class OutboxRelay implements OnLeadershipAcquired, OnLeadershipLost {
 *   onLeadershipAcquired(lock: Lock) { this.relay(lock.signal); }
 *   onLeadershipLost() {}
 * }
 * ```
 */
export function LeaderElection(key: string, options: LeaderElectionOptions = {}): ClassDecorator {
  if (typeof key !== 'string' || key.length === 0 || key.includes('<')) {
    throw new RedlockConfigError(
      '@LeaderElection',
      `expected a non-empty key without placeholders, got ${describe(key)}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError(
      '@LeaderElection',
      `expected an options object, got ${describe(options)}`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_KEYS.includes(name)) {
      throw new RedlockConfigError(
        `@LeaderElection.${name}`,
        `unknown option; @LeaderElection takes ${OPTION_KEYS.join(', ')}`,
      );
    }
  }
  resolveLockOptions({ ...DEFAULT_LOCK_OPTIONS, ttl: MAX_TTL }, options, '@LeaderElection');
  const metadata: LeaderElectionMetadata = { key, options: { ...options } };
  return (target) => {
    Reflect.defineMetadata(LEADER_ELECTION, metadata, target);
    recordKeySite(target, {
      kind: 'election',
      decorator: '@LeaderElection',
      where: target.name,
      key,
    });
  };
}
