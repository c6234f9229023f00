/**
 * The audit commands at scale: a real finished run whose ledger is grown to a million calls, and a response cache of a
 * million entries. Records the database sizes, the wall time and peak RSS of `w2s runs`, `compare`, `table` and
 * `db info` on it (each a fresh CLI process), and the latency of the cache-hit path against the full cache.
 *
 *   node --import tsx bench/scale.ts [rows=1000000]
 *
 * Peak RSS that stays flat as the ledger grows is the check that no audit command reads a whole table into memory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../src/models/gateway.js';
import { cacheKey, generateKeyParts } from '../src/models/cache-key.js';
import type { GenerateRequest, ModelClient } from '../src/models/types.js';
import { runExperiment } from '../src/pipeline/run.js';
import { openStore } from '../src/store/index.js';
import { benchConfig, REPO, writeRows } from './experiment.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const CLI = join(REPO, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-scale-'));

const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
const sizeOf = (file: string): number => statSync(file).size + (() => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
})();

/** A client the cache keys are computed for; it is never called (every request is a hit). */
const client: ModelClient = {
  id: 'openai:gpt-4o-mini@https://api.example.invalid/v1',
  adapter: 'openai',
  endpoint: 'https://api.example.invalid/v1',
  model: 'gpt-4o-mini',
  capabilities: { chat: true, logprobs: true, embeddings: false, seed: true },
  generate: () => Promise.reject(new Error('the bench expects cache hits only')),
};
const request = (i: number): GenerateRequest => ({
  messages: [
    { role: 'system', content: 'You argue one side of a question in at most 60 words.' },
    { role: 'user', content: `Question ${i}: which shelf holds crate ${i} of lot ${i % 97}? Your side: the proposed answer is correct.` },
  ],
  maxTokens: 80,
  temperature: 0.7,
  seed: i,
});

/** Grows the run's ledger to `rows` calls and the cache to `rows` entries, in chunks of one transaction each. */
function grow(db: string, runId: string): void {
  const store = openStore(db);
  try {
    const call = store.db.prepare(
      `INSERT INTO calls (run_id, role, model, kind, request_hash, cache_hit, attempts, latency_ms, input_tokens, output_tokens, cost_usd, finish_reason, error, created_at)
       VALUES (?, ?, ?, 'generate', ?, ?, ?, ?, ?, ?, ?, 'stop', ?, ?)`,
    );
    const put = store.db.prepare(`INSERT INTO cache (key, kind, model, response_json, created_at, paid_by_run) VALUES (?, 'generate', ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`);
    const now = new Date().toISOString();
    const have = (store.db.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n;
    const chunk = 50_000;
    for (let start = 0; start < rows; start += chunk) {
      store.transaction(() => {
        for (let i = start; i < Math.min(rows, start + chunk); i++) {
          const key = cacheKey(generateKeyParts(client, request(i)));
          if (i >= have) call.run(runId, i % 3 ? 'debater' : 'judge:j1', client.id, key, i % 5 === 0 ? 1 : 0, 1 + (i % 3), 120 + (i % 900), 800 + (i % 400), 150, 0.00021, i % 97 === 0 ? 'HTTP 429: rate limited' : null, now);
          const text = `Argument ${i}: the record names shelf ${i % 11}, and the proposed answer agrees with it, so it holds.`;
          put.run(key, client.id, JSON.stringify({ text, finishReason: 'stop', usage: { inputTokens: 90, outputTokens: 24 } }), now, runId);
        }
      });
    }
  } finally {
    store.close();
  }
}

/** One CLI command in a fresh process: wall seconds and peak RSS (from GNU time). */
function cli(args: string[]): { seconds: number; peakRssMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'W2S_TIME %e %M', process.execPath, '--import', 'tsx', CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO });
  const m = /W2S_TIME ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`w2s ${args.join(' ')} failed: ${r.stderr}`);
  return { seconds: Number(m[1]), peakRssMiB: Math.round(Number(m[2]) / 102.4) / 10 };
}

/** The cache-hit path through the gateway (key, lookup, hit count, ledger row), against the full cache. */
async function hitLatency(db: string, n: number): Promise<{ meanUs: number; p99Us: number }> {
  const store = openStore(db);
  try {
    const gateway = new Gateway({ cache: store.cache, ledger: store.calls, runId: null });
    const model = gateway.model(client, 'bench');
    const times: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = (k * 7919) % rows;
      const t = performance.now();
      const r = await model.generate(request(i));
      times.push((performance.now() - t) * 1000);
      if (!r.cacheHit) throw new Error('expected a cache hit');
    }
    times.sort((a, b) => a - b);
    return { meanUs: Math.round(times.reduce((a, b) => a + b, 0) / n), p99Us: Math.round(times[Math.floor(n * 0.99)]!) };
  } finally {
    store.close();
  }
}

try {
  // A real finished run, so every audit command has metrics, examples and predictions to read.
  const db = join(dir, 'scale.sqlite');
  const n = 600;
  const config = benchConfig(writeRows(dir, n), n, { samples: 2, turns: 2 });
  const outcome = await runExperiment({ config, out: db, cacheFile: db });
  if (outcome.status !== 'completed') throw new Error(`run ${outcome.status}`);
  const before = { runs: cli(['runs', db]), compare: cli(['compare', db]) };
  const built = performance.now();
  grow(db, outcome.runId);
  const buildSeconds = Math.round((performance.now() - built) / 100) / 10;
  openStore(db).close(); // checkpoint the WAL into the file, as a finished run leaves it
  const after: Record<string, { seconds: number; peakRssMiB: number }> = {
    runs: cli(['runs', db]),
    compare: cli(['compare', db]),
    dbInfo: cli(['db', 'info', db]),
    export: cli(['export', db, '--what', 'calls', '--format', 'jsonl', '--out', join(dir, 'calls.jsonl')]),
  };
  try {
    after.table = cli(['table', db, '--format', 'md']);
  } catch {
    // `w2s table` may not exist in an older checkout.
  }
  const hit = await hitLatency(db, 10_000);
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(JSON.stringify({ bench: 'scale', ledgerRows: rows, cacheEntries: rows, dbMiB: mib(sizeOf(db)), buildSeconds, beforeGrowth: before, after, cacheHit: hit, machine, date: new Date().toISOString() }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
