import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/**
 * Scheduled jobs and leader election across real processes: three instances of one Nest app
 * (test/support/instance/instance-app.ts, with ScheduleModule and RedlockModule on 3 Redis
 * nodes), each in its own process with its wall clock skewed: -450 ms, 0 and +480 ms (930 ms
 * apart, inside the default tickTolerance of 1 s). Four `@Cron('* * * * * *')` jobs of 10 ms:
 * `@OnOneInstance`, `@WithoutOverlapping`, `@WithLock(..., { onBusy: 'skip' })` and, as the
 * control, the same `@WithLock` without tick claims (`tickTolerance: 0`). Runs are counted per
 * tick, a tick being the second of the running instance's own clock (the one its cron fired
 * on). Then the job owner and the leader are SIGKILLed and the takeovers timed.
 */
const here = dirname(fileURLToPath(import.meta.url));
const WORKER = join(here, '../support/instance/instance-worker.mjs');
const REGISTER = join(here, '../reliability/ts-register.mjs');
const SKEWS = [-450, 0, 480];
const JOB_TTL = 2_000;
const LEADER_TTL = 1_500;
const TICKS = 10;

interface Report {
  type: 'ready' | 'run' | 'leader' | 'closed';
  pid: number;
  real: number;
  job?: string;
  wall?: number;
  event?: 'acquired' | 'lost';
  token?: number;
}

interface Instance {
  child: ChildProcess;
  skew: number;
  pid: number;
  alive: boolean;
}

const now = (): number => performance.timeOrigin + performance.now();

describe('scheduled jobs and leader election across 3 processes with skewed clocks (3 Redis nodes)', () => {
  let fleet: RedisFleet;
  const instances: Instance[] = [];
  const reports: Report[] = [];
  const listeners = new Set<(report: Report) => void>();

  /** Resolves with the first report (from now on) that `match` accepts. */
  const next = (match: (report: Report) => boolean, timeout: number, what: string) =>
    new Promise<Report>((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`no ${what} within ${timeout} ms`));
      }, timeout);
      const listener = (report: Report) => {
        if (!match(report)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(report);
      };
      listeners.add(listener);
    });

  const spawn = (skew: number) =>
    new Promise<Instance>((resolve, reject) => {
      const child = fork(WORKER, [], {
        execArgv: ['--import', REGISTER, '--no-warnings'],
        env: {
          ...process.env,
          INSTANCE_SKEW_MS: String(skew),
          INSTANCE_CONFIG: JSON.stringify({ nodes: fleet.urls }),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const instance: Instance = { child, skew, pid: child.pid!, alive: true };
      child.once('exit', () => (instance.alive = false));
      child.once('error', reject);
      child.on('message', (report: Report) => {
        reports.push(report);
        for (const listener of [...listeners]) listener(report);
        if (report.type === 'ready') resolve(instance);
      });
    });

  const skewOf = (pid: number) => instances.find((i) => i.pid === pid)!.skew;
  /** The tick a run belongs to: the second of its instance's clock when its cron fired. */
  const tickOf = (report: Report) => Math.floor(report.wall! / 1_000);
  const runsPerTick = (job: string, fromReal: number, toReal: number) => {
    // Complete ticks only: every instance fired them inside [fromReal, toReal - 200 ms].
    const counts = new Map<number, number>();
    const first = Math.ceil((fromReal + Math.max(...SKEWS)) / 1_000);
    const last = Math.floor((toReal - 200 + Math.min(...SKEWS)) / 1_000) - 1;
    for (let tick = first; tick <= last; tick += 1) counts.set(tick, 0);
    for (const report of reports) {
      if (report.type !== 'run' || report.job !== job) continue;
      const tick = tickOf(report);
      if (counts.has(tick)) counts.set(tick, counts.get(tick)! + 1);
    }
    return [...counts.values()];
  };

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    instances.push(...(await Promise.all(SKEWS.map(spawn))));
  }, 60_000);

  afterAll(async () => {
    for (const instance of instances) if (instance.alive) instance.child.kill('SIGKILL');
    await Promise.all(
      instances.map(
        (instance) =>
          new Promise<void>((resolve) => {
            if (!instance.alive) resolve();
            else instance.child.once('exit', () => resolve());
          }),
      ),
    );
    await fleet?.stop();
  });

  it(`runs each tick exactly once with clocks ${Math.max(...SKEWS) - Math.min(...SKEWS)} ms apart`, async () => {
    const from = now();
    // Wait for the runs themselves: TICKS more ticks of the owned job, plus one for stragglers.
    let seen = 0;
    await next(
      (report) => report.type === 'run' && report.job === 'one-instance' && (seen += 1) > TICKS + 1,
      (TICKS + 5) * 1_000,
      `${TICKS} ticks`,
    );
    const to = now();
    const table: Record<string, number[]> = {};
    for (const job of ['one-instance', 'no-overlap', 'skip', 'unclaimed']) {
      table[job] = runsPerTick(job, from, to);
    }
    console.log(
      `Runs per tick over ${table['one-instance']!.length} complete ticks, 3 instances, clocks skewed ${SKEWS.join(' / ')} ms:\n` +
        Object.entries(table)
          .map(([job, counts]) => `  ${job.padEnd(13)} ${counts.join(' ')}`)
          .join('\n'),
    );
    expect(table['one-instance']!.length).toBeGreaterThanOrEqual(TICKS - 2);
    for (const job of ['one-instance', 'no-overlap', 'skip']) {
      expect({ job, counts: table[job] }).toEqual({ job, counts: table[job]!.map(() => 1) });
    }
    // Without tick claims the lagging instances run the tick again: the count can fail.
    expect(Math.max(...table.unclaimed!)).toBeGreaterThan(1);
    // The owned job ran on one instance only.
    const owners = new Set(
      reports
        .filter((r) => r.type === 'run' && r.job === 'one-instance' && r.real >= from)
        .map((r) => r.pid),
    );
    expect(owners.size).toBe(1);
  }, 60_000);

  it('elected exactly one leader, with a fencing token', () => {
    const acquired = reports.filter((r) => r.type === 'leader' && r.event === 'acquired');
    expect(acquired).toHaveLength(1);
    expect(acquired[0]!.token).toBeGreaterThanOrEqual(1);
  });

  it(`elects a new leader within its ttl (${LEADER_TTL} ms) after the leader is SIGKILLed, with a higher term`, async () => {
    const last = reports.findLast((r) => r.type === 'leader' && r.event === 'acquired')!;
    const victim = instances.find((i) => i.pid === last.pid)!;
    const elected = next(
      (r) => r.type === 'leader' && r.event === 'acquired' && r.pid !== victim.pid,
      LEADER_TTL + 5_000,
      'a new leader',
    );
    const killedAt = now();
    victim.child.kill('SIGKILL');
    const successor = await elected;
    const gap = successor.real - killedAt;
    console.log(
      `Leader (clock ${skewOf(victim.pid)} ms) SIGKILLed; term ${successor.token} began on the instance with clock ${skewOf(successor.pid)} ms ${Math.round(gap)} ms later`,
    );
    // Its lease ends at most a ttl after its last renewal; the waiters wake at that expiry.
    expect(gap).toBeLessThanOrEqual(LEADER_TTL + 500);
    expect(successor.token).toBeGreaterThan(last.token!);
  }, 30_000);

  it(`takes the job over within its ttl (${JOB_TTL} ms) after the owner is SIGKILLed, without a tick twice`, async () => {
    // Let the job settle on an owner after the previous kill.
    let settled = 0;
    await next(
      (r) => r.type === 'run' && r.job === 'one-instance' && (settled += 1) >= 2,
      JOB_TTL + 5_000,
      'an owner',
    );
    const owner = reports.findLast((r) => r.type === 'run' && r.job === 'one-instance')!.pid;
    const victim = instances.find((i) => i.pid === owner)!;
    const takeover = next(
      (r) => r.type === 'run' && r.job === 'one-instance' && r.pid !== owner,
      JOB_TTL + 5_000,
      'the takeover',
    );
    const killedAt = now();
    victim.child.kill('SIGKILL');
    const first = await takeover;
    const gap = first.real - killedAt;
    console.log(
      `Job owner (clock ${skewOf(owner)} ms) SIGKILLed; the instance with clock ${skewOf(first.pid)} ms ran the job ${Math.round(gap)} ms later`,
    );
    // The lease ends at most a ttl after its last renewal; the next tick after that takes over.
    expect(gap).toBeLessThanOrEqual(JOB_TTL + 1_000 + 500);
    let seen = 0;
    await next(
      (r) => r.type === 'run' && r.job === 'one-instance' && (seen += 1) >= 3,
      10_000,
      'runs after the takeover',
    );
    // Across both kills and takeovers, no tick of the owned job ran twice.
    const ticks = reports.filter((r) => r.type === 'run' && r.job === 'one-instance').map(tickOf);
    expect(ticks.length - new Set(ticks).size).toBe(0);
  }, 30_000);
});
