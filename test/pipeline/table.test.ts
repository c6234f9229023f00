import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openReport } from '../../src/report/queries.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { openStore, type MetricRow } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-table-');

/** A database holding one run whose metrics are written by hand, and the summary `w2s run` prints for it. */
function summaryOf(name: string, config: Record<string, unknown>, metrics: Omit<MetricRow, 'runId'>[]): string {
  const file = `${dir}/${name}.sqlite`;
  const store = openStore(file);
  store.runs.createRun({ id: 'r', name: 'r', config, configHash: 'h', dataset: 'sciq' });
  store.metrics.upsertMetrics(metrics.map((m) => ({ runId: 'r', ...m })));
  store.close();
  const q = openReport(file);
  try {
    return formatRunSummary(q, 'r');
  } finally {
    q.close();
  }
}

const boot = { method: 'percentile bootstrap', level: 0.95, resamples: 1000, undefinedResamples: 0, covers: 'test examples (200)', n: 200 };
const acc = (subject: string, value: number, lo: number, hi: number): Omit<MetricRow, 'runId'> => ({ subject, name: 'accuracy', value, lo, hi, ...boot });

test('the run table labels rows by what they are, prints PGR with its undefined resamples, and says what intervals cover', () => {
  const text = summaryOf('debate', { debate: { protocol: 'market' }, weak: { ensemble: { kind: 'debate', size: 4 } } }, [
    acc('majority_class', 0.52, 0.45, 0.59),
    acc('weak', 0.9, 0.88, 0.92),
    acc('weak_ensemble', 0.91, 0.89, 0.93),
    acc('strong', 0.926, 0.9, 0.95),
    acc('strong_ceiling', 0.934, 0.91, 0.96),
    { subject: 'strong', name: 'pgr', value: 0.765, lo: 0.6, hi: 0.9, ...boot, undefinedResamples: 12, method: 'paired percentile bootstrap' },
    { subject: 'strong_ceiling', name: 'gap', value: 0.034, lo: 0.012, hi: 0.056, ...boot },
  ]);
  // Each row: the short name every view uses, the numbers, then what it is.
  assert.match(text, /^model\s+accuracy % \[95% CI\]\s+AUROC %\s+PGR %\s+what it is$/m);
  assert.match(text, /^majority class\s+52\.0 \[45\.0, 59\.0\]\s+n\/a\s+majority class of train_weak \(constant\)$/m);
  assert.match(text, /^weak ensemble\s+91\.0 \[89\.0, 93\.0\]\s+n\/a\s+weak debate ensemble of 4 \(market transcripts, one each\), mean$/m);
  assert.match(text, /^strong on weak ensemble\s+92\.6 \[90\.0, 95\.0\]\s+n\/a\s+76\.5 \[60\.0, 90\.0\] \(12\/1000 resamples undefined\)\s+strong on debate ensemble of 4 \(market transcripts, one each\) labels \(w2s\)$/m);
  assert.match(text, /^chance: 50\.0 \(two classes\)$/m);
  assert.match(text, /^ceiling − weak gap: \+3\.4 \[\+1\.2, \+5\.6\] points, significant$/m);
  assert.match(text, /Intervals: 95% percentile bootstrap over test examples \(200\) with 1000 resamples.*not training seeds\./);
});

test('with protocol none the ensemble is a finetune ensemble, nothing is "with debate", and a PGR without a number says why', () => {
  const text = summaryOf('none', { debate: { protocol: 'none' }, weak: { ensemble: { kind: 'debate', size: 3 } } }, [
    acc('weak', 0.42, 0.31, 0.53),
    acc('weak_ensemble', 0.43, 0.32, 0.54),
    acc('strong', 0.44, 0.33, 0.55),
    acc('strong_ceiling', 0.46, 0.35, 0.57),
    { subject: 'strong', name: 'pgr', value: null, lo: null, hi: null, ...boot, note: 'gap +3.8 [−5.0, +12.5] not significant' },
    { subject: 'strong_ceiling', name: 'gap', value: 0.038, lo: -0.05, hi: 0.125, ...boot, note: 'not significant: PGR is not reported' },
  ]);
  assert.doesNotMatch(text, /with debate|debate ensemble|debate-ensemble/);
  assert.match(text, /^weak ensemble\s.*\s{2}weak finetune ensemble of 3 \(no debate\), mean$/m);
  assert.match(text, /^strong on weak ensemble\s+44\.0 \[33\.0, 55\.0\]\s+n\/a\s+n\/a \(gap \+3\.8 \[−5\.0, \+12\.5\] not significant\)\s+strong on finetune ensemble of 3 \(no debate\) labels \(w2s\)$/m);
  assert.match(text, /^ceiling − weak gap: \+3\.8 \[−5\.0, \+12\.5\] points, not significant: PGR is not reported$/m);
  // No number that looks like a PGR anywhere.
  assert.doesNotMatch(text, /PGR.*\d+\.\d \[/);
});

test('with seeds, other seeds\' subjects appear only in the over-seeds columns, and seed-free rows leave them empty', () => {
  const overSeeds = { method: 't interval over training seeds', level: 0.95, n: 2, covers: '2 training seeds (0, 1) on one test split' };
  const text = summaryOf('seeded', { debate: { protocol: 'debate' }, weak: { ensemble: { kind: 'debate', size: 2 } }, judges: [{ name: 'j' }] }, [
    acc('majority_class', 0.5, 0.4, 0.6),
    acc('weak', 0.6, 0.5, 0.7),
    { subject: 'weak', name: 'accuracy_over_seeds', value: 0.61, lo: 0.55, hi: 0.67, ...overSeeds },
    acc('judge:j', 0.55, 0.45, 0.65),
    acc('strong_by_judge:j', 0.7, 0.6, 0.8),
    acc('strong_by_judge:j@seed1', 0.72, 0.62, 0.82),
    { subject: 'strong_by_judge:j', name: 'accuracy_over_seeds', value: 0.71, lo: 0.58, hi: 0.84, ...overSeeds },
  ]);
  assert.equal(text.match(/^strong on judge j/gm)?.length, 1);
  assert.doesNotMatch(text, /seed 1/);
  // Empty cells (no PGR, no over-seeds figure) leave the long label in its column at the end.
  assert.match(text, /^strong on judge j\s+70\.0 \[60\.0, 80\.0\]\s+n\/a\s+71\.0 \[58\.0, 84\.0\]\s+strong on judge j labels \(w2s\); debate protocol$/m);
  assert.match(text, /^majority class\s+50\.0 \[40\.0, 60\.0\]\s+n\/a\s+majority class of train_weak \(constant\)$/m);
  assert.match(text, /^weak model\s+60\.0 \[50\.0, 70\.0\]\s+n\/a\s+61\.0 \[55\.0, 67\.0\]\s+weak model \(ground truth, no debate\)$/m);
});
