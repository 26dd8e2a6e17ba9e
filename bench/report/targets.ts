/** The targets of the issue, computed from ratios measured in the same run. */
import type { ContenderId } from '../core/contenders.js';
import type { ContendedResult } from '../workloads/contended.js';
import type { RunResult, TargetResult, TargetStatus } from './results.js';

const PEERS: readonly ContenderId[] = ['redlock', 'redlock-fast', 'semaphore'];

const status = (ok: boolean): TargetStatus => (ok ? 'PASS' : 'MISS');
export const ratio = (value: number): string =>
  Number.isFinite(value) ? `${value.toFixed(2)}×` : value > 0 ? '∞' : 'n/a';

export function computeTargets(run: RunResult): TargetResult[] {
  const targets: TargetResult[] = [];
  const na = (area: string, target: string): void => {
    targets.push({ area, target, measured: 'not run', status: 'n/a' });
  };

  for (const nodes of [1, 5]) {
    const area = `Uncontended, ${nodes} node${nodes > 1 ? 's' : ''}`;
    const rows = run.uncontended.filter((r) => r.nodes === nodes);
    const ours = rows.find((r) => r.contender === 'ours');
    const limit = rows.find((r) => r.contender === 'limit');
    const redlocks = rows.filter(
      (r) => r.contender === 'redlock' || r.contender === 'redlock-fast',
    );
    if (!ours || !limit || redlocks.length === 0) {
      na(area, 'ours ≥ 1.0× the hand-written loop');
      na(area, 'ours ≥ 1.2× node-redlock');
      continue;
    }
    const vsLimit = ours.opsPerSec / limit.opsPerSec;
    targets.push({
      area,
      target: 'ours ≥ 1.0× the hand-written loop (ops/s)',
      measured: `${ratio(vsLimit)} (${ours.opsPerSec.toFixed(0)} vs ${limit.opsPerSec.toFixed(0)} ops/s)`,
      status: status(vsLimit >= 1.0),
    });
    const best = Math.max(...redlocks.map((r) => r.opsPerSec));
    const vsRedlock = ours.opsPerSec / best;
    targets.push({
      area,
      target: 'ours ≥ 1.2× node-redlock (its faster configuration, ops/s)',
      measured: `${ratio(vsRedlock)} (${ours.opsPerSec.toFixed(0)} vs ${best.toFixed(0)} ops/s)`,
      status: status(vsRedlock >= 1.2),
    });
  }

  for (const processes of [1, 4]) {
    const area = `Contended, 1 node, 8 workers in ${processes === 1 ? '1 process' : `${processes} processes`}`;
    const rows = run.contended.filter(
      (r) => r.nodes === 1 && r.processes === processes && !r.calibration,
    );
    const ours = rows.find((r) => r.contender === 'ours');
    const peers = rows.filter((r) => PEERS.includes(r.contender));
    if (!ours || peers.length === 0) {
      na(area, 'hand-offs/s ≥ 10× the best peer');
      na(area, 'wait p99 ≤ 10 ms');
      na(area, 'zero give-ups');
      continue;
    }
    const best = peers.reduce((a, b) => (b.handoffsPerSec > a.handoffsPerSec ? b : a));
    const r = ours.handoffsPerSec / best.handoffsPerSec;
    targets.push({
      area,
      target: 'hand-offs/s ≥ 10× the best peer',
      measured: `${ratio(r)} (${ours.handoffsPerSec.toFixed(0)} vs ${best.handoffsPerSec.toFixed(0)}/s, ${best.label})`,
      status: status(r >= 10),
    });
    targets.push({
      area,
      target: 'wait p99 ≤ 10 ms',
      measured: `${ours.wait.p99.toFixed(2)} ms`,
      status: status(ours.wait.p99 <= 10),
    });
    targets.push({
      area,
      target: 'zero give-ups',
      measured: `${ours.giveUps}`,
      status: status(ours.giveUps === 0),
    });
  }

  {
    const area = 'Contended, 5 nodes, 8 workers in 4 processes';
    const ours: ContendedResult | undefined = run.contended.find(
      (r) => r.nodes === 5 && r.processes === 4 && r.contender === 'ours' && !r.calibration,
    );
    const floor = run.contended.find((r) => r.nodes === 5 && r.calibration);
    if (!ours) {
      na(area, '≥ 600 acquisitions/s');
      na(area, '< 1 % stuck');
    } else {
      targets.push({
        area,
        target: '≥ 600 acquisitions/s',
        measured: `${ours.acquisitionsPerSec.toFixed(0)}/s`,
        status: status(ours.acquisitionsPerSec >= 600),
      });
      targets.push({
        area,
        target: '< 1 % stuck',
        measured:
          `${(ours.stuckShare * 100).toFixed(2)} % (${ours.stuckSamples} of ${ours.samples} samples; ${ours.lingeringSamples} lasted ≥ 2 samples)` +
          (floor
            ? `; sampler floor (1 worker, no contention) ${(floor.stuckShare * 100).toFixed(2)} %`
            : ''),
        status: status(ours.stuckShare < 0.01),
      });
    }
  }

  for (const nodes of [1, 5]) {
    const area = `HTTP, ${nodes} node${nodes > 1 ? 's' : ''}, 1 connection`;
    const target = '@WithLock adds ≤ the lock’s two round trips + 5 %';
    const plain = run.http.find(
      (r) => r.nodes === nodes && r.connections === 1 && r.route === 'plain',
    );
    const locked = run.http.find(
      (r) => r.nodes === nodes && r.connections === 1 && r.route === 'locked',
    );
    const roundTrips = locked?.lockRoundTripMs;
    const w1 = run.uncontended.find((r) => r.nodes === nodes && r.contender === 'ours')?.latency
      ?.mean;
    if (!plain || !locked || roundTrips === undefined) {
      na(area, target);
      continue;
    }
    const added = locked.msPerRequest - plain.msPerRequest;
    const allowed = roundTrips * 1.05;
    const control = run.http.find(
      (r) => r.nodes === nodes && r.connections === 1 && r.route === 'limit',
    );
    const controlText =
      control?.lockRoundTripMs !== undefined
        ? `; control, hand-written lock: +${(control.msPerRequest - plain.msPerRequest).toFixed(3)} ms vs its ${control.lockRoundTripMs.toFixed(3)} ms round trips`
        : '';
    targets.push({
      area,
      target,
      measured:
        `+${added.toFixed(3)} ms per request; acquire + release ${roundTrips.toFixed(3)} ms measured in the app between the runs` +
        (w1 !== undefined ? ` (${w1.toFixed(3)} ms in workload 1)` : '') +
        `; allowed ${allowed.toFixed(3)} ms` +
        controlText,
      status: status(added <= allowed),
    });
  }

  {
    const area = `Soak, ${run.config.soak.cycles.toLocaleString('en-US')} cycles`;
    const soak = run.soak;
    if (!soak) {
      na(area, 'heap growth < 5 MB');
      na(area, 'no growth in subscriptions or timers');
    } else {
      const growth = soak.heapGrowthBytes / 1024 / 1024;
      const done = soak.cycles >= soak.targetCycles;
      targets.push({
        area,
        target: 'heap growth < 5 MB (after GC)',
        measured:
          `${growth >= 0 ? '+' : ''}${growth.toFixed(2)} MB on ${soak.store}` +
          (done ? '' : ` (only ${soak.cycles} of ${soak.targetCycles} cycles in the time bound)`),
        status: status(growth < 5 && done),
      });
      const grown = Object.entries(soak.resourceGrowth).map(([kind, n]) => `${kind} +${n}`);
      const leftovers = [
        soak.after.held > 0 ? `${soak.after.held} held` : '',
        soak.after.localWaiters > 0 ? `${soak.after.localWaiters} local waiters` : '',
        (soak.after.channels ?? 0) > 0 ? `${soak.after.channels} adapter channels` : '',
        (soak.redisChannelsAfter ?? 0) > 0 ? `${soak.redisChannelsAfter} Redis channels` : '',
      ].filter(Boolean);
      const clean = grown.length === 0 && leftovers.length === 0;
      targets.push({
        area,
        target: 'no growth in subscriptions or timers',
        measured: clean
          ? `none (active resources ${describeResources(soak.after.resources)}; 0 channels, 0 waiters, 0 held)`
          : [...grown, ...leftovers].join(', '),
        status: status(clean),
      });
    }
  }
  return targets;
}

export function describeResources(resources: Record<string, number>): string {
  const entries = Object.entries(resources).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([kind, n]) => `${kind} ${n}`).join(', ');
}
