import type {
  AcquireOptions,
  AcquireReply,
  LockAdapter,
  OwnerReply,
} from '../../lib/interfaces/lock-adapter.interface.js';

/**
 * Wraps a real adapter and makes its node misbehave, for engine unit tests: `error` rejects every
 * call, `hang` leaves every call pending until `open()` lets them through to the real node.
 * Integration tests use real Redis processes (kill, SIGSTOP) for the same faults.
 */
export class FailingAdapter implements LockAdapter {
  readonly name: string;
  calls = 0;
  private gate: Promise<void>;
  private openGate!: () => void;

  constructor(
    private readonly inner: LockAdapter,
    private readonly mode: 'error' | 'hang',
  ) {
    this.name = `${inner.name} (${mode})`;
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  open(): void {
    this.openGate();
  }

  private async through<T>(call: () => Promise<T>): Promise<T> {
    this.calls += 1;
    if (this.mode === 'error') throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    await this.gate;
    return call();
  }

  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply> {
    return this.through(() => this.inner.acquire(keys, value, ttl, options));
  }
  extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply> {
    return this.through(() => this.inner.extend(keys, value, ttl));
  }
  release(keys: readonly string[], value: string): Promise<OwnerReply> {
    return this.through(() => this.inner.release(keys, value));
  }
  syncFence(keys: readonly string[], value: string, token: string): Promise<OwnerReply> {
    return this.through(() => this.inner.syncFence(keys, value, token));
  }
  inspect(keys: readonly string[]): Promise<number> {
    return this.through(() => this.inner.inspect(keys));
  }
  onRelease(keys: readonly string[], listener: () => void): Promise<() => void> {
    return this.through(() => this.inner.onRelease(keys, listener));
  }
  ping(): Promise<void> {
    return this.through(() => this.inner.ping());
  }
  close(): Promise<void> {
    this.open();
    return this.inner.close();
  }
}
