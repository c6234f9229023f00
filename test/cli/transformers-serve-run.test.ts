import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/tmp.js';
import { startTransformersServe, transformersServeSkipReason, type TransformersServe } from '../helpers/transformers-serve.js';

/**
 * One `w2s run` end to end on a real third-party OpenAI-compatible server: Hugging Face's `transformers serve` with
 * stories260K plays both debaters and a parsed judge on SciQ. stories260K writes children's stories, so its judge
 * states no verdict: what is checked is that the run completes and that every call, transcript and judgment is
 * stored as the server answered it, not any accuracy.
 */

const SKIP = transformersServeSkipReason();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DATASETS = fileURLToPath(new URL('../../../shared/datasets', import.meta.url));
const exec = promisify(execFile);
// The capability probe's findings (and w2s's other per-machine memos) go to a folder of this file's own.
const CACHE_DIR = tempDir('w2s-tserve-cache-');

async function w2s(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, OPENAI_API_KEY: '', W2S_CACHE_DIR: CACHE_DIR },
      timeout: 8 * 60_000,
      maxBuffer: 16 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number | string; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

describe('w2s run with debaters and a judge on transformers serve', { skip: SKIP }, () => {
  let server: TransformersServe;

  before(async () => {
    server = await startTransformersServe();
  }, { timeout: 15 * 60_000 });

  after(async () => {
    await server?.close();
  });

  test('the run completes and stores every call, transcript and judgment as the server answered', { timeout: 10 * 60_000 }, async (t) => {
    t.diagnostic(`transformers serve start, ms: ${JSON.stringify(server.timings)}`);
    const dir = tempDir('w2s-tserve-run-');
    const spec = `openai:${server.model}@${server.url}`;
    const config = {
      name: 'transformers-serve-e2e',
      seed: 0,
      dataset: { name: 'sciq', dataDir: DATASETS, sizes: { train_weak: 8, train_strong: 8, test: 8 } },
      debate: { protocol: 'debate', debaters: [{ spec, concurrency: 2 }], turns: 2, samples: 1, maxTokens: 12, wordLimit: 64, temperature: 0.8 },
      weak: { features: { kind: 'hashed', dim: 256 }, ensemble: { kind: 'debate', size: 1 } },
      strong: { features: { kind: 'hashed', dim: 256 } },
      judges: [{ name: 'tiny', model: { spec, concurrency: 2 }, method: 'parsed', maxTokens: 6 }],
      metrics: { bootstrap: 100 },
    };
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const out = join(dir, 'run.sqlite');
    const t0 = Date.now();
    const r = await w2s(['run', file, '--out', out, '--cache', join(dir, 'cache.sqlite')]);
    t.diagnostic(`w2s run took ${Date.now() - t0} ms`);
    assert.equal(r.code, 0, `w2s run exits 0; stderr:\n${r.stderr.slice(-3000)}\nserver log:\n${server.logTail(20)}`);
    assert.match(r.stdout, /strong ceiling \(ground truth\)/, `the result table is printed:\n${r.stdout}`);

    const db = new Database(out, { readonly: true });
    try {
      const run = db.prepare(`SELECT id, status FROM runs`).all() as { id: string; status: string }[];
      assert.equal(run.length, 1, 'one run in the database');
      assert.equal(run[0]!.status, 'completed', 'the run completed');
      const runId = run[0]!.id;

      // The ledger: every generate call went to the server under the spec (model and endpoint), answered, with tokens.
      const calls = db
        .prepare(
          `SELECT c.id, c.role, c.model, c.kind, c.cache_hit, c.attempts, c.input_tokens, c.output_tokens, c.finish_reason, c.error,
                  t.text AS response
             FROM calls c LEFT JOIN texts t ON t.hash = c.response_hash WHERE c.run_id = ?`,
        )
        .all(runId) as {
        id: number; role: string; model: string; kind: string; cache_hit: number; attempts: number;
        input_tokens: number; output_tokens: number; finish_reason: string | null; error: string | null; response: string | null;
      }[];
      const debaterCalls = calls.filter((c) => c.role === 'debater');
      const judgeCalls = calls.filter((c) => c.role === 'judge:tiny');
      assert.ok(debaterCalls.length > 0, `debater calls are in the ledger (roles: ${[...new Set(calls.map((c) => c.role))].join(', ')})`);
      assert.ok(judgeCalls.length > 0, 'judge calls are in the ledger');
      for (const c of [...debaterCalls, ...judgeCalls]) {
        assert.equal(c.model, spec, `call ${c.id} names the spec, model and endpoint: ${c.model}`);
        assert.equal(c.kind, 'generate', `call ${c.id} is a generation`);
        assert.equal(c.error, null, `call ${c.id} did not fail: ${c.error}`);
        assert.equal(c.cache_hit, 0, `call ${c.id} went to the server (a fresh cache)`);
        assert.ok(c.attempts >= 1, `call ${c.id} made an attempt`);
        assert.ok(c.input_tokens > 0 && c.output_tokens > 0, `call ${c.id} has the server's token counts: ${c.input_tokens}/${c.output_tokens}`);
        assert.ok(c.finish_reason === 'stop' || c.finish_reason === 'length', `call ${c.id} has a finish reason: ${c.finish_reason}`);
        assert.equal(typeof c.response, 'string', `call ${c.id} has its reply stored`);
      }

      // Transcripts: one per example (1 sample), each of two turns (A, then B) the server's reply to its call.
      const turns = db
        .prepare(
          `SELECT tu.debate_id, tu.idx, tu.text, tu.call_id FROM turns tu JOIN debates d ON d.id = tu.debate_id
            WHERE d.run_id = ? ORDER BY tu.debate_id, tu.idx`,
        )
        .all(runId) as { debate_id: string; idx: number; text: string; call_id: number | null }[];
      const debates = db.prepare(`SELECT status FROM debates WHERE run_id = ?`).all(runId) as { status: string }[];
      assert.ok(debates.length > 0 && debates.every((d) => d.status === 'completed'), `every debate completed (${debates.length})`);
      assert.equal(turns.length, debates.length * 2, `two turns per debate (A, then B): ${turns.length} for ${debates.length}`);
      const byId = new Map(calls.map((c) => [c.id, c]));
      for (const t of turns) {
        const call = t.call_id === null ? undefined : byId.get(t.call_id);
        assert.ok(call && call.role === 'debater', `turn ${t.debate_id}/${t.idx} points at its debater call`);
        // wordLimit (64) is above what 12 tokens can hold, so the turn is the reply, trimmed.
        assert.equal(t.text, call.response!.trim(), `turn ${t.debate_id}/${t.idx} holds the server's text`);
      }
      assert.ok(turns.some((t) => t.text.length > 0), 'the server wrote something');

      // Judgments: stories260K states no verdicts, so most are unparsed; only their shape is checked here.
      const judgments = db
        .prepare(`SELECT judge, method, p_correct, raw_text, call_id, order_swapped FROM judgments WHERE run_id = ?`)
        .all(runId) as { judge: string; method: string; p_correct: number | null; raw_text: string | null; call_id: number | null; order_swapped: number }[];
      assert.ok(judgments.length > 0, 'judgments are stored');
      const swapped = new Set(judgments.map((j) => j.order_swapped));
      assert.deepEqual([...swapped].sort(), [0, 1], 'the judge read both answer orders');
      for (const j of judgments) {
        assert.equal(j.judge, 'tiny', `judgment by the configured judge: ${j.judge}`);
        assert.ok(['logprobs', 'parsed', 'unparsed'].includes(j.method), `a known method: ${j.method}`);
        assert.notEqual(j.method, 'logprobs', 'a parsed judge never reads logprobs');
        const call = j.call_id === null ? undefined : byId.get(j.call_id);
        assert.ok(call && call.role === 'judge:tiny', `judgment points at its judge call (${j.call_id})`);
        assert.equal(j.raw_text, call.response, 'the judgment keeps the reply it read');
        assert.equal(j.p_correct === null, j.method === 'unparsed', 'a reply without a verdict has no probability, never 0.5');
      }

      // A judge that says nothing is not a judge: stories260K writes stories, not verdicts, so this judge is below its
      // minCoverage (90 %): no accuracy, no PGR, no strong model, and the run table says why.
      const readable = judgments.filter((j) => j.p_correct !== null).length;
      assert.ok(readable < 0.9 * judgments.length, `stories260K states a verdict in at most a few replies (${readable} of ${judgments.length})`);
      const metric = (subject: string, name: string) =>
        db.prepare('SELECT value, note FROM metrics WHERE run_id = ? AND subject = ? AND name = ?').get(runId, subject, name) as { value: number | null; note: string | null };
      assert.equal(metric('judge:tiny', 'parse_coverage').value, readable / judgments.length, 'the stored coverage is the share of replies with a verdict');
      const accuracy = metric('judge:tiny', 'accuracy');
      assert.equal(accuracy.value, null, 'a silent judge gets no accuracy');
      assert.equal(accuracy.note, `${readable} of ${judgments.length} judgments parsed, below minCoverage 90%`, 'and the reason is stored');
      assert.equal(metric('strong_by_judge:tiny', 'pgr').value, null, 'and no PGR');
      const byJudge = db.prepare("SELECT COUNT(*) FROM models WHERE run_id = ? AND role = 'strong_by_judge'").pluck().get(runId) as number;
      assert.equal(byJudge, 0, 'and trains no strong model');
      assert.match(r.stdout, new RegExp(`judge tiny +n/a \\(${readable} of ${judgments.length} judgments parsed`), `the run table says so:\n${r.stdout}`);
    } finally {
      db.close();
    }
  });

  test('models check finds what the server really returns: no logprobs, no embeddings (404); exit 0', { timeout: 5 * 60_000 }, async () => {
    const spec = `openai:${server.model}@${server.url}`;
    const r = await w2s(['models', 'check', spec]);
    assert.equal(r.code, 0, `a missing capability is a finding, not a failure: ${r.stderr}`);
    assert.match(r.stdout, /^generation: +"/m, `the test generation answered:\n${r.stdout}`);
    assert.match(r.stdout, /^logprobs: +not found: asked for the top 10 alternatives of 1 token; the reply had none$/m, `logprobs not found:\n${r.stdout}`);
    assert.match(r.stdout, /^embeddings: +not found: .*404/m, `embeddings not found, with the 404:\n${r.stdout}`);
    assert.match(r.stdout, /^seed: +(found|not found): /m, `the seed was tried:\n${r.stdout}`);
  });

  test('a run with a logprobs judge on it stops before any work, in one sentence, and writes nothing', { timeout: 5 * 60_000 }, async () => {
    const dir = tempDir('w2s-tserve-probe-');
    const spec = `openai:${server.model}@${server.url}`;
    const config = {
      name: 'transformers-serve-logprobs',
      dataset: { name: 'sciq', dataDir: DATASETS, sizes: { train_weak: 8, train_strong: 8, test: 8 } },
      debate: { protocol: 'none' },
      weak: { features: { kind: 'hashed', dim: 64 } },
      strong: { features: { kind: 'hashed', dim: 64 } },
      judges: [{ name: 'tiny', model: spec, method: 'logprobs' }],
    };
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const out = join(dir, 'results');
    const r = await w2s(['run', file, '--out', join(out, 'run.sqlite'), '--cache', join(out, 'cache.sqlite')]);
    assert.equal(r.code, 1, `the run is refused: ${r.stderr}`);
    const errorLine = r.stderr.trim().split('\n').pop()!;
    assert.equal(
      errorLine,
      `w2s: judges[0] (judge tiny) model ${spec} returned no logprobs when probed (asked for the top 10 alternatives of 1 token; the reply had none); set judges[0].method to "parsed" or use a server that returns logprobs; \`w2s models check ${spec}\` shows what the server returns.`,
      `one sentence naming the role, what the probe saw and the alternative:\n${r.stderr}`,
    );
    assert.equal(existsSync(out), false, 'nothing was written');
  });
});
