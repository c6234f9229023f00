import { UserError } from '../errors.js';
import type { LocatedRun } from './results-set.js';
import { SHORT_NAMES } from './subjects.js';
import { barChart, lineChart, type BarGroup, type LineSeries } from './svg.js';
import { axisOrder, collectEntries, compareSort, oneEntry, type Axis, type Entry, type Where } from './table.js';

/**
 * Cross-run figures from the metrics each run stored (never recomputed): accuracy against ensemble size, and accuracy
 * and PGR per debate protocol. Each returns one SVG string, for a standalone file or the HTML report. Runs that would
 * put two different numbers on one point are refused exactly as the table refuses them (table.ts oneEntry).
 */

export interface FigureOptions {
  where?: Where[];
}

/** One point's runs resolved to one stored metric set, or a UserError naming what tells them apart. */
function resolve(entries: Entry[], where: string, shown: ReadonlySet<Axis>): Entry {
  return oneEntry(entries, where, { axes: false, shown }).entry;
}

const groupBy = <T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
};

/**
 * Test accuracy of the weak ensemble and of the strong model trained on its labels against ensemble size, one pair of
 * series per dataset and protocol (and ensemble kind), with the stored intervals as whiskers.
 */
export function ensembleSizeFigure(runs: readonly LocatedRun[], opts: FigureOptions = {}): string {
  const shown = new Set<Axis>(['dataset', 'protocol', 'ensemble-size']);
  const { entries } = collectEntries(runs, { pick: (s) => s === 'weak_ensemble' || s === 'strong', shown, where: opts.where });
  const sized = entries.filter((e) => e.at['ensemble-size'].key !== '?' && e.accuracy);
  if (sized.length === 0) throw new UserError('No run here has stored ensemble accuracies; finish a run with `w2s run`, or loosen --where.');
  const series: LineSeries[] = [];
  // A series: one dataset, protocol and kind of ensemble (the method label without its size), one subject.
  const bySeries = groupBy(sized, (e) => `${e.at.dataset.key}\u0000${e.at.protocol.key}\u0000${e.at.method.key}`);
  const weakFirst = (e: Entry): number => (e.subject === 'weak_ensemble' ? 0 : 1);
  const ordered = [...bySeries.values()].sort(([a], [b]) =>
    compareSort(a!.at.dataset, b!.at.dataset) || compareSort(a!.at.protocol, b!.at.protocol) || String(a!.located.run.config.ensembleKind).localeCompare(String(b!.located.run.config.ensembleKind)) || weakFirst(a!) - weakFirst(b!));
  for (const group of ordered) {
    const e0 = group[0]!;
    const who = e0.subject === 'weak_ensemble' ? SHORT_NAMES.weak_ensemble : SHORT_NAMES.strong;
    const kind = e0.located.run.config.ensembleKind === 'finetune' && e0.at.protocol.key !== 'none' ? ' finetune' : '';
    const name = `${e0.at.dataset.label} ${e0.at.protocol.key === 'none' ? 'no debate' : e0.at.protocol.label}${kind}: ${who}`;
    const points = [...groupBy(group, (e) => e.at['ensemble-size'].key).values()].map((at) => {
      const e = resolve(at, `the point ${name}, ${at[0]!.at['ensemble-size'].label}`, shown);
      const m = e.accuracy!;
      return { x: Number(e.at['ensemble-size'].key), y: m.value, lo: m.lo, hi: m.hi, note: `n=${m.n}; ${e.located.run.id}` };
    });
    series.push({ name, points: points.sort((a, b) => a.x - b.x) });
  }
  // svg.ts measures the legend: long series names widen the canvas, never get clipped.
  return lineChart({
    title: `Accuracy against ensemble size (${SHORT_NAMES.weak_ensemble}, and ${SHORT_NAMES.strong})`, xLabel: 'ensemble members', yLabel: 'test accuracy', series, integerX: true,
  });
}

/**
 * Accuracy and PGR of the strong model trained on the weak ensemble's labels, per protocol (bars) and dataset
 * (groups), with the stored intervals; PGR where the gap was not significant is drawn as n/a. `metric` picks one chart;
 * both are stacked in one SVG.
 */
export function protocolsFigure(runs: readonly LocatedRun[], opts: FigureOptions & { metric?: 'accuracy' | 'pgr' | 'both' } = {}): string {
  const shown = new Set<Axis>(['dataset', 'protocol']);
  const { entries } = collectEntries(runs, { pick: (s) => s === 'strong', shown, where: opts.where });
  if (entries.length === 0) throw new UserError('No run here has a stored w2s accuracy; finish a run with `w2s run`, or loosen --where.');
  const protocols = axisOrder(entries, 'protocol');
  const cells = axisOrder(entries, 'dataset').map((d) => ({
    label: d.label,
    bars: protocols.flatMap((p) => {
      const here = entries.filter((e) => e.at.dataset.key === d.key && e.at.protocol.key === p.key);
      return here.length ? [{ protocol: p.label, entry: resolve(here, `${d.label} × ${p.label}`, shown) }] : [];
    }),
  }));
  const chart = (name: 'accuracy' | 'pgr'): string => {
    const groups: BarGroup[] = cells.map((c) => ({
      label: c.label, bars: c.bars.map((b) => ({ series: b.protocol, value: b.entry[name]?.value ?? null, lo: b.entry[name]?.lo, hi: b.entry[name]?.hi, note: b.entry[name]?.note })),
    }));
    return name === 'accuracy'
      ? barChart({ title: `Test accuracy per protocol: ${SHORT_NAMES.strong}`, yLabel: 'test accuracy', groups })
      : barChart({
        title: `PGR per protocol: ${SHORT_NAMES.strong}`, yLabel: 'PGR', groups,
        references: [{ value: 0, label: '0% = weak model' }, { value: 1, label: '100% = strong ceiling' }],
      });
  };
  const metric = opts.metric ?? 'both';
  if (metric !== 'both') return chart(metric);
  return stack([chart('accuracy'), chart('pgr')]);
}

/** Charts one above the other in one SVG (each keeps its own size and viewBox). */
function stack(charts: string[]): string {
  const size = (svg: string): [number, number] => {
    const m = /width="(\d+)" height="(\d+)"/.exec(svg);
    return m ? [Number(m[1]), Number(m[2])] : [640, 300];
  };
  const w = Math.max(...charts.map((c) => size(c)[0]));
  let y = 0;
  const parts = charts.map((c) => {
    const part = `<g transform="translate(0 ${y})">${c}</g>`;
    y += size(c)[1];
    return part;
  });
  return `<svg class="chart stack" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${y}" width="${w}" height="${y}">${parts.join('')}</svg>`;
}

/** An SVG string as a standalone file. */
export const standaloneSvg = (svg: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`;
