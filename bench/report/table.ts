/** A result table, rendered as aligned text (stdout) or Markdown (BENCHMARKS.md). */
export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  /** 'l' or 'r' per column. */
  readonly align: string;
  readonly rows: readonly (readonly string[])[];
  readonly note?: string;
}

export const int = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
export const fixed = (value: number, digits = 1): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

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
