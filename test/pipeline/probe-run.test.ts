/**
 * The run's capability probe, before any work: a logprobs judge on a server that returns none, or an embedding
 * featurizer on a server without embeddings, stops the run with one sentence and writes nothing; a role that needs
 * nothing, or a server that returns what it needs, proceeds with the expected probe request and no more.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { runExperiment } from '../../src/pipeline/run.js';
import type { ProgressEvent } from '../../src/pipeline/progress.js';
import { startOpenAIServer, type OpenAIServerOptions, type SeenRequest, type WireServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { isProbeRequest, runCli, smallConfig, writeConfig, writeDataset } from '../reliability/fixture.js';

// fixture.ts points W2S_CACHE_DIR at a folder of this file's own: the probe's findings never leave it.
const dir = tempDir('w2s-probe-run-');
const data = writeDataset(dir, 24);

const servers: WireServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function server(opts: OpenAIServerOptions = {}): Promise<WireServer> {
  const s = await startOpenAIServer(opts);
  servers.push(s);
  return s;
}

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
    'set judges[0].method to "parsed" or use a server that returns logprobs.';
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
  assert.match(r.stderr, /^ {2}preflight: probed openai:m@\S+: logprobs not found \(remembered from \S+\)$/m, 'the CLI run used the finding the first run remembered');
  assert.equal(probes(s).length, 1, 'and made no probe of its own');
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
  (config.judges as Record<string, unknown>[])[0]!.model = { spec: `openai:m@${s.url}`, capabilities: { logprobs: true } };
  await assert.rejects(
    runExperiment({ config: parseExperiment(config), out, cacheFile }),
    (e) => e instanceof UserError && e.message.startsWith(`judges[0] (judge j) model openai:m@${s.url} returned no logprobs when probed`),
    'declared, but the probe found none',
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
        `weak.features (weak featurizer) model openai:e@${s.url} returned no embeddings when probed (asked to embed one short text; the server answered 404: Not Found); ` +
          'use weak.features.kind "hashed" or use a server that returns embeddings.',
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
  fail = false;
  const outcome = await runExperiment({ config: parseExperiment(judgedBy(s.url, 'logprobs')), ...paths() });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  assert.equal(probes(s).length, 2, 'the failed probe was not remembered: the next run probed again');
});

test('a sweep with a cell whose judge returns no logprobs stops before any cell runs, naming the cell', async () => {
  const good = await server();
  const bad = await server({ logprobs: 'omit' });
  const base = judgedBy(good.url, 'logprobs', { name: 'probe-sweep' });
  const file = join(dir, 'sweep.json');
  writeFileSync(file, JSON.stringify({ name: 'probe-sweep', base, cells: [{ $name: 'good', seed: 1 }, { $name: 'bad', seed: 2, 'judges.0.model': `openai:m@${bad.url}` }] }));
  const outDir = join(dir, 'sweep-out');
  const r = await runCli(['sweep', file, '--out-dir', outDir]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr.trim().split('\n').at(-1),
    `w2s: Sweep cell probe-sweep/bad: judges[0] (judge j) model openai:m@${bad.url} returned no logprobs when probed (asked for the top 10 alternatives of 1 token; the reply had none); set judges[0].method to "parsed" or use a server that returns logprobs.`,
    r.stderr,
  );
  assert.equal(existsSync(outDir) ? readdirSync(outDir).length : 0, 0, 'no manifest, no database, no cache');
  assert.equal(good.requests.filter((q) => !isProbeRequest(q)).length, 0, 'no cell ran');
});
