/** A self-contained SVG bar chart of the main numbers, written by the bench itself. */
import { CONTENDERS, type ContenderId } from '../core/contenders.js';
import type { HotKeyTurn } from '../workloads/hot-key-analysis.js';
import type { ThroughputBlock } from '../workloads/throughput.js';
import { medianOf } from './ratios.js';
import type { RunResult } from './results.js';

const COLORS: Record<ContenderId, string> = {
  ours: '#2563eb',
  'ours-using': '#60a5fa',
  'ours-engine': '#93c5fd',
  'ours-no-hand-off': '#bfdbfe',
  redlock: '#ea580c',
  'redlock-fast': '#f59e0b',
  sesame: '#9333ea',
  'sesame-fast': '#c084fc',
  semaphore: '#16a34a',
  limit: '#6b7280',
  'limit-ours': '#4b5563',
  'limit-pipelined': '#9ca3af',
};

const LEGEND: Record<ContenderId, string> = {
  ours: 'ours (service)',
  'ours-using': 'ours (using)',
  'ours-engine': 'ours (engine)',
  'ours-no-hand-off': 'ours (no hand-off)',
  redlock: 'node-redlock',
  'redlock-fast': 'node-redlock 10±10',
  sesame: 'sesame redlock',
  'sesame-fast': 'sesame 10±10',
  semaphore: 'redis-semaphore',
  limit: 'limit (hand-written)',
  'limit-ours': 'limit, our commands',
  'limit-pipelined': 'limit, auto-pipelined',
};

interface Bar {
  readonly contender: ContenderId;
  readonly value: number;
}
interface Group {
  readonly label: string;
  readonly bars: readonly Bar[];
}
interface Panel {
  readonly title: string;
  readonly groups: readonly Group[];
}

const WIDTH = 960;
const LEFT = 150;
const RIGHT = 90;
const BAR = 11;
const BAR_GAP = 2;
const GROUP_GAP = 10;
const TITLE = 26;

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function formatValue(value: number): string {
  if (value >= 10_000) return `${(value / 1_000).toFixed(1)}k`;
  return value.toFixed(0);
}

function panels(run: RunResult): Panel[] {
  const out: Panel[] = [];
  const nodesLabel = (n: number): string => `${n} node${n > 1 ? 's' : ''}`;
  const throughput = (title: string, blocks: readonly ThroughputBlock[]): void => {
    if (blocks.length === 0) return;
    out.push({
      title,
      groups: blocks.map((block) => ({
        label: nodesLabel(block.nodes),
        bars: block.rows.map((r) => ({
          contender: r.contender,
          value: medianOf(r, (t) => t.opsPerSec),
        })),
      })),
    });
  };
  throughput(
    'Uncontended acquire + release, one at a time (ops/s, median of rounds)',
    run.uncontended,
  );
  throughput(`${run.config.manyKeys.inFlight} in flight on distinct keys (ops/s)`, run.manyKeys);
  if (run.hotKey.length > 0) {
    const groups = (pick: (t: HotKeyTurn) => number): Group[] =>
      run.hotKey.map((block) => ({
        label: `${nodesLabel(block.nodes)}, ${block.processes} proc${block.processes > 1 ? 's' : ''}`,
        bars: block.rows.map((r) => ({ contender: r.contender, value: medianOf(r, pick) })),
      }));
    out.push({ title: 'Hot key, 8 workers: hand-offs/s', groups: groups((t) => t.handoffsPerSec) });
    out.push({
      title: 'Hot key, 8 workers: acquisitions/s',
      groups: groups((t) => t.acquisitionsPerSec),
    });
  }
  return out;
}

export function renderSvg(run: RunResult): string {
  const parts: string[] = [];
  let y = 20;
  parts.push(
    `<text x="12" y="${y}" font-size="15" font-weight="bold">nestjs-redlock benchmarks — ${escapeXml(run.startedAt.slice(0, 10))}, ${run.machine.cpus} × ${escapeXml(run.machine.cpuModel)}, Node ${escapeXml(run.versions.node)}, Redis ${escapeXml(run.versions.redis)}</text>`,
  );
  y += 18;
  let x = 12;
  for (const info of CONTENDERS) {
    // Wrap the legend before it runs off the right edge.
    if (x + 22 + LEGEND[info.id].length * 6.8 > WIDTH) {
      x = 12;
      y += 16;
    }
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${COLORS[info.id]}"/>`);
    parts.push(`<text x="${x + 14}" y="${y}" font-size="11">${escapeXml(LEGEND[info.id])}</text>`);
    x = Math.round(x + 22 + LEGEND[info.id].length * 6.8);
  }
  y += 12;
  const barArea = WIDTH - LEFT - RIGHT;
  for (const panel of panels(run)) {
    y += TITLE;
    parts.push(
      `<text x="12" y="${y - 8}" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`,
    );
    const max = Math.max(1, ...panel.groups.flatMap((g) => g.bars.map((b) => b.value)));
    for (const group of panel.groups) {
      const top = y;
      for (const bar of group.bars) {
        const w = Math.max(1, (bar.value / max) * barArea);
        parts.push(
          `<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLORS[bar.contender]}"><title>${escapeXml(
            `${LEGEND[bar.contender]}: ${bar.value.toFixed(1)}`,
          )}</title></rect>`,
        );
        parts.push(
          `<text x="${(LEFT + w + 4).toFixed(1)}" y="${y + BAR - 2}" font-size="10">${formatValue(bar.value)}</text>`,
        );
        y += BAR + BAR_GAP;
      }
      parts.push(
        `<text x="${LEFT - 8}" y="${((top + y) / 2 + 4).toFixed(1)}" font-size="11" text-anchor="end">${escapeXml(group.label)}</text>`,
      );
      y += GROUP_GAP;
    }
  }
  y += 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<rect width="${WIDTH}" height="${y}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
