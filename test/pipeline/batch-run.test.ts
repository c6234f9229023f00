/**
 * Whole runs through the OpenAI Batch API, against a loopback server that speaks the Files and Batches wire formats
 * (test/helpers/batch-server.ts) and answers each request as its direct endpoint would. A run whose debater and judge
 * batch gives the same transcripts, judgments, predictions and metrics as the same run without batching; it sends a
 * debate turn for every example in one batch, then the next turn, and all judge calls in one; its ledger has one row
 * per call at half the price; a run killed while a batch is in progress resumes by polling it and submits nothing new;
 * error lines and an expired batch fall back to ordinary calls; a cached rerun makes no request at all; the budget
 * counts batched requests before they go out; batched embeddings are fetched ahead, one batch per training stage.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { configHash, parseExperiment } from '../../src/config/load.js';
import type { ProgressEvent } from '../../src/pipeline/progress.js';
import { runExperiment, runIdOf, type RunOptions } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { isProbeRequest, smallConfig, snapshot, spawnCli, waitFor, writeConfig, writeDataset } from '../reliability/fixture.js';
import { closedAfterFile } from '../helpers/closed-after.js';

const dir = tempDir('w2s-batch-run-');
const data = writeDataset(dir, 24);
const server = closedAfterFile(startBatchServer);

/** Examples per split, and the work the config below asks for. */
const PER_SPLIT = 4;
const DEBATES = 3 * PER_SPLIT; // one transcript per example
const JUDGMENTS = 2 * 2 * PER_SPLIT; // train_strong and test, both presentations
const TURNS = 2;

let n = 0;
function paths(): { out: string; cacheFile: string } {
  n++;
  return { out: join(dir, `run-${n}.sqlite`), cacheFile: join(dir, `cache-${n}.sqlite`) };
}

/** The small config, its debater and judge on the server; batch: whether their refs say "batch": true. */
function config(url: string, batch: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const spec = `openai:m@${url}`;
  const ref = batch ? { spec, batch: true } : spec;
  const raw = smallConfig({ dataset: data, debater: spec, judge: spec, perSplit: PER_SPLIT, turns: TURNS, name: 'batched', maxAttempts: 2 });
  (raw.debate as Record<string, unknown>).debaters = [ref];
  (raw.judges as Record<string, unknown>[])[0]!.model = ref;
  Object.assign(raw.gateway as Record<string, unknown>, { batchPollMs: 10, prices: { [spec]: { inputPerMTok: 2, outputPerMTok: 8 } } });
  return { ...raw, ...extra };
}

/** Runs in process and keeps its progress events. */
async function run(raw: Record<string, unknown>, p: { out: string; cacheFile: string }, extra: Partial<RunOptions> = {}) {
  const events: ProgressEvent[] = [];
  const outcome = await runExperiment({ config: parseExperiment(raw), ...p, progress: (e) => events.push(e), ...extra });
  return { outcome, events, messages: events.flatMap((e) => (e.message ? [e.message] : [])) };
}

const notProbe = (r: SeenRequest) => !isProbeRequest(r);
const since = (s: BatchServer, from: number) => s.requests.slice(from).filter(notProbe);
const count = (reqs: SeenRequest[], method: string, path: string) => reqs.filter((r) => r.method === method && r.path === path).length;

/** Paid ledger rows (not hits, not errors) by request hash: [cost, count]. */
function paid(file: string): Map<string, { cost: number; n: number }> {
  const store = openStore(file, { readonly: true });
  try {
    const rows = store.db.prepare('SELECT request_hash AS h, SUM(cost_usd) AS cost, COUNT(*) AS n FROM calls WHERE cache_hit = 0 AND error IS NULL GROUP BY request_hash').all() as { h: string; cost: number; n: number }[];
    return new Map(rows.map((r) => [r.h, { cost: r.cost, n: r.n }]));
  } finally {
    store.close();
  }
}

function sameResults(out: string, ref: string): void {
  const got = snapshot(out);
  const want = snapshot(ref);
  assert.deepEqual(got.counts, want.counts, 'the same number of rows in every table');
  assert.deepEqual(got.turns, want.turns, 'the same transcripts');
  assert.deepEqual(got.judgments, want.judgments, 'the same judgments');
  assert.deepEqual(got.predictions, want.predictions, 'the same predictions');
  assert.deepEqual(got.metrics, want.metrics, 'the same metrics');
}

// One server for the reference and the batched run: same specs, so the same run id and the same requests.
let shared: { s: BatchServer; ref: string; batched: { out: string; cacheFile: string }; batchedEvents: string[] } | undefined;
async function referenceAndBatched() {
  if (shared) return shared;
  const s = await server();
  const refPaths = paths();
  const reference = await run(config(s.url, false), refPaths);
  assert.equal(reference.outcome.status, 'completed', `the reference run completes: ${JSON.stringify(reference.outcome)}`);
  const from = s.requests.length;
  const batched = paths();
  const r = await run(config(s.url, true), batched);
  assert.equal(r.outcome.status, 'completed', `the batched run completes: ${JSON.stringify(r.outcome)}`);
  shared = { s, ref: refPaths.out, batched, batchedEvents: r.messages };
  (shared as { from?: number }).from = from;
  return shared;
}

test('a run whose debater and judge batch gives the same transcripts, judgments and numbers as the run without batching', async () => {
  const { s, ref, batched } = await referenceAndBatched();
  const from = (shared as unknown as { from: number }).from;
  assert.equal(runIdOf(parseExperiment(config(s.url, true))), runIdOf(parseExperiment(config(s.url, false))), '"batch" is not part of the run\'s identity');
  assert.equal(configHash(parseExperiment(config(s.url, true))), configHash(parseExperiment(config(s.url, false))), 'nor of its config hash');
  sameResults(batched.out, ref);
  const sent = since(s, from);
  assert.equal(count(sent, 'POST', '/v1/chat/completions'), 0, 'no direct chat call: every call went in a batch');
  assert.equal(count(sent, 'POST', '/v1/batches'), TURNS + 1, 'one batch per debate turn, one for the judge');
  assert.equal(count(sent, 'POST', '/v1/files'), TURNS + 1, 'one file per batch');
  const batches = [...s.batches.values()];
  assert.deepEqual(batches.map((b) => b.lines.length), [DEBATES, DEBATES, JUDGMENTS], 'turn 0 of every debate, then turn 1, then every judge call');
  assert.ok(batches.every((b) => b.status === 'completed'), 'all completed');
});

test('the ledger: one row per batched call, at half the price of the same call made directly', async () => {
  const { ref, batched } = await referenceAndBatched();
  const direct = paid(ref);
  const viaBatch = paid(batched.out);
  assert.equal(viaBatch.size, DEBATES * TURNS + JUDGMENTS, 'one paid row per request');
  assert.deepEqual([...viaBatch.keys()].sort(), [...direct.keys()].sort(), 'the same requests as the direct run');
  for (const [hash, b] of viaBatch) {
    assert.equal(b.n, 1, `request ${hash.slice(0, 12)}: one row`);
    const d = direct.get(hash)!;
    assert.ok(d.cost > 0, `request ${hash.slice(0, 12)}: the direct call costs something`);
    assert.ok(Math.abs(b.cost - d.cost / 2) < 1e-15, `request ${hash.slice(0, 12)}: batched ${b.cost} is half of ${d.cost}`);
  }
  const store = openStore(batched.out, { readonly: true });
  try {
    const stored = store.batches.listBatches(runIdOf(parseExperiment(config(shared!.s.url, true))));
    assert.equal(stored.length, TURNS + 1, 'every batch is stored with the run');
    assert.ok(stored.every((b) => b.status === 'done' && b.batchId !== null), 'each with its provider id, marked read');
    const turns = store.db.prepare('SELECT t.call_id AS id, c.cache_hit AS hit FROM turns t JOIN calls c ON c.id = t.call_id').all() as { id: number; hit: number }[];
    assert.equal(turns.length, DEBATES * TURNS, 'every turn points at its ledger row');
    assert.ok(turns.every((t) => t.hit === 0), 'the paid row, not a cache hit');
  } finally {
    store.close();
  }
});

test('progress shows each batch\'s status and counts', async () => {
  const { batchedEvents, s } = await referenceAndBatched();
  const spec = `openai:m@${s.url}`;
  const first = [...s.batches.values()][0]!.id;
  assert.ok(batchedEvents.includes(`batch ${first} (${spec}, ${DEBATES} chat requests): submitted`), `submitted: ${batchedEvents.join(' | ')}`);
  assert.ok(batchedEvents.includes(`batch ${first} (${spec}, ${DEBATES} chat requests): in_progress, 0/${DEBATES} done`), 'in progress with its counts');
  assert.ok(batchedEvents.includes(`batch ${first} (${spec}, ${DEBATES} chat requests): completed, ${DEBATES}/${DEBATES} done`), 'completed with its counts');
  assert.ok(batchedEvents.includes(`batch ${first} (${spec}, ${DEBATES} chat requests): read, ${DEBATES} answered`), 'read');
  assert.ok(batchedEvents.includes(`batches: ${TURNS + 1} submitted, 0 resumed; ${DEBATES * TURNS + JUDGMENTS} requests answered`), 'the summary line');
});

test('a cached rerun into a new database makes no request at all', async () => {
  const { s, batched } = await referenceAndBatched();
  const before = s.requests.length;
  const r = await run(config(s.url, true), { out: join(dir, 'rerun.sqlite'), cacheFile: batched.cacheFile });
  assert.equal(r.outcome.status, 'completed', 'the rerun completes');
  assert.equal(s.requests.length, before, 'no request reached the server: cached requests are never batched');
  sameResults(join(dir, 'rerun.sqlite'), batched.out);
});

test('error lines fall back to ordinary calls, counted; the results are unchanged', async () => {
  const s = await server({ plan: () => ({ lineError: (i) => (i === 0 ? { status: 500, code: 'server_error', message: 'planned' } : undefined) }) });
  const ref = paths();
  assert.equal((await run(config(s.url, false), ref)).outcome.status, 'completed', 'the reference completes');
  const from = s.requests.length;
  const p = paths();
  const r = await run(config(s.url, true), p);
  assert.equal(r.outcome.status, 'completed', `the batched run completes: ${JSON.stringify(r.outcome)}`);
  sameResults(p.out, ref.out);
  const sent = since(s, from);
  assert.equal(count(sent, 'POST', '/v1/batches'), TURNS + 1, 'the same batches');
  assert.equal(count(sent, 'POST', '/v1/chat/completions'), TURNS + 1, 'one ordinary call per batch: its failed line');
  assert.ok(r.messages.includes(`batches: ${TURNS + 1} submitted, 0 resumed; ${DEBATES * TURNS + JUDGMENTS - (TURNS + 1)} requests answered, ${TURNS + 1} made as ordinary calls`), `counted: ${r.messages.at(-1)}`);
  const store = openStore(p.out, { readonly: true });
  try {
    const failed = store.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE error LIKE '%server_error: planned%'").get() as { n: number };
    assert.equal(failed.n, TURNS + 1, 'each failed line is a failed call in the ledger');
  } finally {
    store.close();
  }
});

test('an expired batch: all its requests fall back to ordinary calls', async () => {
  const s = await server({ plan: (i) => (i === 0 ? { end: 'expired' } : {}) });
  const ref = paths();
  assert.equal((await run(config(s.url, false), ref)).outcome.status, 'completed', 'the reference completes');
  const from = s.requests.length;
  const p = paths();
  const r = await run(config(s.url, true), p);
  assert.equal(r.outcome.status, 'completed', 'the batched run completes');
  sameResults(p.out, ref.out);
  const sent = since(s, from);
  assert.equal(count(sent, 'POST', '/v1/chat/completions'), DEBATES, 'every request of the expired first batch made as an ordinary call');
  assert.equal([...s.batches.values()][0]!.status, 'expired', 'the first batch expired');
});

test('a run killed while a batch is in progress resumes by polling it and submits nothing new', async () => {
  let hold = true;
  const s = await server({ plan: (i) => (i === 0 ? { hold } : {}) });
  const ref = paths();
  assert.equal((await run(config(s.url, false), ref)).outcome.status, 'completed', 'the reference completes');
  // The CLI with --batch: plain spec strings in the config, every openai model batched.
  const file = writeConfig(dir, config(s.url, false), 'kill.json');
  const p = paths();
  const child = spawnCli(['run', file, '--batch', '--out', p.out, '--cache', p.cacheFile]);
  await waitFor(() => [...s.batches.values()].some((b) => b.status === 'in_progress'), 60_000, 'the first batch in progress');
  const polled = () => s.requests.filter((r) => r.method === 'GET' && r.path === '/v1/batches/batch_1').length;
  const pollsBefore = polled();
  await waitFor(() => polled() > pollsBefore, 30_000, 'one more poll while in progress');
  child.child.kill('SIGKILL');
  await child.exited;
  assert.equal(s.count('POST', '/v1/batches'), 1, 'one batch created before the kill');
  hold = false;
  s.release();
  const afterKill = polled();
  const resumed = spawnCli(['run', file, '--batch', '--out', p.out, '--cache', p.cacheFile]);
  const code = await resumed.exited;
  assert.equal(code, 0, `the resumed run completes: ${resumed.stderr()}`);
  assert.ok(polled() > afterKill, 'the resume polled the stored batch');
  assert.equal(s.count('POST', '/v1/batches'), TURNS + 1, 'and created only the batches not yet submitted: turn 1 and the judge');
  assert.equal(s.count('POST', '/v1/files'), TURNS + 1, 'no file uploaded twice');
  assert.match(resumed.stderr(), /batch batch_1 \(openai:m@\S+, 12 chat requests\): resumed/, 'progress says it resumed the batch');
  assert.match(resumed.stderr(), /batches: 2 submitted, 1 resumed/, 'and counts it');
  sameResults(p.out, ref.out);
  for (const [hash, v] of paid(p.out)) assert.equal(v.n, 1, `request ${hash.slice(0, 12)} paid once`);
});

test('the budget counts batched requests before they are submitted; a resume with more finishes the run', async () => {
  const s = await server();
  const p = paths();
  const first = await run(config(s.url, true), p, { maxCalls: 5 });
  assert.equal(first.outcome.status, 'budget', `the run stops on its budget: ${JSON.stringify(first.outcome)}`);
  assert.deepEqual([...s.batches.values()].map((b) => b.lines.length), [5], 'one batch of the five requests the budget allows');
  const second = await run(config(s.url, true), p, { maxCalls: 1000 });
  assert.equal(second.outcome.status, 'completed', 'a higher limit finishes it');
  // The five debates whose turn 0 is cached ask for turn 1 while the other seven ask for turn 0: one batch of both.
  assert.deepEqual(
    [...s.batches.values()].map((b) => b.lines.length),
    [5, DEBATES, DEBATES - 5, JUDGMENTS],
    'then the rest of turn 0 with turn 1 of the first five, turn 1 of the rest, and the judge',
  );
});

test('batched embeddings are fetched ahead: one batch per training stage that embeds, no direct embeddings call', async () => {
  const s = await server();
  const spec = `openai:m@${s.url}`;
  const raw = config(s.url, false);
  (raw.weak as Record<string, unknown>).features = { kind: 'embedding', model: { spec, batch: true } };
  const ref = paths();
  const direct = await run({ ...raw, weak: { ...(raw.weak as object), features: { kind: 'embedding', model: spec } } }, ref);
  assert.equal(direct.outcome.status, 'completed', 'the direct run completes');
  const from = s.requests.length;
  const p = paths();
  const r = await run(raw, p);
  assert.equal(r.outcome.status, 'completed', `the batched run completes: ${JSON.stringify(r.outcome)}`);
  sameResults(p.out, ref.out);
  const sent = since(s, from);
  assert.equal(count(sent, 'POST', '/v1/embeddings'), 0, 'no direct embeddings call');
  assert.equal(count(sent, 'POST', '/v1/chat/completions'), DEBATES * TURNS + JUDGMENTS, 'the debater and judge called directly');
  const embeddingBatches = [...s.batches.values()].filter((b) => b.endpoint === '/v1/embeddings');
  assert.equal(embeddingBatches.length, 2, 'one batch for the weak baseline, one for the weak ensemble');
  const texts = embeddingBatches.map((b) => b.lines.reduce((t, l) => t + (l.body.input as string[]).length, 0));
  assert.deepEqual(texts, [3 * PER_SPLIT, 3 * PER_SPLIT], 'each carries every example\'s text once');
});

test('Ctrl-C while a batch is in progress stops polling at once; the run resumes by polling the stored batch', async () => {
  let hold = true;
  const s = await server({ plan: (i) => (i === 0 ? { hold } : {}) });
  const p = paths();
  const stop = new AbortController();
  const running = run(config(s.url, true), p, { stop: stop.signal });
  await waitFor(() => [...s.batches.values()].some((b) => b.status === 'in_progress'), 30_000, 'the first batch in progress');
  stop.abort();
  const stopped = await running;
  assert.equal(stopped.outcome.status, 'interrupted', `the run is interrupted: ${JSON.stringify(stopped.outcome)}`);
  const store = openStore(p.out, { readonly: true });
  try {
    const open = store.batches.listBatches(runIdOf(parseExperiment(config(s.url, true))));
    // Its stored status is the last one polled: the stop may come before the poll that would have seen in_progress.
    assert.deepEqual(open.map((b) => [b.batchId, ['validating', 'in_progress'].includes(b.status)]), [['batch_1', true]], `the batch is stored, not finished: ${open.map((b) => b.status).join(', ')}`);
    const paidRows = store.db.prepare('SELECT COUNT(*) AS n FROM calls WHERE cache_hit = 0').get() as { n: number };
    assert.equal(paidRows.n, 0, 'no ledger row for requests still in the batch');
  } finally {
    store.close();
  }
  hold = false;
  s.release();
  const resumed = await run(config(s.url, true), p);
  assert.equal(resumed.outcome.status, 'completed', 'the resume completes');
  assert.equal(s.count('POST', '/v1/batches'), TURNS + 1, 'nothing submitted twice');
  assert.ok(resumed.messages.some((m) => /^batch batch_1 \(.*\): resumed, 0\/12 done$/.test(m)), `the stored batch was resumed: ${resumed.messages.join(' | ')}`);
});

test('--max-cost refuses a batched request that could take the run past it, before anything is submitted', async () => {
  const s = await server();
  const p = paths();
  const first = await run(config(s.url, true), p, { maxCostUsd: 1e-9 });
  assert.equal(first.outcome.status, 'budget', 'a budget too small for one request stops the run');
  assert.equal(s.batches.size, 0, 'and nothing was submitted');
});

test('the preflight refuses "batch" on a model without the OpenAI Batch API, and on one spread over endpoints', async () => {
  const scripted = smallConfig({ dataset: data, debater: 'scripted:echo', perSplit: PER_SPLIT, name: 'batch-refused' });
  (scripted.debate as Record<string, unknown>).debaters = [{ spec: 'scripted:echo', batch: true }];
  await assert.rejects(
    runExperiment({ config: parseExperiment(scripted), ...paths() }),
    (e) => e instanceof Error && e.message === 'debate.debaters[0]: "batch" sends calls through the OpenAI Batch API, which scripted:echo does not have; remove "batch" from it.',
    'one sentence naming the field',
  );
  const spread = smallConfig({ dataset: data, debater: 'scripted:echo', perSplit: PER_SPLIT, name: 'batch-refused' });
  (spread.debate as Record<string, unknown>).debaters = [{ spec: 'openai:m', endpoints: ['http://127.0.0.1:1/v1', 'http://127.0.0.1:2/v1'], batch: true }];
  await assert.rejects(
    runExperiment({ config: parseExperiment(spread), ...paths() }),
    (e) => e instanceof Error && /^debate\.debaters\[0\]: "batch" sends calls to one server's Batch API, but openai:m lists several endpoints; remove "batch" or "endpoints"\.$/.test(e.message),
    'one sentence naming the field',
  );
});

test('one debater batching, the other not: its turns go out in batches, the other\'s directly, the results unchanged', async () => {
  const s = await server();
  const a = `openai:m@${s.url}`;
  const b = `openai:other@${s.url}`;
  const withDebaters = (first: unknown) => {
    const raw = config(s.url, false);
    (raw.debate as Record<string, unknown>).debaters = [first, b];
    return raw;
  };
  const ref = paths();
  assert.equal((await run(withDebaters(a), ref)).outcome.status, 'completed', 'the reference completes');
  const from = s.requests.length;
  const p = paths();
  const r = await run(withDebaters({ spec: a, batch: true }), p);
  assert.equal(r.outcome.status, 'completed', 'the mixed run completes');
  sameResults(p.out, ref.out);
  const sent = since(s, from);
  assert.deepEqual([...s.batches.values()].map((x) => x.lines.length), [DEBATES], 'debater A speaks turn 0 of every debate: one batch');
  assert.equal(count(sent, 'POST', '/v1/chat/completions'), DEBATES + JUDGMENTS, 'debater B (turn 1) and the judge called directly');
});
