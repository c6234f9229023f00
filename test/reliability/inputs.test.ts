import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { startFaultServer, type FaultServer } from '../helpers/fault-server.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli, smallConfig, writeConfig, writeDataset } from './fixture.js';

/** Bad input of every kind: one clear sentence (a UserError; no stack from the CLI) and a database left consistent. */

let server: FaultServer;
before(async () => {
  server = await startFaultServer();
});
after(() => server.close());

/** Integrity and foreign keys hold, and no run is left "running". */
function assertConsistent(file: string): void {
  const store = openStore(file, { readonly: true });
  try {
    assert.equal((store.db.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check, 'ok');
    assert.deepEqual(store.db.pragma('foreign_key_check'), []);
    for (const r of store.runs.listRuns()) assert.notEqual(r.status, 'running', `run ${r.id} left running`);
  } finally {
    store.close();
  }
}

function config(dir: string, over: { dataset?: string; debater?: string } = {}) {
  return parseExperiment(smallConfig({ dataset: over.dataset ?? writeDataset(dir, 12), debater: over.debater ?? `openai:m@${server.url}`, turns: 1 }));
}

async function rejectsClearly(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('malformed configs and an unknown dataset: the CLI prints one clear line, no stack, exit 1, writes nothing', async () => {
  const dir = tempDir();
  const bad = {
    json: '{"name": "x", "dataset": {"name": "sciq"',
    unknownKey: JSON.stringify({ ...smallConfig({ dataset: 'x.jsonl', debater: 'scripted:x' }), debaet: {} }),
    wrongType: JSON.stringify({ ...smallConfig({ dataset: 'x.jsonl', debater: 'scripted:x' }), seed: 'three' }),
    unknownDataset: JSON.stringify({ ...smallConfig({ dataset: 'x.jsonl', debater: 'scripted:x' }), dataset: { name: 'imagenet' } }),
    missingData: JSON.stringify(smallConfig({ dataset: join(dir, 'nowhere.jsonl'), debater: `openai:m@${server.url}` })),
  };
  const expect: Record<keyof typeof bad, RegExp> = {
    json: /is not valid JSON/,
    unknownKey: /unknown key\(s\) "debaet"/,
    wrongType: /field seed/,
    unknownDataset: /field dataset\.name: expected one of "sciq"/,
    missingData: /data file .*nowhere\.jsonl does not exist/,
  };
  const results = await Promise.all(
    Object.entries(bad).map(async ([name, text]) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, text);
      return { name: name as keyof typeof bad, ...(await runCli(['run', file, '--out', join(dir, `${name}.sqlite`), '--cache', join(dir, 'c.sqlite')])) };
    }),
  );
  for (const r of results) {
    assert.equal(r.code, 1, `${r.name}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('w2s:'));
    assert.equal(lines.length, 1, `${r.name}: one error line, got ${r.stderr}`);
    assert.match(lines[0]!, expect[r.name]);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${r.name}: no stack trace without --verbose`);
  }
  // The dataset that does not exist is found before any model call, and before anything is written.
  assert.equal(server.requests.length, 0);
  for (const name of Object.keys(bad)) assert.ok(!existsSync(join(dir, `${name}.sqlite`)), `${name}: no database written`);
  assert.ok(!existsSync(join(dir, 'c.sqlite')), 'no cache written');
});

test('malformed and truncated rows name the file and line, before any database is written', async () => {
  const dir = tempDir();
  for (const [name, text, pattern] of [
    ['bad-row.jsonl', '{"question": "q1", "answer": "a", "label": 1}\n{"question": "q2", "answer": "a", "label": "maybe"}\n', /bad-row\.jsonl.*line 2/],
    ['truncated.jsonl', '{"question": "q1", "answer": "a", "label": 1}\n{"question": "q2", "answ', /truncated\.jsonl.*line 2/],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const out = join(dir, `${name}.sqlite`);
    await rejectsClearly(runExperiment({ config: config(dir, { dataset: file }), out, cacheFile: join(dir, 'c.sqlite') }), pattern);
    assert.ok(!existsSync(out), 'nothing half-written: the preflight read the rows before any file was made');
  }
});

test('a file that claims to be GGUF but is not is refused before any work', async () => {
  const dir = tempDir();
  const fake = join(dir, 'model.gguf');
  writeFileSync(fake, 'PK\u0003\u0004 this is a zip, not a model');
  const out = join(dir, 'gguf.sqlite');
  await rejectsClearly(runExperiment({ config: config(dir, { debater: `llamacpp:${fake}` }), out, cacheFile: join(dir, 'c.sqlite') }), /^debate\.debaters\[0\]: .*not a GGUF model/);
  assert.ok(!existsSync(out), 'found before any file was written');
});

test('a database from a newer w2s is refused and left byte for byte as it was', async () => {
  const dir = tempDir();
  const out = join(dir, 'future.sqlite');
  openStore(out).close();
  const db = openStore(out);
  db.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 'x')").run();
  db.db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const bytes = readFileSync(out);
  await rejectsClearly(runExperiment({ config: config(dir), out, cacheFile: join(dir, 'c.sqlite') }), /schema version 999.*upgrade w2s/);
  assert.ok(readFileSync(out).equals(bytes), 'the file is untouched');
  const cli = await runCli(['run', writeConfig(dir, smallConfig({ dataset: writeDataset(dir, 12), debater: `openai:m@${server.url}` })), '--out', out, '--cache', join(dir, 'c.sqlite')]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^w2s: Database .* newer than this w2s/m);
});

test('a failing write (a trigger that raises) fails the debates it hits, leaves the DB consistent, and --retry-failed recovers', async () => {
  const dir = tempDir();
  const out = join(dir, 'trigger.sqlite');
  openStore(out).close();
  const s = openStore(out);
  s.db.exec("CREATE TRIGGER no_turns BEFORE INSERT ON turns WHEN NEW.text LIKE '%crate 3%' OR NEW.text LIKE '%crate 5%' BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;");
  s.close();
  const cfg = config(dir);
  const first = await runExperiment({ config: cfg, out, cacheFile: join(dir, 'c.sqlite') });
  assert.equal(first.status, 'failed');
  assert.match(first.status === 'failed' ? first.reason : '', /simulated disk failure/);
  assertConsistent(out);
  const check = openStore(out);
  try {
    const debates = check.debates.listDebates(first.runId);
    const failed = debates.filter((d) => d.status === 'failed');
    assert.ok(failed.length > 0 && failed.length < debates.length, 'only the debates whose write failed are marked');
    for (const d of failed) assert.equal(check.debates.listTurns(d.id).length, 0, 'a failed write leaves no partial turn');
    check.db.exec('DROP TRIGGER no_turns');
  } finally {
    check.close();
  }
  const second = await runExperiment({ config: cfg, out, cacheFile: join(dir, 'c.sqlite'), retryFailed: true });
  assert.equal(second.status, 'completed');
  assertConsistent(out);
});

test('a read-only results folder gives a clear error', { skip: process.getuid?.() === 0 ? 'root ignores file modes' : false }, async () => {
  const dir = tempDir();
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  try {
    await rejectsClearly(runExperiment({ config: config(dir), out: join(ro, 'x.sqlite'), cacheFile: join(dir, 'c.sqlite') }), /Cannot open database/);
  } finally {
    chmodSync(ro, 0o755);
  }
});
