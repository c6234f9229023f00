import { test } from 'node:test';
import { databaseAtSchema } from '../helpers/old-db.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { UserError } from '../../src/errors.js';
import { dbInfo, openStore, SCHEMA_VERSION } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'w2s-db-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

test('a new database records its migration and reopening does not migrate again', () => {
  const f = file('fresh.sqlite');
  openStore(f).close();
  openStore(f).close();
  const raw = new Database(f, { readonly: true });
  const rows = raw.prepare('SELECT version, name FROM schema_migrations').all();
  const meta = raw.prepare("SELECT value FROM meta WHERE key = 'w2s_version'").get() as { value: string };
  raw.close();
  assert.deepEqual(rows, [{ version: 1, name: 'initial' }, { version: 2, name: 'groups and metric provenance' }, { version: 3, name: 'run ownership, persisted budgets, cross-process single-flight' }, { version: 4, name: 'judge samples and judgment tokens' }, { version: 5, name: 'call texts: what each model received and returned' }, { version: 6, name: 'a reply without a verdict has no probability' }, { version: 7, name: 'provider batches: submitted batch ids and the requests they carry' }, { version: 8, name: 'the endpoint each call went to' }, { version: 9, name: 'passages, quotes, two-choice answers, open roles, imported transcripts, best-of-N candidates' }], 'every migration, once, in order');
  assert.equal(SCHEMA_VERSION, 9, 'the newest migration is the schema version');
  assert.match(meta.value, /^\d+\.\d+\.\d+/);
});

test('a database from a newer w2s is refused with a UserError naming its version', () => {
  const f = file('future.sqlite');
  openStore(f).close();
  const raw = new Database(f);
  raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(SCHEMA_VERSION + 41, 'future', 'x');
  raw.close();
  assert.throws(() => openStore(f), (e: unknown) => e instanceof UserError && e.message.includes(String(SCHEMA_VERSION + 41)));
  assert.throws(() => dbInfo(f), UserError);
});

test('a file that is not SQLite gives a UserError, whether opened for writing or reading', () => {
  const f = file('notes.sqlite');
  writeFileSync(f, 'these are my notes, not a database\n'.repeat(50));
  assert.throws(() => openStore(f), (e: unknown) => e instanceof UserError && /not a SQLite database/.test(e.message));
  assert.throws(() => openStore(f, { readonly: true }), UserError);
});

test('read-only open of a missing file is a UserError and creates nothing', () => {
  assert.throws(() => openStore(file('missing.sqlite'), { readonly: true }), UserError);
  assert.throws(() => dbInfo(file('missing.sqlite')), UserError);
  assert.equal(existsSync(file('missing.sqlite')), false);
});

test('foreign keys are enforced', () => {
  const s = openStore(file('fk.sqlite'));
  try {
    assert.throws(() => s.examples.insertExamples('no-such-run', [{ id: 'e1', split: 'test', text: 't', label: 1 }]), /FOREIGN KEY/);
    s.runs.createRun({ id: 'r1', config: {}, configHash: 'h' });
    assert.throws(
      () => s.debates.upsertDebate({ id: 'd', runId: 'r1', exampleId: 'nope', protocol: 'debate', sample: 0, seed: 1, sides: { A: 'correct' } }),
      /FOREIGN KEY/,
    );
  } finally {
    s.close();
  }
});

test('a read-only store reads but cannot write', () => {
  const f = file('ro.sqlite');
  const w = openStore(f);
  w.runs.createRun({ id: 'r1', config: { a: 1 }, configHash: 'h' });
  w.cache.putCached('k', 'generate', 'm', { text: 'x' });
  w.close();
  const r = openStore(f, { readonly: true });
  try {
    assert.equal(r.readonly, true);
    assert.deepEqual(r.runs.getRun('r1')?.config, { a: 1 });
    assert.deepEqual(r.cache.getCached('k'), { text: 'x' });
    assert.throws(() => r.runs.createRun({ id: 'r2', config: {}, configHash: 'h' }), /readonly/);
    assert.throws(() => r.stages.markStageDone('r1', 'prepare'), /readonly/);
  } finally {
    r.close();
  }
});

test('dbInfo reports versions, WAL mode, row counts and runs', () => {
  const f = file('info.sqlite');
  const s = openStore(f);
  s.runs.createRun({ id: 'r1', name: 'first', config: {}, configHash: 'h', dataset: 'sciq' });
  // Owned by this live process, so it shows as running (without a live lease it would show as stopped).
  assert.equal(s.leases.acquire('r1').acquired, true);
  s.examples.insertExamples('r1', [
    { id: 'a', split: 'test', text: 'x', label: 0 },
    { id: 'b', split: 'test', text: 'y', label: 1 },
  ]);
  s.calls.insertCall({
    runId: 'r1', role: 'debater', model: 'm', kind: 'generate', requestHash: 'h', cacheHit: false, attempts: 1,
    latencyMs: 3, inputTokens: 10, outputTokens: 5, costUsd: 0.25,
  });
  s.close();
  const info = dbInfo(f);
  assert.equal(info.schemaVersion, SCHEMA_VERSION);
  assert.equal(info.supportedSchemaVersion, SCHEMA_VERSION);
  assert.equal(info.journalMode, 'wal');
  assert.ok(info.sizeBytes > 0);
  assert.match(info.w2sVersion ?? '', /^\d+\./);
  assert.equal(info.tables.examples, 2);
  assert.equal(info.tables.calls, 1);
  assert.equal(info.tables.debates, 0);
  assert.deepEqual(
    info.runs.map((r) => [r.id, r.name, r.dataset, r.status, r.examples, r.calls, r.costUsd]),
    [['r1', 'first', 'sciq', 'running', 2, 1, 0.25]],
  );
});

test('a version-3 database keeps its judgments through migration 4: sample 0, tokens unknown, samples now distinct', () => {
  const f = file('v3.sqlite');
  const raw = databaseAtSchema(f, 3);
  raw.prepare("INSERT INTO examples (run_id, id, split, text, label) VALUES ('r', 'e', 'test', 't', 1)").run();
  raw.prepare("INSERT INTO judgments (run_id, example_id, judge, order_swapped, p_correct, method, created_at) VALUES ('r', 'e', 'j', 0, 0.75, 'logprobs', 'x')").run();
  raw.close();

  const store = openStore(f);
  try {
    const [old] = store.judgments.listJudgments('r');
    assert.equal(old!.sample, 0);
    assert.equal(old!.inputTokens, null);
    assert.equal(old!.pCorrect, 0.75);
    const next = { runId: 'r', exampleId: 'e', judge: 'j', debateId: null, orderSwapped: false, pCorrect: 1, method: 'parsed' as const };
    assert.equal(store.judgments.insertJudgment({ ...next, sample: 0 }), false, 'the same (example, judge, presentation, sample) is kept once');
    assert.equal(store.judgments.insertJudgment({ ...next, sample: 1, inputTokens: 12, outputTokens: 1 }), true, 'another sample is a judgment of its own');
    assert.equal(store.judgments.hasJudgment('r', 'e', 'j', null, false, 1), true);
    assert.equal(store.judgments.listJudgments('r').length, 2);
  } finally {
    store.close();
  }
});

test('migration 6: a stored reply without a verdict loses its made-up 0.5; ids, values and the unique key survive', () => {
  const f = file('v5.sqlite');
  const raw = databaseAtSchema(f, 5);
  raw.prepare("INSERT INTO examples (run_id, id, split, text, label) VALUES ('r', 'e', 'test', 't', 1)").run();
  const insert = raw.prepare("INSERT INTO judgments (run_id, example_id, judge, order_swapped, sample, p_correct, method, raw_text, created_at, input_tokens) VALUES ('r', 'e', 'j', ?, 0, ?, ?, ?, 'x', 7)");
  insert.run(0, 0.75, 'logprobs', 'A');
  insert.run(1, 0.5, 'unparsed', 'hmm');
  // An id used and deleted before the migration (3) must not be given out again after it.
  raw.prepare("INSERT INTO judgments (run_id, example_id, judge, order_swapped, sample, p_correct, method, created_at) VALUES ('r', 'e', 'j', 0, 9, 1, 'parsed', 'x')").run();
  raw.prepare('DELETE FROM judgments WHERE id = 3').run();
  raw.close();

  const store = openStore(f);
  try {
    const rows = store.judgments.listJudgments('r');
    assert.deepEqual(rows.map((r) => [r.id, r.orderSwapped, r.pCorrect, r.method, r.rawText, r.inputTokens]), [[1, false, 0.75, 'logprobs', 'A', 7], [2, true, null, 'unparsed', 'hmm', 7]], 'the unparsed reply now has no probability');
    // The mean reads the one reply that said something: 0.75, not (0.75 + 0.5) / 2.
    assert.deepEqual([...store.judgments.meanByExample('r', 'j')], [['e', 0.75]], 'the mean is over the replies with a verdict');
    assert.deepEqual(store.judgments.coverage('r', 'j'), { replies: 2, readable: 1, fromLogprobs: 1 }, 'coverage counts both replies');
    const again = { runId: 'r', exampleId: 'e', judge: 'j', debateId: null, orderSwapped: true, pCorrect: 1, method: 'parsed' as const };
    assert.equal(store.judgments.insertJudgment(again), false, 'the unique key is rebuilt');
    assert.throws(() => store.judgments.insertJudgment({ ...again, sample: 1, pCorrect: 0.5, method: 'unparsed' }), /CHECK constraint/, 'an unparsed reply cannot be stored with a probability');
    assert.throws(() => store.judgments.insertJudgment({ ...again, sample: 2, pCorrect: null, method: 'parsed' }), /CHECK constraint/, 'a parsed reply must carry one');
    store.judgments.insertJudgment({ ...again, sample: 3 });
    const next = store.judgments.listJudgments('r').at(-1)!.id;
    assert.ok(next > 3, `the deleted id 3 is not given out again (next id ${next})`);
  } finally {
    store.close();
  }
});
