import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadExperiment } from '../../src/config/load.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { startFaultServer, type FaultKind } from '../helpers/fault-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, type CliRun, newestRunId, runCli, smallConfig, snapshot, spawnCli, waitFor, writeConfig, writeDataset } from './fixture.js';

/**
 * Crashes and interrupts of the real CLI process. A reference run, uninterrupted and in-process against the same
 * deterministic server, is what every interrupted-and-resumed run must reproduce row for row.
 */

const MODEL = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'models', 'stories260K.gguf');

function setup(dir: string, url: string, gateway: Record<string, unknown> = {}): { configFile: string } {
  const dataset = writeDataset(dir, 18);
  const config = smallConfig({ dataset, debater: `openai:m@${url}`, judge: `openai:m@${url}`, perSplit: 6, samples: 2, turns: 2, concurrency: 3 });
  Object.assign(config.gateway as Record<string, unknown>, gateway);
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
  /** While on, every model call hangs (no answer until the server closes). */
  hang: (on: boolean) => void;
}

/** Sets up a server, a config and its reference run, then runs body with the server slowed by delayMs. */
async function withCrashableRun(name: string, delayMs: number, body: (r: CrashableRun) => Promise<void>, gateway?: Record<string, unknown>): Promise<void> {
  const dir = tempDir();
  let delay = 0;
  let hanging = false;
  const server = await startFaultServer({ reply, delayMs: () => delay, schedule: () => (hanging ? new Array<FaultKind>(50).fill('hang') : []) });
  try {
    const { configFile } = setup(dir, server.url, gateway);
    const ref = await reference(dir, configFile);
    const out = join(dir, name);
    const args = ['run', configFile, '--out', out, '--cache', join(dir, 'cache.sqlite')];
    const before = posts(server);
    delay = delayMs;
    await body({ out, ref, args, sent: () => posts(server) - before, slow: (ms) => (delay = ms), hang: (on) => (hanging = on) });
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
  r.hang(false);
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

test('the first SIGINT lets calls in flight finish within the grace period, marks the run interrupted, exits 130; the next run resumes', async () => {
  await withCrashableRun('interrupted.sqlite', 300, async (r) => {
    const run = await signalWhen(r.args, () => r.sent() >= 4, 'debate calls', 'SIGINT');
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /^w2s: run \S+ stopped by Ctrl-C; run the same command again to resume$/m);
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

test('Ctrl-C with every call hung: no call or retry starts after it, the hung calls are cut off after the grace period, exit 130; the next run resumes', async () => {
  // A per-call timeout far longer than the grace: without the cut-off, the run would wait on each hung call.
  await withCrashableRun('hung.sqlite', 0, async (r) => {
    r.hang(true);
    const run = await signalWhen(r.args, () => r.sent() >= 3, 'three hung calls', 'SIGINT');
    await waitFor(() => /Stopping: no new calls start/.test(run.stderr()), 30_000, 'the stop message');
    const atStop = r.sent();
    assert.equal(await run.exited, 130, run.stderr());
    assert.equal(r.sent(), atStop, 'no call and no retry reached the server after Ctrl-C');
    const lines = run.stderr().split('\n').filter((l) => l.startsWith('w2s:'));
    assert.deepEqual(lines, [`w2s: run ${newestRunId(r.out)} stopped by Ctrl-C; run the same command again to resume`]);

    const store = openStore(r.out, { readonly: true });
    try {
      assert.equal(store.runs.listRuns()[0]!.status, 'interrupted');
      const cut = store.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE cache_hit = 0 AND error LIKE 'stopped by Ctrl-C%'").get() as { n: number };
      assert.equal(cut.n, atStop, 'each hung call was cut off and recorded as such');
      const failed = store.db.prepare("SELECT COUNT(*) AS n FROM debates WHERE status = 'failed'").get() as { n: number };
      assert.equal(failed.n, 0, 'a cut-off call fails no debate: the debates resume');
    } finally {
      store.close();
    }
    await restartToEnd(r);
  }, { timeoutMs: 120_000, stopGraceMs: 300 });
});

test('Ctrl-C while a trainer process runs stops it and marks the run interrupted with exit 130, not failed', async () => {
  const dir = tempDir();
  const server = await startFaultServer({ reply });
  try {
    const trainer = join(dir, 'slow-trainer.mjs');
    // Speaks the protocol's greeting and one progress line, then trains "forever" until it is stopped.
    writeFileSync(trainer, `
      console.log(JSON.stringify({ type: 'hello', protocol: 'w2s-trainer/1' }));
      console.log(JSON.stringify({ type: 'progress', step: 1, total_steps: 100, loss: 0.7 }));
      setInterval(() => {}, 1000);
    `);
    const config = smallConfig({ dataset: writeDataset(dir, 18), debater: `openai:m@${server.url}`, perSplit: 6 });
    config.weak = { ...(config.weak as object), backend: 'hf', hf: { baseModel: MODEL, command: [process.execPath, trainer] } };
    const out = join(dir, 'training.sqlite');
    const run = await signalWhen(['run', writeConfig(dir, config), '--out', out, '--no-cache'], (r) => /training weak/.test(r.stderr()), 'the trainer to start', 'SIGINT');
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /^w2s: run \S+ stopped by Ctrl-C; run the same command again to resume$/m);
    assert.doesNotMatch(run.stderr(), /AbortError/);
    const store = openStore(out, { readonly: true });
    try {
      assert.equal(store.runs.listRuns()[0]!.status, 'interrupted');
    } finally {
      store.close();
    }
  } finally {
    await server.close();
  }
});
