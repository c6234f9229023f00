/**
 * The read commands as a user runs them (the real CLI, spawned): export's splits and row counts, `runs` on the default
 * folder, --json everywhere, `models check` against real HTTP servers, and read-only opens that leave no -wal/-shm
 * files behind while still seeing what a live writer committed. The database is made by the real pipeline.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openReport } from '../../src/report/queries.js';
import { openStore } from '../../src/store/index.js';
import { parseCsv } from '../helpers/csv.js';
import { crateRows, truthByQuestion, writeJsonl } from '../helpers/datasets.js';
import { freePort, startOpenAIServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli, spawnCli } from '../reliability/fixture.js';

const dir = tempDir('w2s-read-');
const results = join(dir, 'results');
const db = join(results, 'rc.sqlite');
let runId: string;

/** A debater whose every argument spans two lines (with a quote), so a CSV row is not a line. */
const ARGUMENT = 'Line one: the crate is where the answer says.\nLine two, "quoted".';

before(async () => {
  const rows = crateRows(30, 4);
  const truth = truthByQuestion(rows);
  const data = writeJsonl(dir, 'crates.jsonl', rows);
  registerScript('read-debater', {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n');
      const question = /<question>\n(.*)\n<\/question>/.exec(prompt)![1]!;
      const arguesCorrect = /Your side: the proposed answer is correct/.test(prompt);
      return arguesCorrect === (truth.get(question) === 1) ? `${ARGUMENT} Confirmed.` : ARGUMENT;
    },
  });
  const config = parseExperiment({
    name: 'rc',
    seed: 5,
    dataset: { name: 'jsonl', path: data, sizes: { train_weak: 10, train_strong: 10, test: 10 } },
    debate: { protocol: 'debate', debaters: ['scripted:read-debater'], turns: 2, samples: 2, temperature: 1 },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 2 }, probe: { epochs: 5 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] } },
    metrics: { bootstrap: 100 },
  });
  const outcome = await runExperiment({ config, out: db, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed', outcome.reason);
  runId = outcome.runId;
});

/** The CLI from the repository (or another folder); absolute paths throughout. */
const w2s = (args: string[], cwd?: string, env?: NodeJS.ProcessEnv) => runCli(args, { ...(cwd && { cwd }), ...(env && { env }) });

/** One number straight from the database. */
function count(sql: string, ...params: unknown[]): number {
  const store = openStore(db, { readonly: true });
  try {
    return (store.db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    store.close();
  }
}

const TRAINING = "('train_weak', 'train_strong')";
const jsonLines = (file: string): Record<string, unknown>[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

// ---- A. export: splits, the split field, the test warning, rows not lines -------------------------------------------

test('chat export holds the training splits only by default, says each line\'s split, and counts rows', async () => {
  const out = join(dir, 'chat.jsonl');
  const r = await w2s(['export', db, '--what', 'transcripts', '--format', 'chat', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const expected = count(`SELECT COUNT(*) AS n FROM debates d JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id WHERE d.status = 'completed' AND e.split IN ${TRAINING}`);
  assert.ok(expected > 0);
  const lines = jsonLines(out);
  assert.equal(lines.length, expected);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l), ['messages', 'split']);
    assert.ok(l.split === 'train_weak' || l.split === 'train_strong', `no test row by default: ${String(l.split)}`);
  }
  assert.equal(r.stderr, `wrote ${expected} rows to ${out}\n`, 'no warning: no test rows were asked for');
});

test('asking for test rows exports them with one warning line; every example-shaped format carries the split', async () => {
  const out = join(dir, 'chat-test.jsonl');
  const r = await w2s(['export', db, '--what', 'transcripts', '--format', 'chat', '--split', 'test', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(out);
  assert.ok(lines.length > 0 && lines.every((l) => l.split === 'test'));
  const [warning, wrote, ...rest] = r.stderr.trim().split('\n');
  assert.equal(warning, 'w2s: warning: test rows are exported with their gold labels; do not train on them.');
  assert.equal(wrote, `wrote ${lines.length} rows to ${out}`);
  assert.deepEqual(rest, []);

  // JSONL transcripts, one split named.
  const t = join(dir, 't.jsonl');
  assert.equal((await w2s(['export', db, '--what', 'transcripts', '--split', 'train_weak', '--out', t])).code, 0);
  const debates = jsonLines(t);
  assert.equal(debates.length, count("SELECT COUNT(*) AS n FROM debates d JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id WHERE e.split = 'train_weak'"));
  assert.ok(debates.every((d) => d.split === 'train_weak'));

  // Predictions are not training data: every split by default (the strong models predict only test), no warning;
  // --split narrows them.
  const p = join(dir, 'p.jsonl');
  const def = await w2s(['export', db, '--what', 'predictions', '--out', p]);
  assert.equal(def.code, 0, def.stderr);
  assert.equal(jsonLines(p).length, count('SELECT COUNT(*) AS n FROM predictions'));
  assert.doesNotMatch(def.stderr, /warning/);
  const trainOnly = await w2s(['export', db, '--what', 'predictions', '--split', 'train_weak, train_strong', '--out', p]);
  assert.equal(trainOnly.code, 0, trainOnly.stderr);
  const preds = jsonLines(p);
  assert.equal(preds.length, count(`SELECT COUNT(*) AS n FROM predictions p JOIN examples e ON e.run_id = p.run_id AND e.id = p.example_id WHERE e.split IN ${TRAINING}`));
  assert.ok(preds.every((x) => x.split !== 'test'));
});

test('CSV export reports rows, not lines: a turn whose text spans two lines is one row, and the header is none', async () => {
  const out = join(dir, 'turns.csv');
  const r = await w2s(['export', db, '--what', 'transcripts', '--format', 'csv', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const turns = count(`SELECT COUNT(*) AS n FROM turns t JOIN debates d ON d.id = t.debate_id JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id WHERE e.split IN ${TRAINING}`);
  const text = readFileSync(out, 'utf8');
  const { rows } = parseCsv(text);
  assert.equal(rows.length, turns + 1, 'a header and one row per turn');
  assert.ok(text.split('\n').length - 1 > rows.length, 'more lines than rows: the arguments hold line breaks');
  const header = rows[0]!;
  assert.ok(rows.slice(1).every((row) => row[header.indexOf('split')] !== 'test'));
  assert.ok(rows.slice(1).some((row) => row[header.indexOf('text')]!.startsWith(ARGUMENT)), 'the two-line text round-trips');
  assert.equal(r.stderr, `wrote ${turns} rows to ${out}\n`);
});

test('an unknown split is one sentence and a non-zero exit, and nothing is written; the ledger takes no --split', async () => {
  const out = join(dir, 'never.jsonl');
  for (const split of ['train,test', 'validation', '']) {
    const r = await w2s(['export', db, '--what', 'transcripts', '--format', 'chat', '--split', split, '--out', out]);
    assert.equal(r.code, 1, split);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^w2s: --split takes a comma list of train_weak, train_strong, test; .*\.$/);
    assert.equal(existsSync(out), false);
  }
  const named = await w2s(['export', db, '--what', 'transcripts', '--split', 'train_weak,dev', '--out', out]);
  assert.match(named.stderr, /"dev" is not a split/);
  const calls = await w2s(['export', db, '--what', 'calls', '--split', 'test', '--out', out]);
  assert.equal(calls.code, 1);
  assert.match(calls.stderr, /^w2s: --split applies to transcripts and predictions; the call ledger has no split, so drop --split\.\n$/);
  assert.equal(existsSync(out), false);
  // Without --split the ledger exports as before, whole.
  const ledger = join(dir, 'calls.jsonl');
  const ok = await w2s(['export', db, '--what', 'calls', '--out', ledger]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, `wrote ${count('SELECT COUNT(*) AS n FROM calls')} rows to ${ledger}\n`);
});

// ---- B. runs with no argument ----------------------------------------------------------------------------------------

test('w2s runs with no argument reads results/ here, and says how to name another folder when there is none', async () => {
  const r = await w2s(['runs', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const runs = JSON.parse(r.stdout) as { id: string; file: string }[];
  assert.deepEqual(runs.map((x) => [x.id, x.file]), [[runId, join('results', 'rc.sqlite')]]);

  const empty = tempDir('w2s-read-empty-');
  const none = await w2s(['runs'], empty);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '');
  const lines = none.stderr.trim().split('\n');
  assert.equal(lines.length, 1, none.stderr);
  assert.match(lines[0]!, /^w2s: There is no results\/ folder in .+; name the folder or database to read, e\.g\. `w2s runs path\/to\/results`\.$/);
  assert.deepEqual(readdirSync(empty), [], 'nothing created');
});

// ---- C. --json on the read commands ------------------------------------------------------------------------------------

test('--json: runs, show, table, db info and cache stats each print one JSON document on stdout', async () => {
  const runs = await w2s(['runs', db, '--json']);
  assert.equal(runs.code, 0, runs.stderr);
  const [run] = JSON.parse(runs.stdout) as { id: string; status: string; results: unknown }[];
  assert.equal(run!.id, runId);
  assert.equal(run!.status, 'completed');

  const show = await w2s(['show', db, 'item3', '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal(typeof JSON.parse(show.stdout), 'object');

  const table = await w2s(['table', results, '--json']);
  assert.equal(table.code, 0, table.stderr);
  const t = JSON.parse(table.stdout) as {
    rowAxis: string; colAxis: string; columns: { key: string }[];
    rows: { key: string; cells: ({ column: string; accuracy: { value: number; lo: number; hi: number } | null; runs: string[] } | null)[] }[]; notes: string[];
  };
  assert.equal(t.rowAxis, 'method');
  assert.equal(t.colAxis, 'dataset');
  assert.ok(t.rows.length > 0 && t.columns.length === 1);
  const cells = t.rows.flatMap((r) => r.cells).filter((c) => c !== null);
  assert.ok(cells.some((c) => c.accuracy !== null && c.accuracy.lo <= c.accuracy.value && c.accuracy.value <= c.accuracy.hi));
  assert.ok(cells.every((c) => c.column === t.columns[0]!.key && c.runs.includes(runId)));
  const clash = await w2s(['table', results, '--json', '--format', 'csv']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /^w2s: --json prints the table as data; drop --format \(or --json\)\.\n$/);

  const info = await w2s(['db', 'info', db, '--json']);
  assert.equal(info.code, 0, info.stderr);
  assert.deepEqual((JSON.parse(info.stdout) as { runs: { id: string }[] }).runs.map((x) => x.id), [runId]);

  const cache = await w2s(['cache', 'stats', '--cache', join(dir, 'cache.sqlite'), '--json']);
  assert.equal(cache.code, 0, cache.stderr);
  const c = JSON.parse(cache.stdout) as { entries: number; byModel: { model: string }[] };
  assert.ok(c.entries > 0);
  assert.ok(c.byModel.some((m) => m.model === 'scripted:read-debater'));
  const noCache = JSON.parse((await w2s(['cache', 'stats', '--cache', join(dir, 'no-cache.sqlite'), '--json'])).stdout) as { entries: number };
  assert.equal(noCache.entries, 0);
});

// ---- D. models check ----------------------------------------------------------------------------------------------------

test('models check prints what the model returned only after it answered, as text or one JSON document', async () => {
  const server = await startOpenAIServer({});
  try {
    const text = await w2s(['models', 'check', `openai:tiny@${server.url}`]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^model: +openai:tiny@.*\nadapter: +openai\nendpoint: +http:\/\/127\.0\.0\.1:\d+\/v1\ngeneration: +"/);
    assert.match(text.stdout, /^logprobs: +found: /m, 'the logprobs probe found them');
    assert.ok(server.requests.some((q) => q.path === '/v1/chat/completions'), 'a real request reached the server');
    const json = await w2s(['models', 'check', `openai:tiny@${server.url}`, '--json', '--prompt', 'hello there']);
    assert.equal(json.code, 0, json.stderr);
    const c = JSON.parse(json.stdout) as { spec: string; adapter: string; probed: { logprobs: { status: string } }; generation: { prompt: string; text: string; outputTokens: number }; logprobs: unknown[]; embeddings: { dimensions: number } };
    assert.equal(c.adapter, 'openai');
    assert.equal(c.probed.logprobs.status, 'found');
    assert.equal(c.generation.prompt, 'hello there');
    assert.ok(c.generation.text.length > 0 && c.generation.outputTokens > 0, 'the test generation answered');
    assert.ok(c.logprobs.length > 0, 'the first token\'s alternatives came back');
    assert.equal(c.embeddings.dimensions, 8);
  } finally {
    await server.close();
  }
});

test('models check on a model that cannot be reached or refuses prints no capabilities: one sentence naming the fix, exit 1', async () => {
  const port = await freePort();
  const refused = await w2s(['models', 'check', `openai:m@http://127.0.0.1:${port}/v1`]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '', 'no capabilities for a model never reached');
  const lines = refused.stderr.trim().split('\n');
  assert.equal(lines.length, 1, refused.stderr);
  assert.match(lines[0]!, new RegExp(`^w2s: Model openai:m@http://127\\.0\\.0\\.1:${port}/v1 did not answer a test generation: Could not reach .*; check that the server is running and the URL is right\\.$`));

  // A server that is up but refuses every request: still no capabilities, and the line names what to check.
  const server = await startOpenAIServer({ onRequest: () => ({ status: 500, body: { error: { message: 'model is overloaded', type: 'server_error' } } }) });
  try {
    for (const extra of [[], ['--json']]) {
      const r = await w2s(['models', 'check', `openai:m@${server.url}`, ...extra]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      const one = r.stderr.trim().split('\n');
      assert.equal(one.length, 1, r.stderr);
      assert.match(one[0]!, /^w2s: Model openai:m@http:\/\/127\.0\.0\.1:\d+\/v1 did not answer a test generation: .*answered 500.*model is overloaded; check that http:\/\/127\.0\.0\.1:\d+\/v1 is up and serves this model, and the spec\.$/);
      assert.doesNotMatch(r.stderr, /ProviderError|\n\s+at /);
    }
    assert.ok(server.requests.length > 0, 'the check did ask the server');
  } finally {
    await server.close();
  }

  // A wrong key: the adapter's own hint names the variable.
  const keyed = await startOpenAIServer({ apiKey: 'right' });
  try {
    const r = await w2s(['models', 'check', `openai:m@${keyed.url}`, '--api-key-env', 'W2S_TEST_KEY'], undefined, { W2S_TEST_KEY: 'wrong' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^w2s: Model openai:m@.* did not answer a test generation: .*answered 401.*W2S_TEST_KEY/);
  } finally {
    await keyed.close();
  }
});

// ---- E. read-only opens leave no -wal/-shm files, and see a live writer's rows ---------------------------------------------

const sidecars = (folder: string): string[] => readdirSync(folder).filter((f) => f.endsWith('-wal') || f.endsWith('-shm'));

test('runs, show, export, table, report and db info on a closed database leave no -wal or -shm files', async () => {
  const folder = join(dir, 'closed');
  mkdirSync(folder);
  const file = join(folder, 'closed.sqlite');
  copyFileSync(db, file);
  assert.deepEqual(sidecars(folder), [], 'the copy starts closed');
  const commands: string[][] = [
    ['runs', folder],
    ['runs', file, '--json'],
    ['show', file, 'item3'],
    ['export', file, '--what', 'transcripts', '--format', 'chat'],
    ['export', file, '--what', 'predictions', '--format', 'csv', '--split', 'test'],
    ['table', folder],
    ['report', folder, '--out', join(dir, 'closed-report.html')],
    ['db', 'info', file],
  ];
  for (const args of commands) {
    const r = await w2s(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(sidecars(folder), [], `w2s ${args.join(' ')} left files behind`);
  }
});

test('an export into a pipe closed early (| head) exits 0 and still leaves no -wal or -shm files', async () => {
  const folder = join(dir, 'piped');
  mkdirSync(folder);
  const file = join(folder, 'piped.sqlite');
  copyFileSync(db, file);
  const run = spawnCli(['export', file, '--what', 'calls']);
  run.child.stdout!.destroy();
  assert.equal(await run.exited, 0, run.stderr());
  assert.equal(run.stderr(), '', 'quietly');
  assert.deepEqual(sidecars(folder), []);
});

test('a reader sees the rows a live writer committed, and leaves the writer\'s -wal and -shm to it', async () => {
  const folder = join(dir, 'live');
  mkdirSync(folder);
  const file = join(folder, 'live.sqlite');
  copyFileSync(db, file);
  const writer = openStore(file);
  try {
    writer.runs.createRun({ id: 'live-run', name: 'live', config: { name: 'live' }, configHash: 'h-live', dataset: 'jsonl' });
    assert.deepEqual(sidecars(folder).sort(), ['live.sqlite-shm', 'live.sqlite-wal'], 'the writer holds them');
    const r = await w2s(['runs', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { id: string }[]).map((x) => x.id).sort(), ['live-run', runId].sort());
    const info = await w2s(['db', 'info', file, '--json']);
    assert.equal((JSON.parse(info.stdout) as { tables: { runs: number } }).tables.runs, 2);
    // The writer's files are intact, and it goes on writing.
    assert.deepEqual(sidecars(folder).sort(), ['live.sqlite-shm', 'live.sqlite-wal']);
    writer.runs.createRun({ id: 'live-run-2', config: { name: 'live2' }, configHash: 'h-live2' });
  } finally {
    writer.close();
  }
  assert.deepEqual(sidecars(folder), [], 'the writer, last to close, removed them');
});

test('a reader that outlives a writer cleans up after both, and what the writer committed stays', () => {
  const folder = join(dir, 'outlive');
  mkdirSync(folder);
  const file = join(folder, 'o.sqlite');
  copyFileSync(db, file);
  const reader = openReport(file);
  const writer = openStore(file);
  writer.runs.createRun({ id: 'while-reading', config: { name: 'w' }, configHash: 'h-w' });
  writer.close();
  assert.deepEqual(sidecars(folder).sort(), ['o.sqlite-shm', 'o.sqlite-wal'], 'the writer was not the last to close');
  assert.ok(reader.runs().some((r) => r.id === 'while-reading'), 'the reader sees the committed run');
  reader.close();
  assert.deepEqual(sidecars(folder), []);
  const again = openReport(file);
  try {
    assert.ok(again.runs().some((r) => r.id === 'while-reading'), 'checkpointed into the file, not lost with the -wal');
  } finally {
    again.close();
  }
  assert.deepEqual(sidecars(folder), []);
});
