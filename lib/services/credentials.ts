import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { safeMessage } from '../redaction.js';

/** A username (for ACL users) and password or token for the lock nodes. */
export interface RedisCredentials {
  username?: string;
  password: string;
}

/**
 * Where fresh credentials come from, e.g. a short-lived cloud IAM token, and how often to ask.
 *
 * @example
 * ```ts
 * credentials: { provider: () => iam.generateAuthToken(), refreshInterval: 10 * 60_000 }
 * ```
 */
export interface CredentialsOptions {
  provider: () => RedisCredentials | Promise<RedisCredentials>;
  /** @default 300_000 (5 minutes) */
  refreshInterval?: number;
}

/** What the application can read about credential refreshes (never the credentials). */
export interface CredentialsStatus {
  /** Epoch ms of the last successful refresh. */
  lastRefresh: number | undefined;
  /** The last refresh's error message, cleared by the next success. */
  lastError: string | undefined;
  refreshes: number;
}

/** A connection that can take new credentials without being replaced. */
export interface CredentialsTarget {
  readonly name: string;
  updateCredentials(credentials: RedisCredentials): Promise<void>;
}

/**
 * Asks the provider for credentials on a schedule and hands them to every owned connection:
 * future reconnects use them and live connections re-authenticate (AUTH), so held locks are
 * never lost to a rotation. A failed refresh keeps the previous credentials and is reported.
 */
export class CredentialsRefresher {
  private timer: NodeJS.Timeout | undefined;
  private readonly state: CredentialsStatus = {
    lastRefresh: undefined,
    lastError: undefined,
    refreshes: 0,
  };

  constructor(
    private readonly options: CredentialsOptions,
    private readonly targets: readonly CredentialsTarget[],
    private readonly logger: RedlockLogger | undefined,
  ) {}

  get status(): Readonly<CredentialsStatus> {
    return { ...this.state };
  }

  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshInterval ?? 300_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Fetches credentials now and applies them; resolves to whether every connection took them. */
  async refresh(): Promise<boolean> {
    try {
      const credentials = await this.options.provider();
      const results = await Promise.allSettled(
        this.targets.map((target) => target.updateCredentials(credentials)),
      );
      const failed = results.flatMap((result, index) =>
        result.status === 'rejected'
          ? [`${this.targets[index]!.name}: ${safeMessage(result.reason)}`]
          : [],
      );
      this.state.refreshes += 1;
      this.state.lastRefresh = Date.now();
      this.state.lastError = failed.length ? failed.join('; ') : undefined;
      if (failed.length)
        this.logger?.warn(`Credential refresh incomplete: ${this.state.lastError}`);
      return failed.length === 0;
    } catch (error) {
      // The provider's own message may describe the secret it failed to fetch: keep it short.
      this.state.lastError = `credentials provider failed: ${safeMessage(error)}`;
      this.logger?.warn(this.state.lastError);
      return false;
    }
  }
}
