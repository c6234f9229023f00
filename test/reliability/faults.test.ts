import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { ALL_FAULTS, RETRYABLE_FAULTS, roundRobin, startFaultServer, type FaultServer } from '../helpers/fault-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, smallConfig, writeDataset } from './fixture.js';

/** Judges get a one-letter verdict (so logprobs matter); debaters a short argument. */
const reply = (req: SeenRequest): string => {
  const msgs: { role: string; content: string }[] = req.body?.messages ?? [];
  return msgs.some((m) => m.role === 'system') ? `My side holds for request ${msgs.at(-1)!.content.length}.` : 'A';
};
const isJudgeCall = (req: SeenRequest) => !(req.body?.messages ?? []).some((m: { role: string }) => m.role === 'system');

function ledger(file: string) {
  const store = openStore(file, { readonly: true });
  try {
    return store.db
      .prepare('SELECT role, cache_hit AS hit, attempts, finish_reason AS finish, error FROM calls ORDER BY id')
      .all() as { role: string; hit: number; attempts: number; finish: string | null; error: string | null }[];
  } finally {
    store.close();
  }
}

async function faultedRun(server: FaultServer, dir: string, spec: string) {
  const dataset = writeDataset(dir, 12);
  const config = parseExperiment(smallConfig({ dataset, debater: spec, judge: spec, timeoutMs: 1_000, maxAttempts: 4 }));
  const out = join(dir, 'run.sqlite');
  const outcome = await runExperiment({ config, out, cacheFile: join(dir, 'cache.sqlite') });
  return { outcome, out };
}

function checkRun(server: FaultServer, out: string, status: string) {
  assert.equal(status, 'completed');
  const store = openStore(out, { readonly: true });
  try {
    const runId = store.runs.listRuns()[0]!.id;
    const debates = store.debates.listDebates(runId);
    assert.equal(debates.length, 12);
    assert.ok(debates.every((d) => d.status === 'completed'), 'every debate finished');
    assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM turns').get() as { n: number }).n, 24, 'every turn stored');
    assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM judgments').get() as { n: number }).n, 16, 'every judgment stored, both orders');
    // Judgments whose answer came without logprobs fell back to the stated letter; the rest read the logprobs.
    const noLogprobJudge = server.injected.filter((f) => f.kind === 'no_logprobs' && isJudgeCall(f.req)).length;
    const methods = store.db.prepare('SELECT method, COUNT(*) AS n FROM judgments GROUP BY method').all() as { method: string; n: number }[];
    assert.equal(methods.find((m) => m.method === "parsed")?.n ?? 0, noLogprobJudge, JSON.stringify({ methods, inj: server.injected.filter((f) => isJudgeCall(f.req)).map((f) => f.kind) }));
    assert.equal(methods.find((m) => m.method === 'logprobs')?.n ?? 0, 16 - noLogprobJudge, JSON.stringify({ methods, inj: server.injected.filter((f) => isJudgeCall(f.req)).map((f) => f.kind) }));
  } finally {
    store.close();
  }

  const calls = ledger(out);
  const backend = calls.filter((c) => !c.hit);
  assert.equal(backend.length, 24 + 16, 'one ledger row per logical call');
  assert.ok(backend.every((c) => c.error === null), 'no call failed for good');
  // Every retryable fault cost exactly one extra attempt, and the ledger counts it.
  const retryable = server.injected.filter((f) => RETRYABLE_FAULTS.includes(f.kind)).length;
  assert.ok(retryable > 0);
  assert.equal(backend.reduce((s, c) => s + c.attempts, 0), backend.length + retryable, 'attempts in the ledger = calls + injected failures');
  const lengthDebater = server.injected.filter((f) => f.kind === 'finish_length' && !isJudgeCall(f.req)).length;
  assert.equal(calls.filter((c) => c.role === 'debater' && c.finish === 'length').length, lengthDebater, 'finish_reason=length is recorded as such');
  // No work paid twice: each request hash reached the backend once.
  assert.ok([...backendCallsByHash(out).values()].every((n) => n === 1));
}

test('a run against an OpenAI server injecting every fault completes with every result stored and every retry in the ledger', async () => {
  const dir = tempDir();
  const server = await startFaultServer({ schedule: roundRobin(ALL_FAULTS), reply });
  try {
    const { outcome, out } = await faultedRun(server, dir, `openai:m@${server.url}`);
    assert.deepEqual(new Set(server.injected.map((f) => f.kind)), new Set(ALL_FAULTS), 'every fault kind was exercised');
    checkRun(server, out, outcome.status);
    const store = openStore(out, { readonly: true });
    try {
      const truncatedTurns = (store.db.prepare('SELECT COUNT(*) AS n FROM turns WHERE truncated = 1').get() as { n: number }).n;
      assert.ok(truncatedTurns >= server.injected.filter((f) => f.kind === 'finish_length' && !isJudgeCall(f.req)).length, 'length-cut turns are marked truncated');
    } finally {
      store.close();
    }
  } finally {
    await server.close();
  }
});

test('a run against an Ollama server injecting every fault completes the same way', async () => {
  const dir = tempDir();
  const server = await startFaultServer({ wire: 'ollama', schedule: roundRobin(ALL_FAULTS), reply });
  try {
    const { outcome, out } = await faultedRun(server, dir, `ollama:m@${server.url}`);
    checkRun(server, out, outcome.status);
  } finally {
    await server.close();
  }
});

test('a 429 with Retry-After is waited out before the next attempt', async () => {
  const dir = tempDir();
  // One second of Retry-After on every first attempt. Backoff jitter alone is below 1 s on a first retry with a
  // 1 s base, so a ledger latency of at least 1 s shows the header was honoured (a lower bound: a sleep cannot be early).
  const server = await startFaultServer({ schedule: () => ['429'], retryAfterS: 1, reply });
  try {
    const dataset = writeDataset(dir, 3);
    const config = parseExperiment(smallConfig({ dataset, debater: `openai:m@${server.url}`, perSplit: 1, turns: 1 }));
    const out = join(dir, 'r.sqlite');
    const outcome = await runExperiment({ config, out, cacheFile: join(dir, 'c.sqlite') });
    assert.equal(outcome.status, 'completed');
    assert.equal(server.injected.length, 3);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, 6, 'each request tried twice, no more');
    const store = openStore(out, { readonly: true });
    try {
      const rows = store.db.prepare('SELECT attempts, latency_ms AS ms, error FROM calls').all() as { attempts: number; ms: number; error: string | null }[];
      assert.equal(rows.length, 3);
      for (const r of rows) {
        assert.equal(r.attempts, 2);
        assert.equal(r.error, null);
        assert.ok(r.ms >= 1_000, `waited ${r.ms} ms, at least the Retry-After`);
      }
    } finally {
      store.close();
    }
  } finally {
    await server.close();
  }
});
