import type { InspectedLock, LockInspection } from '../interfaces/lock-inspection.interface.js';

/**
 * Text for a terminal from data a node returned: lock names and instance records are whatever
 * someone stored in Redis, so control characters (an escape sequence could rewrite the screen or
 * the title bar) are shown as `\u001b`-style escapes, and long values are cut.
 */
export function printable(text: string, max = 60): string {
  const safe = text.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what it must find
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

/** `12.3 s`, `4 min`, `2 h`. */
export function duration(ms: number): string {
  if (ms < 0) return 'no expiry';
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}

const HEADERS = ['RESOURCE', 'MODE', 'HOLDER', 'SINCE', 'TTL', 'FENCING', 'WAITERS', 'NODES'];

function cells(lock: InspectedLock, at: number, total: number): string[] {
  const first = lock.holders[0];
  const who = first?.instance
    ? `${first.instance.name} (${first.instance.host}, pid ${first.instance.pid})`
    : 'unknown';
  const more = lock.holders.length > 1 ? ` +${lock.holders.length - 1}` : '';
  return [
    printable(lock.resource),
    lock.mode + (lock.writerWaiting ? '*' : ''),
    printable(who, 50) + more,
    first?.acquiredAt === undefined ? '-' : `${duration(at - first.acquiredAt)} ago`,
    duration(lock.ttl),
    lock.fencingCounter === undefined ? '-' : `<= ${lock.fencingCounter}`,
    String(lock.waiters),
    `${lock.nodes}/${total}${lock.quorum ? '' : ' !'}`,
  ];
}

/**
 * The inspection as an aligned table, then one line per node that did not answer. `!` after
 * the node count: no holder has a quorum (being taken, or expiring); `*` after the mode: a writer
 * waits for the readers.
 */
export function lockTable(inspection: LockInspection): string {
  const total = inspection.nodes.length;
  const rows = inspection.locks.map((lock) => cells(lock, inspection.at, total));
  const lines: string[] = [];
  if (rows.length === 0) {
    lines.push('No lock is held.');
  } else {
    const widths = HEADERS.map((header, column) =>
      Math.max(header.length, ...rows.map((row) => row[column]!.length)),
    );
    const format = (row: readonly string[]) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd();
    lines.push(format(HEADERS), ...rows.map(format));
  }
  if (inspection.truncated) lines.push(`(more locks match: showing ${rows.length}; use --limit)`);
  for (const node of inspection.nodes) {
    if (node.status !== 'ok') {
      lines.push(
        `! ${printable(node.node, 100)}: ${node.status} (${printable(node.message ?? '', 200)})`,
      );
    }
  }
  return lines.join('\n');
}
