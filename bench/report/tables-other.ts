/** Tables of the hot-key, HTTP, memory and soak workloads, and of the audits. */
import { loadRange } from '../core/rounds.js';
import { median } from '../core/stats.js';
import type { Audit } from '../core/key-audit.js';
import { heldShare, type HotKeyTurn } from '../workloads/hot-key-analysis.js';
import type { HotKeyBlock } from '../workloads/hot-key.js';
import type { Route } from '../workloads/http.js';
import { medianOf, pooledOr, ratioOf, rowOf, shortRatio } from './ratios.js';
import type { RunResult } from './results.js';
import { fixed, int, type Table } from './table.js';

export function hotKeyTable(blocks: readonly HotKeyBlock[], holdMs: number): Table {
  const rows: string[][] = [];
  const handoffs = (t: HotKeyTurn): number => t.handoffsPerSec;
  const acq = (t: HotKeyTurn): number => t.acquisitionsPerSec;
  for (const block of blocks) {
    const ours = rowOf(block.rows, 'ours');
    for (const row of block.rows) {
      const sum = (pick: (t: HotKeyTurn) => number): number =>
        row.turns.reduce((total, t) => total + pick(t), 0);
      const attempts = medianOf(row, (t) => t.attemptsPerAcquisition ?? Number.NaN);
      rows.push([
        String(block.nodes),
        String(block.processes),
        row.label,
        int(medianOf(row, acq)),
        `${(medianOf(row, heldShare) * 100).toFixed(0)} %`,
        int(medianOf(row, handoffs)),
        block.processes > 1 ? int(medianOf(row, (t) => t.crossProcessPerSec ?? 0)) : '',
        fixed(
          pooledOr(
            row,
            (r) => r.wait?.p50,
            (t) => t.wait.p50,
          ),
          2,
        ),
        fixed(
          pooledOr(
            row,
            (r) => r.wait?.p99,
            (t) => t.wait.p99,
          ),
          1,
        ),
        fixed(Math.max(...row.turns.map((t) => t.wait.max)), 0),
        String(sum((t) => t.giveUps)) +
          (sum((t) => t.abandoned)
            ? ` (${sum((t) => t.abandoned)} abandoned, ${sum((t) => t.stillRunning)} ran into the next turn)`
            : ''),
        String(sum((t) => t.overlaps)),
        shares(row.turns),
        Number.isFinite(attempts) ? attempts.toFixed(1) : '',
        ours && row !== ours ? shortRatio(ratioOf(ours, row, handoffs)) : '',
        ours && row !== ours ? shortRatio(ratioOf(ours, row, acq)) : '',
      ]);
    }
  }
  const b = blocks[0];
  return {
    title: `Hot key: ${b?.workers ?? 8} workers, 1 key, ~${holdMs} ms hold, ${(b?.windowMs ?? 0) / 1_000} s window per turn`,
    headers: [
      'nodes',
      'procs',
      'contender',
      'acq/s',
      'key held',
      'hand-offs/s',
      'to other proc/s',
      'wait p50 ms',
      'wait p99 ms',
      'wait max ms',
      'give-ups',
      'overlaps',
      'least share worker / proc',
      'attempts/acq',
      'ours ÷ this hand-offs',
      'ours ÷ this acq',
    ],
    align: 'rrlrrrrrrrrrrrrr',
    rows,
    note:
      'Medians over interleaved rounds (each contender one window per round, a fresh key per window); wait p50/p99 over every round’s calls together. key held: acquisitions/s × the mean hold (acquired to release call), the share of the window the key was held; 100 % is the ceiling of any lock. hand-off: an acquisition by another worker than the previous holder. give-ups: calls that failed on their own (retry budget spent); abandoned: calls still waiting at the end of the drain that ignored the abort (node-redlock takes no signal) — the bench waits for them before the next turn, up to a bound; overlaps: holds that began before the previous hold ended (must be 0). least share: the acquisitions of the least-served worker (and process) over the mean per worker (per process), 1.00 = even, median over rounds. attempts/acq: ours only, from its events. ' +
      `Load during the rounds: ${blocks.map((x) => `${x.nodes}n/${x.processes}p ${loadRange(x.load)}`).join(', ')}.`,
  };
}

const ROUTE_LABELS: Record<Route, string> = {
  plain: 'plain route',
  locked: '@WithLock route',
  service: 'RedlockService by hand',
  limit: 'control: hand-written lock',
};

export function httpTable(run: RunResult): Table | undefined {
  const http = run.http;
  if (!http || http.results.length === 0) return undefined;
  const rows = http.results.map((r) => [
    String(r.nodes),
    String(r.connections),
    ROUTE_LABELS[r.route],
    int(r.reqPerSec),
    fixed(r.msPerRequest, 3),
    fixed(r.latency.p50, 3),
    fixed(r.latency.p99, 3),
    r.addedMs === undefined ? '' : `${r.addedMs >= 0 ? '+' : ''}${r.addedMs.toFixed(3)}`,
    r.lockRoundTripMs === undefined ? '' : r.lockRoundTripMs.toFixed(3),
    r.addedPerRoundTrip ? shortRatio(r.addedPerRoundTrip) : '',
    String(r.errors + r.non2xx),
  ]);
  return {
    title:
      'HTTP: one Nest (express) handler plain, with @WithLock, with RedlockService called by hand, and with the hand-written lock (control)',
    headers: [
      'nodes',
      'conns',
      'route',
      'req/s',
      'ms/request',
      'p50 ms',
      'p99 ms',
      'added ms',
      'lock RT ms',
      'added ÷ RT',
      'errors',
    ],
    align: 'rrlrrrrrrrr',
    rows,
    note: `Medians over ${run.config.http.slices} rounds; each round gives every route one ${run.config.http.sliceS} s slice, in a random order per round. ms/request = connections × duration / requests. added = this route minus plain in the same round. lock RT = acquire + release of the route’s lock (the app’s RedlockService for @WithLock and by-hand routes; for the control route the hand-written lock), measured in the app process after each round, one call at a time; added ÷ RT is paired by round. Load: ${loadRange(http.load)}.`,
  };
}

export function memoryTable(run: RunResult): Table | undefined {
  const mem = run.memory;
  const linger = run.lingering;
  if (!mem && !linger) return undefined;
  const ids = [
    ...new Set([
      ...(mem?.results.map((r) => r.contender) ?? []),
      ...(linger?.rows.map((r) => r.contender) ?? []),
    ]),
  ];
  const rows = ids.map((id) => {
    const m = mem?.results.find((r) => r.contender === id);
    const l = linger?.rows.find((r) => r.contender === id);
    const label = l?.label ?? id;
    return [
      label,
      m ? int(m.heapBytesPerLock) : '',
      m ? int(m.redisUsedMemoryPerLock) : '',
      m ? int(m.memoryUsagePerLock) : '',
      m ? m.keysPerLock.toFixed(2) : '',
      m ? String(m.keysAfterRelease) : '',
      l ? `${l.perInstance.keys} (${int(l.perInstance.bytes)} B)` : '',
      l ? String(l.afterRelease.keys) : '',
      l ? String(l.afterTtl.keys) : '',
      l ? int(l.afterTtl.bytes) : '',
      l && l.afterTtl.keys > 0
        ? l.afterTtl.maxPttlMs === -1
          ? 'none (no ttl)'
          : `${(l.afterTtl.maxPttlMs / 1_000).toFixed(1)} s`
        : '',
    ];
  });
  return {
    title: `Memory: ${mem?.locks.toLocaleString('en-US') ?? '–'} locks held at once; ${linger?.rows[0]?.locks ?? '–'} released locks, ttl ${linger?.ttl ?? '–'} ms`,
    headers: [
      'contender',
      'heap B/lock',
      'Redis B/lock',
      'MEMORY USAGE B/lock',
      'keys/lock',
      'keys after release',
      'per-instance keys',
      'keys right after (probe)',
      'keys after ttl',
      'bytes after ttl',
      'longest ttl left',
    ],
    align: 'lrrrrrrrrrr',
    rows,
    note: `heap: heapUsed after two forced GCs (child run with --expose-gc), holding every handle, minus before, per lock. Redis: used_memory delta per lock on one node; MEMORY USAGE: the keys found per lock (helper keys included). keys after ttl: keys of the contender still on the node ${linger ? linger.ttl + linger.graceMs : '–'} ms after releasing (ttl + grace for Redis' sampled expiry); ours includes its \\u0000redlock: helper keys. per-instance keys: on the node after 10 warm-up locks, before the measured ones (ours writes one instance record per app instance and node on its first lock), left out of every per-lock count.`,
  };
}

export function soakTable(run: RunResult): Table | undefined {
  const s = run.soak;
  if (!s) return undefined;
  const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);
  const grown = Object.entries(s.resourceGrowth).map(([kind, n]) => `${kind} +${n}`);
  return {
    title: `Soak: ours (RedlockService), ${s.targetCycles.toLocaleString('en-US')} acquire/release cycles, ${s.concurrency} in flight over ${s.keySpace} keys`,
    headers: [
      'cycles',
      'cycles/s',
      'heap MiB at checkpoints (after GC)',
      'growth MiB',
      'handles grown',
      'held after',
      'Redis channels after',
      'errors',
    ],
    align: 'rrlrlrrr',
    rows: [
      [
        int(s.cycles),
        int(s.cyclesPerSec),
        s.snapshots.map((snap) => mb(snap.heapUsed)).join(' → '),
        `${s.heapGrowthBytes >= 0 ? '+' : ''}${mb(s.heapGrowthBytes)}`,
        grown.length === 0 ? 'none' : grown.join(', '),
        String(s.snapshots[s.snapshots.length - 1]?.held ?? '–'),
        String(s.redisChannelsAfter),
        String(s.errors),
      ],
    ],
    note: run.quick ? 'quick mode: far fewer cycles than the full run’s 1,000,000.' : undefined,
  };
}

/** Every audit with something in it: what was on the nodes before each cleanup. */
export function auditTable(audits: readonly Audit[]): Table {
  const rows: string[][] = [];
  for (const audit of audits) {
    for (const o of audit.owners) {
      rows.push([
        audit.when,
        o.owner,
        int(o.keys),
        int(o.bytes),
        o.maxPttlMs === -1
          ? `none (${o.persistent} without ttl)`
          : `${(o.maxPttlMs / 1_000).toFixed(1)} s`,
        o.examples.join(', '),
      ]);
    }
  }
  return {
    title: 'Keys found before each cleanup (nothing is flushed uncounted)',
    headers: ['when', 'owner', 'keys', 'bytes', 'longest ttl left', 'examples'],
    align: 'llrrll',
    rows: rows.length > 0 ? rows : [['every audit', '–', '0', '0', '', 'nothing was left']],
    note: 'Audited with SCAN + MEMORY USAGE + PTTL before every FLUSHALL; owners from the contender id in each resource name. Hot-key and throughput turns leave released keys only if a library keeps something after release.',
  };
}

/** `0.71 / 0.93`: the least-served worker's and process's share (medians over rounds). */
function shares(turns: readonly HotKeyTurn[]): string {
  const med = (pick: (t: HotKeyTurn) => number | undefined): string => {
    const values = turns.map(pick).filter((v): v is number => v !== undefined);
    return values.length === 0 ? '–' : median(values).toFixed(2);
  };
  const proc = med((t) => t.leastProcessShare);
  const worker = med((t) => t.leastWorkerShare);
  return worker === '–' ? '' : proc === '–' ? worker : `${worker} / ${proc}`;
}
