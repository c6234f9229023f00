import assert from 'node:assert/strict';
import { parseCsv as parseCsvText } from '../helpers/csv.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { ensembleSizeFigure, protocolsFigure } from '../../src/report/figures.js';
import { openResults } from '../../src/report/results-set.js';
import { buildTable, type TableCell, type TableModel, type TableOptions } from '../../src/report/table.js';
import { formatTable } from '../../src/report/table-format.js';
import { createRng } from '../../src/rng.js';
import { openStore, type MetricRow } from '../../src/store/index.js';
import { crateRows, truthByQuestion, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';
import { REPO, runCli } from '../reliability/fixture.js';

const dir = tempDir('w2s-tables-');
const folder = join(dir, 'results');
/** Run ids by "<dataset>-<size>", and the database each is in. */
const runs = new Map<string, { id: string; db: string }>();
let otherSeed: { id: string; db: string };

/**
 * Real runs: two jsonl datasets (alpha, beta) × debate ensembles of 2 and 3, one database per dataset in one folder,
 * and one more run (alpha, 2 members, another seed) in a database outside it. The debater names the truth now and then.
 */
before(async () => {
  mkdirSync(folder);
  const rows = { alpha: crateRows(60, 1), beta: crateRows(60, 2) };
  const truth = new Map([...truthByQuestion(rows.alpha), ...truthByQuestion(rows.beta)]);
  const noise = createRng(4);
  registerScript('table-debater', {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n');
      const question = /<question>\n(.*)\n<\/question>/.exec(prompt)![1]!;
      const t = truth.get(question) === 1;
      if (/Your side: the proposed answer is correct/.test(prompt) === t && noise.random() < 0.8) return t ? 'verified placement confirmed' : 'misplaced crate refuted';
      return 'I think my side holds.';
    },
  });
  const experiment = async (dataset: 'alpha' | 'beta', size: number, db: string, seed = 5) => {
    const config = parseExperiment({
      name: `${dataset}-k${size}-s${seed}`,
      seed,
      dataset: { name: 'jsonl', path: writeJsonl(dir, `${dataset}.jsonl`, rows[dataset]), sizes: { train_weak: 20, train_strong: 20, test: 20 } },
      debate: { protocol: 'debate', debaters: ['scripted:table-debater'], turns: 1, samples: 3, temperature: 1, promptsDir: join(REPO, 'prompts') },
      weak: { features: { kind: 'hashed', dim: 128, ngrams: [1, 1] }, ensemble: { kind: 'debate', size }, probe: { epochs: 10, lr: 0.05 } },
      strong: { features: { kind: 'hashed', dim: 128, ngrams: [1, 2] } },
      metrics: { bootstrap: 100 },
    });
    const outcome = await runExperiment({ config, out: db, cacheFile: join(dir, 'cache.sqlite') });
    assert.equal(outcome.status, 'completed', outcome.reason);
    return { id: outcome.runId, db };
  };
  for (const dataset of ['alpha', 'beta'] as const) {
    for (const size of [2, 3]) runs.set(`${dataset}-${size}`, await experiment(dataset, size, join(folder, `${dataset}.sqlite`)));
  }
  otherSeed = await experiment('alpha', 2, join(dir, 'other-seed.sqlite'), 6);
});

/** A stored metric read straight from the database, not through the report code. */
function stored(run: { id: string; db: string }, subject: string, name: string): { value: number | null; lo: number | null; hi: number | null; n: number | null; note: string | null } {
  const db = new Database(run.db, { readonly: true });
  try {
    const row = db.prepare('SELECT value, lo, hi, n, note FROM metrics WHERE run_id = ? AND subject = ? AND name = ?').get(run.id, subject, name) as never;
    assert.ok(row, `${run.id} stores ${subject} ${name}`);
    return row;
  } finally {
    db.close();
  }
}

function table(paths: string[], options: TableOptions = {}): TableModel {
  const set = openResults(paths);
  try {
    return buildTable(set.runs(), options);
  } finally {
    set.close();
  }
}

const cellAt = (model: TableModel, row: string, col: string): TableCell => {
  const r = model.rows.find((x) => x.label === row);
  assert.ok(r, `row ${row} in ${model.rows.map((x) => x.label).join(' / ')}`);
  const j = model.columns.findIndex((c) => c.label === col);
  assert.ok(j >= 0, `column ${col}`);
  return r.cells[j]!;
};

const STRONG = (k: number) => `strong on debate ensemble of ${k} (debate transcripts, one each) labels (w2s)`;
const ROWS = ['weak model (ground truth, no debate)', 'strong on weak-model labels (naive w2s)', STRONG(2), STRONG(3), 'strong ceiling (ground truth)'];

test('methods × datasets: every cell is the stored metric, references and ensembles named in the shared vocabulary', () => {
  const model = table([folder]);
  assert.deepEqual(model.rows.map((r) => r.label), ROWS);
  assert.deepEqual(model.columns.map((c) => c.label), ['alpha.jsonl', 'beta.jsonl']);
  const subjects: [string, string, string][] = [
    [ROWS[0]!, 'weak', '2'], [ROWS[1]!, 'strong_naive', '2'], [STRONG(2), 'strong', '2'], [STRONG(3), 'strong', '3'], [ROWS[4]!, 'strong_ceiling', '3'],
  ];
  for (const dataset of ['alpha', 'beta']) {
    for (const [row, subject, size] of subjects) {
      const cell = cellAt(model, row, `${dataset}.jsonl`);
      const run = runs.get(`${dataset}-${size}`)!;
      const acc = stored(run, subject, 'accuracy');
      assert.deepEqual([cell.accuracy!.value, cell.accuracy!.lo, cell.accuracy!.hi, cell.accuracy!.n], [acc.value, acc.lo, acc.hi, acc.n], `${row} on ${dataset}`);
      if (subject === 'weak' || subject === 'strong_ceiling') assert.equal(cell.pgr, null);
      else assert.deepEqual([cell.pgr!.value, cell.pgr!.lo, cell.pgr!.hi, cell.pgr!.note], Object.values(stored(run, subject, 'pgr')).filter((_, i) => i !== 3));
    }
    // The weak model, naive w2s and the ceiling do not depend on the ensemble: both runs store the same numbers, shown once.
    assert.deepEqual(cellAt(model, ROWS[0]!, `${dataset}.jsonl`).runs.sort(), [runs.get(`${dataset}-2`)!.id, runs.get(`${dataset}-3`)!.id].sort());
  }
  assert.ok(model.notes.some((n) => /shown once/.test(n)), 'a note says merged cells are shown once');
});

test('the best of each column is the highest point estimate among the methods, ties all marked, references never', () => {
  const model = table([folder]);
  for (const [j] of model.columns.entries()) {
    for (const name of ['accuracy', 'pgr'] as const) {
      const methods = model.rows.map((r) => r.cells[j]!).filter((c) => c && !c.reference && c[name]?.value != null);
      const top = Math.max(...methods.map((c) => c[name]!.value!));
      for (const c of methods) assert.equal(c.best[name], c[name]!.value === top);
    }
    for (const r of model.rows) if (r.cells[j]?.reference) assert.deepEqual(r.cells[j]!.best, { accuracy: false, pgr: false });
    assert.ok(model.rows.some((r) => r.cells[j]?.best.accuracy), 'a best accuracy in every column');
  }
  assert.ok(model.notes.some((n) => /highest point estimate in each column.*ties all marked/.test(n)), model.notes.join('\n'));
  assert.ok(model.notes.some((n) => /^Accuracy intervals: 95% percentile bootstrap over test examples \(100 resamples\)\.$/.test(n)), model.notes.join('\n'));
});

/** The CSV's rows, after checking that it ends with CRLF. */
function parseCsv(text: string): string[][] {
  const { rows, endedWithCrlf } = parseCsvText(text);
  assert.ok(endedWithCrlf, 'the CSV ends with CRLF');
  return rows;
}

test('csv: one line per cell, the stored numbers at full precision in their own columns, quoting round-trips', () => {
  const model = table([folder]);
  const [header, ...lines] = parseCsv(formatTable(model, 'csv'));
  assert.deepEqual(header!.slice(0, 5), ['method', 'dataset', 'reference', 'accuracy', 'accuracy_lo']);
  assert.equal(lines.length, ROWS.length * 2);
  const col = (name: string): number => header!.indexOf(name);
  for (const line of lines) {
    assert.equal(line.length, header!.length);
    const cell = cellAt(model, line[0]!, line[1]!);
    assert.equal(Number(line[col('accuracy')]), cell.accuracy!.value);
    assert.equal(Number(line[col('accuracy_hi')]), cell.accuracy!.hi);
    assert.equal(Number(line[col('accuracy_n')]), 20);
    assert.equal(line[col('accuracy_best')], String(cell.best.accuracy));
    assert.equal(line[col('pgr_note')], cell.pgr?.note ?? '');
  }
  // Labels with commas and parentheses survive the quoting.
  assert.ok(lines.some((l) => l[0] === STRONG(3)), 'the label with commas round-trips');
});

test('md and latex: the best in bold, n per column, booktabs rules and escaped text', () => {
  const model = table([folder]);
  const md = formatTable(model, 'md');
  const [head, rule, ...body] = md.split('\n');
  assert.equal(head, '| method | alpha.jsonl acc % (n=20) | alpha.jsonl PGR % | beta.jsonl acc % (n=20) | beta.jsonl PGR % |');
  assert.equal(rule, '|---|---:|---:|---:|---:|');
  const best = cellAt(model, model.rows.find((r) => r.cells[0]?.best.accuracy)!.label, 'alpha.jsonl');
  assert.ok(body.some((l) => l.includes(`**${(100 * best.accuracy!.value!).toFixed(1)}** [`)), 'the best accuracy in bold');
  assert.match(md, /Bold: the highest point estimate/);

  const tex = formatTable(model, 'latex');
  for (const rule of ['\\toprule', '\\midrule', '\\bottomrule', '\\cmidrule(lr){2-3}']) assert.ok(tex.includes(rule), rule);
  assert.match(tex, /\\begin\{tabular\}\{l r r r r\}/);
  assert.match(tex, /alpha.jsonl \(n=20\)/);
  assert.match(tex, /acc \\% & PGR \\%/);
  assert.match(tex, /\\textbf\{\d+\.\d\}/);
  // Every % _ & # $ in text is escaped (unescaped & only between cells, unescaped % only in the leading comment).
  const text = tex.split('\n').slice(1).join('\n').replace(/ & /g, ' ');
  assert.doesNotMatch(text, /(?<!\\)[%_&#]/);
  assert.ok(!tex.includes('−'), 'the Unicode minus becomes $-$');
  const ids = table([folder], { rows: 'run', metric: 'accuracy' });
  assert.match(formatTable(ids, 'latex'), /alpha-k2-s5-[0-9a-f]+/); // ids have no underscores; labels below do
  const labelled = formatTable({ ...ids, rows: [{ ...ids.rows[0]!, label: 'a_b & 50% #1 $x' }] }, 'latex');
  assert.ok(labelled.includes('a\\_b \\& 50\\% \\#1 \\$x'), labelled);
});

test('a cell two runs fill with different numbers is refused in one sentence that says how to tell them apart', () => {
  // Without a dataset axis, the two datasets' ensembles of 2 fall into one cell.
  assert.throws(() => table([folder], { cols: 'ensemble-size' }), (e: Error) => {
    assert.equal(e.name, 'UserError');
    assert.match(e.message, /^Runs \S+ and \S+ both fill the cell .* with different numbers \(they differ in dataset\.path\): add --rows or --cols dataset, or keep one with --where dataset=<value>\.$/);
    return true;
  });
  // Two seeds of one experiment, no seed axis.
  assert.throws(() => table([folder, otherSeed.db]), /differ in seed\): add --rows or --cols seed, or keep one with --where seed=<value>\./);
  // The remedies work: a seed axis, or a filter.
  const bySeed = table([folder, otherSeed.db], { cols: 'seed', where: [['dataset', 'alpha.jsonl']] });
  assert.deepEqual(bySeed.columns.map((c) => c.label), ['seed 5', 'seed 6']);
  assert.equal(cellAt(bySeed, STRONG(2), 'seed 6').accuracy!.value, stored(otherSeed, 'strong', 'accuracy').value);
  const bySize = table([folder], { cols: 'ensemble-size', where: [['dataset', 'beta.jsonl']] });
  assert.deepEqual(bySize.rows.map((r) => r.label), [ROWS[0], ROWS[1], 'strong on debate ensemble (debate transcripts, one each) labels (w2s)', ROWS[4]]);
  assert.deepEqual(bySize.columns.map((c) => c.label), ['ensemble of 2', 'ensemble of 3']);
});

test('without a method axis the cells show one subject, named in the notes; the best is marked along each row of datasets', () => {
  const model = table([folder], { rows: 'dataset', cols: 'ensemble-size', metric: 'accuracy' });
  assert.equal(model.subject, 'strong');
  assert.ok(model.bestAlongRows, 'best along rows');
  assert.equal(cellAt(model, 'beta.jsonl', 'ensemble of 3').accuracy!.value, stored(runs.get('beta-3')!, 'strong', 'accuracy').value);
  assert.ok(model.notes[0]!.includes('Every cell: strong on debate ensemble (debate transcripts, one each) labels (w2s).'), model.notes[0]);
  assert.match(formatTable(model, 'md'), /^\| dataset \| ensemble of 2 \(n=20\) \| ensemble of 3 \(n=20\) \|$/m);
});

test('intervals that cover different things are named per column; --over-seeds reads the means over seeds', () => {
  // Hand-written metrics: a sciq run bootstrapped over examples, a boolq run over passages with three training seeds.
  const file = join(dir, 'hand.sqlite');
  const store = openStore(file);
  const boot = (covers: string, method = 'percentile bootstrap') => ({ n: 200, level: 0.95, resamples: 1000, undefinedResamples: 0, method, covers });
  const put = (id: string, dataset: string, covers: string, method: string, extra: Omit<MetricRow, 'runId'>[] = []) => {
    store.runs.createRun({ id, name: id, config: { seed: 0, dataset: { name: dataset }, debate: { protocol: 'debate' }, weak: { ensemble: { kind: 'debate', size: 4 } } }, configHash: id, dataset });
    store.metrics.upsertMetrics([
      { subject: 'weak', name: 'accuracy', value: 0.9, lo: 0.86, hi: 0.94, ...boot(covers, method) },
      { subject: 'strong', name: 'accuracy', value: 0.926, lo: 0.9, hi: 0.95, ...boot(covers, method) },
      { subject: 'strong_naive', name: 'accuracy', value: 0.915, lo: 0.89, hi: 0.94, ...boot(covers, method) },
      { subject: 'strong_ceiling', name: 'accuracy', value: 0.934, lo: 0.91, hi: 0.96, ...boot(covers, method) },
      ...extra,
    ].map((m) => ({ runId: id, ...m })));
  };
  const seeds = { n: 3, level: 0.95, method: 't interval over training seeds', covers: '3 training seeds (0, 1, 2) on one test split' };
  put('a', 'sciq', 'test examples (200)', 'percentile bootstrap');
  put('b', 'boolq', 'test groups (80 clusters of 200 examples)', 'clustered percentile bootstrap', [
    { subject: 'strong', name: 'accuracy_over_seeds', value: 0.91, lo: 0.88, hi: 0.94, ...seeds },
    { subject: 'weak', name: 'accuracy_over_seeds', value: 0.86, lo: 0.85, hi: 0.87, ...seeds },
  ]);
  store.close();
  const model = table([file], { metric: 'accuracy' });
  assert.deepEqual(model.columns.map((c) => c.label), ['SciQ', 'BoolQ']);
  assert.ok(model.notes.includes('Accuracy intervals differ between cells: 95% percentile bootstrap over test examples (1000 resamples) in SciQ; 95% clustered percentile bootstrap over test groups (1000 resamples) in BoolQ.'), model.notes.join('\n'));
  assert.ok(model.notes.some((n) => /^Run b trained several seeds/.test(n)), model.notes.join('\n'));
  assert.equal(cellAt(model, STRONG(4), 'SciQ').best.accuracy, true);
  assert.equal(cellAt(model, 'strong on weak-model labels (naive w2s)', 'SciQ').best.accuracy, false);

  const over = table([file], { metric: 'accuracy', overSeeds: true });
  assert.deepEqual(over.columns.map((c) => c.label), ['BoolQ']);
  assert.equal(cellAt(over, STRONG(4), 'BoolQ').accuracy!.value, 0.91);
  assert.ok(over.notes.includes('Accuracy intervals: 95% t interval over training seeds.'), over.notes.join('\n'));
  assert.ok(over.notes.some((n) => /^Left out, nothing stored to show \(no means over seeds\): a \(/.test(n)), over.notes.join('\n'));
  assert.match(formatTable(over, 'md'), /\| BoolQ \(n=3\) \|/);
});

/** A minimal well-formedness check: tags nest and close, attributes are quoted. */
function assertWellFormed(svg: string): void {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes what was open`);
    else if (!m[4]) stack.push(m[2]!);
  }
  assert.deepEqual(stack, []);
  assert.equal(body.replace(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g, '').includes('<'), false, 'no malformed tag');
}

test('figures: ensemble size (two series per dataset, a point per size) and protocols, well-formed SVG from stored numbers', () => {
  const set = openResults([folder]);
  try {
    const svg = ensembleSizeFigure(set.runs());
    assertWellFormed(svg);
    const series = [...svg.matchAll(/<polyline class="line" data-series="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(series, ['alpha.jsonl debate: weak ensemble', 'alpha.jsonl debate: strong on weak ensemble', 'beta.jsonl debate: weak ensemble', 'beta.jsonl debate: strong on weak ensemble']);
    const points = [...svg.matchAll(/<circle class="point" data-series="([^"]+)" data-x="(\d+)" data-y="([^"]+)"/g)];
    assert.equal(points.length, 8);
    const p = points.find((m) => m[1] === 'beta.jsonl debate: weak ensemble' && m[2] === '3')!;
    assert.equal(Number(p[3]), stored(runs.get('beta-3')!, 'weak_ensemble', 'accuracy').value);

    // One protocol here, two ensemble sizes per dataset: refused until one size is kept.
    assert.throws(() => protocolsFigure(set.runs()), /differ in weak\.ensemble\.size\): keep one with --where ensemble-size=<value>\./);
    const bars = protocolsFigure(set.runs(), { where: [['ensemble-size', '3']] });
    assertWellFormed(bars);
    assert.equal(bars.match(/<svg /g)!.length, 3, 'accuracy and PGR charts stacked in one SVG');
    const acc = [...bars.matchAll(/<rect class="bar" data-series="debate" data-group="([^"]+)" data-value="([^"]+)"/g)];
    assert.equal(Number(acc.find((m) => m[1] === 'alpha.jsonl')![2]), stored(runs.get('alpha-3')!, 'strong', 'accuracy').value);
  } finally {
    set.close();
  }
});

test('w2s table <folder> --format md prints the table; --figure writes SVG; a bad axis is one line', async () => {
  const md = await runCli(['table', folder, '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /^\| method \| alpha\.jsonl acc % \(n=20\) \|/);
  for (const row of ROWS) assert.ok(md.stdout.includes(`| ${row} |`), row);
  const svg = await runCli(['table', folder, '--figure', 'ensemble-size', '--out', join(dir, 'size.svg')]);
  assert.equal(svg.code, 0, svg.stderr);
  assert.match(svg.stdout, /wrote .*size\.svg/);
  // Options a figure would ignore are refused, not dropped silently.
  const ignored = await runCli(['table', folder, '--figure', 'ensemble-size', '--rows', 'dataset', '--metric', 'pgr']);
  assert.equal(ignored.code, 1);
  assert.equal(ignored.stderr, 'w2s: --figure ensemble-size does not take --rows, --metric; drop them (or drop --figure for the table).\n');
  const bad = await runCli(['table', folder, '--cols', 'ensemble-size']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^w2s: Runs .* add --rows or --cols dataset, or keep one with --where dataset=<value>\.\n$/);
});
