/**
 * Scaling: ops/s and p99 of uncontended acquire + release as the node count and the calls in
 * flight grow. The full run measures the whole grid (1, 3, 5, 7 nodes × 1, 16, 64, 256 in
 * flight); `--quick` only the two axes through (1 node, 1 in flight).
 */
import type { BenchConfig } from '../core/config.js';
import type { ContenderId } from '../core/contenders.js';
import { runThroughput, type ThroughputBlock, type ThroughputContext } from './throughput.js';

export function scalingCells(config: BenchConfig): { nodes: number; inFlight: number }[] {
  const s = config.scaling;
  const cells: { nodes: number; inFlight: number }[] = [];
  for (const nodes of s.nodes) {
    for (const inFlight of s.inFlight) {
      if (s.grid || nodes === s.nodes[0] || inFlight === s.inFlight[0]) {
        cells.push({ nodes, inFlight });
      }
    }
  }
  return cells;
}

export async function runScaling(
  config: BenchConfig,
  ids: readonly ContenderId[],
  ctx: ThroughputContext,
): Promise<ThroughputBlock[]> {
  const blocks: ThroughputBlock[] = [];
  for (const { nodes, inFlight } of scalingCells(config)) {
    blocks.push(await runThroughput('scaling', nodes, inFlight, config.scaling, ids, ctx));
  }
  return blocks;
}
