/**
 * The run's capability probe, before any work: a logprobs judge on a server that returns none, or an embedding
 * featurizer on a server without embeddings, stops the run with one sentence and writes nothing; a role that needs
 * nothing, or a server that returns what it needs, proceeds with the expected probe request and no more. A run whose
 * stages that need a capability are done (a completed run's rerun) probes nothing; in a sweep, a cell whose probe fails
 * is that cell's failure.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configHash, parseExperiment } from '../../src/config/load.js';
import { loadSweep } from '../../src/config/sweep.js';
import { UserError } from '../../src/errors.js';
import { capabilityNeeds } from '../../src/pipeline/preflight.js';
import { pendingNeeds } from '../../src/pipeline/probe-roles.js';
import { runExperiment, runIdOf } from '../../src/pipeline/run.js';
import { planSweep, runSweep, type SweepManifest } from '../../src/pipeline/sweep.js';
import { openStore } from '../../src/store/index.js';
import type { ProgressEvent } from '../../src/pipeline/progress.js';
import { startOpenAIServer, type SeenRequest, type WireServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { isProbeRequest, runCli, smallConfig, spawnCli, waitFor, writeConfig, writeDataset } from '../reliability/fixture.js';
import { closedAfterFile } from '../helpers/closed-after.js';

// fixture.ts points W2S_CACHE_DIR at a folder of this file's own: the probe's findings never leave it.
const dir = tempDir('w2s-probe-run-');
const data = writeDataset(dir, 24);

const server = closedAfterFile(startOpenAIServer);

let n = 0;
/** A fresh database path and a fresh response cache path (neither exists). */
function paths(): { out: string; cacheFile: string } {
  n++;
  return { out: join(dir, `run-${n}.sqlite`), cacheFile: join(dir, `cache-${n}.sqlite`) };
}

/** The small reliability config with the debaters in process (scripted:echo): the server sees the judge alone. */
function judgedBy(url: string, method: 'logprobs' | 'parsed', extra: Record<string, unknown> = {}) {
  const raw = smallConfig({ dataset: data, debater: 'scripted:echo', judge: `openai:m@${url}`, perSplit: 4, turns: 1, name: `probe-${method}-${n}`, maxAttempts: 1 });
  (raw.judges as Record<string, unknown>[])[0]!.method = method;
  return { ...raw, ...extra };
}

const probes = (s: WireServer): SeenRequest[] => s.requests.filter(isProbeRequest);

test('a logprobs judge on a server that returns none stops the run before any work: one sentence, nothing written', async () => {
  const s = await server({ logprobs: 'omit' });
  const { out, cacheFile } = paths();
  const expected =
    `judges[0] (judge j) model openai:m@${s.url} returned no logprobs when probed (asked for the top 10 alternatives of 1 token; the reply had none); ` +
    `set judges[0].method to "parsed" or use a server that returns logprobs; \`w2s models check openai:m@${s.url}\` shows what the server returns.`;
  await assert.rejects(
    runExperiment({ config: parseExperiment(judgedBy(s.url, 'logprobs')), out, cacheFile }),
    (e) => e instanceof UserError && e.message === expected,
    'the one sentence',
  );
  assert.equal(existsSync(out), false, 'no database file');
  assert.equal(existsSync(cacheFile), false, 'no response cache file');
  assert.equal(s.requests.length, 1, 'one request reached the server: the probe');
  assert.equal(probes(s).length, 1, 'and it was the probe');

  // The same through the CLI: exit 1, the sentence as the last line, and no database.
  const file = writeConfig(dir, judgedBy(s.url, 'logprobs'), 'no-logprobs.json');
  const cliOut = join(dir, 'cli.sqlite');
  const r = await runCli(['run', file, '--out', cliOut, '--cache', join(dir, 'cli-cache.sqlite')]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').at(-1), `w2s: ${expected}`, r.stderr);
  assert.equal(existsSync(cliOut), false, 'no database file from the CLI either');
  assert.match(r.stderr, /^ {2}preflight: probed openai:m@\S+: logprobs not found$/m, 'the CLI run probed afresh: a "not found" is not remembered');
  assert.equal(probes(s).length, 2, 'one probe request of its own');
});

test('the same run with method "parsed" needs no logprobs: no probe, and it completes', async () => {
  const s = await server({ logprobs: 'omit' });
  const { out, cacheFile } = paths();
  const outcome = await runExperiment({ config: parseExperiment(judgedBy(s.url, 'parsed')), out, cacheFile });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  assert.equal(probes(s).length, 0, 'nothing was probed');
  assert.ok(s.requests.length > 0, 'the judge was called');
  assert.ok(s.requests.every((r) => !r.body?.logprobs), 'and never asked for logprobs');
});

test('a logprobs judge on a server that returns logprobs proceeds after exactly one probe request, remembered for the next run', async () => {
  const s = await server();
  const events: ProgressEvent[] = [];
  const first = paths();
  const outcome = await runExperiment({ config: parseExperiment(judgedBy(s.url, 'logprobs')), ...first, progress: (e) => events.push(e) });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  assert.equal(probes(s).length, 1, 'one probe request');
  assert.equal(s.requests[0]!.n, probes(s)[0]!.n, 'sent before any judgment');
  assert.deepEqual(
    events.filter((e) => e.message?.startsWith('probed ')).map((e) => [e.stage, e.message]),
    [['preflight', `probed openai:m@${s.url}: logprobs found`]],
    'one progress line',
  );

  const again = paths();
  const second = await runExperiment({ config: parseExperiment(judgedBy(s.url, 'logprobs', { name: 'probe-again' })), ...again });
  assert.equal(second.status, 'completed', second.status === 'completed' ? '' : second.reason);
  assert.equal(probes(s).length, 1, 'the second run reused the finding: no probe request');
});

test('a probe finding beats the config\'s capabilities declaration', async () => {
  const s = await server({ logprobs: 'null' });
  const { out, cacheFile } = paths();
  const config = judgedBy(s.url, 'logprobs');
  process.env['W2S_PROBE_RUN_KEY'] = 'test-key';
  (config.judges as Record<string, unknown>[])[0]!.model = { spec: `openai:m@${s.url}`, capabilities: { logprobs: true }, apiKeyEnv: 'W2S_PROBE_RUN_KEY' };
  await assert.rejects(
    runExperiment({ config: parseExperiment(config), out, cacheFile }),
    (e) =>
      e instanceof UserError &&
      e.message.startsWith(`judges[0] (judge j) model openai:m@${s.url} returned no logprobs when probed`) &&
      e.message.endsWith(`\`w2s models check openai:m@${s.url} --api-key-env W2S_PROBE_RUN_KEY\` shows what the server returns.`),
    'declared, but the probe found none; the check command carries the key variable',
  );
  assert.equal(existsSync(out), false, 'no database file');
});

test('a model given by its endpoints: the check command names them, not the default server', async () => {
  const a = await server({ logprobs: 'omit' });
  const b = await server({ logprobs: 'omit' });
  const { out, cacheFile } = paths();
  const config = judgedBy(a.url, 'logprobs', { name: 'probe-endpoints' });
  (config.judges as Record<string, unknown>[])[0]!.model = { spec: 'openai:m', endpoints: [a.url, b.url] };
  await assert.rejects(
    runExperiment({ config: parseExperiment(config), out, cacheFile }),
    (e) => e instanceof UserError && e.message.endsWith(`\`w2s models check openai:m --endpoints ${a.url},${b.url}\` shows what the server returns.`),
    'the check command carries the servers',
  );
  assert.equal(existsSync(out), false, 'no database file');
});

test('an embedding featurizer on a server without embeddings stops the run: one sentence naming "hashed"', async () => {
  const s = await server({ onRequest: (r) => (r.path.endsWith('/embeddings') ? { status: 404, body: { error: { message: 'Not Found', type: 'invalid_request_error' } } } : undefined) });
  const { out, cacheFile } = paths();
  const config = judgedBy(s.url, 'parsed', { name: 'probe-embed' });
  config.weak = { ...(config.weak as object), features: { kind: 'embedding', model: `openai:e@${s.url}` } };
  await assert.rejects(
    runExperiment({ config: parseExperiment(config), out, cacheFile }),
    (e) =>
      e instanceof UserError &&
      e.message ===
        `weak.features (weak featurizer) model openai:e@${s.url} returned no embeddings when probed (asked to embed one short text; the server answered 404: Not Found (check the model name and base URL)); ` +
          `use weak.features.kind "hashed" or use a server that returns embeddings; \`w2s models check openai:e@${s.url}\` shows what the server returns.`,
    'the one sentence',
  );
  assert.equal(existsSync(out), false, 'no database file');
  assert.deepEqual(s.requests.map((r) => r.path), ['/v1/embeddings'], 'one request: the embedding probe');
});

test('a server that cannot be reached for the probe stops the run naming the role, and nothing is remembered', async () => {
  let fail = true;
  const s = await server({ onRequest: () => (fail ? { status: 500, body: { error: { message: 'overloaded', type: 'server_error' } } } : undefined) });
  const { out, cacheFile } = paths();
  await assert.rejects(
    runExperiment({ config: parseExperiment(judgedBy(s.url, 'logprobs')), out, cacheFile }),
    (e) => e instanceof UserError && e.message.startsWith(`judges[0] (judge j) model openai:m@${s.url} did not answer the capability probe: `) && /500/.test(e.message),
    'names the role and the status',
  );
  assert.equal(existsSync(out), false, 'no database file');
  assert.equal(probes(s).length, 2, 'the probe\'s own 2 attempts (the config allows 1)');
  fail = false;
  const outcome = await runExperiment({ config: parseExperiment(judgedBy(s.url, 'logprobs')), ...paths() });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  assert.equal(probes(s).length, 3, 'the failed probe was not remembered: the next run probed again');
});

test('a sweep cell whose probe fails is that cell\'s failure: the other cell runs, and the manifest says why', async () => {
  const good = await server();
  const bad = await server({ logprobs: 'omit' });
  const base = judgedBy(good.url, 'logprobs', { name: 'probe-sweep' });
  const file = join(dir, 'sweep.json');
  writeFileSync(file, JSON.stringify({ name: 'probe-sweep', base, cells: [{ $name: 'good', seed: 1 }, { $name: 'bad', seed: 2, 'judges.0.model': `openai:m@${bad.url}` }] }));
  const outDir = join(dir, 'sweep-out');
  const r = await runCli(['sweep', file, '--out-dir', outDir]);
  assert.equal(r.code, 1, `a failed cell fails the sweep: ${r.stderr}`);
  const reason =
    `judges[0] (judge j) model openai:m@${bad.url} returned no logprobs when probed (asked for the top 10 alternatives of 1 token; the reply had none); ` +
    `set judges[0].method to "parsed" or use a server that returns logprobs; \`w2s models check openai:m@${bad.url}\` shows what the server returns.`;
  const manifest = JSON.parse(readFileSync(join(outDir, 'probe-sweep', 'sweep.json'), 'utf8')) as SweepManifest;
  assert.deepEqual(manifest.cells.map((c) => [c.name, c.status]), [['probe-sweep/good', 'completed'], ['probe-sweep/bad', 'failed']], 'the good cell ran; the bad one failed');
  assert.equal(manifest.cells[1]!.reason, reason, 'the bad cell\'s reason is the probe\'s sentence');
  assert.equal(manifest.status, 'failed', 'the sweep failed with it');
  assert.ok(r.stderr.includes(`✗ [2/2] probe-sweep/bad: failed — ${reason}`), `the CLI printed the cell's failure: ${r.stderr}`);
  assert.ok(good.requests.some((q) => !isProbeRequest(q)), 'the good cell\'s judge was called');
  assert.equal(bad.requests.filter((q) => !isProbeRequest(q)).length, 0, 'the bad cell\'s judge was only probed');
  assert.equal(existsSync(manifest.cells[1]!.database), false, 'the bad cell has no database');
});

test('a completed run\'s rerun makes no call, the probe included: the judge\'s server is off and the table is still printed', async () => {
  let off = false;
  const s = await server({ onRequest: () => (off ? 'reset' : undefined) });
  const { out, cacheFile } = paths();
  const raw = judgedBy(s.url, 'logprobs', { name: 'probe-rerun' });
  const first = await runExperiment({ config: parseExperiment(raw), out, cacheFile });
  assert.equal(first.status, 'completed', first.status === 'completed' ? '' : first.reason);
  assert.equal(probes(s).length, 1, 'the first run probed');
  off = true;
  const seen = s.requests.length;
  const file = writeConfig(dir, raw, 'rerun.json');
  const r = await runCli(['run', file, '--out', out, '--cache', cacheFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(`Run ${first.runId} (${out})`), `the table was printed: ${r.stdout}`);
  assert.doesNotMatch(r.stderr, /probed /, `no probe line: ${r.stderr}`);
  assert.equal(s.requests.length, seen, 'no request reached the server');
});

test('pendingNeeds: every need without this config\'s run; then only those whose stages are not done; it creates nothing', () => {
  const raw = judgedBy('http://127.0.0.1:9/v1', 'logprobs', { name: 'probe-pending' });
  raw.weak = { ...(raw.weak as object), features: { kind: 'embedding', model: 'openai:e@http://127.0.0.1:9/v1' } };
  raw.strong = { ...(raw.strong as object), features: { kind: 'embedding', model: 'openai:e@http://127.0.0.1:9/v1' } };
  const config = parseExperiment(raw);
  const runId = runIdOf(config);
  const needs = capabilityNeeds(config);
  assert.deepEqual(needs.map((n) => n.field), ['judges[0]', 'weak.features', 'strong.features'], 'the three needs of the config');
  const pending = (out: string): string[] => needs.filter(pendingNeeds(config, out, runId)).map((n) => n.field);

  const sub = join(dir, 'pending');
  const out = join(sub, 'run.sqlite');
  assert.deepEqual(pending(out), ['judges[0]', 'weak.features', 'strong.features'], 'no database: every need');
  assert.equal(existsSync(sub), false, 'the look created nothing');

  const store = openStore(out);
  store.runs.createRun({ id: 'another-run', config: {}, configHash: 'h' });
  store.close();
  const files = readdirSync(sub).sort();
  assert.deepEqual(pending(out), ['judges[0]', 'weak.features', 'strong.features'], 'a database without this run: every need');
  assert.deepEqual(readdirSync(sub).sort(), files, 'the look left no file behind');

  const write = (fn: (s: ReturnType<typeof openStore>) => void): void => {
    const st = openStore(out);
    try {
      fn(st);
    } finally {
      st.close();
    }
  };
  write((st) => st.runs.createRun({ id: runId, config: {}, configHash: 'another hash' }));
  assert.deepEqual(pending(out), ['judges[0]', 'weak.features', 'strong.features'], 'this run id with another config hash: every need');
  write((st) => st.db.prepare('UPDATE runs SET config_hash = ? WHERE id = ?').run(configHash(config), runId));
  assert.deepEqual(pending(out), ['judges[0]', 'weak.features', 'strong.features'], 'this run, no stage done: every need');
  write((st) => st.stages.markStageDone(runId, 'judges'));
  assert.deepEqual(pending(out), ['weak.features', 'strong.features'], 'judges done: no logprobs needed');
  write((st) => st.stages.markStageDone(runId, 'train_weak_baseline'));
  assert.deepEqual(pending(out), ['weak.features', 'strong.features'], 'the weak ensemble still needs the weak embeddings');
  write((st) => st.stages.markStageDone(runId, 'train_weak_ensemble'));
  assert.deepEqual(pending(out), ['strong.features'], 'both weak stages done: only the strong embeddings');
  write((st) => st.stages.markStageDone(runId, 'train_strong'));
  assert.deepEqual(pending(out), [], 'every stage that needs a capability done: nothing to probe');
});

test('the run\'s probe has its own retry budget: a 501 refusal is seen after 2 attempts, whatever gateway.maxAttempts says', async () => {
  const s = await server({ onRequest: (r) => (r.body?.logprobs ? { status: 501, body: { error: { message: 'top_logprobs is not implemented', type: 'server_error' } } } : undefined) });
  const { out, cacheFile } = paths();
  const raw = judgedBy(s.url, 'logprobs', { name: 'probe-501' });
  raw.gateway = { ...(raw.gateway as object), maxAttempts: 6 };
  const started = performance.now();
  await assert.rejects(
    runExperiment({ config: parseExperiment(raw), out, cacheFile }),
    (e) => e instanceof UserError && e.message.includes('(asked for the top 10 alternatives of 1 token; the server refused the request with 501: top_logprobs is not implemented, and answered it without logprobs)'),
    'a refusal, not an unreachable model: the control was answered',
  );
  const ms = performance.now() - started;
  assert.deepEqual(s.requests.map((q) => Boolean(q.body?.logprobs)), [true, true, false], 'two attempts with logprobs (not 6), then the control');
  assert.ok(ms < 3_000, `seen in about a second: ${Math.round(ms)} ms`);
  assert.equal(existsSync(out), false, 'no database file');
});

test('a sweep reruns its completed cells without probing them', async () => {
  let off = false;
  const s = await server({ onRequest: () => (off ? 'reset' : undefined) });
  const base = judgedBy(s.url, 'logprobs', { name: 'probe-sweep-rerun' });
  const file = join(dir, 'sweep-rerun.json');
  writeFileSync(file, JSON.stringify({ name: 'probe-sweep-rerun', base, cells: [{ $name: 'a', seed: 1 }, { $name: 'b', seed: 2 }] }));
  const outDir = join(dir, 'sweep-rerun-out');
  const first = await runSweep(await planSweep(loadSweep(file), outDir));
  assert.equal(first.status, 'completed', JSON.stringify(first.cells.map((c) => c.reason)));
  off = true;
  const seen = s.requests.length;
  const again = await runSweep(await planSweep(loadSweep(file), outDir));
  assert.equal(again.status, 'completed', `the server is off, and no cell needed it: ${JSON.stringify(again.cells.map((c) => c.reason))}`);
  assert.equal(s.requests.length, seen, 'no request reached the server');
});

test('Ctrl-C while the sweep probes leaves no output folder and no manifest', async () => {
  const s = await server({ onRequest: (r) => (isProbeRequest(r) ? 'hang' : undefined) });
  const base = judgedBy(s.url, 'logprobs', { name: 'probe-stop' });
  base.gateway = { ...(base.gateway as object), stopGraceMs: 100 };
  const file = join(dir, 'sweep-stop.json');
  writeFileSync(file, JSON.stringify({ name: 'probe-stop', base, cells: [{ $name: 'a', seed: 1 }, { $name: 'b', seed: 2 }] }));
  const outDir = join(dir, 'sweep-stop-out');
  const run = spawnCli(['sweep', file, '--out-dir', outDir]);
  await waitFor(() => probes(s).length > 0, 30_000, 'the probe request');
  run.child.kill('SIGINT');
  const code = await run.exited;
  assert.equal(code, 130, `exit 130: ${run.stderr()}`);
  assert.equal(run.stderr().trim().split('\n').at(-1), 'Sweep probe-stop: stopped by Ctrl-C before any cell ran; run the same command to start it.', run.stderr());
  assert.equal(existsSync(outDir), false, 'no output folder, so no manifest, database or cache');
  assert.equal(probes(s).length, 1, 'the second cell was not probed');
});
