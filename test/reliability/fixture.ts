/**
 * Shared pieces of the reliability tests: a synthetic JSONL dataset, a small experiment config whose models are
 * OpenAI-format HTTP endpoints, DB snapshots for comparing runs, and a CLI spawner that never leaks children.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { PROBE_INPUTS } from '../../src/models/probe.js';
import { openStore } from '../../src/store/index.js';
import { writeRows } from '../helpers/datasets.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The w2s cache folder (capabilities.json, what the run's probe found; file-identity.json) is the test file's own, for
 * it and the CLIs it spawns: a finding about one test's server never reaches another test file nor the developer's.
 */
process.env['W2S_CACHE_DIR'] = tempDir('w2s-cache-');

/**
 * A request of the run's capability probe (a logprobs judge's model is asked once for logprobs, and when refused once
 * more without them; an embedding featurizer's once for an embedding; before the run; what was found is remembered in
 * W2S_CACHE_DIR for a day).
 */
export function isProbeRequest(r: SeenRequest): boolean {
  const body = r.body as { messages?: { content?: string }[]; input?: unknown } | undefined;
  if (body?.messages?.length === 1 && body.messages[0]!.content === PROBE_INPUTS.logprobs) return true;
  const input = Array.isArray(body?.input) ? body.input : [body?.input];
  return input.length === 1 && input[0] === PROBE_INPUTS.embed;
}

export const REPO = resolve(import.meta.dirname, '..', '..');
export const CLI = join(REPO, 'src', 'cli', 'main.ts');
const TSX = import.meta.resolve('tsx');

/** n rows of {id, question, answer, label}; labels alternate so every split holds both. */
export function writeDataset(dir: string, n: number, name = 'items.jsonl'): string {
  return writeRows(dir, name, n, (i) => ({ id: `item${i}`, question: `Which shelf holds crate ${i}?`, answer: `shelf ${i % 7}`, label: i % 2 }));
}

export interface SmallConfigOptions {
  dataset: string;
  /** Debater model spec. */
  debater: string;
  /** Judge model spec; none when absent. */
  judge?: string;
  perSplit?: number;
  turns?: number;
  samples?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  concurrency?: number;
  name?: string;
  extra?: Record<string, unknown>;
}

/** A small but complete experiment (raw JSON input for parseExperiment or a config file). */
export function smallConfig(o: SmallConfigOptions): Record<string, unknown> {
  const perSplit = o.perSplit ?? 4;
  const samples = o.samples ?? 1;
  return {
    name: o.name ?? 'rel',
    seed: 3,
    dataset: { name: 'jsonl', path: o.dataset, sizes: { train_weak: perSplit, train_strong: perSplit, test: perSplit } },
    debate: { protocol: 'debate', debaters: [o.debater], turns: o.turns ?? 2, samples, maxTokens: 40, wordLimit: 30, temperature: 0.7, promptsDir: join(REPO, 'prompts') },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: samples }, probe: { epochs: 3 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, probe: { epochs: 3 } },
    judges: o.judge ? [{ name: 'j', model: o.judge, method: 'logprobs' }] : [],
    gateway: { concurrency: o.concurrency ?? 4, maxAttempts: o.maxAttempts ?? 4, timeoutMs: o.timeoutMs ?? 5_000 },
    metrics: { bootstrap: 100 },
    ...o.extra,
  };
}

export function writeConfig(dir: string, config: Record<string, unknown>, name = 'config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/**
 * What a finished run must reproduce, with volatile columns (times, latency, ids of ledger rows) left out:
 * transcripts, judgments, predictions and metrics, plus row counts that expose duplicates.
 */
export function snapshot(file: string): {
  turns: unknown[];
  judgments: unknown[];
  predictions: unknown[];
  metrics: unknown[];
  counts: Record<string, number>;
} {
  const store = openStore(file, { readonly: true });
  try {
    const q = (sql: string) => store.db.prepare(sql).all();
    const count = (t: string) => (store.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    return {
      turns: q('SELECT debate_id, idx, speaker, side, text, word_count, truncated FROM turns ORDER BY debate_id, idx'),
      judgments: q('SELECT example_id, judge, debate_id, order_swapped, p_correct, method, raw_text FROM judgments ORDER BY example_id, judge, debate_id, order_swapped'),
      predictions: q('SELECT model_id, example_id, p1 FROM predictions ORDER BY model_id, example_id'),
      metrics: q('SELECT * FROM metrics ORDER BY 1, 2, 3'),
      counts: Object.fromEntries(['runs', 'examples', 'debates', 'turns', 'judgments', 'models', 'predictions', 'metrics'].map((t) => [t, count(t)])),
    };
  } finally {
    store.close();
  }
}

/** Backend calls in the ledger per request hash; a hash seen twice is work paid for twice. */
export function backendCallsByHash(file: string): Map<string, number> {
  const store = openStore(file, { readonly: true });
  try {
    const rows = store.db.prepare('SELECT request_hash AS h, COUNT(*) AS n FROM calls WHERE cache_hit = 0 AND error IS NULL GROUP BY request_hash').all() as { h: string; n: number }[];
    return new Map(rows.map((r) => [r.h, r.n]));
  } finally {
    store.close();
  }
}

/** The id of the newest run in a database. */
export function newestRunId(file: string): string {
  const store = openStore(file, { readonly: true });
  try {
    return store.runs.listRuns()[0]!.id;
  } finally {
    store.close();
  }
}

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name) once the process has ended and its output is all read. */
  exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Spawns `w2s <args>` through tsx; killed at the end of the test file if still running. */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliRun {
  // tsx by file URL, so a child started in a folder outside the repo still finds it.
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((res) => child.on('close', (code, signal) => {
    children.delete(child);
    res(code ?? signal ?? -1);
  }));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs the CLI to the end; a hard 60 s cap keeps a hung child from stalling the suite. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const run = spawnCli(args, opts);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Waits until cond() holds, polling; throws after timeoutMs (a guard against a hung test, not a timing assertion). */
export async function waitFor(cond: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
