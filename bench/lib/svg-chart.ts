/**
 * Small hand-written SVG line charts for the scaling figures: one panel per measured value
 * (rate, CPU per job, memory, …), the same points on every panel's x axis, one line per
 * server. No library: the charts are simple and a dependency would be bigger than this file.
 */

/** One line: a server (or a server with flags) and its value at each x point. */
export interface ChartSeries {
  readonly name: string;
  /** One per x label; undefined where the point was skipped or failed (the line has a gap). */
  readonly values: readonly (number | undefined)[];
}

/** One plot of the chart. */
export interface ChartPanel {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly ChartSeries[];
}

/** A whole chart. */
export interface Chart {
  readonly title: string;
  /** What the x points are, e.g. "idle connections". */
  readonly xTitle: string;
  readonly xLabels: readonly string[];
  readonly panels: readonly ChartPanel[];
  /** A line under the title: the machine, the date, the pattern. */
  readonly note?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];
const PANEL_W = 380;
const PANEL_H = 250;
const MARGIN = { left: 64, right: 16, top: 28, bottom: 48 };
const COLUMNS = 2;
const HEADER_H = 64;

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Tick values from 0 to a round top at or above `max`: 0, step, 2·step, … */
export function niceTicks(max: number): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let i = 0; i * step < max + step * 1e-9 || ticks.length < 2; i++) ticks.push(i * step);
  if ((ticks[ticks.length - 1] as number) < max) ticks.push(ticks.length * step);
  return ticks;
}

/** A short label: 1.2M, 350k, 12.5, 0.25. */
export function shortNumber(value: number): string {
  const abs = Math.abs(value);
  const trim = (n: number, digits: number): string => String(Number(n.toFixed(digits)));
  if (abs >= 1e6) return `${trim(value / 1e6, 1)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3, 0)}k`;
  if (abs >= 1e3) return `${trim(value / 1e3, 1)}k`;
  if (abs >= 10) return trim(value, 0);
  return trim(value, 2);
}

function panelSvg(chart: Chart, panel: ChartPanel, originX: number, originY: number): string {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const x0 = originX + MARGIN.left;
  const y0 = originY + MARGIN.top;
  const all = panel.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const ticks = niceTicks(Math.max(0, ...all));
  const top = ticks[ticks.length - 1] as number;
  const n = chart.xLabels.length;
  const xAt = (i: number): number => x0 + ((i + 0.5) * plotW) / Math.max(1, n);
  const yAt = (v: number): number => y0 + plotH - (top > 0 ? (v / top) * plotH : 0);
  const out: string[] = [];
  out.push(
    `<text x="${x0 + plotW / 2}" y="${originY + 18}" text-anchor="middle" font-weight="bold">${escapeXml(`${panel.title} (${panel.unit})`)}</text>`,
  );
  for (const t of ticks) {
    const y = yAt(t).toFixed(1);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(shortNumber(t))}</text>`,
    );
  }
  out.push(
    `<path d="M${x0},${y0} V${y0 + plotH} H${x0 + plotW}" fill="none" stroke="#333" stroke-width="1"/>`,
  );
  chart.xLabels.forEach((label, i) => {
    const x = xAt(i).toFixed(1);
    out.push(`<line x1="${x}" y1="${y0 + plotH}" x2="${x}" y2="${y0 + plotH + 4}" stroke="#333"/>`);
    out.push(
      `<text x="${x}" y="${y0 + plotH + 16}" text-anchor="middle">${escapeXml(label)}</text>`,
    );
  });
  out.push(
    `<text x="${x0 + plotW / 2}" y="${y0 + plotH + 36}" text-anchor="middle" fill="#555">${escapeXml(chart.xTitle)}</text>`,
  );
  panel.series.forEach((series, s) => {
    const color = COLORS[s % COLORS.length] as string;
    // Consecutive measured points make a line; a skipped point breaks it.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1)
        out.push(
          `<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
        );
      run = [];
    };
    series.values.forEach((v, i) => {
      if (v === undefined) {
        flush();
        return;
      }
      const point = `${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`;
      run.push(point);
      out.push(
        `<circle cx="${xAt(i).toFixed(1)}" cy="${yAt(v).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${series.name}, ${chart.xLabels[i] ?? ''}: ${shortNumber(v)} ${panel.unit}`)}</title></circle>`,
      );
    });
    flush();
  });
  return out.join('\n');
}

/** The chart as a standalone SVG document. */
export function svgChart(chart: Chart): string {
  const columns = Math.min(COLUMNS, Math.max(1, chart.panels.length));
  const rows = Math.ceil(chart.panels.length / columns);
  const width = columns * PANEL_W;
  const height = HEADER_H + rows * PANEL_H;
  const names = [...new Set(chart.panels.flatMap((p) => p.series.map((s) => s.name)))];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  if (chart.note !== undefined)
    out.push(
      `<text x="${width / 2}" y="36" text-anchor="middle" fill="#555">${escapeXml(chart.note)}</text>`,
    );
  let legendX = 16;
  names.forEach((name) => {
    const s = chart.panels[0]?.series.findIndex((x) => x.name === name) ?? -1;
    const color = COLORS[(s < 0 ? names.indexOf(name) : s) % COLORS.length] as string;
    out.push(
      `<line x1="${legendX}" y1="52" x2="${legendX + 18}" y2="52" stroke="${color}" stroke-width="3"/>`,
    );
    out.push(`<text x="${legendX + 22}" y="56">${escapeXml(name)}</text>`);
    legendX += 30 + name.length * 7;
  });
  chart.panels.forEach((panel, i) => {
    const originX = (i % columns) * PANEL_W;
    const originY = HEADER_H + Math.floor(i / columns) * PANEL_H;
    out.push(panelSvg(chart, panel, originX, originY));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
