import { accuracy, accuracyCI, aurocCI, majorityVote, meanSoftLabel, pgrCI, type Label } from '../metrics/index.js';
import { createRng, deriveSeed } from '../rng.js';
import type { MetricRow } from '../store/index.js';
import type { StageContext } from './context.js';
import { judgeName, judgeProbabilities } from './judges.js';
import { predictionsOf, ROLES } from './predictions.js';
import { ensembleLabels } from './training.js';

/** One row of the result table. Values are fractions; null where undefined. */
export interface ResultRow {
  subject: string;
  description: string;
  accuracy: Interval;
  auroc: Interval;
  pgr?: Interval & { undefinedResamples: number; note?: string };
}

export interface Interval {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

const DESCRIPTIONS: Record<string, string> = {
  weak: 'weak model, ground truth, no debate',
  weak_ensemble: 'weak ensemble with debate (mean)',
  weak_ensemble_vote: 'weak ensemble with debate (majority vote)',
  strong_naive: 'strong on weak labels (naive w2s)',
  strong: 'strong on ensemble labels (w2s)',
  strong_ceiling: 'strong ceiling, ground truth',
};

/**
 * Accuracy and AUROC of every model on the test split, and PGR of the two weak-to-strong models, each with a
 * bootstrap interval over test examples (PGR's resamples are paired across the three models). Stored in metrics.
 */
export function evaluate(ctx: StageContext): ResultRow[] {
  const { bootstrap: resamples, level } = ctx.config.metrics;
  const test = ctx.store.examples.listExamples(ctx.runId, 'test');
  const labels = test.map((e) => e.label as Label);
  const ofRole = (role: string, member = 0): number[] => {
    const p = predictionsOf(ctx, role, member);
    return test.map((e) => p.get(e.id)!);
  };
  const K = ctx.config.weak.ensemble.size;
  const members = Array.from({ length: K }, (_, k) => ofRole(ROLES.member, k));
  const subjects: [string, number[]][] = [
    ['weak', ofRole(ROLES.weak)],
    ['weak_ensemble', meanSoftLabel(members)],
    ['weak_ensemble_vote', majorityVote(members)],
    ['strong_naive', ofRole(ROLES.naive)],
    ['strong', ofRole(ROLES.strong)],
    ['strong_ceiling', ofRole(ROLES.ceiling)],
  ];
  for (const [i, j] of ctx.config.judges.entries()) {
    const name = judgeName(j, i);
    const p = judgeProbabilities(ctx, name, test.map((e) => e.id));
    subjects.push([`judge:${name}`, p]);
    subjects.push([`strong_by_judge:${name}`, ofRole(ROLES.byJudge, i)]);
  }
  const random = (subject: string, metric: string): (() => number) => createRng(deriveSeed(ctx.config.seed, 'bootstrap', subject, metric)).random;
  const rows: ResultRow[] = [];
  const metrics: MetricRow[] = [];
  const byName = new Map(subjects);
  for (const [subject, probs] of subjects) {
    const acc = accuracyCI(probs, labels, { random: random(subject, 'accuracy'), resamples, level });
    const auc = aurocCI(probs, labels, { random: random(subject, 'auroc'), resamples, level });
    const row: ResultRow = { subject, description: describe(subject), accuracy: pick(acc), auroc: pick(auc) };
    metrics.push({ runId: ctx.runId, subject, name: 'accuracy', ...pick(acc), n: labels.length });
    metrics.push({ runId: ctx.runId, subject, name: 'auroc', ...pick(auc), n: labels.length });
    if (subject === 'strong' || subject === 'strong_naive' || subject.startsWith('strong_by_judge:')) {
      const p = pgrCI(byName.get('weak')!, probs, byName.get('strong_ceiling')!, labels, { random: random(subject, 'pgr'), resamples, level });
      const note = pgrNote(p, level);
      row.pgr = { ...pick(p), undefinedResamples: p.undefinedCount, note };
      metrics.push({ runId: ctx.runId, subject, name: 'pgr', ...pick(p), n: labels.length, note: note ?? null });
    }
    rows.push(row);
  }
  // How good the supervision itself was: the ensemble's labels against the truth on train_strong.
  const trainStrong = ctx.store.examples.listExamples(ctx.runId, 'train_strong');
  const weakLabels = ensembleLabels(ctx, trainStrong);
  metrics.push({ runId: ctx.runId, subject: 'weak_labels', name: 'accuracy', value: accuracy(weakLabels, trainStrong.map((e) => e.label)), n: trainStrong.length });
  ctx.store.metrics.upsertMetrics(metrics);
  return rows;
}

/**
 * PGR divides by the ceiling–weak gap; when that gap is within noise, PGR swings wildly and the table must say so.
 * The gap's interval includes 0 exactly when more than (1 − level)/2 of the paired resamples have ceiling ≤ weak.
 */
function pgrNote(p: { value: number | null; weak: number | null; ceiling: number | null; undefinedCount: number; resamples: number }, level: number): string | undefined {
  if (p.value === null) return 'undefined: ceiling accuracy <= weak accuracy';
  const gap = 100 * ((p.ceiling ?? 0) - (p.weak ?? 0));
  if (p.undefinedCount / p.resamples > (1 - level) / 2) {
    return `ceiling - weak is only ${gap.toFixed(1)} points and within noise (${p.undefinedCount} of ${p.resamples} resamples have ceiling <= weak): treat this PGR as noise`;
  }
  return p.undefinedCount ? `${p.undefinedCount} of ${p.resamples} resamples undefined (ceiling <= weak), left out of the interval` : undefined;
}

function describe(subject: string): string {
  const [kind, judge] = subject.split(':');
  if (kind === 'judge') return `prompted judge ${judge} (both orders, all transcripts)`;
  if (kind === 'strong_by_judge') return `strong on judge ${judge} labels (w2s)`;
  return DESCRIPTIONS[subject] ?? subject;
}

function pick(r: { value: number | null; lo: number | null; hi: number | null }): Interval {
  return { value: r.value, lo: r.lo, hi: r.hi };
}

/** The result table as text, one model a line, percentages with their intervals. */
export function formatTable(rows: ResultRow[], level: number): string {
  const pct = (v: number | null): string => (v === null ? 'n/a' : (100 * v).toFixed(1));
  const ci = (i: Interval): string => (i.value === null ? 'n/a' : `${pct(i.value)} [${pct(i.lo)}, ${pct(i.hi)}]`);
  const header = ['model', `accuracy % [${Math.round(level * 100)}% CI]`, 'AUROC %', 'PGR %'];
  const body = rows.map((r) => [
    r.description,
    ci(r.accuracy),
    ci(r.auroc),
    r.pgr ? (r.pgr.value === null ? `undefined (${r.pgr.note})` : ci(r.pgr)) : '',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const line = (cells: string[]): string => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  const notes = rows.filter((r) => r.pgr?.note && r.pgr.value !== null).map((r) => `note: ${r.description}: ${r.pgr!.note}.`);
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}
