/**
 * `compact` (in `npm run bench:ab -- --layers`): the engine's uncontended acquire + release
 * rebuilt in the hand-written loop's shape, on this checkout's adapters, to bound what a
 * rewrite of the lock path could gain. It keeps what a lock of the engine must do on that path
 * (an owner value naming the instance, a per-node timeout on the deadline wheel, circuit
 * breakers fed by every answer, the validity check, a lease registered with its expiry on the
 * wheel, `acquired` and `released` events built and handed to a listener) and drops the rest
 * (options, resource validation beyond the helper-key check, waiting lines, abort signals,
 * fencing, renewal, reentrancy). One object per fan-out counts the answers; no per-node result
 * objects, no promise per round step.
 *
 * new ÷ compact is what the engine's structure costs over that shape; compact ÷ lite what the
 * engine's kept features cost over the least a correct client does.
 */
import { createLockAdapter } from '../../lib/index.js';
import { CircuitBreaker } from '../../lib/services/circuit-breaker.js';
import { systemClock } from '../../lib/services/clock.js';
import { DeadlineWheel, type WheelItem } from '../../lib/services/deadline-wheel.js';
import { ownerValue } from '../../lib/services/owner-value.js';
import { majorityOf } from '../../lib/services/quorum.js';

const TTL = 10_000;
const NODE_TIMEOUT = 200;

interface CompactLease extends WheelItem {
  readonly keys: readonly string[];
  readonly value: string;
  readonly deadline: number;
  state: 'held' | 'released' | 'lost';
}

export async function compactOf(
  urls: readonly string[],
): Promise<{ cycle(key: string): Promise<void>; close(): Promise<void> }> {
  const adapters = urls.map((url) => createLockAdapter(url));
  await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000) ?? Promise.resolve()));
  const n = adapters.length;
  const quorum = majorityOf(n);
  const clock = systemClock;
  const wheel = new DeadlineWheel(clock);
  const breakers = adapters.map(
    () => new CircuitBreaker({ failureThreshold: 5, coolDown: 2_000 }, clock, () => undefined),
  );
  const held = new Set<CompactLease>();
  let events = 0;
  const emit = (event: { readonly type: string; readonly [field: string]: unknown }): void => {
    if (event.type) events += 1;
  };
  const drift = Math.floor(TTL * 0.01) + 2;

  /** One fan-out: counts grants and refusals, decides at the quorum, times out on the wheel. */
  class FanOut implements WheelItem {
    wakeAt = 0;
    slot = -1;
    private ok = 0;
    private no = 0;
    private pending = n;
    private open = true;
    constructor(private readonly done: (granted: number) => void) {}
    answer(index: number, yes: boolean): void {
      breakers[index]!.success();
      this.settle(yes);
    }
    fail(index: number): void {
      breakers[index]!.failure('error');
      this.settle(false);
    }
    wake(): void {
      if (!this.open) return;
      this.open = false;
      this.done(this.ok);
    }
    private settle(yes: boolean): void {
      this.pending -= 1;
      if (yes) this.ok += 1;
      else this.no += 1;
      if (this.pending === 0) wheel.cancel(this);
      if (!this.open) return;
      if (this.ok >= quorum || this.no > n - quorum || this.pending === 0) {
        this.open = false;
        this.done(this.ok);
      }
    }
  }

  const acquire = (resource: string): Promise<CompactLease> => {
    if (resource.startsWith('\u0000redlock:')) throw new Error('helper key');
    const keys = [resource];
    const value = ownerValue('compact1', clock);
    const start = clock.now();
    return new Promise((resolve, reject) => {
      const round = new FanOut((granted) => {
        const deadline = Math.floor(start + TTL - drift);
        if (granted < quorum || deadline <= clock.now()) {
          reject(new Error(`compact: ${granted} of ${n} granted`));
          return;
        }
        const lease: CompactLease = {
          keys,
          value,
          deadline,
          state: 'held',
          wakeAt: 0,
          slot: -1,
          wake,
        };
        function wake(): void {
          lease.state = 'lost';
          held.delete(lease);
        }
        held.add(lease);
        wheel.schedule(lease, deadline);
        emit({ type: 'acquired', resources: keys, attempts: 1, waited: clock.now() - start });
        resolve(lease);
      });
      wheel.schedule(round, start + NODE_TIMEOUT, start);
      for (let index = 0; index < n; index += 1) {
        if (!breakers[index]!.allow()) {
          round.fail(index);
          continue;
        }
        adapters[index]!.acquire(keys, value, TTL).then(
          (reply) => round.answer(index, reply.acquired),
          () => round.fail(index),
        );
      }
    });
  };

  const release = (lease: CompactLease): Promise<void> =>
    new Promise((resolve) => {
      wheel.cancel(lease);
      lease.state = 'released';
      held.delete(lease);
      const round = new FanOut((ok) => {
        emit({ type: 'released', resources: lease.keys, status: ok >= quorum ? 'ok' : 'expired' });
        resolve();
      });
      const now = clock.now();
      wheel.schedule(round, now + NODE_TIMEOUT, now);
      for (let index = 0; index < n; index += 1) {
        adapters[index]!.release(lease.keys, lease.value).then(
          (status) => round.answer(index, status === 'ok'),
          () => round.fail(index),
        );
      }
    });

  return {
    cycle: async (key) => {
      await release(await acquire(key));
    },
    close: async () => {
      if (events === 0) throw new Error('compact: no event was emitted');
      await Promise.all(adapters.map((adapter) => adapter.close()));
    },
  };
}
