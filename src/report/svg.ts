import { escapeHtml as esc } from './escape.js';

/**
 * Small SVG charts as strings: no library, no script, so a report is one self-contained file. Every mark carries a
 * class (bar, ci, point, line) and data-* attributes, so tests (and readers of the source) can find what was drawn.
 */

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const W = 640;
const H = 300;
const M = { top: 30, right: 150, bottom: 60, left: 50 };
const num = (x: number): string => (Math.round(x * 10) / 10).toString();

export interface BarValue {
  series: string;
  value: number | null;
  lo?: number | null;
  hi?: number | null;
}

export interface BarGroup {
  label: string;
  bars: BarValue[];
}

interface Scale {
  y: (v: number) => number;
  ticks: number[];
}

function yScale(lo: number, hi: number): Scale {
  if (hi - lo < 1e-9) hi = lo + 1;
  const span = hi - lo;
  const step = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10].find((s) => span / s <= 8) ?? span / 5;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  const plotH = H - M.top - M.bottom;
  return { y: (v) => M.top + plotH * (1 - (v - lo) / (hi - lo)), ticks };
}

function frame(title: string, scale: Scale, yLabel: string, percent: boolean): string {
  const fmt = (t: number): string => (percent ? `${num(t * 100)}%` : num(t));
  const grid = scale.ticks
    .map((t) => `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${num(scale.y(t))}" y2="${num(scale.y(t))}" stroke="#e5e5e5"/>` +
      `<text x="${M.left - 6}" y="${num(scale.y(t) + 4)}" text-anchor="end" font-size="11">${fmt(t)}</text>`)
    .join('');
  return `<text x="${W / 2 - M.right / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>` +
    `<text transform="translate(14 ${(H - M.bottom + M.top) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>${grid}`;
}

function legend(series: string[]): string {
  return series
    .map((s, i) => `<rect x="${W - M.right + 12}" y="${M.top + i * 18}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>` +
      `<text x="${W - M.right + 30}" y="${M.top + i * 18 + 10}" font-size="11">${esc(s)}</text>`)
    .join('');
}

const svgOpen = (cls: string, title: string): string =>
  `<svg class="chart ${cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`;

/** Grouped bars with interval whiskers. Missing values draw nothing (and say n/a). */
export function barChart(opts: { title: string; yLabel: string; groups: BarGroup[]; percent?: boolean; domain?: [number, number] }): string {
  const { groups, title } = opts;
  const percent = opts.percent ?? true;
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const values = groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.lo ?? null, b.hi ?? null])).filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = opts.domain ?? [Math.min(0, ...values), Math.max(percent ? 1 : 0, ...values)];
  const scale = yScale(lo, hi);
  const plotW = W - M.left - M.right;
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.max(4, Math.min(40, (groupW * 0.8) / Math.max(1, series.length)));
  const zero = scale.y(Math.max(lo, Math.min(hi, 0)));
  let marks = '';
  groups.forEach((g, gi) => {
    const x0 = M.left + gi * groupW + (groupW - barW * series.length) / 2;
    g.bars.forEach((b) => {
      const si = series.indexOf(b.series);
      const x = x0 + si * barW;
      const color = PALETTE[si % PALETTE.length];
      if (b.value === null || !Number.isFinite(b.value)) {
        marks += `<text class="na" x="${num(x + barW / 2)}" y="${num(zero - 4)}" font-size="9" text-anchor="middle">n/a</text>`;
        return;
      }
      const y = scale.y(b.value);
      const label = `${g.label} · ${b.series}: ${percent ? `${num(b.value * 100)}%` : num(b.value)}`;
      marks += `<rect class="bar" data-series="${esc(b.series)}" data-group="${esc(g.label)}" data-value="${b.value}" x="${num(x + 1)}" y="${num(Math.min(y, zero))}" width="${num(barW - 2)}" height="${num(Math.max(0.5, Math.abs(zero - y)))}" fill="${color}"><title>${esc(label)}</title></rect>`;
      if (b.lo != null && b.hi != null) {
        const cx = num(x + barW / 2);
        marks += `<g class="ci" data-series="${esc(b.series)}" stroke="#222"><line x1="${cx}" x2="${cx}" y1="${num(scale.y(b.lo))}" y2="${num(scale.y(b.hi))}"/>` +
          `<line x1="${num(x + barW / 2 - 4)}" x2="${num(x + barW / 2 + 4)}" y1="${num(scale.y(b.lo))}" y2="${num(scale.y(b.lo))}"/>` +
          `<line x1="${num(x + barW / 2 - 4)}" x2="${num(x + barW / 2 + 4)}" y1="${num(scale.y(b.hi))}" y2="${num(scale.y(b.hi))}"/></g>`;
      }
    });
    const label = g.label.length > 28 ? `${g.label.slice(0, 27)}…` : g.label;
    marks += `<text x="${num(M.left + gi * groupW + groupW / 2)}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${esc(label)}<title>${esc(g.label)}</title></text>`;
  });
  const axis = `<line x1="${M.left}" x2="${W - M.right}" y1="${num(zero)}" y2="${num(zero)}" stroke="#444"/>`;
  return `${svgOpen('bar-chart', title)}${frame(title, scale, opts.yLabel, percent)}${axis}${marks}${legend(series)}</svg>`;
}

export interface LinePoint {
  x: number;
  y: number | null;
  lo?: number | null;
  hi?: number | null;
  /** Shown on hover. */
  note?: string;
}

export interface LineSeries {
  name: string;
  points: LinePoint[];
}

/** Lines over a numeric x axis, a dot per point and an interval whisker where given. */
export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: LineSeries[]; percent?: boolean; domain?: [number, number]; xDomain?: [number, number]; diagonal?: boolean; integerX?: boolean }): string {
  const percent = opts.percent ?? true;
  const pts = opts.series.flatMap((s) => s.points);
  const ys = pts.flatMap((p) => [p.y, p.lo ?? null, p.hi ?? null]).filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = opts.domain ?? [Math.min(...ys, percent ? 0 : Infinity), Math.max(...ys, percent ? 1 : -Infinity)];
  const scale = yScale(Number.isFinite(lo) ? lo : 0, Number.isFinite(hi) ? hi : 1);
  const xs = pts.map((p) => p.x);
  let [x0, x1] = opts.xDomain ?? [Math.min(...xs), Math.max(...xs)];
  if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
  if (x1 - x0 < 1e-9) [x0, x1] = [x0 - 1, x1 + 1];
  const plotW = W - M.left - M.right;
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
      marks += `<circle class="point" data-series="${esc(s.name)}" data-x="${p.x}" data-y="${p.y}" cx="${num(x(p.x))}" cy="${num(scale.y(p.y!))}" r="4" fill="${color}"><title>${esc(tip)}</title></circle>`;
    }
  });
  return `${svgOpen('line-chart', opts.title)}${frame(opts.title, scale, opts.yLabel, percent)}${marks}${legend(opts.series.map((s) => s.name))}</svg>`;
}

/** A reliability diagram: mean predicted P(label 1) against the observed fraction of 1s per bin, with the diagonal. */
export function reliabilityDiagram(opts: { title: string; series: { name: string; bins: { meanPredicted: number | null; fractionPositive: number | null; count: number }[] }[] }): string {
  return lineChart({
    title: opts.title,
    xLabel: 'mean predicted P(label 1)',
    yLabel: 'fraction with label 1',
    domain: [0, 1],
    xDomain: [0, 1],
    diagonal: true,
    series: opts.series.map((s) => ({
      name: s.name,
      points: s.bins.filter((b) => b.count > 0 && b.meanPredicted !== null).map((b) => ({ x: b.meanPredicted!, y: b.fractionPositive, note: `${b.count} examples` })),
    })),
  });
}
