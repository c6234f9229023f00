import { escapeHtml as esc } from './escape.js';

/**
 * Small SVG charts as strings: no library, no script, so a report is one self-contained file. Every mark carries a
 * class (bar, ci, point, line, legend, tick) and data-* attributes, so tests (and readers of the source) can find what
 * was drawn. Text is measured (textWidth) and the canvas widens rather than cut a legend, title or note off.
 */

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const W = 640;
const H = 300;
const M = { top: 30, right: 150, bottom: 60, left: 50 };
/** The plot's right edge: the plot keeps its size, whatever the legend beside it needs. */
const PLOT_RIGHT = W - M.right;
const num = (x: number): string => (Math.round(x * 10) / 10).toString();

/**
 * The width text takes at a font size, erring wide: per-character advances of a wide sans-serif (DejaVu Sans, what
 * Debian's Chromium falls back to), so a label sized by it is never clipped in a browser.
 */
export function textWidth(text: string, fontSize = 11): number {
  let em = 0;
  for (const ch of text) {
    if (' '.includes(ch)) em += 0.34;
    else if ('ilj.,:;|\''.includes(ch)) em += 0.34;
    else if ('I!`frt()[]/\\-'.includes(ch)) em += 0.5;
    else if ('mwMW@%…—'.includes(ch)) em += 1.02;
    else if (/[0-9]/.test(ch)) em += 0.64;
    else if (/[A-Z]/.test(ch)) em += 0.8;
    else if (/[a-z]/.test(ch)) em += 0.64;
    else em += 0.86;
  }
  return Math.ceil(em * fontSize);
}

/** Text broken at spaces into lines no wider than maxWidth (a word longer than that gets a line of its own). */
export function wrapText(text: string, maxWidth: number, fontSize = 11): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, fontSize) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

export interface BarValue {
  series: string;
  value: number | null;
  lo?: number | null;
  hi?: number | null;
  /** Why there is no value (a stored metric's note): drawn as "n/a: <note>" under the chart. */
  note?: string | null;
}

export interface BarGroup {
  label: string;
  bars: BarValue[];
}

interface Scale {
  y: (v: number) => number;
  ticks: number[];
  lo: number;
  hi: number;
}

/** A y scale over [lo, hi]; `nice` widens the range to whole tick steps, so the lowest and highest ticks enclose it. */
function yScale(lo: number, hi: number, nice = false): Scale {
  if (hi - lo < 1e-9) hi = lo + 1;
  const step = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100].find((s) => (hi - lo) / s <= 8) ?? (hi - lo) / 5;
  if (nice) [lo, hi] = [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  const plotH = H - M.top - M.bottom;
  return { y: (v) => M.top + plotH * (1 - (v - lo) / (hi - lo)), ticks, lo, hi };
}

/** Where a chart's parts go: its width, and the title's centre (the plot's, unless a long title needs more room). */
interface Layout {
  width: number;
  titleX: number;
}

/**
 * The canvas for a plot of the standard size with a legend of `legendNames` beside it, a title, and lines of notes
 * under it: wide enough for every one of them.
 */
function layout(title: string, legendNames: readonly string[], notes: readonly string[] = []): Layout {
  const legendRight = PLOT_RIGHT + 30 + Math.max(0, ...legendNames.map((n) => textWidth(n, 11)));
  const titleW = textWidth(title, 14) * 1.08;
  const titleX = Math.max((M.left + PLOT_RIGHT) / 2, titleW / 2 + 8);
  const noteRight = 8 + Math.max(0, ...notes.map((n) => 3 * (n.length - n.trimStart().length) + textWidth(n.trimStart(), 10)));
  return { width: Math.ceil(Math.max(W, legendRight + 10, titleX + titleW / 2 + 8, noteRight + 10)), titleX };
}

function frame(title: string, scale: Scale, yLabel: string, percent: boolean, at: Layout = { width: W, titleX: (M.left + PLOT_RIGHT) / 2 }): string {
  const fmt = (t: number): string => (percent ? `${num(t * 100)}%` : num(t));
  const grid = scale.ticks
    .map((t) => `<line class="grid" x1="${M.left}" x2="${PLOT_RIGHT}" y1="${num(scale.y(t))}" y2="${num(scale.y(t))}" stroke="#e5e5e5"/>` +
      `<text class="tick" data-value="${t}" x="${M.left - 6}" y="${num(scale.y(t) + 4)}" text-anchor="end" font-size="11">${fmt(t)}</text>`)
    .join('');
  return `<text class="title" x="${num(at.titleX)}" y="18" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>` +
    `<text transform="translate(14 ${(H - M.bottom + M.top) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>${grid}`;
}

function legend(series: string[]): string {
  return series
    .map((s, i) => `<rect x="${PLOT_RIGHT + 12}" y="${M.top + i * 18}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>` +
      `<text class="legend" x="${PLOT_RIGHT + 30}" y="${M.top + i * 18 + 10}" font-size="11">${esc(s)}</text>`)
    .join('');
}

/**
 * Lines of notes under a chart (class "chart-note": not "note", which the pages' stylesheet sizes for HTML), from y
 * on, one every 14 px; leading spaces indent a line (3 px each).
 */
function noteLines(notes: readonly string[], y: number, cls = 'chart-note'): string {
  return notes.map((n, i) => {
    const indent = n.length - n.trimStart().length;
    return `<text class="${cls}" x="${8 + 3 * indent}" y="${y + i * 14}" font-size="10" fill="#555">${esc(n.trimStart())}</text>`;
  }).join('');
}

const svgOpen = (cls: string, title: string, width = W, height = H): string =>
  `<svg class="chart ${cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`;

/** A horizontal reference line across the plot, with its label at the right end (e.g. PGR 0 % and 100 %). */
export interface ReferenceLine {
  value: number;
  label: string;
}

/**
 * Grouped bars with interval whiskers. The y axis spans every value and interval bound (down to a negative lower
 * bound), in whole tick steps; `references` draws dashed lines at given values. A missing value draws "n/a (k)" in its
 * slot and, under the chart, "(k) n/a: <note>" (the stored reason) and the bars it explains.
 */
export function barChart(opts: { title: string; yLabel: string; groups: BarGroup[]; percent?: boolean; domain?: [number, number]; references?: ReferenceLine[] }): string {
  const { groups, title } = opts;
  const percent = opts.percent ?? true;
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const refs = opts.references ?? [];
  const values = [...groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.lo ?? null, b.hi ?? null])), ...refs.map((r) => r.value)]
    .filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = opts.domain ?? [Math.min(0, ...values), Math.max(percent ? 1 : 0, ...values)];
  const scale = yScale(lo, hi, opts.domain === undefined);
  const plotW = PLOT_RIGHT - M.left;
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.max(4, Math.min(40, (groupW * 0.8) / Math.max(1, series.length)));
  const zero = scale.y(Math.max(scale.lo, Math.min(scale.hi, 0)));
  // Bars without a value, by reason: one footnote per distinct stored note, naming every bar it explains.
  const reasons = new Map<string, string[]>();
  let marks = '';
  groups.forEach((g, gi) => {
    const x0 = M.left + gi * groupW + (groupW - barW * series.length) / 2;
    g.bars.forEach((b) => {
      const si = series.indexOf(b.series);
      const x = x0 + si * barW;
      const color = PALETTE[si % PALETTE.length];
      if (b.value === null || !Number.isFinite(b.value)) {
        const why = b.note ? `n/a: ${b.note}` : 'n/a';
        let mark = 'n/a';
        if (b.note) {
          if (!reasons.has(b.note)) reasons.set(b.note, []);
          reasons.get(b.note)!.push(`${g.label} · ${b.series}`);
          mark = `n/a (${[...reasons.keys()].indexOf(b.note) + 1})`;
        }
        marks += `<text class="na" data-series="${esc(b.series)}" data-group="${esc(g.label)}" data-note="${esc(b.note ?? '')}" x="${num(x + barW / 2)}" y="${num(zero - 4)}" font-size="9" text-anchor="middle">${esc(mark)}<title>${esc(`${g.label} · ${b.series}: ${why}`)}</title></text>`;
        return;
      }
      const y = scale.y(b.value);
      const label = `${g.label} · ${b.series}: ${percent ? `${num(b.value * 100)}%` : num(b.value)}${b.lo != null && b.hi != null ? ` [${percent ? `${num(b.lo * 100)}%, ${num(b.hi * 100)}%` : `${num(b.lo)}, ${num(b.hi)}`}]` : ''}`;
      marks += `<rect class="bar" data-series="${esc(b.series)}" data-group="${esc(g.label)}" data-value="${b.value}" x="${num(x + 1)}" y="${num(Math.min(y, zero))}" width="${num(barW - 2)}" height="${num(Math.max(0.5, Math.abs(zero - y)))}" fill="${color}"><title>${esc(label)}</title></rect>`;
      if (b.lo != null && b.hi != null) {
        const cx = num(x + barW / 2);
        marks += `<g class="ci" data-series="${esc(b.series)}" data-lo="${b.lo}" data-hi="${b.hi}" stroke="#222"><line x1="${cx}" x2="${cx}" y1="${num(scale.y(b.lo))}" y2="${num(scale.y(b.hi))}"/>` +
          `<line x1="${num(x + barW / 2 - 4)}" x2="${num(x + barW / 2 + 4)}" y1="${num(scale.y(b.lo))}" y2="${num(scale.y(b.lo))}"/>` +
          `<line x1="${num(x + barW / 2 - 4)}" x2="${num(x + barW / 2 + 4)}" y1="${num(scale.y(b.hi))}" y2="${num(scale.y(b.hi))}"/></g>`;
      }
    });
    const label = g.label.length > 28 ? `${g.label.slice(0, 27)}…` : g.label;
    marks += `<text class="group" x="${num(M.left + gi * groupW + groupW / 2)}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${esc(label)}<title>${esc(g.label)}</title></text>`;
  });
  const fmt = (v: number): string => (percent ? `${num(v * 100)}%` : num(v));
  // Reference lines are dashed across the plot and named in the legend, under the series (never over a bar).
  let refLegend = '';
  refs.forEach((r, i) => {
    const y = num(scale.y(r.value));
    const ly = M.top + (series.length + i) * 18;
    marks += `<line class="reference" data-value="${r.value}" x1="${M.left}" x2="${PLOT_RIGHT}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="5 3"><title>${esc(r.label || fmt(r.value))}</title></line>`;
    refLegend += `<line x1="${PLOT_RIGHT + 12}" x2="${PLOT_RIGHT + 24}" y1="${ly + 6}" y2="${ly + 6}" stroke="#888" stroke-dasharray="3 2"/>` +
      `<text class="legend" x="${PLOT_RIGHT + 30}" y="${ly + 10}" font-size="11">${esc(r.label || fmt(r.value))}</text>`;
  });
  const axis = `<line class="axis" x1="${M.left}" x2="${PLOT_RIGHT}" y1="${num(zero)}" y2="${num(zero)}" stroke="#444"/>`;
  const notes = [...reasons].flatMap(([note, bars], i) => [`(${i + 1}) n/a: ${note}`, ...wrapText(`for ${bars.join('; ')}`, W - 40, 10).map((l) => `     ${l}`)]);
  const at = layout(title, [...series, ...refs.map((r) => r.label || fmt(r.value))], notes);
  const height = H + (notes.length ? notes.length * 14 + 4 : 0);
  return `${svgOpen('bar-chart', title, at.width, height)}${frame(title, scale, opts.yLabel, percent, at)}${axis}${marks}${legend(series)}${refLegend}${noteLines(notes, H + 4, 'na-note')}</svg>`;
}

export interface LinePoint {
  x: number;
  y: number | null;
  lo?: number | null;
  hi?: number | null;
  /** Shown on hover. */
  note?: string;
  /** How many examples the point stands for (a reliability bin): printed beside it, and its data-count. */
  count?: number;
}

export interface LineSeries {
  name: string;
  points: LinePoint[];
}

/** Lines over a numeric x axis, a dot per point and an interval whisker where given; `notes` are printed under it. */
export function lineChart(opts: {
  title: string; xLabel: string; yLabel: string; series: LineSeries[]; percent?: boolean; domain?: [number, number]; xDomain?: [number, number]; diagonal?: boolean; integerX?: boolean;
  notes?: string[];
}): string {
  const percent = opts.percent ?? true;
  const pts = opts.series.flatMap((s) => s.points);
  const ys = pts.flatMap((p) => [p.y, p.lo ?? null, p.hi ?? null]).filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = opts.domain ?? [Math.min(...ys, percent ? 0 : Infinity), Math.max(...ys, percent ? 1 : -Infinity)];
  const scale = yScale(Number.isFinite(lo) ? lo : 0, Number.isFinite(hi) ? hi : 1);
  const xs = pts.map((p) => p.x);
  let [x0, x1] = opts.xDomain ?? [Math.min(...xs), Math.max(...xs)];
  if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
  if (x1 - x0 < 1e-9) [x0, x1] = [x0 - 1, x1 + 1];
  const plotW = PLOT_RIGHT - M.left;
  const pad = opts.integerX ? 0.5 : 0;
  const x = (v: number): number => M.left + (plotW * (v - x0 + pad)) / (x1 - x0 + 2 * pad);
  const xticks = opts.integerX
    ? Array.from({ length: Math.round(x1 - x0) + 1 }, (_, i) => x0 + i)
    : Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  let marks = xticks.map((t) => `<text x="${num(x(t))}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${num(t)}</text>`).join('');
  marks += `<text x="${num(M.left + plotW / 2)}" y="${H - M.bottom + 36}" text-anchor="middle" font-size="11">${esc(opts.xLabel)}</text>`;
  if (opts.diagonal) marks += `<line class="diagonal" x1="${num(x(x0))}" y1="${num(scale.y(x0))}" x2="${num(x(x1))}" y2="${num(scale.y(x1))}" stroke="#999" stroke-dasharray="4 3"/>`;
  opts.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length];
    const drawn = s.points.filter((p) => p.y !== null && Number.isFinite(p.y));
    if (drawn.length > 1) {
      marks += `<polyline class="line" data-series="${esc(s.name)}" fill="none" stroke="${color}" stroke-width="2" points="${drawn.map((p) => `${num(x(p.x))},${num(scale.y(p.y!))}`).join(' ')}"/>`;
    }
    for (const p of drawn) {
      if (p.lo != null && p.hi != null) {
        marks += `<line class="ci" x1="${num(x(p.x))}" x2="${num(x(p.x))}" y1="${num(scale.y(p.lo))}" y2="${num(scale.y(p.hi))}" stroke="${color}"/>`;
      }
      const tip = `${s.name}: x=${num(p.x)}, y=${percent ? `${num(p.y! * 100)}%` : num(p.y!)}${p.note ? ` (${p.note})` : ''}`;
      const count = p.count === undefined ? '' : ` data-count="${p.count}"`;
      marks += `<circle class="point" data-series="${esc(s.name)}" data-x="${p.x}" data-y="${p.y}"${count} cx="${num(x(p.x))}" cy="${num(scale.y(p.y!))}" r="4" fill="${color}"><title>${esc(tip)}</title></circle>`;
      if (p.count !== undefined) {
        // Above the point for even series, below for odd ones, so two series' counts at one bin do not overprint.
        const dy = si % 2 === 0 ? -7 : 14;
        marks += `<text class="bin-count" data-series="${esc(s.name)}" data-count="${p.count}" x="${num(x(p.x) + 5)}" y="${num(scale.y(p.y!) + dy)}" font-size="9" fill="${color}">n=${p.count}</text>`;
      }
    }
  });
  const names = opts.series.map((s) => s.name);
  const notes = opts.notes ?? [];
  const at = layout(opts.title, names, notes);
  const height = H + (notes.length ? notes.length * 14 : 0);
  return `${svgOpen('line-chart', opts.title, at.width, height)}${frame(opts.title, scale, opts.yLabel, percent, at)}${marks}${legend(names)}${noteLines(notes, H - 2)}</svg>`;
}

/** Bins with fewer examples than this are left off a reliability diagram: their observed fraction is mostly noise. */
export const MIN_BIN_COUNT = 5;

/**
 * A reliability diagram: mean predicted P(label 1) against the observed fraction of 1s per bin, with the diagonal;
 * each bin's example count beside its point; bins with fewer than `minCount` examples are not drawn, and a note says so.
 */
export function reliabilityDiagram(opts: { title: string; series: { name: string; bins: { meanPredicted: number | null; fractionPositive: number | null; count: number }[] }[]; minCount?: number }): string {
  const min = opts.minCount ?? MIN_BIN_COUNT;
  const hidden = opts.series.reduce((n, s) => n + s.bins.filter((b) => b.count > 0 && b.count < min).length, 0);
  return lineChart({
    title: opts.title,
    xLabel: 'mean predicted P(label 1)',
    yLabel: 'fraction with label 1',
    domain: [0, 1],
    xDomain: [0, 1],
    diagonal: true,
    series: opts.series.map((s) => ({
      name: s.name,
      points: s.bins.filter((b) => b.count >= min && b.meanPredicted !== null).map((b) => ({ x: b.meanPredicted!, y: b.fractionPositive, note: `${b.count} examples`, count: b.count })),
    })),
    notes: [`n = examples per bin; bins with fewer than ${min} examples hidden${hidden ? ` (${hidden} bin${hidden > 1 ? 's' : ''} here)` : ' (none here)'}.`],
  });
}

/** Round tick steps (1, 2, 2.5, 5 × 10^k) from lo to hi, at most about `count` of them. */
function niceTicks(lo: number, hi: number, count: number): { ticks: number[]; step: number } {
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw > 0 ? raw : 1));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw - 1e-15) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return { ticks, step };
}

/** A judge or judge ensemble on the accuracy–cost chart. */
export interface CostPoint {
  /** Printed next to the point, and its data-subject. */
  label: string;
  /** Shown on hover (the full description). */
  title?: string;
  kind: 'judge' | 'judge_ensemble';
  x: number;
  y: number;
  lo?: number | null;
  hi?: number | null;
  /** Marked and joined by the step line: as stored (on_frontier = 1), never decided here. */
  frontier: boolean;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const overlap = (a: Box, b: Box): number => Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)) * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));

/**
 * Accuracy against cost per example: one point per judge (circle) and judge ensemble (square) with its interval
 * whisker, every point labelled; the frontier points (as the caller says, from the stored on_frontier) are filled and
 * joined by a step line (the best accuracy stored at or below each cost). Labels are placed where they overlap
 * nothing, and the canvas widens rather than cut one off.
 */
export function costAccuracyChart(opts: { title: string; xLabel: string; formatX: (v: number) => string; points: CostPoint[]; level?: number }): string {
  const H2 = 360;
  const CM = { top: 34, right: 24, bottom: 84, left: 56 };
  let width = 720;
  const plotW = width - CM.left - CM.right;
  const plotH = H2 - CM.top - CM.bottom;
  const pts = opts.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const ys = pts.flatMap((p) => [p.y, p.lo ?? null, p.hi ?? null]).filter((v): v is number => v !== null && Number.isFinite(v));
  let y0 = ys.length ? Math.max(0, Math.floor((Math.min(...ys) - 0.02) * 20) / 20) : 0;
  let y1 = ys.length ? Math.min(1, Math.ceil((Math.max(...ys) + 0.02) * 20) / 20) : 1;
  if (y1 - y0 < 0.1) [y0, y1] = y0 + 0.1 <= 1 ? [y0, y0 + 0.1] : [y1 - 0.1, y1];
  const xMax = Math.max(0, ...pts.map((p) => p.x));
  const { step } = niceTicks(0, xMax > 0 ? xMax * 1.08 : 1, 6);
  const x1 = xMax > 0 ? Math.ceil((xMax * 1.08) / step - 1e-9) * step : 1;
  const xTicks = niceTicks(0, x1, 6).ticks;
  const X = (v: number): number => CM.left + (plotW * v) / x1;
  const Y = (v: number): number => CM.top + plotH * (1 - (v - y0) / (y1 - y0));
  const FRONTIER = '#2e7d32';
  const OFF = '#4e79a7';

  let marks = '';
  for (const t of niceTicks(y0, y1, 6).ticks) {
    marks += `<line class="grid" x1="${CM.left}" x2="${CM.left + plotW}" y1="${num(Y(t))}" y2="${num(Y(t))}" stroke="#e5e5e5"/>` +
      `<text x="${CM.left - 6}" y="${num(Y(t) + 4)}" text-anchor="end" font-size="11">${num(t * 100)}%</text>`;
  }
  for (const t of xTicks) {
    marks += `<line class="grid" x1="${num(X(t))}" x2="${num(X(t))}" y1="${CM.top}" y2="${CM.top + plotH}" stroke="#f0f0f0"/>` +
      `<text class="x-tick" x="${num(X(t))}" y="${H2 - CM.bottom + 16}" text-anchor="middle" font-size="11">${esc(opts.formatX(t))}</text>`;
  }
  marks += `<line x1="${CM.left}" x2="${CM.left + plotW}" y1="${CM.top + plotH}" y2="${CM.top + plotH}" stroke="#444"/>`;
  marks += `<text class="x-label" x="${num(CM.left + plotW / 2)}" y="${H2 - CM.bottom + 36}" text-anchor="middle" font-size="11">${esc(opts.xLabel)}</text>`;
  marks += `<text transform="translate(14 ${num(CM.top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="11">test accuracy</text>`;

  // The step line: from each frontier point along its accuracy to the next one's cost, then up to it.
  const frontier = pts.filter((p) => p.frontier).sort((a, b) => a.x - b.x || a.y - b.y);
  if (frontier.length > 1) {
    const d = frontier.map((p, i) => (i === 0 ? `M${num(X(p.x))},${num(Y(p.y))}` : `H${num(X(p.x))}V${num(Y(p.y))}`)).join('');
    marks += `<path class="frontier-line" d="${d}" fill="none" stroke="${FRONTIER}" stroke-width="2"/>`;
  }
  const obstacles: Box[] = [];
  for (const p of pts) {
    const [cx, cy] = [X(p.x), Y(p.y)];
    const data = `data-subject="${esc(p.label)}" data-kind="${p.kind}" data-frontier="${p.frontier ? 1 : 0}" data-x="${p.x}" data-y="${p.y}"`;
    const color = p.frontier ? FRONTIER : OFF;
    if (p.lo != null && p.hi != null && Number.isFinite(p.lo) && Number.isFinite(p.hi)) {
      marks += `<g class="ci" ${data} stroke="${color}"><line x1="${num(cx)}" x2="${num(cx)}" y1="${num(Y(p.lo))}" y2="${num(Y(p.hi))}"/>` +
        `<line x1="${num(cx - 4)}" x2="${num(cx + 4)}" y1="${num(Y(p.lo))}" y2="${num(Y(p.lo))}"/><line x1="${num(cx - 4)}" x2="${num(cx + 4)}" y1="${num(Y(p.hi))}" y2="${num(Y(p.hi))}"/></g>`;
    }
    const tip = `<title>${esc(`${p.title ?? p.label}: ${num(p.y * 100)}% at ${opts.formatX(p.x)}${p.frontier ? ' (on the frontier)' : ''}`)}</title>`;
    const cls = `point ${p.kind === 'judge' ? 'judge' : 'ensemble'}${p.frontier ? ' frontier' : ''}`;
    const fill = p.frontier ? FRONTIER : '#fff';
    marks += p.kind === 'judge'
      ? `<circle class="${cls}" ${data} cx="${num(cx)}" cy="${num(cy)}" r="5" fill="${fill}" stroke="${color}" stroke-width="2">${tip}</circle>`
      : `<rect class="${cls}" ${data} x="${num(cx - 5)}" y="${num(cy - 5)}" width="10" height="10" fill="${fill}" stroke="${color}" stroke-width="2">${tip}</rect>`;
    obstacles.push({ x0: cx - 6, y0: cy - 6, x1: cx + 6, y1: cy + 6 });
    if (p.lo != null && p.hi != null && Number.isFinite(p.lo) && Number.isFinite(p.hi)) obstacles.push({ x0: cx - 4, y0: Y(p.hi), x1: cx + 4, y1: Y(p.lo) });
  }
  // The step line is in the way of labels too: each horizontal run and each rise.
  frontier.forEach((p, i) => {
    const next = frontier[i + 1];
    if (!next) return;
    const [xa, ya, xb, yb] = [X(p.x), Y(p.y), X(next.x), Y(next.y)];
    obstacles.push({ x0: xa, y0: ya - 1.5, x1: xb, y1: ya + 1.5 }, { x0: xb - 1.5, y0: Math.min(ya, yb), x1: xb + 1.5, y1: Math.max(ya, yb) });
  });
  // Labels: frontier points first; each at the first spot that overlaps no point, line or label and stays on the canvas.
  const placed: Box[] = [];
  let right = width;
  for (const p of [...pts.filter((q) => q.frontier), ...pts.filter((q) => !q.frontier)]) {
    const [cx, cy] = [X(p.x), Y(p.y)];
    const w = textWidth(p.label) + 2;
    const spots: { x: number; y: number; anchor: string; box: Box }[] = [
      { x: cx + 9, y: cy + 4, anchor: 'start', box: { x0: cx + 9, y0: cy - 8, x1: cx + 9 + w, y1: cy + 4 } },
      { x: cx - 9, y: cy + 4, anchor: 'end', box: { x0: cx - 9 - w, y0: cy - 8, x1: cx - 9, y1: cy + 4 } },
      { x: cx, y: cy - 10, anchor: 'middle', box: { x0: cx - w / 2, y0: cy - 21, x1: cx + w / 2, y1: cy - 9 } },
      { x: cx, y: cy + 19, anchor: 'middle', box: { x0: cx - w / 2, y0: cy + 8, x1: cx + w / 2, y1: cy + 20 } },
      { x: cx + 9, y: cy - 9, anchor: 'start', box: { x0: cx + 9, y0: cy - 21, x1: cx + 9 + w, y1: cy - 9 } },
      { x: cx + 9, y: cy + 17, anchor: 'start', box: { x0: cx + 9, y0: cy + 5, x1: cx + 9 + w, y1: cy + 17 } },
    ];
    const inside = (b: Box): boolean => b.x0 >= 2 && b.x1 <= width - 2 && b.y0 >= CM.top - 14 && b.y1 <= CM.top + plotH + 2;
    const clash = (b: Box): number => [...obstacles, ...placed].reduce((s, o) => s + overlap(b, o), 0);
    const spot = spots.find((s) => inside(s.box) && clash(s.box) === 0)
      ?? spots.filter((s) => s.box.x0 >= 2).sort((a, b) => clash(a.box) - clash(b.box))[0]
      ?? spots[0]!;
    placed.push(spot.box);
    right = Math.max(right, spot.box.x1 + 4);
    marks += `<text class="point-label" data-subject="${esc(p.label)}" x="${num(spot.x)}" y="${num(spot.y)}" text-anchor="${spot.anchor}" font-size="11">${esc(p.label)}</text>`;
  }
  // The legend, one row under the axis label.
  const items: [string, string][] = [
    [`<circle cx="6" cy="-4" r="5" fill="#fff" stroke="${OFF}" stroke-width="2"/>`, 'judge'],
    [`<rect x="1" y="-9" width="10" height="10" fill="#fff" stroke="${OFF}" stroke-width="2"/>`, 'judge ensemble'],
    [`<circle cx="6" cy="-4" r="5" fill="${FRONTIER}" stroke="${FRONTIER}" stroke-width="2"/>`, 'on the frontier (as stored)'],
    [`<path d="M0,0H6V-8H12" fill="none" stroke="${FRONTIER}" stroke-width="2"/>`, 'frontier step line'],
    [`<line x1="6" x2="6" y1="-10" y2="2" stroke="${OFF}"/>`, `${Math.round((opts.level ?? 0.95) * 100)}% interval`],
  ];
  let lx = CM.left;
  let legend = '';
  for (const [icon, text] of items) {
    legend += `<g class="legend-item" transform="translate(${num(lx)} ${H2 - 14})">${icon}<text class="legend" x="18" y="0" font-size="11">${esc(text)}</text></g>`;
    lx += 18 + textWidth(text) + 16;
  }
  width = Math.ceil(Math.max(right, lx));
  const title = `<text x="${num(CM.left + plotW / 2)}" y="18" text-anchor="middle" font-size="14" font-weight="600">${esc(opts.title)}</text>`;
  return `<svg class="chart cost-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${H2}" width="${width}" height="${H2}" role="img" aria-label="${esc(opts.title)}">${title}${marks}${legend}</svg>`;
}

/** One size of a judge ensemble: the mean accuracy over its member subsets of that size, with their min and max. */
export interface SizePoint {
  size: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  subsets?: number | null;
}

/** Accuracy against the number of members: the mean as a line, the min–max range over member subsets as a band. */
export function sizeBandChart(opts: { title: string; points: SizePoint[] }): string {
  const pts = opts.points.filter((p) => p.mean !== null && Number.isFinite(p.mean)).sort((a, b) => a.size - b.size);
  const ys = pts.flatMap((p) => [p.mean, p.min, p.max]).filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = ys.length ? Math.max(0, Math.floor((Math.min(...ys) - 0.02) * 20) / 20) : 0;
  const hi = ys.length ? Math.min(1, Math.ceil((Math.max(...ys) + 0.02) * 20) / 20) : 1;
  const scale = yScale(lo, hi);
  const sizes = pts.map((p) => p.size);
  const [k0, k1] = sizes.length ? [Math.min(...sizes), Math.max(...sizes)] : [1, 2];
  const plotW = W - M.left - M.right;
  const x = (k: number): number => M.left + (plotW * (k - k0 + 0.5)) / (k1 - k0 + 1);
  const color = PALETTE[0]!;
  let marks = '';
  for (let k = k0; k <= k1; k++) marks += `<text x="${num(x(k))}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${k}</text>`;
  marks += `<text x="${num(M.left + plotW / 2)}" y="${H - M.bottom + 36}" text-anchor="middle" font-size="11">members (k)</text>`;
  const banded = pts.filter((p) => p.min !== null && p.max !== null);
  if (banded.length > 1) {
    const top = banded.map((p) => `${num(x(p.size))},${num(scale.y(p.max!))}`);
    const bottom = [...banded].reverse().map((p) => `${num(x(p.size))},${num(scale.y(p.min!))}`);
    marks += `<polygon class="band" points="${[...top, ...bottom].join(' ')}" fill="${color}" fill-opacity="0.18" stroke="none"/>`;
  } else {
    for (const p of banded) marks += `<line class="band" x1="${num(x(p.size))}" x2="${num(x(p.size))}" y1="${num(scale.y(p.min!))}" y2="${num(scale.y(p.max!))}" stroke="${color}" stroke-opacity="0.35" stroke-width="8"/>`;
  }
  if (pts.length > 1) marks += `<polyline class="line" fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${num(x(p.size))},${num(scale.y(p.mean!))}`).join(' ')}"/>`;
  for (const p of pts) {
    const tip = `${p.size} member(s): mean ${num(p.mean! * 100)}%${p.min !== null && p.max !== null ? `, min ${num(p.min * 100)}%, max ${num(p.max * 100)}%` : ''}${p.subsets != null ? ` over ${p.subsets} subset(s)` : ''}`;
    marks += `<circle class="point" data-size="${p.size}" data-y="${p.mean}" data-lo="${p.min ?? ''}" data-hi="${p.max ?? ''}" cx="${num(x(p.size))}" cy="${num(scale.y(p.mean!))}" r="4" fill="${color}"><title>${esc(tip)}</title></circle>`;
  }
  const legendHtml = `<line x1="${W - M.right + 12}" x2="${W - M.right + 24}" y1="${M.top + 6}" y2="${M.top + 6}" stroke="${color}" stroke-width="2"/>` +
    `<text class="legend" x="${W - M.right + 30}" y="${M.top + 10}" font-size="11">mean over subsets</text>` +
    `<rect x="${W - M.right + 12}" y="${M.top + 18}" width="12" height="12" fill="${color}" fill-opacity="0.18"/>` +
    `<text class="legend" x="${W - M.right + 30}" y="${M.top + 28}" font-size="11">min–max of subsets</text>`;
  // A long title is shortened on the canvas; the full one stays in aria-label.
  const shown = opts.title.length > 72 ? `${opts.title.slice(0, 71)}…` : opts.title;
  const at = layout(shown, ['mean over subsets', 'min–max of subsets']);
  return `${svgOpen('size-chart', opts.title, at.width)}${frame(shown, scale, 'test accuracy', true, at)}${marks}${legendHtml}</svg>`;
}
