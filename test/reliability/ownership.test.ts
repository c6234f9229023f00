import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { loadExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { dbInfo, openStore, SCHEMA_VERSION, STOPPED_STATUS, W2S_APPLICATION_ID } from '../../src/store/index.js';
import { startFaultServer } from '../helpers/fault-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { type CliRun, isProbeRequest, newestRunId, runCli, smallConfig, spawnCli, waitFor, writeConfig, writeDataset } from './fixture.js';

/**
 * One owner per run (a lease), a killed run shown as stopped rather than running forever, and another program's
 * SQLite file left alone: each through the real CLI.
 */

/** Answers that differ per sampling seed, so no two requests of a run are the same. */
const reply = (req: SeenRequest): string =>
  (req.body?.messages ?? []).some((m: { role: string }) => m.role === 'system') ? `Argument drawn with seed ${req.body.seed}: my side holds.` : 'A';

/** Model calls, the judge's capability probe left out (the reference run makes it; later runs reuse its finding). */
const posts = (server: { requests: SeenRequest[] }) => server.requests.filter((r) => r.method === 'POST' && !isProbeRequest(r)).length;

interface Setup {
  dir: string;
  configFile: string;
  /** `w2s run` arguments for a fresh database and cache. */
  args: string[];
  out: string;
  /** POSTs a whole run makes (from an uninterrupted reference run into its own database and cache). */
  perRun: number;
  /** POSTs the server has received since the reference run. */
  sent: () => number;
  /** Sets the server's delay before each answer. */
  slow: (ms: number) => void;
}

async function withServer(body: (s: Setup) => Promise<void>): Promise<void> {
  const dir = tempDir('w2s-own-');
  let delay = 0;
  const server = await startFaultServer({ reply, delayMs: () => delay });
  try {
    const dataset = writeDataset(dir, 18);
    const config = smallConfig({ dataset, debater: `openai:m@${server.url}`, judge: `openai:m@${server.url}`, perSplit: 6, samples: 2, turns: 2, concurrency: 3 });
    const configFile = writeConfig(dir, config);
    const ref = await runExperiment({ config: loadExperiment(configFile), out: join(dir, 'reference.sqlite'), cacheFile: join(dir, 'reference-cache.sqlite') });
    assert.equal(ref.status, 'completed');
    const perRun = posts(server);
    assert.ok(perRun > 20, `the reference run made ${perRun} calls`);
    const out = join(dir, 'out.sqlite');
    await body({
      dir, configFile, out, perRun,
      args: ['run', configFile, '--out', out, '--cache', join(dir, 'cache.sqlite')],
      sent: () => posts(server) - perRun,
      slow: (ms) => (delay = ms),
    });
  } finally {
    await server.close();
  }
}

/** Waits until a finished process's output has been read to the end ('exit' can come before the last bytes). */
const drained = (r: CliRun): Promise<unknown> =>
  r.child.stdout!.readableEnded && r.child.stderr!.readableEnded ? Promise.resolve() : new Promise((res) => r.child.once('close', res));

const lines = (s: string): string[] => s.trim().split('\n').filter(Boolean);
/** The CLI's error lines ("w2s: …"), after checking that no stack trace was printed (other lines are progress notes). */
const errors = (stderr: string): string[] => {
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  return lines(stderr).filter((l) => l.startsWith('w2s:'));
};

test('two `w2s run` of one config on one --out started together: one runs, the other refuses naming it; the backend is paid once', async () => {
  await withServer(async (s) => {
    s.slow(150);
    const a = spawnCli(s.args);
    const b = spawnCli(s.args);
    // Fast again once one of them has given up, so the other finishes quickly.
    const first = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
    s.slow(0);
    const [codeA, codeB] = await Promise.all([a.exited, b.exited]);
    await Promise.all([drained(a), drained(b)]);
    const winner = codeA === 0 ? a : b;
    const loser = winner === a ? b : a;
    assert.deepEqual([codeA, codeB].sort(), [0, 1], `exit codes ${codeA}, ${codeB}\n${a.stderr()}\n${b.stderr()}`);
    assert.equal(first, loser, 'the refused process ends at once');
    const said = errors(loser.stderr());
    assert.equal(said.length, 1, loser.stderr());
    assert.match(said[0]!, new RegExp(`Run \\S+ is being run by process ${winner.child.pid} on host \\S+ \\(since .*last heartbeat \\d+ s ago\\); wait for it to finish, or pass --wait`));
    assert.equal(s.sent(), s.perRun, 'the backend received exactly the calls of one run');
    const store = openStore(s.out, { readonly: true });
    try {
      assert.deepEqual(store.runs.listRuns().map((r) => r.status), ['completed']);
      assert.equal(store.leases.get(store.runs.listRuns()[0]!.id), undefined, 'the lease is released at the end');
    } finally {
      store.close();
    }
  });
});

test('with --wait the second process waits for the owner, then resumes the finished run with no backend calls', async () => {
  await withServer(async (s) => {
    s.slow(150);
    const a = spawnCli(s.args);
    await waitFor(() => s.sent() >= 3, 30_000, 'the first run to start calling');
    const b = spawnCli([...s.args, '--wait']);
    await waitFor(() => /waiting for it to finish/.test(b.stderr()), 30_000, 'the second run to wait');
    assert.match(b.stderr(), new RegExp(`being run by process ${a.child.pid}`));
    s.slow(0);
    assert.equal(await a.exited, 0, a.stderr());
    const afterFirst = s.sent();
    assert.equal(afterFirst, s.perRun);
    assert.equal(await b.exited, 0, b.stderr());
    await drained(b);
    assert.equal(s.sent(), afterFirst, 'the waiting run made no backend calls');
    assert.match(b.stdout(), /Run \S+ \(/, 'and printed the result table');
  });
});

test('a SIGKILLed run shows as "stopped (process gone)" in every view, and the next `w2s run` takes it over and completes', async () => {
  await withServer(async (s) => {
    s.slow(40);
    const killed = spawnCli(s.args);
    await waitFor(() => s.sent() >= 10, 30_000, 'debate calls');
    killed.child.kill('SIGKILL');
    assert.equal(await killed.exited, 'SIGKILL');

    const text = await runCli(['runs', s.out]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /stopped \(process gone\)/);
    assert.match(text.stdout, /run the same command again to resume/);
    const json = await runCli(['runs', s.out, '--json']);
    const [run] = JSON.parse(json.stdout) as { status: string; hint: string }[];
    assert.equal(run!.status, STOPPED_STATUS);
    assert.match(run!.hint, /run the same command again to resume/);
    assert.equal(dbInfo(s.out).runs[0]!.status, STOPPED_STATUS);
    const info = await runCli(['db', 'info', s.out]);
    assert.match(info.stdout, /stopped \(process gone\)/);

    s.slow(0);
    const again = await runCli(s.args);
    assert.equal(again.code, 0, again.stderr);
    const after = await runCli(['runs', s.out, '--json']);
    assert.equal((JSON.parse(after.stdout) as { status: string }[])[0]!.status, 'completed');
  });
});

/** Another program's SQLite file: a meta table (as w2s has) and one of its own, with rows. */
function foreignDb(file: string, wal = false): void {
  const db = new Database(file);
  if (wal) db.pragma('journal_mode = WAL');
  db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE bookmarks (url TEXT); INSERT INTO meta VALUES ('app', 'notes'); INSERT INTO bookmarks VALUES ('https://example.org')");
  db.close();
}

const sidecars = (file: string) => [`${file}-wal`, `${file}-shm`, `${file}-journal`].filter(existsSync);

test('`w2s run --out` at another program\'s SQLite file is refused in one line and leaves the file byte for byte as it was', async () => {
  const dir = tempDir('w2s-foreign-');
  const configFile = writeConfig(dir, smallConfig({ dataset: writeDataset(dir, 12), debater: 'openai:m@http://127.0.0.1:9' }));
  for (const wal of [false, true]) {
    const file = join(dir, `foreign-${wal ? 'wal' : 'rollback'}.sqlite`);
    foreignDb(file, wal);
    const bytes = readFileSync(file);
    const r = await runCli(['run', configFile, '--out', file, '--cache', join(dir, 'cache.sqlite')]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(errors(r.stderr), [`w2s: Database ${file} is not a w2s file (it holds tables of another program: bookmarks, meta); choose a new file, or one written by w2s.`]);
    assert.ok(readFileSync(file).equals(bytes), 'the file is unchanged');
    assert.deepEqual(sidecars(file), [], 'no -wal, -shm or journal left beside it');
    for (const args of [['runs', file], ['db', 'info', file], ['report', file, '--out', join(dir, 'report.html')]]) {
      const ro = await runCli(args);
      assert.equal(ro.code, 1, `${args.join(' ')}: ${ro.stderr}`);
      assert.deepEqual(lines(ro.stderr), [`w2s: Database ${file} is not a w2s file (it holds tables of another program: bookmarks, meta); pass the path of a file written by w2s.`]);
    }
    assert.ok(readFileSync(file).equals(bytes), 'still unchanged after the read-only commands');
    assert.deepEqual(sidecars(file), []);
    assert.equal(new Database(file, { readonly: true }).pragma('journal_mode', { simple: true }), wal ? 'wal' : 'delete');
  }
});

test('w2s files: new ones are stamped; an unstamped file from an older w2s (schema 2) opens and is stamped on migration; empty files are fine', () => {
  const dir = tempDir('w2s-appid-');
  const appId = (f: string) => {
    const db = new Database(f, { readonly: true });
    try {
      return db.pragma('application_id', { simple: true });
    } finally {
      db.close();
    }
  };
  const fresh = join(dir, 'fresh.sqlite');
  openStore(fresh).close();
  assert.equal(appId(fresh), W2S_APPLICATION_ID);

  // Schema 2 as an older w2s wrote it: no application_id.
  const old = join(dir, 'old.sqlite');
  const raw = new Database(old);
  raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
    raw.exec(m.sql);
    raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 'then');
  }
  raw.prepare("INSERT INTO meta VALUES ('w2s_version', '0.1.0')").run();
  raw.prepare("INSERT INTO runs (id, config_json, config_hash, w2s_version, status, created_at, updated_at) VALUES ('r', '{}', 'h', '0.1.0', 'completed', 'then', 'then')").run();
  raw.close();
  assert.equal(appId(old), 0);
  // Read-only it is recognised as ours (too old to read, not foreign).
  assert.throws(() => openStore(old, { readonly: true }), (e: unknown) => e instanceof UserError && /schema version 2, older/.test(e.message));
  const s = openStore(old);
  try {
    assert.equal(s.runs.getRun('r')?.status, 'completed');
  } finally {
    s.close();
  }
  assert.equal(appId(old), W2S_APPLICATION_ID);
  assert.equal(dbInfo(old).schemaVersion, SCHEMA_VERSION);

  // An empty file, and a SQLite file without tables, become w2s files.
  const empty = join(dir, 'empty.sqlite');
  writeFileSync(empty, '');
  openStore(empty).close();
  assert.equal(appId(empty), W2S_APPLICATION_ID);
  const blank = join(dir, 'blank.sqlite');
  const b = new Database(blank);
  b.pragma('user_version = 0');
  b.exec('VACUUM');
  b.close();
  openStore(blank).close();
  assert.equal(appId(blank), W2S_APPLICATION_ID);

  // Another program's file with its own application_id and no tables is still not ours.
  const other = join(dir, 'other.sqlite');
  const o = new Database(other);
  o.pragma('application_id = 1234');
  o.close();
  assert.throws(() => openStore(other), (e: unknown) => e instanceof UserError && /is not a w2s file \(its application id is 1234/.test(e.message));
});

test('`--cache` at another program\'s SQLite file is refused before the run\'s database is touched: a finished run stays finished, a new one is not created', async () => {
  const dir = tempDir('w2s-foreign-cache-');
  const configFile = writeConfig(dir, smallConfig({ dataset: writeDataset(dir, 12), debater: 'scripted:echo' }));
  const out = join(dir, 'done.sqlite');
  const first = await runCli(['run', configFile, '--out', out, '--cache', join(dir, 'cache.sqlite')]);
  assert.equal(first.code, 0, first.stderr);
  const foreign = join(dir, 'notes.sqlite');
  foreignDb(foreign, false);
  const refusal = `w2s: Database ${foreign} is not a w2s file (it holds tables of another program: bookmarks, meta); choose a new file, or one written by w2s.`;
  const rerun = await runCli(['run', configFile, '--out', out, '--cache', foreign]);
  assert.equal(rerun.code, 1, rerun.stderr);
  assert.deepEqual(errors(rerun.stderr), [refusal]);
  const store = openStore(out, { readonly: true });
  try {
    assert.equal(store.runs.listRuns()[0]!.status, 'completed', 'the finished run was not marked failed');
  } finally {
    store.close();
  }
  const fresh = await runCli(['run', configFile, '--out', join(dir, 'new.sqlite'), '--cache', foreign]);
  assert.equal(fresh.code, 1);
  assert.ok(!existsSync(join(dir, 'new.sqlite')), 'no database made for a run that cannot start');
});

test('a process that loses its lease to another (as if it were dead) stops at its next heartbeat and leaves the run alone', async () => {
  await withServer(async (s) => {
    // Slow enough that the run is still going at its next heartbeat (every 10 s).
    s.slow(1_000);
    const run = spawnCli(s.args);
    await waitFor(() => s.sent() >= 3, 30_000, 'debate calls');
    // Another process takes the lease over, as it would from a holder it judged dead.
    const db = new Database(s.out);
    db.pragma('busy_timeout = 10000');
    db.prepare("UPDATE run_leases SET token = 'taken-over', pid = ?").run(process.pid);
    db.close();
    const code = await run.exited;
    assert.equal(code, 1, run.stderr());
    assert.deepEqual(errors(run.stderr()), [`w2s: run ${newestRunId(s.out)} failed: another process took the run over (this one looked dead to it); this process stopped and left the run to it`]);
    const store = openStore(s.out, { readonly: true });
    try {
      assert.equal(store.runs.listRuns()[0]!.status, 'running', 'the status is the new owner\'s to write');
      assert.equal(store.leases.get(store.runs.listRuns()[0]!.id)?.token, 'taken-over', 'the new owner\'s lease is untouched');
      const failed = store.db.prepare("SELECT COUNT(*) AS n FROM debates WHERE status = 'failed'").get() as { n: number };
      assert.equal(failed.n, 0, 'nothing marked failed on the way out');
    } finally {
      store.close();
    }
  });
});
