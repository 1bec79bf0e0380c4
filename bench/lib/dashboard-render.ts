// Draws the Grafana dashboard's panels from query results, laid out by the panels' gridPos, in a
// dark theme like Grafana's: time series as lines (stacked where the panel stacks, threshold lines
// where it draws them, the unit on the axis), stats as their last value coloured by the
// thresholds, tables as rows of labels. Not Grafana: the same queries' results, drawn plainly.
import { Canvas, hex, textWidth, type Rgb } from './png-canvas.js';

export interface RenderSeries {
  name: string;
  points: Array<[number, number]>;
}

export interface RenderPanel {
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  unit?: string;
  min?: number;
  noValue?: string;
  stacked?: boolean;
  thresholds: Array<{ color: string; value: number | null }>;
  thresholdLines: boolean;
  /** Time series and stats. */
  series: RenderSeries[];
  /** Tables: the columns shown and one row per result. */
  table?: { columns: string[]; rows: string[][] };
}

const COL = 60;
const ROW = 32;
const PAD = 4;
const BG = hex('#111217');
const PANEL = hex('#181b1f');
const BORDER = hex('#2c3235');
const TEXT = hex('#ccccdc');
const DIM = hex('#8e8e99');
const GRID = hex('#24272c');
const PALETTE = [
  '#7eb26d',
  '#eab839',
  '#6ed0e0',
  '#ef843c',
  '#e24d42',
  '#1f78c1',
  '#ba43a9',
  '#705da0',
  '#508642',
  '#cca300',
  '#447ebc',
  '#c15c17',
].map(hex);
const NAMED: Record<string, string> = {
  green: '#73bf69',
  red: '#f2495c',
  orange: '#ff9830',
  yellow: '#fade2a',
  blue: '#5794f2',
  purple: '#b877d9',
};

function color(name: string): Rgb {
  return hex(NAMED[name] ?? name);
}

function compact(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

export function formatValue(v: number, unit = 'short'): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  switch (unit) {
    case 's':
    case 'dtdurations':
      if (a >= 86_400) return `${+(v / 86_400).toPrecision(3)}d`;
      if (a >= 3_600) return `${+(v / 3_600).toPrecision(3)}h`;
      if (a >= 60) return `${+(v / 60).toPrecision(3)}m`;
      if (a >= 1 || a === 0) return `${+v.toPrecision(3)}s`;
      if (a >= 1e-3) return `${+(v * 1e3).toPrecision(3)}ms`;
      return `${+(v * 1e6).toPrecision(3)}us`;
    case 'bytes':
      if (a >= 2 ** 30) return `${+(v / 2 ** 30).toPrecision(3)} GiB`;
      if (a >= 2 ** 20) return `${+(v / 2 ** 20).toPrecision(3)} MiB`;
      if (a >= 2 ** 10) return `${+(v / 2 ** 10).toPrecision(3)} KiB`;
      return `${v} B`;
    case 'percentunit':
      return `${+(v * 100).toPrecision(3)}%`;
    case 'ops':
      return `${compact(v)}/s`;
    case 'reqps':
      return `${compact(v)} req/s`;
    default:
      return compact(v);
  }
}

function thresholdColor(v: number, steps: RenderPanel['thresholds']): Rgb {
  let c = 'green';
  for (const s of steps) if (s.value === null || v >= s.value) c = s.color;
  return color(c);
}

function utc(t: number): string {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

/** Cumulative sums per timestamp, in series order (Grafana's normal stacking). */
function stack(series: RenderSeries[]): RenderSeries[] {
  const base = new Map<number, number>();
  return series.map((s) => ({
    name: s.name,
    points: s.points.map(([t, v]) => {
      const sum = (base.get(t) ?? 0) + (Number.isFinite(v) ? v : 0);
      base.set(t, sum);
      return [t, sum] as [number, number];
    }),
  }));
}

function title(c: Canvas, p: RenderPanel, x: number, y: number, w: number): void {
  const scale = textWidth(p.title, 2) <= w - 2 * PAD ? 2 : 1;
  c.text(x + PAD + 2, y + PAD + (scale === 2 ? 2 : 5), p.title, TEXT, scale, w - 2 * PAD);
}

/** Lays the legend out in lines of at most `w` pixels (at most maxLines); draws it when given a canvas. */
function legend(c: Canvas | undefined, names: string[], x: number, y: number, w: number, maxLines: number): number {
  let cx = x;
  let line = 0;
  for (const [i, name] of names.entries()) {
    const width = 12 + textWidth(name) + 10;
    if (cx > x && cx + width > x + w) {
      line++;
      cx = x;
    }
    if (line >= maxLines) {
      c?.text(x + w - textWidth('...'), y + (maxLines - 1) * 11, '...', DIM);
      break;
    }
    c?.rect(cx, y + line * 11, 8, 7, PALETTE[i % PALETTE.length]!);
    c?.text(cx + 12, y + line * 11, name, TEXT, 1, x + w - cx - 12);
    cx += width;
  }
  return names.length === 0 ? 0 : (Math.min(line, maxLines - 1) + 1) * 11;
}

function timeseries(c: Canvas, p: RenderPanel, x: number, y: number, w: number, h: number, range: [number, number]): void {
  const series = p.stacked ? stack(p.series) : p.series;
  // Bottom up: the legend, the time labels, the plot.
  const names = series.map((s) => s.name);
  const lx = x + PAD + 8;
  const lw = w - 2 * PAD - 12;
  const legendH = legend(undefined, names, lx, 0, lw, 3);
  legend(c, names, lx, y + h - PAD - legendH, lw, 3);
  const plot = { x: x + PAD + 56, y: y + 30, w: w - 2 * PAD - 60, h: h - 30 - PAD - legendH - 20 };
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  if (values.length === 0) {
    c.text(plot.x + plot.w / 2 - textWidth('No data', 2) / 2, plot.y + plot.h / 2, 'No data', DIM, 2);
    return;
  }
  let lo = Math.min(...values, p.min ?? Infinity);
  let hi = Math.max(...values);
  if (p.min !== undefined) lo = p.min;
  else if (lo > 0) lo = 0;
  if (hi === lo) hi = lo + (Math.abs(lo) || 1);
  const sy = (v: number) => plot.y + plot.h - ((v - lo) / (hi - lo)) * plot.h;
  const sx = (t: number) => plot.x + ((t - range[0]) / (range[1] - range[0])) * plot.w;
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    const gy = sy(v);
    c.line(plot.x, gy, plot.x + plot.w, gy, GRID);
    const label = formatValue(v, p.unit);
    c.text(plot.x - 6 - textWidth(label), gy - 3, label, DIM);
  }
  for (const t of [range[0], (range[0] + range[1]) / 2, range[1]]) {
    const label = utc(t);
    c.text(Math.min(Math.max(sx(t) - textWidth(label) / 2, plot.x), plot.x + plot.w - textWidth(label)), plot.y + plot.h + 5, label, DIM);
  }
  if (p.thresholdLines) {
    for (const s of p.thresholds) {
      if (s.value === null || s.value < lo || s.value > hi) continue;
      c.line(plot.x, sy(s.value), plot.x + plot.w, sy(s.value), color(s.color), 1, [6, 4]);
    }
  }
  // Stacked: the top series last drawn below the others' lines is fine; draw in order.
  for (const [i, s] of series.entries()) {
    const col = PALETTE[i % PALETTE.length]!;
    let prev: [number, number] | undefined;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) {
        prev = undefined;
        continue;
      }
      const pt: [number, number] = [sx(t), sy(v)];
      if (prev) c.line(prev[0], prev[1], pt[0], pt[1], col, 2);
      else c.rect(pt[0], pt[1], 2, 2, col);
      prev = pt;
    }
  }
}

function stat(c: Canvas, p: RenderPanel, x: number, y: number, w: number, h: number): void {
  const last = p.series[0]?.points.filter(([, v]) => Number.isFinite(v)).at(-1)?.[1];
  const text = last === undefined ? (p.noValue ?? 'No data') : formatValue(last, p.unit);
  const col = last === undefined ? (p.noValue ? thresholdColor(Number(p.noValue), p.thresholds) : DIM) : thresholdColor(last, p.thresholds);
  const scale = Math.max(1, Math.min(5, Math.floor((w - 2 * PAD - 8) / textWidth(text))));
  c.text(x + w / 2 - textWidth(text, scale) / 2, y + 30 + (h - 30 - 7 * scale) / 2, text, col, scale);
}

function table(c: Canvas, p: RenderPanel, x: number, y: number, w: number, h: number): void {
  const t = p.table;
  if (!t || t.rows.length === 0) {
    c.text(x + w / 2 - textWidth('No data', 2) / 2, y + h / 2, 'No data', DIM, 2);
    return;
  }
  const widths = t.columns.map((col, i) => Math.max(textWidth(col), ...t.rows.map((r) => textWidth(r[i] ?? ''))) + 12);
  const scaleDown = Math.min(1, (w - 2 * PAD) / widths.reduce((a, b) => a + b, 0));
  let cx = x + PAD + 2;
  const top = y + 30;
  for (const [i, col] of t.columns.entries()) {
    const cw = widths[i]! * scaleDown;
    c.text(cx, top, col, hex('#6e9fff'), 1, cw - 4);
    for (const [j, r] of t.rows.entries()) {
      const ry = top + 14 + j * 13;
      if (ry + 7 > y + h - PAD) break;
      c.text(cx, ry, r[i] ?? '', TEXT, 1, cw - 4);
    }
    cx += cw;
  }
  c.line(x + PAD, top + 10, x + w - PAD, top + 10, BORDER);
}

/** The whole dashboard as PNG bytes; `range` is the time range of the range queries (Unix seconds). */
export function renderDashboard(o: {
  title: string;
  subtitle: string;
  panels: RenderPanel[];
  rows: Array<{ title: string; y: number }>;
  range: [number, number];
}): Buffer {
  const HEAD = 44;
  const height = HEAD + Math.max(...o.panels.map((p) => p.gridPos.y + p.gridPos.h)) * ROW + PAD;
  const c = new Canvas(24 * COL, height, BG);
  c.text(PAD * 2, 8, o.title, TEXT, 2);
  c.text(PAD * 2, 28, o.subtitle, DIM);
  for (const r of o.rows) {
    const ry = HEAD + r.y * ROW;
    c.text(PAD * 2, ry + 9, r.title, TEXT, 2);
    c.line(PAD * 2 + textWidth(r.title, 2) + 12, ry + 16, 24 * COL - PAD * 2, ry + 16, BORDER);
  }
  for (const p of o.panels) {
    const x = p.gridPos.x * COL + PAD;
    const y = HEAD + p.gridPos.y * ROW + PAD;
    const w = p.gridPos.w * COL - 2 * PAD;
    const h = p.gridPos.h * ROW - 2 * PAD;
    c.rect(x, y, w, h, BORDER);
    c.rect(x + 1, y + 1, w - 2, h - 2, PANEL);
    title(c, p, x, y, w);
    if (p.type === 'timeseries') timeseries(c, p, x, y, w, h, o.range);
    else if (p.type === 'stat') stat(c, p, x, y, w, h);
    else if (p.type === 'table') table(c, p, x, y, w, h);
  }
  return c.png();
}
