/** A line of a panel: `[x, y]` points (`y` undefined leaves a gap). */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number | undefined])[];
  /** Draw as steps (gauges of discrete states) instead of straight segments. */
  readonly step?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
  /** Fixed top of the y axis; default: the data's maximum, rounded up. */
  readonly yMax?: number;
  /** Labels of the y ticks instead of numbers (e.g. circuit states). */
  readonly yLabels?: Readonly<Record<number, string>>;
  /** Whole-number ticks (counts of locks). */
  readonly integer?: boolean;
}

/** A shaded stretch of time on every panel, labelled on the first. */
export interface Band {
  readonly from: number;
  readonly to: number;
  readonly label: string;
  readonly color: string;
}

const WIDTH = 960;
const PANEL_HEIGHT = 170;
const GAP = 46;
const LEFT = 70;
const RIGHT = 190;
const TOP = 64;

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2 or 5 times a power of ten, at least `value`. */
function niceCeil(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const format = (value: number): string =>
  Number.isInteger(value) ? String(value) : value.toFixed(value < 1 ? 2 : 1);

/** Renders stacked time-series panels sharing one x axis (seconds) as a standalone SVG. */
export function renderChart(
  title: string,
  subtitle: string,
  xMax: number,
  panels: readonly Panel[],
  bands: readonly Band[] = [],
): string {
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 10;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (t: number): number => LEFT + (t / xMax) * plotWidth;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="26" font-size="17" font-weight="bold" fill="#222">${escape(title)}</text>`,
    `<text x="${LEFT}" y="46" fill="#555">${escape(subtitle)}</text>`,
  ];
  panels.forEach((panel, index) => {
    const top = TOP + index * (PANEL_HEIGHT + GAP) + 18;
    const bottom = top + PANEL_HEIGHT;
    const values = panel.series.flatMap((series) =>
      series.points.map(([, y]) => y).filter((y): y is number => y !== undefined),
    );
    const top10 = Math.max(0, ...values) * 1.1;
    const yMax =
      panel.yMax ?? (panel.integer ? Math.max(4, Math.ceil(top10 / 4) * 4) : niceCeil(top10));
    const y = (value: number): number => bottom - (value / yMax) * PANEL_HEIGHT;
    out.push(
      `<text x="${LEFT}" y="${top - 8}" font-size="13" font-weight="bold" fill="#333">${escape(panel.title)}</text>`,
    );
    for (const [row, band] of bands.entries()) {
      out.push(
        `<rect x="${x(band.from).toFixed(1)}" y="${top}" width="${(x(band.to) - x(band.from)).toFixed(1)}" height="${PANEL_HEIGHT}" fill="${band.color}" opacity="0.14"/>`,
      );
      if (index === 0) {
        out.push(
          `<text x="${(x(band.from) + 4).toFixed(1)}" y="${top + 14 + row * 13}" font-size="11" fill="#666">${escape(band.label)}</text>`,
        );
      }
    }
    const ticks = panel.yLabels
      ? Object.keys(panel.yLabels).map(Number)
      : [0, 1, 2, 3, 4].map((i) => (yMax * i) / 4);
    for (const tick of ticks) {
      const label = panel.yLabels?.[tick] ?? format(tick);
      out.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#e4e4e4"/>`,
        `<text x="${LEFT - 8}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end" fill="#555">${escape(label)}</text>`,
      );
    }
    for (let t = 0; t <= xMax; t += xMax <= 60 ? 5 : 10) {
      out.push(
        `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${bottom}" y2="${bottom + 4}" stroke="#888"/>`,
        `<text x="${x(t).toFixed(1)}" y="${bottom + 17}" text-anchor="middle" fill="#555">${t} s</text>`,
      );
    }
    out.push(
      `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${bottom}" y2="${bottom}" stroke="#888"/>`,
      `<line x1="${LEFT}" x2="${LEFT}" y1="${top}" y2="${bottom}" stroke="#888"/>`,
      `<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#555">${escape(panel.unit)}</text>`,
    );
    panel.series.forEach((series, n) => {
      for (const segment of segments(series)) {
        const path = segment
          .map(([t, value], i) => {
            const point = `${x(t).toFixed(1)},${y(Math.min(value, yMax)).toFixed(1)}`;
            if (i === 0) return `M${point}`;
            return series.step
              ? `H${x(t).toFixed(1)} V${y(Math.min(value, yMax)).toFixed(1)}`
              : `L${point}`;
          })
          .join(' ');
        out.push(
          `<path d="${path}" fill="none" stroke="${series.color}" stroke-width="2" stroke-linejoin="round"/>`,
        );
      }
      const legendY = top + 14 + n * 18;
      out.push(
        `<line x1="${LEFT + plotWidth + 16}" x2="${LEFT + plotWidth + 36}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="3"/>`,
        `<text x="${LEFT + plotWidth + 42}" y="${legendY}" fill="#333">${escape(series.label)}</text>`,
      );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Runs of defined points. */
function segments(series: Series): [number, number][][] {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  for (const [t, value] of series.points) {
    if (value === undefined) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else {
      run.push([t, value]);
    }
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
