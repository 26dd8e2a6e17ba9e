import type { OnLeadershipAcquired, OnLeadershipLost } from '../interfaces/leadership.interface.js';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { LockLostError, LockNotAcquiredError } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import { sleep } from './clock.js';
import type { Lock } from './lock.js';
import { MAX_TTL } from './lock-options.js';
import type { Redlock } from './redlock.engine.js';

/** One `@LeaderElection` provider of the application. */
export interface Election {
  /** The election's resource: the leader holds the lock on it. */
  readonly key: string;
  /** The provider's class name, for log lines. */
  readonly label: string;
  /** Options of the leader's lease (ttl...), over the module's defaults. */
  readonly options: LockOptions;
  /** The provider instance, told when its leadership starts and ends. */
  readonly target: Partial<OnLeadershipAcquired & OnLeadershipLost>;
}

/** How long one wait for the leadership lasts before the campaign starts a new one. */
const CAMPAIGN_WAIT = 60_000;

/**
 * Leader elections, one campaign per `@LeaderElection` key, one set per application.
 *
 * A campaign waits for the election's lock like any waiter (woken by the leader's release
 * notification, or when the leader's ttl runs out, so a leader that died is replaced within its
 * ttl), then holds it with auto-extension and a fencing token that numbers the term. The
 * leader hears of a lost lease from the lease itself: its validity ends before its keys expire
 * on the nodes (the drift allowance), so `onLeadershipLost` is called before any other
 * instance can take the lock. Then the campaign starts again.
 */
export class LeaderElections {
  private readonly campaigns = new Map<string, Campaign>();

  constructor(
    private readonly engine: Redlock,
    private readonly logger: RedlockLogger | undefined,
  ) {}

  add(election: Election): void {
    if (this.campaigns.has(election.key)) return;
    this.campaigns.set(election.key, new Campaign(this.engine, election, this.logger));
  }

  /** Starts every campaign (at application bootstrap). */
  start(): void {
    for (const campaign of this.campaigns.values()) campaign.start();
  }

  isLeader(key: string): boolean {
    return this.campaigns.get(key)?.isLeader() ?? false;
  }

  /** Shutdown: every leader calls `onLeadershipLost`, then releases its lease; campaigns end. */
  async stepDown(): Promise<void> {
    await Promise.all([...this.campaigns.values()].map((campaign) => campaign.stop()));
  }
}

class Campaign {
  private lock: Lock | undefined;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly engine: Redlock,
    private readonly election: Election,
    private readonly logger: RedlockLogger | undefined,
  ) {}

  start(): void {
    this.running ??= this.campaign();
  }

  isLeader(): boolean {
    return this.lock?.isHeld() ?? false;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const lock = this.lock;
    this.lock = undefined;
    if (lock?.isHeld()) {
      // Stop leading first, then let the others in.
      await this.call('onLeadershipLost', lock);
      await lock.release().catch((error: unknown) => {
        this.logger?.warn(
          `${this.election.label}: release of the leadership of ${this.election.key} failed (${safeMessage(error)}); it expires by itself.`,
        );
      });
    }
    await this.running;
  }

  private async campaign(): Promise<void> {
    const { key, label } = this.election;
    const { ttl } = this.engine.resolveOptions(this.election.options);
    const signal = this.stopping.signal;
    let unavailable = false;
    while (!signal.aborted) {
      let lock: Lock;
      try {
        lock = await this.engine.acquire(key, {
          ...this.election.options,
          wait: CAMPAIGN_WAIT,
          retryCount: Infinity,
          // Waiters wake on the leader's release or its expiry; no need to poll faster.
          retryDelay: ttl,
          autoExtend: true,
          fencing: true,
          holdAtLeast: 0,
          maxHold: MAX_TTL,
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof LockNotAcquiredError) continue;
        if (!unavailable) {
          this.logger?.warn(
            `${label}: cannot campaign for ${key} (${safeMessage(error)}); retrying.`,
          );
        }
        unavailable = true;
        await sleep(this.engine.clock, Math.min(ttl, 1_000), signal).catch(() => undefined);
        continue;
      }
      unavailable = false;
      const ended = new Promise<void>((resolve) => {
        lock.signal.addEventListener(
          'abort',
          () => {
            const reason: unknown = lock.signal.reason;
            if (this.lock === lock) this.lock = undefined;
            // Called from the abort itself: the lease's validity just ran out, no one else
            // can hold the lock yet.
            if (reason instanceof LockLostError) void this.call('onLeadershipLost', lock);
            resolve();
          },
          { once: true },
        );
      });
      if (!lock.isHeld()) continue;
      this.lock = lock;
      this.logger?.log(`${label}: this instance leads ${key} (term ${lock.fencingToken}).`);
      // Not awaited: a hook may well lead until `lock.signal` aborts.
      void this.call('onLeadershipAcquired', lock);
      await ended;
    }
  }

  /** Calls a hook; an error it throws is logged and leaves the leadership as it is. */
  private async call(hook: 'onLeadershipAcquired' | 'onLeadershipLost', lock: Lock): Promise<void> {
    const fn = this.election.target[hook];
    if (typeof fn !== 'function') return;
    try {
      await fn.call(this.election.target, lock);
    } catch (error) {
      this.logger?.error(`${this.election.label}.${hook} threw: ${safeMessage(error)}`);
    }
  }
}
