import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const FIXTURE = 'test/fixtures/import/single_turn_debate.jsonl';
const dir = tempDir('w2s-cli-import-');

/** Runs the CLI as a user would; resolves with exit code and output instead of throwing. */
async function w2s(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

test('w2s import checks a single_turn_debate file, writes a ready config, and w2s run / show / export read it like a generated debate', async () => {
  const file = join(dir, 'arguments.jsonl');
  copyFileSync(FIXTURE, file);
  const cfg = join(dir, 'human.json');
  const r = await w2s(['import', file, '--format', 'single_turn_debate', '--out', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /examples: +6 \(defined by the rows\)/, 'six questions');
  assert.match(r.stdout, /transcripts: 6 \(1 per example\), 12 turns, 12 with quotes/, 'one debate of two arguments each, every argument with snippets');
  assert.match(r.stderr, /wrote .*human\.json \(preflight: ok — no model calls; no prices set\); run it with: w2s run /, 'the config was checked, then written');
  const written = JSON.parse(readFileSync(cfg, 'utf8'));
  assert.deepEqual(written.debate.import, { file: 'arguments.jsonl', format: 'single_turn_debate' }, 'the file, relative to the config');
  assert.deepEqual(written.dataset.path, 'arguments.jsonl', 'the file is the dataset: its rows define the examples');

  const again = await w2s(['import', file, '--format', 'single_turn_debate', '--out', cfg]);
  assert.equal(again.code, 1, 'an existing config is not overwritten');
  assert.match(again.stderr, /human\.json exists; choose another --out/, 'says so');

  const db = join(dir, 'human.sqlite');
  const ran = await w2s(['run', cfg, '--out', db, '--cache', join(dir, 'cache.sqlite')]);
  assert.equal(ran.code, 0, ran.stderr);
  const shown = await w2s(['show', db, 'single_turn_debate/s2/1']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /Imported from .*arguments\.jsonl line 1 \(single_turn_debate, sha256 [0-9a-f]{12}…\)/, 'provenance');
  assert.match(shown.stdout, /Under the robot lay a puddle, and a thin crack ran along its tank\./, 'the right answer\'s snippet');
  const exported = await w2s(['export', db, '--what', 'transcripts', '--format', 'jsonl', '--split', 'train_weak,train_strong,test']);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 6, 'every imported transcript');
  for (const l of lines) assert.equal(l.source.format, 'single_turn_debate', `${l.example_id}: its provenance is exported`);
});

test('w2s import: malformed rows, a missing file and bad options are one line and exit 1, with nothing written', async () => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify({ id: 'q', question: 'Q?', answer: 'a', label: 1, for: 'x', against: 'y' })}\n${JSON.stringify({ id: 'r', question: 'R?', label: 1, for: 'x', against: 'y' })}\n`);
  const out = join(dir, 'never.json');
  const cases: [string[], RegExp][] = [
    [['import', bad, '--out', out], /^w2s: .*bad\.jsonl line 2: field "answer": missing: a row with "question" needs the proposed "answer"/],
    [['import', join(dir, 'nowhere.jsonl')], /^w2s: .*nowhere\.jsonl: cannot read the transcripts to import \(no such file\)/],
    [['import', FIXTURE, '--format', 'csv'], /^w2s: --format must be w2s or single_turn_debate, got "csv"\./],
    [['import', FIXTURE, '--format', 'single_turn_debate', '--protocol', 'market'], /^w2s: --protocol must be debate or consultancy, got "market"\./],
  ];
  for (const [args, pattern] of cases) {
    const r = await w2s(args);
    assert.equal(r.code, 1, `${args.join(' ')} exits 1`);
    assert.match(r.stderr, pattern, `${args.join(' ')}: the sentence`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`);
  }
  assert.equal(existsSync(out), false, 'no config written');

  const ids = join(dir, 'ids.jsonl');
  writeFileSync(ids, `${JSON.stringify({ id: 'sciq/train/1', for: 'x', against: 'y' })}\n`);
  const noDataset = await w2s(['import', ids, '--out', out]);
  assert.equal(noDataset.code, 1, 'rows naming dataset rows need --dataset to write a config');
  assert.match(noDataset.stderr, /names dataset rows by "id"; pass --dataset <name>/, 'says which option');
  assert.equal(existsSync(out), false, 'still no config');
});

test('w2s run refuses an import whose dataset section does not say where its examples come from, before writing anything', async () => {
  const file = join(dir, 'own.jsonl');
  writeFileSync(file, `${JSON.stringify({ id: 'q', question: 'Q?', answer: 'a', label: 1, for: 'x', against: 'y' })}\n`);
  const cfg = join(dir, 'mismatch.json');
  writeFileSync(cfg, JSON.stringify({ name: 'mismatch', dataset: { name: 'sciq' }, debate: { protocol: 'debate', samples: 1, import: { file: 'own.jsonl' } }, weak: { ensemble: { size: 1 } } }));
  const db = join(dir, 'mismatch.sqlite');
  const r = await w2s(['run', cfg, '--out', db]);
  assert.equal(r.code, 1, 'refused');
  assert.match(r.stderr, /own\.jsonl defines its examples \(its rows give "question"\), so it is the run's dataset: set dataset\.name to "jsonl" and dataset\.path to the same file/, 'the fix');
  assert.equal(existsSync(db), false, 'no database');

  const withDebaters = join(dir, 'debaters.json');
  writeFileSync(withDebaters, JSON.stringify({ name: 'x', dataset: { name: 'jsonl', path: 'own.jsonl' }, debate: { protocol: 'market', debaters: ['scripted:echo'], import: { file: 'own.jsonl' } } }));
  const c = await w2s(['config', 'check', withDebaters]);
  assert.equal(c.code, 1, 'bad config');
  assert.match(c.stderr, /field debate\.protocol: imported transcripts are stored as protocol "debate" \(both sides\) or "consultancy" \(one side\), not "market"/, 'the first problem, named');
});
