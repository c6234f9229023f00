import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { startFaultServer } from '../helpers/fault-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, runCli, smallConfig, writeConfig, writeDataset } from './fixture.js';

const mentions = (req: SeenRequest, text: string) => JSON.stringify(req.body ?? '').includes(text);

test('one example failing for good: the others finish, the run is reported failed, --retry-failed redoes only that one', async () => {
  const dir = tempDir();
  let broken = true;
  const server = await startFaultServer({ failForever: (req) => broken && mentions(req, 'crate 2?') });
  try {
    const configFile = writeConfig(dir, smallConfig({ dataset: writeDataset(dir, 12), debater: `openai:m@${server.url}`, maxAttempts: 2, turns: 2 }));
    const out = join(dir, 'run.sqlite');
    const args = ['run', configFile, '--out', out, '--cache', join(dir, 'c.sqlite')];
    const first = await runCli(args);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /failed: 1 of 12 debates failed .*--retry-failed/);

    let lastId: number;
    let goodTurns: unknown[];
    const store = openStore(out, { readonly: true });
    try {
      assert.equal(store.runs.listRuns()[0]!.status, 'failed');
      const debates = store.debates.listDebates(store.runs.listRuns()[0]!.id);
      const failed = debates.filter((d) => d.status === 'failed');
      assert.equal(failed.length, 1);
      assert.match(failed[0]!.exampleId, /^item2$/);
      assert.equal(debates.filter((d) => d.status === 'completed').length, 11, 'the others carried on');
      // The failure is in the ledger: the call that failed for good, with its attempts and error.
      const errors = store.db.prepare('SELECT attempts, error FROM calls WHERE error IS NOT NULL').all() as { attempts: number; error: string }[];
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.attempts, 2);
      assert.match(errors[0]!.error, /500/);
      lastId = (store.db.prepare('SELECT MAX(id) AS id FROM calls').get() as { id: number }).id;
      goodTurns = store.db.prepare("SELECT * FROM turns WHERE debate_id NOT LIKE '%/item2/%' ORDER BY debate_id, idx").all();
    } finally {
      store.close();
    }

    // Without --retry-failed the failure stands (and costs nothing).
    const again = await runCli(args);
    assert.equal(again.code, 1);
    broken = false;
    const retried = await runCli([...args, '--retry-failed']);
    assert.equal(retried.code, 0, retried.stderr);

    const after = openStore(out, { readonly: true });
    try {
      const runId = after.runs.listRuns()[0]!.id;
      assert.equal(after.runs.listRuns()[0]!.status, 'completed');
      assert.ok(after.debates.listDebates(runId).every((d) => d.status === 'completed'));
      // The finished debates were not touched, and the retry's debater calls were all for the failed example.
      assert.deepEqual(after.db.prepare("SELECT * FROM turns WHERE debate_id NOT LIKE '%/item2/%' ORDER BY debate_id, idx").all(), goodTurns);
      const newTurnCalls = after.db.prepare('SELECT t.debate_id AS d FROM turns t JOIN calls c ON c.id = t.call_id WHERE c.id > ?').all(lastId) as { d: string }[];
      assert.equal(newTurnCalls.length, 2);
      assert.ok(newTurnCalls.every((r) => r.d.includes('/item2/')));
      const retryDebaterCalls = after.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE id > ? AND role = 'debater' AND cache_hit = 0").get(lastId) as { n: number };
      assert.equal(retryDebaterCalls.n, 2, 'only the failed debate called the debater again');
    } finally {
      after.close();
    }
    assert.ok([...backendCallsByHash(out).values()].every((n) => n === 1), 'no successful call paid twice');
  } finally {
    await server.close();
  }
});

test('--max-calls and --max-cost stop the run cleanly before going past them; raising the limit resumes', async () => {
  const dir = tempDir();
  const server = await startFaultServer();
  try {
    const url = server.url;
    const cfg = smallConfig({ dataset: writeDataset(dir, 12), debater: `openai:m@${url}`, turns: 2 });
    // About 1e-4 USD per call at these prices (a few hundred prompt tokens).
    (cfg.gateway as Record<string, unknown>).prices = { [`openai:m@${url}`]: { inputPerMTok: 0.5, outputPerMTok: 1 } };
    const configFile = writeConfig(dir, cfg);
    const out = join(dir, 'budget.sqlite');
    const cache = ['--cache', join(dir, 'c.sqlite')];

    const byCalls = await runCli(['run', configFile, '--out', out, ...cache, '--max-calls', '7']);
    assert.equal(byCalls.code, 130, byCalls.stderr);
    assert.match(byCalls.stderr, /budget of 7 model calls/);
    const count = () => {
      const s = openStore(out, { readonly: true });
      try {
        return s.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(cost_usd), 0) AS cost, SUM(error IS NOT NULL) AS errors FROM calls WHERE cache_hit = 0').get() as { n: number; cost: number; errors: number };
      } finally {
        s.close();
      }
    };
    assert.equal(count().n, 7, 'stopped at the limit, not past it');
    assert.equal(count().errors, 0, 'calls in flight finished');
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, 7, 'the server saw no more than the limit');

    const byCost = await runCli(['run', configFile, '--out', join(dir, 'cost.sqlite'), '--no-cache', '--max-cost', '0.0005']);
    assert.equal(byCost.code, 130, byCost.stderr);
    assert.match(byCost.stderr, /budget of \$0\.0005 is spent/);
    const s = openStore(join(dir, 'cost.sqlite'), { readonly: true });
    try {
      const row = s.db.prepare('SELECT COUNT(*) AS n, SUM(cost_usd) AS cost FROM calls').get() as { n: number; cost: number };
      assert.ok(row.n > 0 && row.n < 24, `stopped part-way (${row.n} calls)`);
      // Calls in flight hold a reservation of their worst case, so together they can never spend past the limit.
      assert.ok(row.cost <= 0.0005, `spent ${row.cost}`);
    } finally {
      s.close();
    }

    const resumed = await runCli(['run', configFile, '--out', out, ...cache]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(count().n, 24, 'the resumed run made only the calls still missing');
  } finally {
    await server.close();
  }
});
