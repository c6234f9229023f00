import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadExperiment } from '../../src/config/load.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { startFaultServer } from '../helpers/fault-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, type CliRun, runCli, smallConfig, snapshot, spawnCli, waitFor, writeConfig, writeDataset } from './fixture.js';

/**
 * Crashes and interrupts of the real CLI process. A reference run, uninterrupted and in-process against the same
 * deterministic server, is what every interrupted-and-resumed run must reproduce row for row.
 */

function setup(dir: string, url: string): { configFile: string } {
  const dataset = writeDataset(dir, 18);
  const config = smallConfig({ dataset, debater: `openai:m@${url}`, judge: `openai:m@${url}`, perSplit: 6, samples: 2, turns: 2, concurrency: 3 });
  // Training long enough that a kill can land inside it.
  (config.weak as { probe: { epochs: number } }).probe.epochs = 400;
  (config.strong as { probe: { epochs: number } }).probe.epochs = 400;
  return { configFile: writeConfig(dir, config) };
}

async function reference(dir: string, configFile: string) {
  const out = join(dir, 'reference.sqlite');
  const outcome = await runExperiment({ config: loadExperiment(configFile), out, cacheFile: join(dir, 'reference-cache.sqlite') });
  assert.equal(outcome.status, 'completed');
  return out;
}

/**
 * Answers that differ per sampling seed, as real sampled text does (the echo server's answers, cut by the word
 * limit, would make two transcripts identical and so two judge requests the same).
 */
const reply = (req: SeenRequest): string =>
  (req.body?.messages ?? []).some((m: { role: string }) => m.role === 'system') ? `Argument drawn with seed ${req.body.seed}: my side holds.` : 'A';

const posts = (server: { requests: { method: string }[] }) => server.requests.filter((r) => r.method === 'POST').length;

function stagesDone(file: string): string[] {
  const store = openStore(file, { readonly: true });
  try {
    return (store.db.prepare('SELECT name FROM stages').all() as { name: string }[]).map((r) => r.name);
  } finally {
    store.close();
  }
}

function assertSameAsReference(out: string, ref: string): void {
  const got = snapshot(out);
  const want = snapshot(ref);
  assert.deepEqual(got.counts, want.counts, 'the same number of rows in every table: no duplicates, nothing missing');
  assert.deepEqual(got.turns, want.turns, 'the same transcripts');
  assert.deepEqual(got.judgments, want.judgments, 'the same judgments');
  assert.deepEqual(got.predictions, want.predictions, 'the same predictions');
  assert.deepEqual(got.metrics, want.metrics, 'the same metrics');
  // No call repeated for finished work: each request reached the backend (successfully) once, as in the reference.
  const calls = backendCallsByHash(out);
  const refCalls = backendCallsByHash(ref);
  for (const [hash, n] of calls) assert.equal(n, 1, `request ${hash.slice(0, 12)} was paid for ${n} times`);
  assert.deepEqual([...calls.keys()].sort(), [...refCalls.keys()].sort(), 'the same set of requests as the uninterrupted run');
}

/** A run of the shared config into a fresh database, after the reference run it must reproduce. */
interface CrashableRun {
  out: string;
  ref: string;
  /** `w2s run` arguments for out, with its own cache. */
  args: string[];
  /** Requests the server has received since the reference run. */
  sent: () => number;
  /** Sets the server's delay before each answer (0: answers at once). */
  slow: (ms: number) => void;
}

/** Sets up a server, a config and its reference run, then runs body with the server slowed by delayMs. */
async function withCrashableRun(name: string, delayMs: number, body: (r: CrashableRun) => Promise<void>): Promise<void> {
  const dir = tempDir();
  let delay = 0;
  const server = await startFaultServer({ reply, delayMs: () => delay });
  try {
    const { configFile } = setup(dir, server.url);
    const ref = await reference(dir, configFile);
    const out = join(dir, name);
    const args = ['run', configFile, '--out', out, '--cache', join(dir, 'cache.sqlite')];
    const before = posts(server);
    delay = delayMs;
    await body({ out, ref, args, sent: () => posts(server) - before, slow: (ms) => (delay = ms) });
  } finally {
    await server.close();
  }
}

/** Starts `w2s <args>`, waits until ready() holds, then sends signal; returns the process to check how it ended. */
async function signalWhen(args: string[], ready: (run: CliRun) => boolean, what: string, signal: NodeJS.Signals): Promise<CliRun> {
  const run = spawnCli(args);
  await waitFor(() => ready(run), 30_000, what);
  run.child.kill(signal);
  return run;
}

/** Runs to the end at full speed and checks the database against the reference run. */
async function restartToEnd(r: CrashableRun): Promise<void> {
  r.slow(0);
  const last = await runCli(r.args);
  assert.equal(last.code, 0, last.stderr);
  assertSameAsReference(r.out, r.ref);
}

test('SIGKILL mid-debate and again mid-training, then a restart, gives the database an uninterrupted run gives', async () => {
  await withCrashableRun('crashed.sqlite', 40, async (r) => {
    // 1. Killed while debating: some turns stored, calls in flight lost with the process.
    const first = await signalWhen(r.args, () => r.sent() >= 10, 'debate calls', 'SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    assert.ok(!stagesDone(r.out).includes('debates'), 'the kill landed inside the debates stage');

    // 2. Killed while training.
    const second = await signalWhen(r.args, (run) => /▶ train_weak_ensemble/.test(run.stderr()), 'the training stage', 'SIGKILL');
    assert.equal(await second.exited, 'SIGKILL');
    const stages = stagesDone(r.out);
    assert.ok(stages.includes('debates') && !stages.includes('train_strong'), `the kill landed inside training (done: ${stages.join(', ')})`);

    // 3. Restart to the end.
    await restartToEnd(r);
  });
});

test('the first SIGINT lets calls in flight finish, marks the run interrupted, exits 130; the next run resumes', async () => {
  await withCrashableRun('interrupted.sqlite', 300, async (r) => {
    const run = await signalWhen(r.args, () => r.sent() >= 4, 'debate calls', 'SIGINT');
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /interrupted/);
    const sent = r.sent();
    r.slow(0);

    const store = openStore(r.out, { readonly: true });
    try {
      const row = store.runs.listRuns()[0]!;
      assert.equal(row.status, 'interrupted');
      // Every request the server received was answered and recorded: nothing in flight was cut off.
      const rows = store.db.prepare('SELECT COUNT(*) AS n FROM calls WHERE cache_hit = 0 AND error IS NULL').get() as { n: number };
      assert.equal(rows.n, sent, 'each call in flight finished and reached the ledger');
      const turns = store.db.prepare('SELECT COUNT(*) AS n FROM turns').get() as { n: number };
      assert.ok(turns.n > 0 && turns.n < snapshot(r.ref).counts.turns!, 'stopped part-way through the debates');
    } finally {
      store.close();
    }

    await restartToEnd(r);
  });
});
