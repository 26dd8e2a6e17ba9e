/** The result tables, built once and rendered as text (stdout) or Markdown (BENCHMARKS.md). */
import type { ContenderId } from '../core/contenders.js';
import type { ThroughputResult } from '../workloads/throughput.js';
import type { RunResult } from './results.js';
import { describeResources, ratio } from './targets.js';

export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  /** 'l' or 'r' per column. */
  readonly align: string;
  readonly rows: readonly (readonly string[])[];
  readonly note?: string;
}

const int = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
const ms = (value: number, digits = 3): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

function vs(rows: readonly ThroughputResult[], row: ThroughputResult, id: ContenderId): string {
  const other = rows.find((r) => r.nodes === row.nodes && r.contender === id);
  return other ? ratio(row.opsPerSec / other.opsPerSec) : '–';
}

export function buildTables(run: RunResult): Table[] {
  const tables: Table[] = [];
  if (run.uncontended.length > 0) {
    tables.push({
      title: '1. Uncontended acquire + release, one call at a time, a new key per call',
      headers: [
        'nodes',
        'contender',
        'ops/s',
        'p50 ms',
        'p99 ms',
        'client CPU µs/op',
        'Redis µs/op',
        'ours vs this',
      ],
      align: 'rlrrrrrr',
      rows: run.uncontended.map((r) => {
        const ours = run.uncontended.find((o) => o.nodes === r.nodes && o.contender === 'ours');
        return [
          String(r.nodes),
          r.label,
          int(r.opsPerSec),
          ms(r.latency?.p50 ?? Number.NaN),
          ms(r.latency?.p99 ?? Number.NaN),
          r.cpuUsPerOp.toFixed(1),
          r.redisUsPerOp.toFixed(1),
          r.contender === 'ours' || !ours ? '' : ratio(ours.opsPerSec / r.opsPerSec),
        ];
      }),
      note: 'client CPU: user + system time of the bench process per operation; Redis: server time in commands per operation, summed over the nodes (INFO commandstats).',
    });
  }
  if (run.manyKeys.length > 0) {
    tables.push({
      title: `2. Many keys: ${run.config.manyKeys.inFlight} calls in flight, distinct keys`,
      headers: [
        'nodes',
        'contender',
        'ops/s',
        'client CPU µs/op',
        'Redis µs/op',
        'vs limit',
        'ours vs this',
      ],
      align: 'rlrrrrr',
      rows: run.manyKeys.map((r) => {
        const ours = run.manyKeys.find((o) => o.nodes === r.nodes && o.contender === 'ours');
        return [
          String(r.nodes),
          r.label,
          int(r.opsPerSec),
          r.cpuUsPerOp.toFixed(1),
          r.redisUsPerOp.toFixed(1),
          vs(run.manyKeys, r, 'limit'),
          r.contender === 'ours' || !ours ? '' : ratio(ours.opsPerSec / r.opsPerSec),
        ];
      }),
    });
  }
  if (run.contended.length > 0) {
    const c = run.config.contended;
    tables.push({
      title: `3. Contended hot key: ${c.workers} workers, 1 key, ~${c.holdMs} ms hold, ${c.windowMs / 1_000} s window`,
      headers: [
        'nodes',
        'procs',
        'contender',
        'acq/s',
        'hand-offs/s',
        'to other proc/s',
        'hold ms',
        'gap p50 ms',
        'wait p50 ms',
        'p99 ms',
        'max ms',
        'give-ups',
        'stuck %',
        'stuck ≥5 ms %',
        'overlaps',
        'attempts/acq',
      ],
      align: 'rrlrrrrrrrrrrrrr',
      rows: run.contended.map((r) => [
        String(r.nodes),
        String(r.processes),
        r.calibration ? `${r.label}, 1 worker (sampler floor)` : r.label,
        int(r.acquisitionsPerSec),
        int(r.handoffsPerSec),
        r.crossProcessHandoffsPerSec === undefined ? '' : int(r.crossProcessHandoffsPerSec),
        ms(r.holdMeanMs, 2),
        ms(r.gap.p50, 2),
        ms(r.wait.p50, 2),
        ms(r.wait.p99, 2),
        ms(r.wait.max, 1),
        String(r.giveUps) + (r.abandoned ? ` (${r.abandoned} abandoned)` : ''),
        (r.stuckShare * 100).toFixed(1),
        r.samples === 0 ? '–' : ((r.lingeringSamples / r.samples) * 100).toFixed(1),
        String(r.overlaps),
        r.attemptsPerAcquisition === undefined ? '' : r.attemptsPerAcquisition.toFixed(1),
      ]),
      note: 'hand-off: an acquisition by another worker than the previous holder; to other proc: one by a worker in another process. hold: mean time from acquired to the release call; gap: from a release call to the next acquisition. stuck: share of ~5 ms samples in which some node held the key but no value held a majority; stuck ≥5 ms: the same split state in two consecutive samples (a partial lock that lingered, not a hand-off in progress). The "1 worker" row is a single uncontended holder: the stuck share that node skew alone produces. overlaps: holds that began before the previous hold ended (must be 0). attempts/acq: ours only, from its events.',
    });
  }
  if (run.http.length > 0) {
    const rows: string[][] = [];
    for (const r of run.http) {
      const plain = run.http.find(
        (p) => p.nodes === r.nodes && p.connections === r.connections && p.route === 'plain',
      );
      const roundTrips = r.lockRoundTripMs;
      const w1 = run.uncontended.find((u) => u.nodes === r.nodes && u.contender === 'ours')?.latency
        ?.mean;
      const added = r.route !== 'plain' && plain ? r.msPerRequest - plain.msPerRequest : undefined;
      rows.push([
        String(r.nodes),
        String(r.connections),
        r.route === 'plain'
          ? 'plain route'
          : r.route === 'locked'
            ? '@WithLock route'
            : 'control: hand-written lock',
        int(r.reqPerSec),
        ms(r.msPerRequest),
        r.latency.p50.toFixed(1),
        r.latency.p99.toFixed(1),
        added === undefined ? '' : `${added >= 0 ? '+' : ''}${ms(added)}`,
        added === undefined || roundTrips === undefined ? '' : ms(roundTrips),
        added === undefined || w1 === undefined || r.route !== 'locked' ? '' : ms(w1),
        String(r.errors + r.non2xx),
      ]);
    }
    tables.push({
      title: `4. HTTP: one Nest (express) handler plain, with @WithLock, and with the hand-written lock (control); autocannon, ${run.config.http.durationS} s per route`,
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
        'W1 RT ms',
        'errors',
      ],
      align: 'rrlrrrrrrrr',
      rows,
      note: 'ms/request = connections × duration / requests (with 1 connection: the mean latency). added = this route minus plain; the routes alternate in short slices so all see the same machine load. lock RT = mean acquire + release of the route’s lock (the app’s RedlockService; for the control route, the hand-written lock called by hand), measured in the app process between the slices; W1 RT = ours from workload 1. The control route shows what serving HTTP adds to two bare Redis round trips. p50/p99: request-weighted means of autocannon’s per-slice percentiles (1 ms resolution).',
    });
  }
  if (run.soak) {
    const s = run.soak;
    tables.push({
      title: `5. Soak: ${s.targetCycles.toLocaleString('en-US')} acquire/release cycles, ${s.concurrency} in flight over ${s.keySpace} keys`,
      headers: [
        'store',
        'cycles',
        'cycles/s',
        'waited',
        'heap MB before → after',
        'growth MB',
        'RSS MB before → after',
        'active resources before → after',
      ],
      align: 'lrrrrrrl',
      rows: [
        [
          s.store,
          int(s.cycles),
          int(s.cyclesPerSec),
          int(s.waited),
          `${mb(s.before.heapUsed)} → ${mb(s.after.heapUsed)}`,
          `${s.heapGrowthBytes >= 0 ? '+' : ''}${(s.heapGrowthBytes / 1024 / 1024).toFixed(2)}`,
          `${mb(s.before.rss)} → ${mb(s.after.rss)}`,
          `${describeResources(s.before.resources)} → ${describeResources(s.after.resources)}`,
        ],
      ],
      note: `Store: ${s.why}. waited: acquisitions that collided with a held key and waited for its release. After the run: ${s.after.held} held, ${s.after.localWaiters} local waiters, ${s.after.channels ?? 'n/a'} adapter channels, ${s.redisChannelsAfter ?? 'n/a'} Redis channels with subscribers.`,
    });
  }
  tables.push({
    title: 'Targets',
    headers: ['area', 'target', 'measured', 'status'],
    align: 'llll',
    rows: run.targets.map((t) => [t.area, t.target, t.measured, t.status]),
  });
  return tables;
}

function width(text: string): number {
  return [...text].length;
}

export function renderText(tables: readonly Table[]): string {
  const out: string[] = [];
  for (const table of tables) {
    const widths = table.headers.map((header, i) =>
      Math.max(width(header), ...table.rows.map((row) => width(row[i] ?? ''))),
    );
    const line = (cells: readonly string[]): string =>
      cells
        .map((cell, i) => {
          const pad = ' '.repeat(widths[i]! - width(cell));
          return table.align[i] === 'r' ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd();
    out.push('', table.title, line(table.headers), widths.map((w) => '-'.repeat(w)).join('  '));
    for (const row of table.rows) out.push(line(row));
    if (table.note) out.push(`(${table.note})`);
  }
  return out.join('\n');
}

export function renderMarkdown(table: Table): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const lines = [
    `| ${table.headers.map(escape).join(' | ')} |`,
    `| ${[...table.align].map((a) => (a === 'r' ? '---:' : ':---')).join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ];
  return lines.join('\n');
}
