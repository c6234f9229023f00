import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { writeReport } from '../../src/report/html.js';
import { openResults } from '../../src/report/results-set.js';
import { startViewer } from '../../src/report/viewer.js';
import { createRng } from '../../src/rng.js';
import { openStore } from '../../src/store/index.js';
import { crateRows, truthByQuestion, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../reliability/fixture.js';

/**
 * A results folder as `w2s run` leaves it, made by real small runs: two runs on the same dataset, seed and split sizes
 * but different ensemble sizes, in different files (one in a subfolder), a third with another seed, the shared
 * response cache, and a SQLite file of another program.
 */
const dir = tempDir();
const results = join(dir, 'results');
const files = { a: join(results, 'a.sqlite'), b: join(results, 'sub', 'b.sqlite'), c: join(results, 'c.sqlite') };
const ids = { a: '', b: '', c: '' };
const copy = join(dir, 'elsewhere', 'a-copy.sqlite');

before(async () => {
  const rows = crateRows(60, 4);
  const truth = truthByQuestion(rows);
  const data = writeJsonl(dir, 'crates.jsonl', rows);
  // The same rows under other ids: a run on them shares no test example with the others.
  const renamed = writeJsonl(dir, 'crates-renamed.jsonl', rows.map((r) => ({ ...r, id: `other-${r.id}` })));
  const noise = createRng(11);
  registerScript('folder-debater', {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n');
      const question = /<question>\n(.*)\n<\/question>/.exec(prompt)![1]!;
      const arguesCorrect = /Your side: the proposed answer is correct/.test(prompt);
      const t = truth.get(question) === 1;
      // Honest most of the time, so the runs' ensembles differ on some examples.
      if (arguesCorrect === t && noise.random() < 0.8) return t ? 'verified placement confirmed' : 'misplaced crate refuted';
      return 'I think my side holds.';
    },
  });
  const make = async (name: string, out: string, seed: number, k: number, path = data): Promise<string> => {
    const config = parseExperiment({
      name, seed,
      dataset: { name: 'jsonl', path, sizes: { train_weak: 20, train_strong: 20, test: 20 } },
      debate: { protocol: 'debate', debaters: ['scripted:folder-debater'], turns: 1, samples: k, temperature: 1 },
      weak: { features: { kind: 'hashed', dim: 128, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: k }, probe: { epochs: 20, lr: 0.05 } },
      strong: { features: { kind: 'hashed', dim: 128, ngrams: [1, 2] } },
      metrics: { bootstrap: 200 },
    });
    const outcome = await runExperiment({ config, out, cacheFile: join(results, 'cache.sqlite') });
    if (outcome.status !== 'completed') throw new Error(`fixture run did not complete: ${outcome.reason}`);
    return outcome.runId;
  };
  ids.a = await make('fold-k3', files.a, 5, 3);
  ids.b = await make('fold-k2', files.b, 5, 2);
  ids.c = await make('fold-s6', files.c, 6, 2, renamed);
  const foreign = new Database(join(results, 'notes.sqlite'));
  foreign.exec('CREATE TABLE notes (text TEXT)');
  foreign.close();
  // The same run in a second file, as a copied database leaves it.
  mkdirSync(join(dir, 'elsewhere'));
  copyFileSync(files.a, copy);
});

/** The CLI run from the temp folder, so `results/` is the default and listed paths are relative. */
const w2s = (...args: string[]) => runCli(args, { cwd: dir });

/**
 * Test examples and the mean P(label 1) of a role's models per example, read straight from a database: the weak
 * ensemble for 'weak_member', the one model for 'strong'.
 */
function onTest(file: string, runId: string, role: string): Map<string, { label: number; p: number }> {
  const store = openStore(file, { readonly: true });
  try {
    const rows = store.db.prepare(
      `SELECT e.id, e.label, AVG(p.p1) AS p FROM examples e JOIN predictions p ON p.example_id = e.id
       JOIN models m ON m.id = p.model_id AND m.run_id = e.run_id
       WHERE e.run_id = ? AND e.split = 'test' AND m.role = ? GROUP BY e.id`,
    ).all(runId, role) as { id: string; label: number; p: number }[];
    return new Map(rows.map((r) => [r.id, { label: r.label, p: r.p }]));
  } finally {
    store.close();
  }
}

function storedAccuracy(file: string, runId: string, subject: string): { value: number; lo: number; hi: number; n: number } {
  const store = openStore(file, { readonly: true });
  try {
    return store.metrics.getMetric(runId, subject, 'accuracy') as { value: number; lo: number; hi: number; n: number };
  } finally {
    store.close();
  }
}

test('runs lists every run of the results folder with its file; the cache is skipped and a foreign file is named', async () => {
  const r = await w2s('runs');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  for (const [key, file] of [['a', 'results/a.sqlite'], ['b', 'results/sub/b.sqlite'], ['c', 'results/c.sqlite']] as const) {
    const line = lines.find((l) => l.startsWith(ids[key]));
    assert.ok(line, `a line for ${ids[key]}`);
    assert.ok(line.trimEnd().endsWith(file), `${ids[key]} is in ${file}: ${line}`);
  }
  assert.doesNotMatch(r.stdout, /cache\.sqlite/);
  assert.match(r.stderr, /^w2s: skipped results\/notes\.sqlite: .*is not a w2s file/m);

  const json = JSON.parse((await w2s('runs', 'results/a.sqlite', 'results/c.sqlite', '--json')).stdout) as { id: string; file: string }[];
  assert.deepEqual(json.map((x) => [x.id, x.file]).sort(), [[ids.a, 'results/a.sqlite'], [ids.c, 'results/c.sqlite']].sort());
  const missing = await w2s('runs', 'nowhere');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^w2s: Database or folder nowhere does not exist/);
});

test('run ids resolve by unique prefix across files; an ambiguous prefix is one sentence naming the candidates', async () => {
  const set = openResults([results]);
  try {
    assert.equal(set.files.length, 3, 'the cache file and the foreign file are not in the set');
    assert.equal(set.skipped.length, 1);
    assert.equal(set.resolveRun('fold-k3').file, files.a);
    assert.equal(set.resolveRun(ids.b).run.id, ids.b);
    assert.equal(set.resolveRun('fold-s').file, files.c);
    assert.throws(() => set.resolveRun('fold-'), (e: Error) => {
      assert.match(e.message, /^Run id fold- matches 3 runs: .*; give more of the id, or one database\.$/);
      for (const id of Object.values(ids)) assert.ok(e.message.includes(id));
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    assert.throws(() => set.resolveRun('ghost'), /No run ghost in 3 databases; list the runs with `w2s runs`\./);
  } finally {
    set.close();
  }
  // The same run id in two files: named with both files, and no prefix can tell them apart.
  const twice = openResults([files.a, copy]);
  try {
    assert.throws(() => twice.resolveRun(ids.a), /is in 2 databases: .*a\.sqlite.*a-copy\.sqlite.*; name one database\./);
  } finally {
    twice.close();
  }
  const cli = await w2s('compare', 'fold-', 'fold-k2');
  assert.equal(cli.code, 1);
  // The folder's foreign file is named first (a run is never silently missing), then the one error.
  const [skipped, error, ...rest] = cli.stderr.trim().split('\n');
  assert.match(skipped!, /^w2s: skipped results\/notes\.sqlite: /);
  assert.match(error!, /^w2s: Run id fold- matches 3 runs: /);
  assert.deepEqual(rest, []);
});

test('compare across files pairs runs with the same dataset, seed and split settings on their shared test examples', async () => {
  const r = await w2s('compare', 'fold-k3', 'fold-k2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as {
    n: number; pairing: { paired: boolean; note: string }; files: string[];
    subjects: { name: string; accuracy: { value: number; lo: number; hi: number } }[];
    pairs: { a: string; b: string; diff: { value: number }; mcnemar: { b: number; c: number } }[];
  };
  // By hand, from the two databases: the shared test examples, and each model's hits and discordant pairs.
  const shared = [...onTest(files.a, ids.a, 'weak_member')].filter(([id, e]) => onTest(files.b, ids.b, 'weak_member').get(id)?.label === e.label).map(([id]) => id);
  assert.equal(shared.length, 20);
  assert.equal(c.pairing.paired, true);
  assert.equal(c.n, shared.length);
  assert.equal(c.pairing.note, `paired on ${shared.length} shared test examples (same dataset, seed and split settings)`);
  assert.deepEqual(c.files, ['results/a.sqlite', 'results/sub/b.sqlite']);
  for (const [subject, role] of [['weak_ensemble', 'weak_member'], ['strong', 'strong']]) {
    const A = onTest(files.a, ids.a, role!);
    const B = onTest(files.b, ids.b, role!);
    const right = (m: Map<string, { label: number; p: number }>, id: string): boolean => (m.get(id)!.p > 0.5 ? 1 : 0) === m.get(id)!.label;
    const hitsA = shared.filter((id) => right(A, id)).length;
    const hitsB = shared.filter((id) => right(B, id)).length;
    const pair = c.pairs.find((p) => p.a === `A:${subject}`)!;
    assert.equal(pair.b, `B:${subject}`);
    assert.ok(Math.abs(pair.diff.value - (hitsB - hitsA) / shared.length) < 1e-12, subject);
    assert.deepEqual([pair.mcnemar.b, pair.mcnemar.c], [
      shared.filter((id) => right(A, id) && !right(B, id)).length,
      shared.filter((id) => !right(A, id) && right(B, id)).length,
    ], subject);
  }
  // The whole test split is shared, so each run's interval is its stored one.
  const stored = storedAccuracy(files.a, ids.a, 'weak_ensemble');
  assert.deepEqual(c.subjects.find((s) => s.name === 'A:weak_ensemble')!.accuracy, { value: stored.value, lo: stored.lo, hi: stored.hi });

  const text = await w2s('compare', 'results', '--runs', 'fold-k3', 'fold-k2');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^Runs A = ${ids.a} \\(results/a\\.sqlite\\) and B = ${ids.b} \\(results/sub/b\\.sqlite\\)\npaired on 20 shared test examples \\(same dataset, seed and split settings\\)`));
  assert.match(text.stdout, /A: weak ensemble\s+B: weak ensemble\s+[+−]\d+\.\d \[/);
  // The same run id twice: the run in the first file against its copy in the second, paired, no difference.
  const same = await w2s('compare', 'results/a.sqlite', copy, ids.a, ids.a, '--json');
  assert.equal(same.code, 0, same.stderr);
  const sc = JSON.parse(same.stdout) as { pairing: { paired: boolean }; files: string[]; pairs: { diff: { value: number } }[] };
  assert.equal(sc.pairing.paired, true);
  assert.deepEqual(sc.files, ['results/a.sqlite', 'elsewhere/a-copy.sqlite']);
  assert.ok(sc.pairs.length > 0 && sc.pairs.every((p) => p.diff.value === 0));
  // Held by three files: the copies in the first two, as the help says.
  const third = join(dir, 'elsewhere', 'a-copy-2.sqlite');
  copyFileSync(files.a, third);
  const three = await w2s('compare', 'results/a.sqlite', copy, third, ids.a, ids.a, '--json');
  assert.equal(three.code, 0, three.stderr);
  assert.deepEqual((JSON.parse(three.stdout) as { files: string[] }).files, ['results/a.sqlite', 'elsewhere/a-copy.sqlite']);
});

test('compare says unpaired for runs that share no test example: stored intervals, and an independent-resampling difference', async () => {
  const r = await w2s('compare', 'results/a.sqlite', 'results/c.sqlite', ids.a, 'fold-s6', '--json');
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as {
    n: number; pairing: { paired: boolean; note: string }; pairs: unknown[];
    subjects: { name: string; n: number; accuracy: { value: number; lo: number; hi: number } }[];
    unpaired: { a: string; b: string; nA: number; nB: number; diff: { value: number; lo: number; hi: number; pValue: number }; newcombe: { lo: number; hi: number } }[];
  };
  assert.equal(c.pairing.paired, false);
  assert.match(c.pairing.note, /^unpaired: the runs do not share test examples \(different dataset\/seed\/split settings: dataset\.path \S+crates\.jsonl vs \S+crates-renamed\.jsonl; seed 5 vs 6\)$/);
  assert.equal(c.n, 0);
  assert.deepEqual(c.pairs, []);
  const sA = storedAccuracy(files.a, ids.a, 'weak_ensemble');
  const sC = storedAccuracy(files.c, ids.c, 'weak_ensemble');
  // Each side's accuracy is the stored one, on its own 20 test examples.
  assert.deepEqual(c.subjects.find((s) => s.name === 'A:weak_ensemble'), { ...c.subjects.find((s) => s.name === 'A:weak_ensemble'), n: 20, accuracy: { value: sA.value, lo: sA.lo, hi: sA.hi } });
  assert.deepEqual(c.subjects.find((s) => s.name === 'B:weak_ensemble')!.accuracy, { value: sC.value, lo: sC.lo, hi: sC.hi });
  const u = c.unpaired.find((x) => x.a === 'A:weak_ensemble')!;
  assert.deepEqual([u.b, u.nA, u.nB], ['B:weak_ensemble', 20, 20]);
  assert.ok(Math.abs(u.diff.value - (sC.value - sA.value)) < 1e-12);
  // Newcombe's hybrid score interval by hand: Wilson bounds of each accuracy, combined.
  const z = 1.959963984540054;
  const wilson = (k: number, n: number): [number, number] => {
    const p = k / n;
    const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
    const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
    return [k === 0 ? 0 : centre - half, k === n ? 1 : centre + half];
  };
  const [kA, kC] = [Math.round(sA.value * 20), Math.round(sC.value * 20)];
  const [lA, uA] = wilson(kA, 20);
  const [lC, uC] = wilson(kC, 20);
  const d = kC / 20 - kA / 20;
  assert.ok(Math.abs(u.newcombe.lo - Math.max(-1, d - Math.sqrt((kC / 20 - lC) ** 2 + (uA - kA / 20) ** 2))) < 1e-9);
  assert.ok(Math.abs(u.newcombe.hi - Math.min(1, d + Math.sqrt((uC - kC / 20) ** 2 + (kA / 20 - lA) ** 2))) < 1e-9);
  assert.ok(u.diff.lo <= u.diff.value && u.diff.value <= u.diff.hi);
  // Two independent samples of 20: the interval is wide, about ±2·1.96·√(p(1−p)/20) at most.
  assert.ok(u.diff.hi - u.diff.lo > 0.1 && u.diff.hi - u.diff.lo < 0.9, `${u.diff.lo}..${u.diff.hi}`);

  const text = await w2s('compare', 'fold-k2', 'fold-s6');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /\nunpaired: the runs do not share test examples \(different dataset\/seed\/split settings: dataset\.path .*; seed 5 vs 6\)\n/);
  assert.match(text.stdout, /A: weak ensemble\s+B: weak ensemble\s+[+−]\d+\.\d \[[+−]\d+\.\d, [+−]\d+\.\d\]\s+\d\.\d{3}\s+\[/);
  assert.doesNotMatch(text.stdout, /McNemar b\/c/);
});

test('report over the folder covers every run, each with its file', async () => {
  const r = await w2s('report', '--out', 'report.html');
  assert.equal(r.code, 0, r.stderr);
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  for (const [key, file] of [['a', 'results/a.sqlite'], ['b', 'results/sub/b.sqlite'], ['c', 'results/c.sqlite']] as const) {
    assert.match(md, new RegExp(`^\\| ${ids[key]} \\| jsonl \\| 20 \\|.*\\| ${file.replace(/[./]/g, '\\$&')} \\|$`, 'm'), `${ids[key]} in the Markdown table`);
    assert.ok(html.includes(`<td>${ids[key]}</td><td>jsonl</td><td>20</td>`), `${ids[key]} in the HTML table`);
    assert.ok(html.includes(`<td>${file}</td></tr>`), `${file} in the HTML table`);
    assert.ok(html.includes(`<section class="run" id="run-${ids[key]}">`));
  }
  // The runs differ in ensemble size: the report draws the across-runs figure `w2s table --figure ensemble-size` draws
  // (or says in one line why it cannot, e.g. two seeds at one point).
  const across = /<section id="across-runs"><h2>Across runs<\/h2><div class="charts">(.*?)<\/div><\/section>/s.exec(html);
  assert.ok(across, 'an across-runs section');
  assert.match(across[1]!, /<svg class="chart line-chart"[^>]*aria-label="Accuracy against ensemble size|<p class="empty">[^<]+<\/p>/);
  // A run id in two files: two sections with their own anchors, each heading naming its file.
  const twice = writeReport([files.a, copy], join(dir, 'twice.html'), { samples: 0 });
  assert.equal(twice.report.results.length, 2);
  const page = readFileSync(join(dir, 'twice.html'), 'utf8');
  assert.ok(page.includes(`id="run-${ids.a}-1"`) && page.includes(`id="run-${ids.a}-2"`));
  assert.ok(page.includes('a-copy.sqlite)</h2>'));
});

test('view over the folder lists every run and serves each run\'s page, across files and for equal ids', async () => {
  const viewer = await startViewer({ paths: [results] });
  try {
    assert.match(viewer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const home = await (await fetch(viewer.url)).text();
    const links = [...home.matchAll(/<a class="run-link" href="([^"]+)">([^<]+)<\/a>/g)].map((m) => ({ href: m[1]!, id: m[2]! }));
    assert.deepEqual(links.map((l) => l.id).sort(), Object.values(ids).sort());
    for (const l of links) {
      assert.match(l.href, /^\/files\/\d\/runs\//);
      const res = await fetch(new URL(l.href, viewer.url));
      assert.equal(res.status, 200, l.href);
      const body = await res.text();
      assert.ok(body.includes(`<h1>Run ${l.id}</h1>`));
      const example = /<a class="example-link" href="([^"]+)">/.exec(body)![1]!;
      assert.equal((await fetch(new URL(example, viewer.url))).status, 200, example);
    }
    // A unique id also resolves without naming its file; a wrong file index or a run of another file is a 404.
    assert.equal((await fetch(`${viewer.url}runs/${ids.c}`)).status, 200);
    assert.equal((await fetch(`${viewer.url}files/7/runs/${ids.c}`)).status, 404);
    const bIndex = links.find((l) => l.id === ids.b)!.href.split('/')[2];
    assert.equal((await fetch(`${viewer.url}files/${bIndex}/runs/${ids.a}`)).status, 404);
    const api = (await (await fetch(`${viewer.url}api/runs`)).json()) as { id: string; file: string }[];
    assert.equal(api.length, 3);
  } finally {
    await viewer.close();
  }
  // The same id in two files: each file's page by its own URL, and the bare URL offers both.
  const two = await startViewer({ paths: [files.a, copy] });
  try {
    const home = await (await fetch(two.url)).text();
    const hrefs = [...home.matchAll(/<a class="run-link" href="([^"]+)">/g)].map((m) => m[1]!);
    assert.deepEqual(hrefs.sort(), [`/files/0/runs/${ids.a}`, `/files/1/runs/${ids.a}`]);
    for (const h of hrefs) assert.equal((await fetch(new URL(h, two.url))).status, 200);
    const choice = await fetch(`${two.url}runs/${ids.a}`);
    assert.equal(choice.status, 300);
    assert.match(await choice.text(), /This run id is in 2 databases/);
  } finally {
    await two.close();
  }
});
