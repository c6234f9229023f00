import assert from 'node:assert/strict';
import { parseCsv as parseCsvText } from '../helpers/csv.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { compareMembers, compareRuns, testView } from '../../src/report/analysis.js';
import { csvField, exportToFile } from '../../src/report/export.js';
import { writeReport } from '../../src/report/html.js';
import { openReport } from '../../src/report/queries.js';
import { findShowTarget, formatShow } from '../../src/report/show.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { startViewer } from '../../src/report/viewer.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { buildReportDb, type ReportFixture } from './fixture.js';

const run = promisify(execFile);
const dir = tempDir();
let fx: ReportFixture;
before(async () => {
  fx = await buildReportDb(dir);
});

/** The real CLI, as a user runs it. */
async function w2s(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const parseCsv = (text: string): string[][] => parseCsvText(text).rows;

test('w2s runs lists both runs with status, counts, cost and headline metrics; a missing file is one clear line', async () => {
  const r = await w2s('runs', fx.db, '--json');
  assert.equal(r.code, 0, r.stderr);
  const runs = JSON.parse(r.stdout) as Array<{ id: string; status: string; counts: { debates: number; calls: number }; results: { ensemble: { value: number } }; config: { turns: number } }>;
  assert.deepEqual(runs.map((x) => x.id).sort(), [...fx.runs].sort());
  for (const x of runs) {
    assert.equal(x.status, 'completed');
    assert.equal(x.counts.debates, 90 * 3);
    assert.ok(x.counts.calls > 0);
    assert.ok(x.results.ensemble.value > 0.5);
  }
  const text = await w2s('runs', fx.db);
  assert.match(text.stdout, /sweep-t1-\w+\s+completed\s+jsonl\s+scripted:report-debater\s+j1\s+3/);
  const missing = await w2s('runs', join(dir, 'nope.sqlite'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^w2s: Database .*nope\.sqlite does not exist/);
});

test('show prints the question, each turn with speaker and side, judge and member probabilities, and the gold label', () => {
  const q = openReport(fx.db);
  try {
    assert.throws(() => findShowTarget(q, 'item80'), /is in 2 runs .*--run/);
    assert.throws(() => findShowTarget(q, 'no-such-id'), /No example or debate has id "no-such-id"/);
    const t = findShowTarget(q, 'item80', fx.runs[1]);
    assert.equal(t.transcripts.length, 3);
    const text = formatShow(t);
    assert.match(text, /Question:\n {2}Which shelf holds crate 80\?/);
    assert.match(text, new RegExp(`gold: ${t.example.label === 1 ? 'correct \\(label 1\\)' : 'incorrect \\(label 0\\)'}`));
    assert.match(text, /\[Turn 1\] A \((correct|incorrect), \d+ words\):/);
    assert.match(text, /\[Turn 2\] B \((correct|incorrect), \d+ words\):/);
    assert.match(text, /judge j1: P\(correct\) = \d\.\d{3} \(original \d\.\d{3}, swapped \d\.\d{3}\)/);
    assert.match(text, /member 2 \(read this transcript\): P\(label 1\) = \d\.\d{3}/);
    // A debate id picks that one transcript, in whichever run it is.
    const one = findShowTarget(q, t.transcripts[1]!.id);
    assert.equal(one.runId, fx.runs[1]);
    assert.deepEqual(one.transcripts.map((x) => x.sample), [1]);
  } finally {
    q.close();
  }
});

test('export streams calls, predictions and transcripts as JSONL and properly quoted CSV', async () => {
  const store = openStore(fx.db, { readonly: true });
  const callCount = (store.db.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n;
  const turnCount = (store.db.prepare('SELECT COUNT(*) AS n FROM turns').get() as { n: number }).n;
  store.close();
  const calls = join(dir, 'calls.jsonl');
  assert.equal(await exportToFile(fx.db, { what: 'calls', format: 'jsonl', out: calls }), callCount);
  const first = JSON.parse(readFileSync(calls, 'utf8').split('\n')[0]!);
  assert.equal(first.role, 'debater');
  assert.equal(typeof first.cache_hit, 'boolean');

  const csv = join(dir, 'turns.csv');
  assert.equal(await exportToFile(fx.db, { what: 'transcripts', format: 'csv', out: csv }), turnCount + 1);
  const rows = parseCsv(readFileSync(csv, 'utf8'));
  assert.equal(rows.length, turnCount + 1);
  const header = rows[0]!;
  assert.ok(rows.every((r) => r.length === header.length), 'every row has every column, quoted text included');
  const text = rows.slice(1).map((r) => r[header.indexOf('text')]!);
  assert.ok(text.some((t) => t.includes(fx.xss)), 'text with quotes and markup round-trips');
  assert.equal(csvField('a,"b"\nc'), '"a,""b""\nc"');

  const onlyB = join(dir, 'pred.jsonl');
  const n = await exportToFile(fx.db, { what: 'predictions', format: 'jsonl', runId: fx.runs[1], out: onlyB });
  const preds = readFileSync(onlyB, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(preds.length, n);
  assert.ok(preds.every((p) => p.run_id === fx.runs[1] && p.p1 >= 0 && p.p1 <= 1));
  // weak on all 90, three members on train_strong + test (60 each), four strong models on test (30 each):
  // w2s, naive, ceiling, and one trained on the judge's labels
  assert.equal(n, 90 + 3 * 60 + 4 * 30);
});

test('transcripts export as one debate per line, and as chat-messages fine-tuning data', async () => {
  const out = join(dir, 'chat.jsonl');
  const n = await exportToFile(fx.db, { what: 'transcripts', format: 'chat', runId: fx.runs[0], out });
  assert.equal(n, 270);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const l of lines) {
    assert.deepEqual(Object.keys(l), ['messages', 'split']);
    assert.deepEqual(l.messages.map((m: { role: string }) => m.role), ['system', 'user', 'assistant']);
    assert.match(l.messages[1].content, /^Question: Which shelf holds crate \d+\?\nProposed answer: shelf \d\n\nDebate:\nDebater A \(argues the answer is (correct|incorrect)\):\n/);
    assert.ok(['correct', 'incorrect'].includes(l.messages[2].content));
  }
  const json = join(dir, 't.jsonl');
  await exportToFile(fx.db, { what: 'transcripts', format: 'jsonl', runId: fx.runs[1], out: json });
  const d = JSON.parse(readFileSync(json, 'utf8').split('\n')[0]!);
  assert.equal(d.turns.length, 2);
  assert.deepEqual(d.turns.map((t: { speaker: string }) => t.speaker), ['A', 'B']);
  assert.deepEqual(Object.keys(d.sides).sort(), ['A', 'B']);
});

test('export refuses bad options and leaves no half-written file when it cannot write', async () => {
  await assert.rejects(exportToFile(fx.db, { what: 'calls', format: 'chat' }), /--format chat exports transcripts only/);
  await assert.rejects(exportToFile(fx.db, { what: 'tables' as never, format: 'jsonl' }), /--what must be one of transcripts, predictions, calls/);
  await assert.rejects(exportToFile(fx.db, { what: 'calls', format: 'jsonl', runId: 'ghost' }), /Run ghost is not in this database/);
  const target = join(dir, 'missing-dir', 'calls.jsonl');
  await assert.rejects(exportToFile(fx.db, { what: 'calls', format: 'jsonl', out: target }), /Cannot write .*missing-dir/);
  assert.equal(existsSync(join(dir, 'missing-dir')), false);
  mkdirSync(join(dir, 'clean'));
  await assert.rejects(exportToFile(fx.db, { what: 'predictions', format: 'chat', out: join(dir, 'clean', 'x.jsonl') }));
  assert.deepEqual(readdirSync(join(dir, 'clean')), [], 'neither the file nor its temp file remains');
  const cli = await w2s('export', fx.db, '--what', 'calls', '--format', 'xml');
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^w2s: --format must be one of jsonl, csv, chat \(got "xml"\)\./);
});

test('compare puts members, ensemble, baseline and judges side by side with paired tests, kappas, calibration and ensemble size', () => {
  const q = openReport(fx.db);
  try {
    const view = testView(q, fx.runs[1]!);
    assert.deepEqual(view.subjects.map((s) => s.name), ['weak', 'member0', 'member1', 'member2', 'weak_ensemble', 'weak_ensemble_vote', 'strong_naive', 'strong', 'strong_ceiling', 'judge:j1', 'strong_by_judge:j1']);
    const c = compareMembers(view, { resamples: 200 });
    assert.equal(c.n, 30);
    const ens = c.subjects.find((s) => s.name === 'weak_ensemble')!;
    const stored = q.metrics(fx.runs[1]!).find((m) => m.subject === 'weak_ensemble' && m.name === 'accuracy')!;
    assert.equal(ens.accuracy.value, stored.value, 'the same accuracy the pipeline stored');
    assert.ok(ens.accuracy.lo! <= ens.accuracy.value! && ens.accuracy.value! <= ens.accuracy.hi!);
    assert.ok(ens.ece >= 0 && ens.brier >= 0 && ens.brier <= 1);
    const vsWeak = c.pairs.find((p) => p.b === 'weak')!;
    assert.equal(vsWeak.a, 'weak_ensemble');
    assert.ok(vsWeak.mcnemar.b > vsWeak.mcnemar.c, 'the ensemble beats the no-debate baseline on discordant pairs');
    assert.ok(vsWeak.mcnemar.pValue < 0.05 && vsWeak.diff.hi! < 0);
    assert.deepEqual(c.kappa.names, ['weak', 'member0', 'member1', 'member2', 'weak_ensemble', 'judge:j1']);
    assert.equal(c.kappa.matrix[1]![2], c.kappa.matrix[2]![1]);
    assert.ok(c.fleiss !== null && c.fleiss > 0 && c.fleiss <= 1);
    assert.deepEqual(c.bySize.map((b) => b.size), [1, 2, 3]);
    assert.equal(c.bySize[2]!.accuracy, ens.accuracy.value);

    const ab = compareRuns(testView(q, fx.runs[0]!), view, { resamples: 200 });
    assert.equal(ab.n, 30, 'both runs test the same 30 example ids');
    const ensPair = ab.pairs.find((p) => p.a === 'A:weak_ensemble')!;
    assert.equal(ensPair.b, 'B:weak_ensemble');
    assert.ok(ensPair.diff.value! > 0, 'two debate turns help this scripted debater');
    const weakPair = ab.pairs.find((p) => p.a === 'A:weak')!;
    assert.equal(weakPair.diff.value, 0, 'the no-debate baseline is the same model in both runs');
  } finally {
    q.close();
  }
});

test('w2s compare on two runs prints paired tests; naming one run is a clear error', async () => {
  const r = await w2s('compare', fx.db, fx.runs[0]!, fx.runs[1]!, '--bootstrap', '200');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /on 30 shared test examples/);
  assert.match(r.stdout, /A: weak ensemble\s+B: weak ensemble\s+[+−]\d+\.\d \[/);
  const bad = await w2s('compare', fx.db, fx.runs[0]!);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^w2s: Name two runs to compare/);
});

test('report writes one self-contained HTML page and a Markdown summary with the same table', () => {
  const out = join(dir, 'report.html');
  const { markdown, report } = writeReport(fx.db, out, { resamples: 200 });
  assert.equal(markdown, join(dir, 'report.md'));
  const html = readFileSync(out, 'utf8');
  const md = readFileSync(markdown, 'utf8');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing is loaded from the network');
  assert.doesNotMatch(html, /<script/i, 'no script, and no unescaped debater markup');
  assert.ok(html.includes('&lt;script&gt;window.__pwned'), 'the debater\'s markup is shown as text');
  assert.equal(report.sweeps.length, 1);
  assert.deepEqual(report.sweeps[0]!.points.map((p) => p.turns), [1, 2]);
  for (const r of report.results) {
    assert.ok(md.includes(`| ${r.run.id} | jsonl | 30 |`), 'the Markdown table has a row per run');
    assert.ok(html.includes(`<td>${r.run.id}</td><td>jsonl</td><td>30</td>`), 'the HTML table has the same row');
  }
  assert.match(md, /## Debate-turn sweep 1/);
});

test('one number has one interval in every view: run summary, runs, compare, report and viewer read the stored metric', async () => {
  const runId = fx.runs[1]!;
  const store = openStore(fx.db, { readonly: true });
  const stored = store.metrics.getMetric(runId, 'weak_ensemble', 'accuracy')!;
  store.close();
  assert.ok(stored.method && stored.resamples && stored.covers, 'the stored metric says how it was computed');
  // Written out by hand from the stored bounds, not by the formatter under test.
  const expected = `${(100 * stored.value!).toFixed(1)} [${(100 * stored.lo!).toFixed(1)}, ${(100 * stored.hi!).toFixed(1)}]`;

  const q = openReport(fx.db);
  try {
    assert.ok(formatRunSummary(q, runId).includes(expected), 'w2s run');
  } finally {
    q.close();
  }
  const runs = await w2s('runs', fx.db);
  assert.ok(runs.stdout.split('\n').some((l) => l.startsWith(runId) && l.includes(expected)), 'w2s runs');
  const compare = await w2s('compare', fx.db, '--members', '--run', runId);
  assert.match(compare.stdout, new RegExp(`^weak ensemble\\s+${expected.replace(/[[\].]/g, '\\$&')}`, 'm'), 'w2s compare');
  const json = JSON.parse((await w2s('compare', fx.db, '--members', '--run', runId, '--json')).stdout) as { subjects: { name: string; accuracy: { lo: number } }[] };
  assert.equal(json.subjects.find((s) => s.name === 'weak_ensemble')!.accuracy.lo, stored.lo);
  const out = join(dir, 'one-number', 'report.html');
  mkdirSync(join(dir, 'one-number'), { recursive: true });
  const written = writeReport(fx.db, out);
  const md = readFileSync(written.markdown, 'utf8');
  const html = readFileSync(out, 'utf8');
  assert.ok(md.includes(expected) && html.includes(expected), 'report');
  // Every interval the report prints for this run is one of the stored ones (no second bootstrap with another seed).
  const viewer = await startViewer({ db: fx.db });
  try {
    const page = await (await fetch(`${viewer.url}runs/${encodeURIComponent(runId)}`)).text();
    assert.ok(page.includes(expected), 'viewer');
  } finally {
    await viewer.close();
  }
});
