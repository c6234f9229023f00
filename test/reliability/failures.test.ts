import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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

test('--max-calls and --max-cost bound the run over all its resumes, stop with exit 3 and one sentence naming the real keys; raising the limit resumes', async () => {
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
    const posts = () => server.requests.filter((r) => r.method === 'POST').length;
    const count = () => {
      const s = openStore(out, { readonly: true });
      try {
        return s.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(cost_usd), 0) AS cost, SUM(error IS NOT NULL) AS errors FROM calls WHERE cache_hit = 0').get() as { n: number; cost: number; errors: number };
      } finally {
        s.close();
      }
    };

    const byCalls = await runCli(['run', configFile, '--out', out, ...cache, '--max-calls', '7']);
    assert.equal(byCalls.code, 3, `a budget stop has its own exit code: ${byCalls.stderr}`);
    const lines = byCalls.stderr.split('\n').filter((l) => l.startsWith('w2s:'));
    assert.equal(lines.length, 1, byCalls.stderr);
    assert.match(lines[0]!, /budget of 7 model calls is spent \(7 made.*raise limits\.maxCalls in the config or pass a higher --max-calls to continue\.$/);
    assert.doesNotMatch(byCalls.stderr, /budget\.maxCalls|Ctrl-C/);
    assert.equal(count().n, 7, 'stopped at the limit, not past it');
    assert.equal(count().errors, 0, 'calls in flight finished');
    assert.equal(posts(), 7, 'the server saw no more than the limit');

    // The same limit again: it bounds the run's total, so the resume makes no call (it paid 14 before this fix).
    const again = await runCli(['run', configFile, '--out', out, ...cache, '--max-calls', '7']);
    assert.equal(again.code, 3, again.stderr);
    assert.equal(posts(), 7, 'a resume under the same limit pays nothing more');
    // No limit named: the one given before is kept with the run.
    const kept = await runCli(['run', configFile, '--out', out, ...cache]);
    assert.equal(kept.code, 3, kept.stderr);
    assert.equal(posts(), 7);

    // Not a whole number of calls: refused before anything is written.
    const fractional = await runCli(['run', configFile, '--out', join(dir, 'never.sqlite'), '--max-calls', '2.5']);
    assert.equal(fractional.code, 1);
    assert.match(fractional.stderr, /^w2s: --max-calls must be a whole number of at least 1, got "2\.5"\.\n$/);
    assert.ok(!existsSync(join(dir, 'never.sqlite')));

    const byCost = await runCli(['run', configFile, '--out', join(dir, 'cost.sqlite'), '--no-cache', '--max-cost', '0.0005']);
    assert.equal(byCost.code, 3, byCost.stderr);
    assert.match(byCost.stderr, /budget of \$0\.0005 cannot cover the next call .*raise limits\.maxCostUsd in the config or pass a higher --max-cost to continue\./);
    const s = openStore(join(dir, 'cost.sqlite'), { readonly: true });
    try {
      const row = s.db.prepare('SELECT COUNT(*) AS n, SUM(cost_usd) AS cost FROM calls').get() as { n: number; cost: number };
      assert.ok(row.n > 0 && row.n < 24, `stopped part-way (${row.n} calls)`);
      // Calls in flight hold a reservation of their worst case, so together they can never spend past the limit.
      assert.ok(row.cost <= 0.0005, `spent ${row.cost}`);
    } finally {
      s.close();
    }

    // Raising the limit in the config resumes the same run (limits are not part of its identity).
    writeConfig(dir, { ...cfg, limits: { maxCalls: 1000 } });
    const resumed = await runCli(['run', configFile, '--out', out, ...cache]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(count().n, 24, 'the resumed run made only the calls still missing');
    assert.equal(posts(), 24 + callsIn(join(dir, 'cost.sqlite')), 'the server was paid once per call in the ledgers');
  } finally {
    await server.close();
  }
});

function callsIn(file: string): number {
  const s = openStore(file, { readonly: true });
  try {
    return (s.db.prepare('SELECT COUNT(*) AS n FROM calls WHERE cache_hit = 0').get() as { n: number }).n;
  } finally {
    s.close();
  }
}
