import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { writeReport } from '../../src/report/html.js';
import { formatJudges, judgesTables, judgesView, type JudgesView } from '../../src/report/judges.js';
import { openReport } from '../../src/report/queries.js';
import { openResults } from '../../src/report/results-set.js';
import { buildTable } from '../../src/report/table.js';
import { formatTable } from '../../src/report/table-format.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { runPage } from '../../src/report/viewer-pages.js';
import { watchResults } from '../../src/report/viewer-set.js';
import { openStore, type MetricRow } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { buildJudgesDb, FRONTIER, FRONTIER_NOTE, HOSTILE_ENSEMBLE, HOSTILE_JUDGE, HOSTILE_RUN, JUDGED_METRICS, PLAIN, RUN } from './judges-fixture.js';

const exec = promisify(execFile);
const dir = tempDir();
let db: string;
before(() => {
  db = buildJudgesDb(dir);
});

async function w2s(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The row inserted for (subject, name): what the views must show. */
function inserted(subject: string, name: string): { value: number | null; lo: number | null; hi: number | null } {
  const row = JUDGED_METRICS.find(([s, n]) => s === subject && n === name);
  assert.ok(row, `${subject} ${name} is in the fixture`);
  return { value: row[2], lo: row[3]?.lo ?? null, hi: row[3]?.hi ?? null };
}

function view(): JudgesView {
  const q = openReport(db);
  try {
    const run = q.resolveRun(RUN);
    return judgesView(q.metrics(run.id), run.config, run.id);
  } finally {
    q.close();
  }
}

/** A table row as cells split on two or more spaces (cells hold single spaces). */
const cellsOf = (line: string): string[] => line.trim().split(/\s{2,}/);
const lineStarting = (text: string, start: string | RegExp): string => {
  const line = text.split('\n').find((l) => (typeof start === 'string' ? l.startsWith(start) : start.test(l)));
  assert.ok(line, `a line starts with ${start}:\n${text}`);
  return line;
};

test('the judges view holds the stored rows, judges then judge ensembles in config order, primary seed only', () => {
  const v = view();
  assert.deepEqual(v.judges.map((j) => j.subject), ['judge:j-a', 'judge:j-b', 'judge:j-c', 'judge_ensemble:ens-mean', 'judge_ensemble:ens-stack']);
  for (const j of v.judges) {
    for (const [field, name] of [['accuracy', 'accuracy'], ['auroc', 'auroc'], ['ece', 'ece'], ['brier', 'brier'], ['coverage', 'parse_coverage'], ['tokensPerExample', 'tokens_per_example'], ['costUsdPerExample', 'cost_usd_per_example']] as const) {
      const m = j[field]!;
      assert.deepEqual({ value: m.value, lo: m.lo, hi: m.hi }, inserted(j.subject, name), `${j.subject} ${name}`);
    }
  }
  assert.equal(v.judges.find((j) => j.name === 'j-b')!.positionBias, null, 'j-b reads one order: no position bias stored');
  assert.deepEqual(v.judges.filter((j) => j.onFrontier?.value === 1).map((j) => j.name).sort(), [...FRONTIER].sort());
  assert.deepEqual(v.frontier, { axis: 'cost', note: FRONTIER_NOTE });
  const ensMean = v.judges.find((j) => j.name === 'ens-mean')!;
  assert.deepEqual(ensMean.members, ['j-a', 'j-b', 'j-c']);
  assert.equal(ensMean.description, 'judge ensemble ens-mean (mean of j-a, j-b, j-c)');
  assert.equal(ensMean.strong.accuracy!.value, 0.78, 'the primary seed, not strong_by_judge:ens-mean@seed1');
  assert.deepEqual(v.judges.find((j) => j.name === 'ens-stack')!.weights.map((w) => [w.member, w.weight.value]), [['j-a', 1.25], ['j-b', 0.4], ['intercept', -0.1]]);
  assert.deepEqual(v.ensembles.map((e) => [e.name, e.bestMember, e.vsBestMember!.value, e.vsWeakEnsemble!.value]), [['ens-mean', 'j-a', 0.05, -0.1], ['ens-stack', 'j-a', -0.02, 0.01]]);
  assert.deepEqual(v.sizes.map((c) => [c.name, c.points.map((p) => [p.size, p.accuracy.value, p.accuracy.lo, p.accuracy.hi, p.accuracy.n])]), [
    ['ens-mean', [[1, 0.65, 0.6, 0.7, 3], [2, 0.7, 0.675, 0.725, 3], [3, 0.75, 0.75, 0.75, 1]]],
    ['ens-stack', [[1, 0.675, 0.65, 0.7, 2], [2, 0.68, 0.68, 0.68, 1]]],
  ]);
  assert.deepEqual(v.pairs.map((p) => [p.a, p.b, p.agreement!.value, p.errorCorrelation!.value, p.kappa!.value]), [['j-a', 'j-b', 0.8, 0.35, 0.55], ['j-a', 'j-c', 0.75, null, null]]);
});

test('the judges table prints every stored number: accuracy, AUROC, ECE, Brier, coverage, position bias, tokens, $, frontier, strong and PGR', () => {
  const text = formatJudges(view());
  assert.match(text, /^Run judged-0001: judges and judge ensembles on 40 test examples$/m);
  assert.deepEqual(cellsOf(lineStarting(text, 'prompted judge j-a')), [
    'prompted judge j-a (both orders, all transcripts, 3 samples each)', '70.0 [60.0, 80.0]', '75.0 [65.0, 85.0]', '0.080 [0.050, 0.120]', '0.210 [0.180, 0.240]',
    '97.5 (240 replies)', '0.620 [0.550, 0.690]', '310.5', '$0.00031', '✓', '72.0 [62.0, 82.0]', '40.0 [10.0, 70.0]',
  ]);
  assert.deepEqual(cellsOf(lineStarting(text, 'prompted judge j-b')), [
    'prompted judge j-b (original order only, all transcripts)', '65.0 [55.0, 75.0]', '66.0 [56.0, 76.0]', '0.110 [0.070, 0.150]', '0.240 [0.200, 0.280]',
    '100.0 (40 replies)', '—', '120.0', '$0.00012', '✓', '—', '—',
  ]);
  // Not on the frontier: an empty cell, so the row has one cell fewer when split on runs of spaces.
  assert.deepEqual(cellsOf(lineStarting(text, 'prompted judge j-c')), [
    'prompted judge j-c (both orders, all transcripts)', '60.0 [50.0, 70.0]', '61.0 [51.0, 71.0]', '0.150 [0.100, 0.200]', '0.260 [0.220, 0.300]',
    '90.0 (80 replies)', '0.480 [0.400, 0.560]', '400.0', '$0.0004', '—', '—',
  ]);
  assert.deepEqual(cellsOf(lineStarting(text, 'judge ensemble ens-mean')), [
    'judge ensemble ens-mean (mean of j-a, j-b, j-c)', '75.0 [66.0, 84.0]', '80.0 [70.0, 90.0]', '0.060 [0.030, 0.090]', '0.190 [0.160, 0.220]',
    '96.0', '—', '830.5', '$0.00083', '✓', '78.0 [68.0, 88.0]', 'n/a (gap +3.0 [−2.0, +8.0] not significant)',
  ]);
  // The ensembles against their best member and the weak-model ensemble: Δ = ensemble − the other, and which side of 0.
  assert.match(text, /Judge ensembles against their best member and the weak-model ensemble \(Δ = ensemble − the other\):/);
  const contrast = text.slice(text.indexOf('Judge ensembles against'));
  assert.match(contrast, /Δ vs best member, points \[CI\] \(ensemble − member\)/);
  assert.deepEqual(cellsOf(lineStarting(contrast, 'judge ensemble ens-mean')), [
    'judge ensemble ens-mean (mean of j-a, j-b, j-c)', '+5.0 [−2.0, +12.0], p = 0.21', 'j-a', 'no clear difference (interval includes 0)', '−10.0 [−18.0, −3.0], p = 0.012', 'ensemble worse (interval below 0)',
  ]);
  assert.deepEqual(cellsOf(lineStarting(contrast, 'judge ensemble ens-stack')), [
    'judge ensemble ens-stack (stacked on j-a, j-b)', '−2.0 [−8.0, +4.0], p = 0.55', 'j-a', 'no clear difference (interval includes 0)', '+1.0 [+0.5, +7.0], p = 0.04', 'ensemble better (interval above 0)',
    'j-a 1.250; j-b 0.400; intercept -0.100',
  ]);
  const sizes = text.slice(text.indexOf('Accuracy against judge ensemble size'));
  assert.deepEqual(sizes.split('\n').filter((l) => l.startsWith('judge ensemble ens-')).slice(0, 5).map(cellsOf), [
    ['judge ensemble ens-mean (mean of j-a, j-b, j-c)', '1', '65.0', '60.0', '70.0', '3'],
    ['judge ensemble ens-mean (mean of j-a, j-b, j-c)', '2', '70.0', '67.5', '72.5', '3'],
    ['judge ensemble ens-mean (mean of j-a, j-b, j-c)', '3', '75.0', '75.0', '75.0', '1'],
    ['judge ensemble ens-stack (stacked on j-a, j-b)', '1', '67.5', '65.0', '70.0', '2'],
    ['judge ensemble ens-stack (stacked on j-a, j-b)', '2', '68.0', '68.0', '68.0', '1'],
  ]);
  const pairs = text.slice(text.indexOf('Judge pairs'));
  assert.deepEqual(cellsOf(lineStarting(pairs, /^j-a\s+j-b\s/)), ['j-a', 'j-b', '80.0', '0.350', '0.550']);
  assert.deepEqual(cellsOf(lineStarting(pairs, /^j-a\s+j-c\s/)), ['j-a', 'j-c', '75.0', 'n/a (undefined: one of the two is always right or always wrong)', 'n/a (undefined: every verdict was the same)']);
  assert.ok(text.includes(`Frontier ✓: on the accuracy–cost frontier of these judges and judge ensembles, by cost in USD per example (${FRONTIER_NOTE}).`));
  assert.match(text, /a range over the subsets, not a confidence interval/);
});

test('w2s compare --judges prints the stored view as text and JSON; a run without judges is one sentence and exit 1', async () => {
  const json = await w2s('compare', db, '--judges', RUN, '--json');
  assert.equal(json.code, 0, json.stderr);
  const v = JSON.parse(json.stdout) as JudgesView;
  assert.equal(v.runId, RUN);
  assert.deepEqual(v.judges.map((j) => [j.name, j.kind, j.accuracy!.value, j.accuracy!.lo, j.accuracy!.hi, j.onFrontier!.value]), [
    ['j-a', 'judge', 0.7, 0.6, 0.8, 1], ['j-b', 'judge', 0.65, 0.55, 0.75, 1], ['j-c', 'judge', 0.6, 0.5, 0.7, 0],
    ['ens-mean', 'judge_ensemble', 0.75, 0.66, 0.84, 1], ['ens-stack', 'judge_ensemble', 0.68, 0.58, 0.78, 0],
  ]);
  assert.deepEqual(v.ensembles.map((e) => [e.bestMember, e.pBestMember, e.pWeakEnsemble]), [['j-a', 0.21, 0.012], ['j-a', 0.55, 0.04]]);
  // The text form is the same view, and --run names the run too.
  const text = await w2s('compare', db, '--judges', '--run', RUN);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, `${formatJudges(view())}\n`);

  const none = await w2s('compare', db, '--judges', PLAIN);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '');
  assert.equal(none.stderr, `w2s: Run ${PLAIN} has no judges; add judges and judgeEnsembles to its config.\n`);
  const both = await w2s('compare', db, '--judges', RUN, '--members');
  assert.equal(both.code, 1);
  assert.match(both.stderr, /^w2s: Use --judges on its own, not with --members/);
});

test('the run table and w2s table show judge ensembles and the strong models on their labels, as stored', () => {
  const q = openReport(db);
  try {
    const summary = formatRunSummary(q, RUN);
    // Each row: its short name, the numbers, and what it is (the long label) last.
    assert.deepEqual(cellsOf(lineStarting(summary, 'judge ensemble ens-mean ')), ['judge ensemble ens-mean', '75.0 [66.0, 84.0]', '80.0 [70.0, 90.0]', 'judge ensemble ens-mean (mean of j-a, j-b, j-c)']);
    assert.deepEqual(cellsOf(lineStarting(summary, 'judge ensemble ens-stack ')), ['judge ensemble ens-stack', '68.0 [58.0, 78.0]', '72.0 [62.0, 82.0]', 'judge ensemble ens-stack (stacked on j-a, j-b)']);
    assert.deepEqual(cellsOf(lineStarting(summary, 'strong on judge ensemble ens-mean ')), [
      'strong on judge ensemble ens-mean', '78.0 [68.0, 88.0]', 'n/a', 'n/a (gap +3.0 [−2.0, +8.0] not significant)', 'strong on judge ensemble ens-mean (mean of j-a, j-b, j-c) labels (w2s); debate protocol',
    ]);
    assert.deepEqual(cellsOf(lineStarting(summary, 'strong on judge j-a ')), ['strong on judge j-a', '72.0 [62.0, 82.0]', 'n/a', '40.0 [10.0, 70.0]', 'strong on judge j-a labels (w2s); debate protocol']);
    // Judges, then judge ensembles, then the strong models on their labels; never another seed's copy.
    const order = summary.split('\n').map((l) => /^(judge ensemble \S+|judge \S+|strong on judge (ensemble )?\S+)/.exec(l)?.[1]).filter(Boolean);
    assert.deepEqual(order, [
      'judge j-a', 'judge j-b', 'judge j-c', 'judge ensemble ens-mean', 'judge ensemble ens-stack', 'strong on judge j-a', 'strong on judge ensemble ens-mean',
    ]);
    assert.doesNotMatch(summary, /@seed1/);
  } finally {
    q.close();
  }
  const set = openResults([db]);
  try {
    const md = formatTable(buildTable(set.runs().filter((r) => r.run.id === RUN)), 'md');
    assert.match(md, /^\| strong on judge ensemble ens-mean \(mean of j-a, j-b, j-c\) labels \(w2s\); debate protocol \| \*\*78\.0\*\* \[68\.0, 88\.0\] \| n\/a \(gap \+3\.0 \[−2\.0, \+8\.0\] not significant\) \|$/m);
    assert.match(md, /^\| strong on judge j-a labels \(w2s\); debate protocol \| 72\.0 \[62\.0, 82\.0\] \| \*\*40\.0\*\* \[10\.0, 70\.0\] \|$/m);
  } finally {
    set.close();
  }
});

test('the report draws the accuracy–cost chart with exactly the stored frontier marked, and the judge tables in HTML and Markdown', () => {
  const out = join(dir, 'judges-report.html');
  const { report } = writeReport(db, out, { runs: [RUN], samples: 1 });
  const html = report.html;
  const section = html.slice(html.indexOf('<section class="judges" id="judges-judged-0001">'), html.indexOf('</section>', html.indexOf('id="judges-judged-0001"')));
  assert.ok(section.length > 0, 'the run has a judges section');
  const chart = /<svg class="chart cost-chart"[\s\S]*?<\/svg>/.exec(section)![0];
  const points = [...chart.matchAll(/<(circle|rect) class="point[^"]*" data-subject="([^"]*)" data-kind="([^"]*)" data-frontier="([01])" data-x="([^"]*)" data-y="([^"]*)"/g)]
    .map((m) => ({ shape: m[1], name: m[2], kind: m[3], frontier: m[4] === '1', x: Number(m[5]), y: Number(m[6]) }));
  assert.deepEqual(points.map((p) => p.name).sort(), ['ens-mean', 'ens-stack', 'j-a', 'j-b', 'j-c']);
  assert.deepEqual(points.filter((p) => p.frontier).map((p) => p.name).sort(), [...FRONTIER].sort());
  for (const p of points) {
    const subject = p.kind === 'judge' ? `judge:${p.name}` : `judge_ensemble:${p.name}`;
    assert.equal(p.x, inserted(subject, 'cost_usd_per_example').value, `${p.name} at its stored cost`);
    assert.equal(p.y, inserted(subject, 'accuracy').value, `${p.name} at its stored accuracy`);
    assert.equal(p.shape, p.kind === 'judge' ? 'circle' : 'rect');
  }
  // One step line through the frontier points, in cost order; every point labelled; the axis says USD.
  assert.equal((chart.match(/class="frontier-line"/g) ?? []).length, 1);
  assert.equal((chart.match(/<path class="frontier-line" d="M[\d.]+,[\d.]+(H[\d.]+V[\d.]+){2}"/g) ?? []).length, 1);
  assert.deepEqual([...chart.matchAll(/<text class="point-label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).sort(), ['ens-mean', 'ens-stack', 'j-a', 'j-b', 'j-c']);
  assert.match(chart, /cost per example \(USD\)/);
  assert.equal((chart.match(/class="ci"/g) ?? []).length, 5, 'every point has its interval whisker');
  // Accuracy against size: one chart per judge ensemble, a band and a mean point per size.
  const sizeCharts = [...section.matchAll(/<svg class="chart size-chart"[\s\S]*?<\/svg>/g)].map((m) => m[0]);
  assert.equal(sizeCharts.length, 2);
  assert.deepEqual([...sizeCharts[0]!.matchAll(/data-size="(\d+)" data-y="([^"]*)" data-lo="([^"]*)" data-hi="([^"]*)"/g)].map((m) => m.slice(1).map(Number)), [[1, 0.65, 0.6, 0.7], [2, 0.7, 0.675, 0.725], [3, 0.75, 0.75, 0.75]]);
  assert.match(sizeCharts[0]!, /<polygon class="band"/);
  for (const cls of ['judges-table', 'ensembles-table', 'sizes-table', 'pairs-table']) assert.match(section, new RegExp(`<table class="${cls}">`));
  assert.match(section, /<td>judge ensemble ens-mean \(mean of j-a, j-b, j-c\)<\/td><td>\+5\.0 \[−2\.0, \+12\.0\], p = 0\.21<\/td><td>j-a<\/td><td>no clear difference \(interval includes 0\)<\/td>/);
  const md = readFileSync(join(dir, 'judges-report.md'), 'utf8');
  assert.match(md, /^### Judges and judge ensembles: judged-0001$/m);
  assert.match(md, /^\| judge ensemble ens-mean \(mean of j-a, j-b, j-c\) \| 75\.0 \[66\.0, 84\.0\] \| 80\.0 \[70\.0, 90\.0\] \|/m);
  // The run without judges has no judges section.
  const plain = writeReport(db, join(dir, 'plain-report.html'), { runs: [PLAIN], samples: 1 }).report.html;
  assert.doesNotMatch(plain, /class="judges"/);
});

test('judgesTables marks a missing metric as not stored, never as a number', () => {
  const v = view();
  const t = judgesTables(v);
  const jb = t.judges.rows.find((r) => r[0]!.startsWith('prompted judge j-b'))!;
  assert.equal(jb[6], '—', 'position bias not stored for a one-order judge');
  assert.equal(jb[10], '—', 'no strong model stored on j-b labels');
});

test('the frontier axis is what the stored method names: tokens per example when no price is set', () => {
  const q = openReport(db);
  try {
    const run = q.resolveRun(HOSTILE_RUN);
    const v = judgesView(q.metrics(run.id), run.config, run.id);
    assert.equal(v.frontier.axis, 'tokens');
    assert.deepEqual(v.judges.map((j) => [j.kind, j.name, j.onFrontier!.value]), [['judge', HOSTILE_JUDGE, 1], ['judge', 'j-ok', 0], ['judge_ensemble', HOSTILE_ENSEMBLE, 1]]);
    assert.equal(v.ensembles[0]!.bestMember, HOSTILE_JUDGE);
    assert.match(formatJudges(v), /by tokens per example \(accuracy on test against tokens per judged example/);
  } finally {
    q.close();
  }
});

/** The cells of each body row of the first <table class="cls"> in html (no cell here holds markup). */
function tableCells(html: string, cls: string): string[][] {
  const table = new RegExp(`<table class="${cls}">([\\s\\S]*?)</table>`).exec(html);
  assert.ok(table, `a table of class ${cls} is in the section`);
  const body = table[1]!.slice(table[1]!.indexOf('<tbody>'));
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) => [...r[1]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => c[1]!));
}

test('open roles, quotes and debater ratings: the report, the viewer\'s run page and the run summary show the stored rows; a run without them has no section', () => {
  // A copy of the fixture with debater metrics chosen by hand added to the judged run through the real store.
  const file = join(dir, 'debaters.sqlite');
  copyFileSync(db, file);
  if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, `${file}-wal`);
  const row = (subject: string, name: string, value: number, n: number, lo: number | null = null, hi: number | null = null): MetricRow => ({ runId: RUN, subject, name, value, lo, hi, n });
  const store = openStore(file);
  try {
    store.metrics.upsertMetrics([
      row('open_roles', 'chose_correct', 0.5, 8, 0.25, 0.75),
      row('open_roles', 'choice_stated', 0.875, 8),
      row('judge:j-a', 'accuracy_chose_correct', 0.75, 4, 0.5, 1),
      row('judge:j-a', 'accuracy_chose_incorrect', 0.25, 4),
      row('quotes:right', 'per_turn', 2, 6),
      row('quotes:right', 'verified_share', 0.5, 12, 0.2, 0.8),
      row('quotes:wrong', 'per_turn', 1.25, 6),
      row('debater:model-x', 'rating', 50, 8, -10, 110),
      row('debater:model-x', 'rating_correct', 80, 4, 20, 140),
      row('debater:model-x', 'rating_incorrect', 20, 4, -40, 80),
      row('debater:model-y', 'rating', -50, 8, -110, 0.3),
      row('debater_pair:model-x vs model-y', 'rating_diff', 100, 8, -20, 220),
    ]);
  } finally {
    store.close();
  }
  const expectSection = (html: string, where: string): void => {
    const start = html.indexOf('<section class="debaters" id="debaters-judged-0001">');
    assert.ok(start >= 0, `${where}: the judged run has a Debaters section`);
    const section = html.slice(start, html.indexOf('</section>', start));
    assert.match(section, /<h3>Debaters<\/h3>/, `${where}: the section's heading`);
    for (const title of ['Open roles', 'Quotes from the passage (by the side the gold label makes right or wrong)', 'Debater ratings (Elo points; arguing the right side / the wrong side)']) {
      assert.ok(section.includes(`<h4>${title}</h4>`), `${where}: the part titled ${title}, in the run summary's words`);
    }
    assert.deepEqual(tableCells(section, 'open-roles-table'), [['50.0% [25.0%, 75.0%] (n = 8)', '87.5% (n = 8)']], `${where}: the stored choice rates`);
    assert.deepEqual(tableCells(section, 'open-roles-judges-table'), [['judge:j-a', '75.0% [50.0%, 100.0%] (n = 4)', '25.0% (n = 4)']], `${where}: j-a's accuracy split by the chosen side`);
    assert.deepEqual(tableCells(section, 'quotes-table'), [['the right side', '2.00', '6', '50.0% [20.0%, 80.0%] (n = 12)'], ['the wrong side', '1.25', '6', 'n/a']], `${where}: quotes per side, n/a where no verified share is stored`);
    assert.deepEqual(tableCells(section, 'ratings-table'), [['model-x', '+50 [-10, +110]', '+80 [+20, +140]', '+20 [-40, +80]'], ['model-y', '-50 [-110, 0]', 'n/a', 'n/a']], `${where}: the stored ratings in Elo points`);
    assert.deepEqual(tableCells(section, 'rating-pairs-table'), [['model-x vs model-y', '+100 [-20, +220]']], `${where}: the pair's stored difference`);
  };
  const out = join(dir, 'debaters-report.html');
  const { report } = writeReport(file, out, { runs: [RUN, PLAIN], samples: 0 });
  expectSection(report.html, 'report');
  assert.doesNotMatch(report.html, /id="debaters-plain-0001"/, 'report: the run without debater metrics has no Debaters section');
  assert.equal((report.html.match(/class="debaters"/g) ?? []).length, 1, 'report: one Debaters section, the judged run\'s');
  const md = readFileSync(join(dir, 'debaters-report.md'), 'utf8');
  assert.match(md, /^### Debaters: judged-0001$/m, 'markdown: the judged run\'s Debaters heading');
  assert.match(md, /^\| model-x vs model-y \| \+100 \[-20, \+220\] \|$/m, 'markdown: the pair row');
  assert.doesNotMatch(md, /Debaters: plain-0001/, 'markdown: no Debaters part for the run without them');

  const set = watchResults([file]);
  const q = openReport(file);
  try {
    const page = (id: string): string => runPage({ set, pageSize: 5 }, { run: q.resolveRun(id), file, q }, new URLSearchParams());
    const judged = page(RUN);
    expectSection(judged, 'viewer');
    assert.ok(judged.includes('<a href="#debaters-judged-0001">debaters</a>'), 'viewer: the table of contents links the section');
    const plain = page(PLAIN);
    assert.doesNotMatch(plain, /class="debaters"/, 'viewer: the run without debater metrics has no Debaters section');
    assert.doesNotMatch(plain, /#debaters-/, 'viewer: nor a link to one');
    // The terminal prints the same cells as lines under the same titles.
    const summary = formatRunSummary(q, RUN);
    for (const line of [
      'Open roles: chose the right side 50.0% [25.0%, 75.0%] (n = 8); replies stating a side 87.5% (n = 8)',
      '  judge:j-a accuracy when the chosen side was right 75.0% [50.0%, 100.0%] (n = 4), when it was wrong 25.0% (n = 4)',
      'Quotes from the passage (by the side the gold label makes right or wrong):',
      '  arguing the wrong side: 1.25 per turn (6 turns); verified n/a',
      'Debater ratings (Elo points; arguing the right side / the wrong side):',
      '  model-x +50 [-10, +110]; +80 [+20, +140] / +20 [-40, +80]',
      '  model-x vs model-y: difference +100 [-20, +220]',
    ]) assert.ok(summary.split('\n').includes(line), `the run summary has the line ${JSON.stringify(line)}:\n${summary}`);
    assert.doesNotMatch(formatRunSummary(q, PLAIN), /Open roles|Quotes from the passage|Debater ratings/, 'the run summary of the run without them has none of those lines');
  } finally {
    q.close();
    set.close();
  }
});
