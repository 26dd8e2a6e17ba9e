/** Every result table of a run, in report order. */
import type { Audit } from '../core/key-audit.js';
import type { RunResult } from './results.js';
import { type Table } from './table.js';
import { auditTable, hotKeyTable, httpTable, memoryTable, soakTable } from './tables-other.js';
import { scalingTable, throughputTable } from './tables-throughput.js';

export function allAudits(run: RunResult): Audit[] {
  return [
    ...run.audits,
    ...run.uncontended.map((b) => b.audit),
    ...run.manyKeys.map((b) => b.audit),
    ...run.scaling.map((b) => b.audit),
    ...run.hotKey.map((b) => b.audit),
    ...(run.http?.audits ?? []),
    ...(run.memory ? [run.memory.audit] : []),
    ...(run.lingering ? [run.lingering.before] : []),
    ...(run.soak ? [run.soak.audit] : []),
  ].filter((audit) => audit.owners.length > 0);
}

export function targetsTable(run: RunResult): Table {
  return {
    title: 'Targets (issue 14)',
    headers: ['area', 'target', 'measured: median ratio (min–max over rounds)', 'status'],
    align: 'llll',
    rows: run.targets.map((t) => [t.area, t.target, t.measured, t.status]),
  };
}

export function buildTables(run: RunResult): Table[] {
  const tables: Table[] = [];
  if (run.uncontended.length > 0) {
    tables.push(
      throughputTable(
        'Uncontended acquire + release, one call at a time, a new key per call',
        run.uncontended,
      ),
    );
  }
  if (run.manyKeys.length > 0) {
    tables.push(
      throughputTable(
        `${run.config.manyKeys.inFlight} calls in flight on distinct keys`,
        run.manyKeys,
      ),
    );
  }
  if (run.hotKey.length > 0) tables.push(hotKeyTable(run.hotKey, run.config.hotKey.holdMs));
  const http = httpTable(run);
  if (http) tables.push(http);
  const memory = memoryTable(run);
  if (memory) tables.push(memory);
  const soak = soakTable(run);
  if (soak) tables.push(soak);
  if (run.scaling.length > 0) tables.push(scalingTable(run.scaling));
  tables.push(auditTable(allAudits(run)));
  tables.push({
    title: 'Machine load (1-minute load average) by phase',
    headers: ['phase', 'at start', 'at end', 'CPU stolen'],
    align: 'lrrr',
    rows: run.phases.map((p) => [
      p.phase,
      p.start.toFixed(2),
      p.end.toFixed(2),
      p.steal === undefined ? '–' : `${p.steal.toFixed(1)} %`,
    ]),
    note: `${run.machine.cpus} CPUs. Above ${run.machine.cpus}, other work shared the machine: ratios within a round stay comparable, absolute numbers move. CPU stolen: the share of the CPU the hypervisor gave to other guests (\`/proc/stat\` steal), which the load average does not count; a phase with much of it ran on a slower and less steady machine.`,
  });
  tables.push(targetsTable(run));
  return tables;
}
