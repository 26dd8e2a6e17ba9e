/**
 * CPU time the hypervisor gave to other guests while the bench ran ("steal" in `/proc/stat`).
 * On a shared VM it, more than the load average, says which rounds ran on a slower machine:
 * the load average counts only this guest's runnable tasks, and a round in which the host
 * took a fifth of the CPU looks idle to it. Linux only; elsewhere every reading is undefined.
 */
import { readFileSync } from 'node:fs';

/** Cumulative CPU time of all CPUs, in clock ticks: the part stolen and the whole. */
export interface CpuTimes {
  readonly steal: number;
  readonly total: number;
}

/** The machine's CPU times now, or undefined where `/proc/stat` has none. */
export function cpuTimes(): CpuTimes | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  } catch {
    return undefined;
  }
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice": guest time is
  // already counted in user and nice, so the whole is the first eight.
  const fields = line.trim().split(/\s+/);
  if (fields[0] !== 'cpu' || fields.length < 9) return undefined;
  const ticks = fields.slice(1, 9).map(Number);
  if (ticks.some((n) => !Number.isFinite(n))) return undefined;
  return { steal: ticks[7]!, total: ticks.reduce((sum, n) => sum + n, 0) };
}

/** Percent of the CPU time stolen between `from` and `to`; undefined without both readings. */
export function stealPercent(
  from: CpuTimes | undefined,
  to: CpuTimes | undefined = cpuTimes(),
): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined;
  return (100 * (to.steal - from.steal)) / (to.total - from.total);
}

/** Compact text for a series of steal percentages: `0–21 %`, `14 %`, or `–` when none was read. */
export function stealRange(values: readonly (number | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined);
  if (known.length === 0) return '–';
  const [low, high] = [Math.min(...known).toFixed(0), Math.max(...known).toFixed(0)];
  return low === high ? `${low} %` : `${low}–${high} %`;
}
