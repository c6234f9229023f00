import { debaterSummaryLines } from './ratings.js';
import { labelOf, type Comparison } from './analysis.js';
import type { ReportQueries } from './queries.js';
import { accuracyHeader, compareRows, pct, pctCI, pgrCell, pgrHeader, runDetails, signedPoints, signedPointsCI, textTable, unscoredRows } from './results.js';
import { displayPath, locatedResults, type LocatedRun } from './results-set.js';

/**
 * `w2s runs`: one line per run with status, dataset, models, counts, tokens, cost, headline metrics and the database
 * it is in (last, so each line still starts with the run id).
 */
export function formatRuns(runs: readonly LocatedRun[]): string {
  if (runs.length === 0) return 'No runs in this database yet.';
  const header = [
    'run', 'status', 'dataset', 'debaters', 'judges', 'K', 'examples', 'debates', 'calls (hits)', 'tokens', 'cost $', accuracyHeader('weak_ensemble'), accuracyHeader('strong'),
    pgrHeader('strong'), 'file',
  ];
  const results = locatedResults(runs);
  const rows = results.map((res, i) => {
    const r = res.run;
    return [
      r.id, r.status, r.dataset ?? '', r.config.debaters.join(',') || '-', r.config.judges.join(',') || '-', String(r.config.ensembleSize ?? ''),
      String(r.counts.examples), String(r.counts.debates), `${r.counts.calls} (${r.counts.cacheHits})`, String(r.tokens.input + r.tokens.output),
      r.costUsd.toFixed(4), pctCI(res.ensemble), pctCI(res.w2s), pgrCell(res.pgr), displayPath(runs[i]!.file),
    ];
  });
  // The strong models trained on judges' labels, where a run has them: one line each, under the headline table.
  const byJudge = results.flatMap((res) => res.byJudge.map((j) => [res.run.id, j.name, pctCI(j.accuracy), pgrCell(j.pgr)]));
  const errors = runs.filter((r) => r.run.error).map((r) => `${r.run.id}: ${r.run.error}`);
  // A stopped run's hint says how to resume it.
  const hints = runs.filter((r) => r.run.hint).map((r) => `${r.run.id}: ${r.run.status}: ${r.run.hint}`);
  return [
    textTable(header, rows),
    ...(byJudge.length ? ['', "Strong models trained on judges' labels:", textTable(['run', 'model', 'accuracy %', 'PGR %'], byJudge)] : []),
    ...(errors.length ? ['', 'Errors:', ...errors.map((e) => `  ${e}`)] : []),
    ...(hints.length ? ['', ...hints] : []),
  ].join('\n');
}

/**
 * One run's results as `w2s run` prints them, read from its stored metrics: the model table, the chance line and the
 * ceiling − weak gap, what the intervals cover, the knowledge regions and the leak audit.
 */
export function formatRunSummary(q: ReportQueries, runId: string): string {
  const run = q.resolveRun(runId);
  const metrics = q.metrics(run.id);
  const { models, notes, audits } = runDetails(metrics, run.config);
  return [textTable(models.header, models.rows), '', ...notes, ...audits.flatMap((t) => ['', textTable(t.header, t.rows)]), ...debaterSummaryLines(metrics)].join('\n');
}

const p3 = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(3));

/** `w2s compare`: accuracy with intervals, calibration, paired (or unpaired) tests, agreement and accuracy by ensemble size. */
export function formatComparison(c: Comparison): string {
  const out: string[] = [];
  const level = `${Math.round(c.level * 100)}%`;
  const where = (i: number): string => (c.files?.[i] ? ` (${c.files[i]})` : '');
  if (c.mode === 'runs') {
    // Runs A and B: first line says whether they were paired, and why.
    out.push(`Runs A = ${c.runs[0]}${where(0)} and B = ${c.runs[1]}${where(1)}`, `${c.pairing?.note ?? `on ${c.n} shared test examples`}`);
  } else out.push(`Run ${c.runs[0]}: ${c.n} test examples`);
  if (c.subjects.length === 0) return `${out.join('\n')}\nNothing to compare: no test examples with predictions.`;
  const name = labelOf(c);
  if (c.unpaired.length) {
    out.push('', textTable(['model', 'n', `accuracy % [${level} CI]`, 'ECE', 'Brier', 'what it is'], [
      ...c.subjects.map((s) => [s.label, String(s.n), pctCI(s.accuracy), s.ece.toFixed(3), s.brier.toFixed(3), s.description]),
      ...unscoredRows(c, 3).map(([label, ...rest]) => [label!, '', ...rest]),
    ]));
    out.push('', `Unpaired differences (Δ = B − A: the accuracy of B minus that of A, in points, each on its own test examples; ${c.resamples} bootstrap resamples of each test set, drawn independently):`);
    out.push(textTable(
      ['A', 'B', 'Δ = B − A, points [CI]', 'bootstrap p', `Newcombe ${level} CI`],
      c.unpaired.map((u) => [name(u.a), name(u.b), signedPointsCI(u.diff), p3(u.diff.pValue), `[${signedPoints(u.newcombe.lo)}, ${signedPoints(u.newcombe.hi)}]`]),
    ));
    out.push("Newcombe's hybrid score interval takes examples as independent; the bootstrap resamples whole groups where a run has them. No McNemar or kappa: they need the same examples in both runs.");
    return out.join('\n');
  }
  out.push('', textTable(['model', `accuracy % [${level} CI]`, 'ECE', 'Brier', 'what it is'], compareRows(c)));
  if (c.pairs.length) {
    out.push('', `Paired tests (Δ = B − A: the accuracy of B minus that of A, in points; McNemar b = A right and B wrong, c = A wrong and B right; ${c.resamples} bootstrap resamples):`);
    out.push(textTable(
      ['A', 'B', 'Δ = B − A, points [CI]', 'bootstrap p', 'McNemar b/c', 'McNemar p', "Cohen's κ"],
      c.pairs.map((p) => [name(p.a), name(p.b), signedPointsCI(p.diff), p3(p.diff.pValue), `${p.mcnemar.b}/${p.mcnemar.c}`, `${p3(p.mcnemar.pValue)} (${p.mcnemar.method})`, p3(p.kappa)]),
    ));
  }
  if (c.kappa.names.length > 1) {
    out.push('', "Cohen's kappa between raters (hard predictions):");
    out.push(textTable(['', ...c.kappa.names.map(name)], c.kappa.names.map((n, i) => [name(n), ...c.kappa.matrix[i]!.map(p3)])));
  }
  if (c.mode === 'members') out.push('', `Fleiss' kappa across ensemble members: ${p3(c.fleiss)}`);
  if (c.bySize.length) {
    out.push('', 'Accuracy against ensemble size (mean over member subsets):');
    out.push(textTable(['members', 'accuracy %', 'min %', 'max %', 'subsets'], c.bySize.map((b) => [String(b.size), pct(b.accuracy), pct(b.min), pct(b.max), `${b.subsets}${b.exact ? '' : ' sampled'}`])));
  }
  return out.join('\n');
}
