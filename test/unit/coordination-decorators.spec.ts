import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { type INestApplication, Injectable, type Type } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import {
  LeaderElection,
  type Lock,
  LockKeyError,
  type OnLeadershipAcquired,
  type OnLeadershipLost,
  OnOneInstance,
  RedlockConfigError,
  RedlockError,
  RedlockService,
  WithLock,
  WithoutOverlapping,
} from '../../lib/index.js';
import { ManualClock, MemoryLockAdapter, RedlockTestingModule } from '../../lib/testing/index.js';
import { deferred } from '../support/deferred.js';

/**
 * The scheduling decorators over several application instances in one process: each instance
 * is a Nest app with its own engine and clock, all locking in one shared in-memory store. The
 * clocks are ManualClocks moved together, with wall clocks set apart to model skew; nothing
 * sleeps. Methods carry `@Cron` (no ScheduleModule: the test is the scheduler and calls them
 * when the instance's clock reads a tick). Real Redis and real processes: multi-instance.spec.ts.
 */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

class World {
  readonly clocks: ManualClock[] = [];
  readonly store: MemoryLockAdapter;
  readonly apps: INestApplication[] = [];
  private readonly base = new ManualClock(T0);

  constructor() {
    this.store = new MemoryLockAdapter({ now: () => this.base.now() });
  }

  /** An instance whose wall clock reads `skew` ms ahead of the others'. */
  async instance(providers: Type[], skew = 0, shutdownTimeout = 0): Promise<INestApplication> {
    const clock = new ManualClock(T0 + skew);
    this.clocks.push(clock);
    const ref = await Test.createTestingModule({
      imports: [RedlockTestingModule.forRoot({ clock, store: this.store, shutdownTimeout })],
      providers,
    }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    this.apps.push(app);
    return app;
  }

  async advance(ms: number): Promise<void> {
    let step = 0;
    do {
      const by = Math.min(50, ms - step);
      await this.base.advance(by);
      for (const clock of this.clocks) await clock.advance(by);
      step += by;
    } while (step < ms);
  }

  async close(): Promise<void> {
    for (const app of this.apps.splice(0)) await app.close();
  }
}

let world: World;
afterEach(async () => {
  await world?.close();
});

function jobClass(decorate: MethodDecorator, cronFirst = true) {
  @Injectable()
  class Job {
    readonly runs: number[] = [];
    gate: Promise<void> | undefined;
    constructor(readonly redlock: RedlockService) {}

    async tick(): Promise<string> {
      this.runs.push(this.redlock.engine.clock.wallNow());
      await this.gate;
      return 'ran';
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(Job.prototype, 'tick')!;
  const cron = Cron('* * * * * *');
  // Decorators apply bottom-up: the first one here is the one written last (closest to the method).
  for (const decorator of cronFirst ? [cron, decorate] : [decorate, cron]) {
    const result = decorator(Job.prototype, 'tick', descriptor);
    if (result) Object.assign(descriptor, result);
  }
  Object.defineProperty(Job.prototype, 'tick', descriptor);
  return Job;
}

describe('@OnOneInstance', () => {
  it.each([true, false])(
    'runs on the owner only; at shutdown the next instance takes over without re-running the tick (@Cron applied first: %p)',
    async (cronFirst) => {
      world = new World();
      const Job = jobClass(OnOneInstance({ ttl: 2_000 }), cronFirst);
      const a = await world.instance([Job]);
      const b = await world.instance([Job]);
      const jobA = a.get(Job);
      const jobB = b.get(Job);
      await expect(jobA.tick()).resolves.toBe('ran');
      await expect(jobB.tick()).resolves.toBeUndefined();
      for (let i = 0; i < 5; i += 1) {
        await world.advance(1_000); // ten ttls of renewals later, still the owner
        await jobB.tick();
        await jobA.tick();
      }
      expect(jobA.runs).toHaveLength(6);
      expect(jobB.runs).toHaveLength(0);

      await a.close(); // hands over
      await expect(jobB.tick()).resolves.toBeUndefined(); // this tick already ran on A
      await world.advance(1_000);
      await expect(jobB.tick()).resolves.toBe('ran');
      expect(jobB.runs).toEqual([T0 + 6_000]);
    },
  );

  it('lets the owner finish its run at shutdown before handing over', async () => {
    world = new World();
    const Job = jobClass(OnOneInstance());
    const a = await world.instance([Job], 0, 5_000);
    const b = await world.instance([Job]);
    const gate = deferred();
    a.get(Job).gate = gate.promise;
    const running = a.get(Job).tick();
    await world.advance(0);
    world.apps.splice(world.apps.indexOf(a), 1);
    let closed = false;
    const closing = a.close().then(() => (closed = true));
    await world.advance(1_000);
    await expect(b.get(Job).tick()).resolves.toBeUndefined(); // A still runs, still owns
    expect(closed).toBe(false);
    gate.resolve();
    await expect(running).resolves.toBe('ran');
    await closing; // handed over as soon as the run ended, well before the 5 s timeout
    await world.advance(1_000);
    await expect(b.get(Job).tick()).resolves.toBe('ran');
  });
});

describe('exactly once per tick with skewed clocks', () => {
  const cases: [string, () => MethodDecorator, () => MethodDecorator][] = [
    [
      '@WithoutOverlapping',
      () => WithoutOverlapping(),
      () => WithoutOverlapping({ tickTolerance: 0 }),
    ],
    [
      "@WithLock(..., { onBusy: 'skip' })",
      () => WithLock('jobs:skip', { onBusy: 'skip' }),
      () => WithLock('jobs:skip', { onBusy: 'skip', tickTolerance: 0 }),
    ],
  ];

  it.each(cases)(
    '%s: an instance 400 ms behind finds the tick claimed',
    async (_name, guarded, unguarded) => {
      for (const [decorate, expected] of [
        [guarded, 1],
        [unguarded, 2], // the flaw the claims fix: the lagging instance runs the tick again
      ] as const) {
        world = new World();
        const Job = jobClass(decorate());
        const ahead = (await world.instance([Job])).get(Job);
        const behind = (await world.instance([Job], -400)).get(Job);
        const perTick = new Map<number, number>();
        const count = (runs: number[]) =>
          runs.forEach((at) =>
            perTick.set(Math.floor(at / 1_000), (perTick.get(Math.floor(at / 1_000)) ?? 0) + 1),
          );
        for (let tick = 0; tick < 5; tick += 1) {
          await ahead.tick(); // its clock reads the tick now
          await world.advance(400);
          await behind.tick(); // 400 ms later, its clock reads the same tick
          await world.advance(600);
        }
        count(ahead.runs);
        count(behind.runs);
        expect([...perTick.values()]).toEqual([expected, expected, expected, expected, expected]);
        await world.close();
      }
    },
  );

  it('@WithoutOverlapping skips a tick while the previous run still runs elsewhere', async () => {
    world = new World();
    const Job = jobClass(WithoutOverlapping({ ttl: 1_000 }));
    const a = (await world.instance([Job])).get(Job);
    const b = (await world.instance([Job])).get(Job);
    const gate = deferred();
    a.gate = gate.promise;
    const slow = a.tick();
    await world.advance(3_000); // three ttls: the run lock is renewed
    await expect(b.tick()).resolves.toBeUndefined();
    gate.resolve();
    await slow;
    await world.advance(1_000);
    await expect(b.tick()).resolves.toBe('ran');
  });
});

@Injectable()
@LeaderElection('leader:test', { ttl: 1_000 })
class Leader implements OnLeadershipAcquired, OnLeadershipLost {
  static log: string[] = [];
  terms: number[] = [];
  lock: Lock | undefined;
  constructor(readonly redlock: RedlockService) {}

  onLeadershipAcquired(lock: Lock) {
    this.lock = lock;
    this.terms.push(lock.fencingToken);
    Leader.log.push(`acquired ${lock.fencingToken}`);
  }

  onLeadershipLost(lock: Lock) {
    Leader.log.push(`lost ${lock.fencingToken}`);
  }
}

describe('@LeaderElection', () => {
  it('elects one leader; at shutdown it hears of the end before the next one leads', async () => {
    Leader.log = [];
    world = new World();
    const a = await world.instance([Leader]);
    await world.advance(0);
    const b = await world.instance([Leader]);
    await world.advance(3_000);
    expect(a.get(RedlockService).isLeader('leader:test')).toBe(true);
    expect(b.get(RedlockService).isLeader('leader:test')).toBe(false);
    expect(b.get(RedlockService).isLeader('leader:other')).toBe(false);
    await a.close();
    for (let i = 0; i < 10 && !b.get(RedlockService).isLeader('leader:test'); i += 1) {
      await world.advance(10);
    }
    expect(b.get(RedlockService).isLeader('leader:test')).toBe(true);
    expect(Leader.log).toEqual(['acquired 1', 'lost 1', 'acquired 2']);
  });

  it('hears of a lost lease and campaigns again', async () => {
    Leader.log = [];
    world = new World();
    const a = await world.instance([Leader]);
    await world.advance(0);
    const leader = a.get(Leader);
    expect(leader.terms).toEqual([1]);
    // Someone deletes the key behind the leader's back: its next renewal finds it gone.
    await world.store.release(['lock:leader:test'], leader.lock!.value);
    await world.advance(600);
    expect(Leader.log.slice(0, 2)).toEqual(['acquired 1', 'lost 1']);
    await world.advance(2_000);
    expect(a.get(RedlockService).isLeader('leader:test')).toBe(true);
    expect(leader.terms).toEqual([1, 2]);
  });
});

describe('key collisions and misuse, at startup', () => {
  it('names both places when a job and an election share a key', async () => {
    @Injectable()
    class Nightly {
      @OnOneInstance({ key: 'shared' })
      run() {}
    }
    @Injectable()
    @LeaderElection('shared')
    class Elected {}
    world = new World();
    const error = await world.instance([Nightly, Elected]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockKeyError);
    expect((error as LockKeyError).code).toBe('ERR_REDLOCK_KEY_COLLISION');
    expect((error as Error).message).toContain('@OnOneInstance on Nightly.run');
    expect((error as Error).message).toContain('@LeaderElection on Elected');
  });

  it('matches a @WithLock template against a job key', async () => {
    @Injectable()
    class Reports {
      @WithLock('jobs:<0>')
      build(_name: string) {}

      @WithoutOverlapping({ key: 'jobs:nightly' })
      nightly() {}
    }
    world = new World();
    await expect(world.instance([Reports])).rejects.toThrow(
      /@WithLock on Reports.build \(template "jobs:<0>"\) and @WithoutOverlapping on Reports.nightly both lock "jobs:nightly"/,
    );
  });

  it('leaves two @WithLock methods on one key alone (they exclude each other on purpose)', async () => {
    @Injectable()
    class Ledger {
      @WithLock('ledger')
      credit() {}

      @WithLock('ledger')
      debit() {}
    }
    world = new World();
    await expect(world.instance([Ledger])).resolves.toBeDefined();
  });

  it('refuses two scheduling decorators on one method', () => {
    expect(() => {
      class Twice {
        @WithoutOverlapping()
        @OnOneInstance()
        run() {}
      }
      return Twice;
    }).toThrow(RedlockConfigError);
  });

  it('fails closed on an instance Nest did not create', async () => {
    const Job = jobClass(OnOneInstance());
    const loose = new Job(undefined as never);
    await expect(loose.tick()).rejects.toThrow(RedlockError);
    expect(loose.runs).toEqual([]);
  });
});
