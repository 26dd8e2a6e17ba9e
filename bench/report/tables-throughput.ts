/** Tables of the throughput workloads: uncontended, many keys, scaling. */
import { contenderInfo } from '../core/contenders.js';
import { loadRange } from '../core/rounds.js';
import type { ThroughputBlock, ThroughputRow, Turn } from '../workloads/throughput.js';
import { medianOf, pooledOr, pooledRatio, ratioOf, rowOf, shortRatio } from './ratios.js';
import { fixed, int, type Table } from './table.js';

const ops = (t: Turn): number => t.opsPerSec;
/** p50 and p99 over every round's calls (per-turn medians for results recorded before). */
const p50 = (row: ThroughputRow): number =>
  pooledOr(
    row,
    (r) => r.latency?.p50,
    (t) => t.p50,
  );
const p99 = (row: ThroughputRow): number =>
  pooledOr(
    row,
    (r) => r.latency?.p99,
    (t) => t.p99,
  );

/** One table for a family of blocks (uncontended or many keys), one row per contender per block. */
export function throughputTable(title: string, blocks: readonly ThroughputBlock[]): Table {
  const rows: string[][] = [];
  for (const block of blocks) {
    const ours = rowOf(block.rows, 'ours');
    for (const row of block.rows) {
      const approx = row.turns.some((t) => t.redisApprox) ? ' ≈' : '';
      const errors = row.turns.reduce((sum, t) => sum + t.errors, 0);
      rows.push([
        String(block.nodes),
        row.label,
        int(medianOf(row, ops)),
        fixed(p50(row), 3),
        fixed(p99(row), 3),
        fixed(medianOf(row, (t) => t.cpuUsPerOp)),
        row.turns.every((t) => t.userUsPerOp !== undefined)
          ? fixed(medianOf(row, (t) => t.userUsPerOp!))
          : '',
        fixed(medianOf(row, (t) => t.redisCmdUsPerOp)) + approx,
        fixed(medianOf(row, (t) => t.redisCpuUsPerOp)),
        ours && row !== ours ? shortRatio(ratioOf(ours, row, ops)) : '',
        errors ? String(errors) : '',
      ]);
    }
  }
  const rounds = blocks[0]?.rows[0]?.turns.length ?? 0;
  return {
    title,
    headers: [
      'nodes',
      'contender',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'client CPU µs/op',
      'of it user µs/op',
      'Redis cmd µs/op',
      'Redis CPU µs/op',
      'ours ÷ this (min–max)',
      'errors',
    ],
    align: 'rlrrrrrrrrr',
    rows,
    note:
      `Medians over ${rounds} interleaved round(s); ratios are medians of per-round ratios (ops/s), min–max across rounds. ` +
      'p50/p99: over every round’s calls together (a turn’s own p99 rests on a few dozen calls). ' +
      'client CPU: user + system of the bench process; of it user: the user-space part (library, client, V8, GC), the rest is the kernel’s (syscalls, loopback TCP). Redis cmd: server time in top-level commands only (scripts include their inner commands, which are not counted again; ≈: a command type was sent both directly and from scripts, apportioned by calls). ' +
      'Redis CPU: main-thread CPU of the redis-server processes (commands + network + parsing). Both summed over the nodes. ² secondary rows (ours’ engine and `using`; the limit on auto-pipelined clients; the limit sending our commands), never in a headline ratio. ' +
      `Load (1-min avg) during the rounds: ${blocks.map((b) => `${b.nodes} node(s) ${loadRange(b.load)}`).join(', ')}.`,
  };
}

export function scalingTable(blocks: readonly ThroughputBlock[]): Table {
  const rows: string[][] = [];
  for (const block of blocks) {
    const ours = rowOf(block.rows, 'ours');
    for (const row of block.rows) {
      rows.push([
        String(block.nodes),
        String(block.inFlight),
        contenderInfo(row.contender).label(block.nodes),
        int(medianOf(row, ops)),
        fixed(p50(row), 3),
        fixed(p99(row), 3),
        fixed(medianOf(row, (t) => t.redisCmdUsPerOp)),
        ours && row !== ours ? shortRatio(ratioOf(ours, row, ops)) : '',
        ours && row !== ours
          ? shortRatio(
              pooledRatio(
                ours,
                row,
                (r) => r.latency?.p99,
                (t: Turn) => t.p99,
              ),
            )
          : '',
      ]);
    }
  }
  return {
    title: 'Scaling: uncontended acquire + release by node count and calls in flight',
    headers: [
      'nodes',
      'in flight',
      'contender',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'Redis cmd µs/op',
      'ours ÷ this ops/s',
      'ours ÷ this p99',
    ],
    align: 'rrlrrrrrr',
    rows,
    note: 'Each cell is its own set of interleaved rounds. p50/p99: latency of one acquire + release with that many calls in flight, over every round’s calls together; ours ÷ this p99: of those, in brackets the per-round ratios.',
  };
}
