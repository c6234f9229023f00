import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { startFaultServer } from '../helpers/fault-server.js';
import { freePort, type SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, smallConfig, snapshot, writeDataset } from './fixture.js';

/** Judges get a one-letter verdict; debaters a short argument (as in faults.test.ts). */
const reply = (req: SeenRequest): string =>
  (req.body?.messages ?? []).some((m: { role: string }) => m.role === 'system') ? `My side holds, seed ${req.body.seed}.` : 'A';

test('a run whose models have two servers, one of them down for the whole run, completes on the other with every call in its ledger', async () => {
  const dir = tempDir();
  const server = await startFaultServer({ reply });
  try {
    const down = `http://127.0.0.1:${await freePort()}/v1`;
    const model = { spec: 'openai:m', endpoints: [server.url, down], concurrency: 2 };
    const dataset = writeDataset(dir, 12);
    // Both the debater and a logprobs judge (whose capability probe goes through the same servers) on the pair.
    const raw = smallConfig({ dataset, debater: 'unused', judge: 'unused', maxAttempts: 4 });
    (raw.debate as { debaters: unknown[] }).debaters = [model];
    (raw.judges as { model: unknown }[])[0]!.model = model;
    const out = join(dir, 'run.sqlite');
    const outcome = await runExperiment({ config: parseExperiment(raw), out, cacheFile: join(dir, 'cache.sqlite') });
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));

    const store = openStore(out, { readonly: true });
    try {
      const rows = store.db.prepare('SELECT model, endpoint, attempts, error FROM calls WHERE cache_hit = 0').all() as { model: string; endpoint: string | null; attempts: number; error: string | null }[];
      const s = snapshot(out);
      // Every debate of the 12 examples has its 2 turns: nothing was lost to the server that is down.
      assert.equal(s.counts.turns, 24, 'every turn stored');
      assert.equal(rows.length, s.counts.turns! + s.counts.judgments!, 'one ledger row per turn and judgment');
      assert.deepEqual([...new Set(rows.map((r) => r.endpoint))], [server.url], 'every call answered by the server that is up, and the ledger says so');
      assert.deepEqual([...new Set(rows.map((r) => r.model))], ['openai:m'], 'the ledger names the model by its spec');
      assert.ok(rows.every((r) => r.error === null), 'no call failed for good');
      // The server that was down was tried (and failed over) at least once: attempts beyond one per call.
      assert.ok(rows.reduce((n, r) => n + r.attempts, 0) > rows.length, 'some attempts went to the server that is down and were retried on the other');
      const posts = server.requests.filter((r) => r.method === 'POST').length;
      assert.equal(posts, rows.length + 1, 'the server that is up answered each call once, and the judge\'s capability probe');
      assert.ok([...backendCallsByHash(out).values()].every((n) => n === 1), 'no request paid twice');
    } finally {
      store.close();
    }
  } finally {
    await server.close();
  }
});
