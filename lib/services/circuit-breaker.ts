import type { Clock } from './clock.js';

/** Per-node circuit breaker settings. */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failures (errors or timeouts) after which the node is skipped.
   * @default 5
   */
  failureThreshold?: number;
  /**
   * How long a tripped node is skipped before one probe call is let through (half-open), in ms.
   * @default 2_000
   */
  coolDown?: number;
}

/** `closed`: calls go through; `open`: calls are skipped; `half-open`: one probe is let through. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Thrown in place of a call to a node whose circuit is open. */
export class NodeSkippedError extends Error {
  constructor(node: string, lastFailure: string | undefined) {
    super(
      `${node}: skipped, circuit open after repeated failures` +
        (lastFailure ? ` (last: ${lastFailure})` : ''),
    );
    this.name = 'NodeSkippedError';
  }
}

/**
 * Skips a node that keeps failing, so every lock call stops paying its timeout, and probes it
 * again after a cool-down. Counts consecutive failures only: one success closes the circuit.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  /** The last failure's message (already free of credentials), for `skipped` outcomes. */
  lastFailure: string | undefined;
  readonly failureThreshold: number;
  readonly coolDown: number;

  constructor(
    options: CircuitBreakerOptions,
    private readonly clock: Clock,
    private readonly onChange: (from: CircuitState, to: CircuitState) => void,
  ) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.coolDown = options.coolDown ?? 2_000;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Whether a call may go to the node now; in half-open, only the one probe may. */
  allow(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.clock.now() - this.openedAt < this.coolDown) return false;
      this.move('half-open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.move('closed');
  }

  failure(message?: string): void {
    if (message !== undefined) this.lastFailure = message;
    this.failures += 1;
    this.probing = false;
    if (
      this.current === 'half-open' ||
      (this.current === 'closed' && this.failures >= this.failureThreshold)
    ) {
      this.openedAt = this.clock.now();
      this.move('open');
    }
  }

  private move(to: CircuitState): void {
    const from = this.current;
    this.current = to;
    this.onChange(from, to);
  }
}
