import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SweepManifest } from '../../src/pipeline/sweep.js';
import { openStore } from '../../src/store/index.js';
import { sleep, startOpenAIServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, smallConfig, spawnCli, waitFor, writeDataset } from './fixture.js';

/**
 * `w2s sweep` end to end: the offline example sweep (every cell completed, one database per cell and one cache,
 * shared debates paid once, a rerun with no calls), a failing cell beside completed ones, --dry-run, one concurrency
 * limit per endpoint across cells, and Ctrl-C.
 */

const dir = tempDir('w2s-sweep-cli-');

/** `w2s <args>` to the end; a generous cap, since the example sweep runs 9 cells on a shared machine. */
async function cli(args: string[], capMs = 240_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const run = spawnCli(args);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), capMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const manifestOf = (file: string): SweepManifest => JSON.parse(readFileSync(file, 'utf8')) as SweepManifest;

/** Ledger rows of one database: backend calls (cache_hit = 0) and all rows. */
function ledgerRows(file: string): { paid: number; all: number } {
  const store = openStore(file, { readonly: true });
  try {
    return store.db.prepare('SELECT COALESCE(SUM(cache_hit = 0), 0) AS paid, COUNT(*) AS "all" FROM calls').get() as { paid: number; all: number };
  } finally {
    store.close();
  }
}

function writeSweep(name: string, sweep: Record<string, unknown>): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(sweep, null, 2));
  return file;
}

test('examples/sweep-quick.json: every cell completes, debates are paid once across ensemble sizes, a rerun makes no calls', async () => {
  const out = join(dir, 'quick');
  const first = await cli(['sweep', 'examples/sweep-quick.json', '--out-dir', out]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Sweep sweep-quick: completed/);

  const m = manifestOf(join(out, 'sweep-quick', 'sweep.json'));
  assert.equal(m.status, 'completed');
  assert.equal(m.cells.length, 9);
  assert.ok(m.cells.every((c) => c.status === 'completed' && existsSync(c.database)));
  assert.equal(m.cache, join(out, 'cache.sqlite'));
  // One database per cell, one manifest, one cache.
  assert.deepEqual(readdirSync(join(out, 'sweep-quick')).filter((f) => f.endsWith('.sqlite')).length, 9);
  assert.deepEqual(readdirSync(out).sort(), ['cache.sqlite', 'sweep-quick']);
  for (const c of m.cells) assert.match(first.stdout, new RegExp(`${c.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+completed\\s+${c.runId}`));

  // Nothing is paid twice across the sweep, and the ensemble-size cells of a protocol together pay what its largest
  // cell alone would: every transcript it needs (examples × 4 samples × 2 turns), and no more.
  const paid = new Map<string, number>();
  for (const c of m.cells) for (const [h, n] of backendCallsByHash(c.database)) paid.set(h, (paid.get(h) ?? 0) + n);
  assert.ok([...paid.values()].every((n) => n === 1), 'no request paid twice');
  for (const protocol of ['debate', 'consultancy']) {
    const cells = m.cells.filter((c) => c.set['debate.protocol'] === protocol);
    const largest = cells.find((c) => c.set['weak.ensemble.size'] === 4)!;
    assert.equal(cells.reduce((n, c) => n + ledgerRows(c.database).paid, 0), largest.plannedCalls, protocol);
    assert.equal(largest.plannedCalls, 90 * 4 * 2);
  }

  const before = m.cells.map((c) => ledgerRows(c.database));
  const again = await cli(['sweep', 'examples/sweep-quick.json', '--out-dir', out]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(m.cells.map((c) => ledgerRows(c.database)), before, 'the rerun added no ledger rows: no backend calls, not even cache hits');
  assert.ok(manifestOf(join(out, 'sweep-quick', 'sweep.json')).cells.every((c) => c.status === 'completed'));
});

test('a failing cell does not stop the others: exit 1, the manifest and the table say which; --dry-run writes nothing', async () => {
  const fixture = join(dir, 'mute.json');
  writeFileSync(fixture, JSON.stringify({ 'no prompt says this': 'never used' }));
  const file = writeSweep('failing', {
    name: 'failing',
    base: smallConfig({ dataset: writeDataset(dir, 20), debater: 'scripted:echo', turns: 1 }),
    cells: [{ $name: 'echo', seed: 1 }, { $name: 'mute', 'debate.debaters': [`scripted:${fixture}`] }, { $name: 'echo2', seed: 2 }],
  });
  const out = join(dir, 'failing-out');

  const dry = await cli(['sweep', file, '--out-dir', out, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  for (const name of ['echo', 'mute', 'echo2']) assert.match(dry.stdout, new RegExp(`failing/${name}\\s+at most 12 model calls \\(debater 12\\); no prices set`));
  assert.match(dry.stdout, /3 cells: at most 36 model calls in all; no prices set\./);
  assert.ok(!existsSync(out), '--dry-run writes nothing');

  const run = await cli(['sweep', file, '--out-dir', out]);
  assert.equal(run.code, 1, run.stderr);
  const m = manifestOf(join(out, 'failing', 'sweep.json'));
  assert.equal(m.status, 'failed');
  assert.deepEqual(m.cells.map((c) => [c.name, c.status]), [['failing/echo', 'completed'], ['failing/mute', 'failed'], ['failing/echo2', 'completed']]);
  assert.match(m.cells[1]!.reason!, /12 of 12 debates failed/);
  assert.match(run.stdout, /failing\/mute\s+failed/);
  assert.match(run.stderr, /✗ \[2\/3\] failing\/mute: failed — /);
  assert.match(run.stdout, /Sweep failing: failed/);
});

test('a cell that fails its preflight stops the sweep before anything is written, naming the cell', async () => {
  const file = writeSweep('missing', {
    name: 'missing',
    base: smallConfig({ dataset: writeDataset(dir, 20, 'm.jsonl'), debater: 'scripted:echo', turns: 1 }),
    axes: { 'debate.debaters.0': ['scripted:echo', `scripted:${join(dir, 'absent.json')}`] },
  });
  const out = join(dir, 'missing-out');
  const r = await cli(['sweep', file, '--out-dir', out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^w2s: Sweep cell missing\/debaters\.0=scripted:.*absent\.json: .*absent\.json does not exist/m);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!existsSync(out));
});

/** A loopback OpenAI-format server that counts the model calls in flight at once. */
async function countingServer(latencyMs: number) {
  let inFlight = 0;
  let max = 0;
  let posts = 0;
  const server = await startOpenAIServer({
    onRequest: async (req) => {
      if (req.method !== 'POST') return undefined;
      posts++;
      max = Math.max(max, ++inFlight);
      await sleep(latencyMs);
      inFlight--;
      return undefined;
    },
  });
  return { server, max: () => max, posts: () => posts };
}

test('--jobs 2 with gateway.concurrency 2: at most 2 calls in flight to the endpoint across both cells, not 4', async () => {
  const s = await countingServer(40);
  try {
    const file = writeSweep('limits', {
      name: 'limits',
      base: smallConfig({ dataset: writeDataset(dir, 20, 'l.jsonl'), debater: `openai:m@${s.server.url}`, concurrency: 2, turns: 2 }),
      // Different seeds: no request in common, so neither cell waits on the other's calls.
      axes: { seed: [1, 2] },
    });
    const out = join(dir, 'limits-out');
    const r = await cli(['sweep', file, '--out-dir', out, '--jobs', '2']);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = manifestOf(join(out, 'limits', 'sweep.json')).cells;
    // The cells ran at the same time, each able to ask for 4 calls at once (debates run 2 × concurrency jobs).
    assert.ok(a!.startedAt! < b!.finishedAt! && b!.startedAt! < a!.finishedAt!, 'the two cells overlapped');
    assert.equal(s.posts(), 2 * 12 * 2);
    assert.equal(s.max(), 2, 'one limit of 2 for the endpoint, shared by the cells');
  } finally {
    await s.server.close();
  }
});

test('Ctrl-C stops the whole sweep (exit 130, the cell running interrupted, the rest pending); the same command resumes it', async () => {
  const s = await countingServer(150);
  try {
    const file = writeSweep('stop', {
      name: 'stop',
      base: smallConfig({ dataset: writeDataset(dir, 20, 's.jsonl'), debater: `openai:m@${s.server.url}`, concurrency: 2, turns: 2 }),
      axes: { seed: [1, 2] },
    });
    const out = join(dir, 'stop-out');
    const args = ['sweep', file, '--out-dir', out];
    const run = spawnCli(args);
    await waitFor(() => s.posts() >= 2, 30_000, 'the first cell\'s calls');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /Stopping the sweep/);
    const m = manifestOf(join(out, 'stop', 'sweep.json'));
    assert.equal(m.status, 'interrupted');
    assert.deepEqual(m.cells.map((c) => c.status), ['interrupted', 'pending']);

    const again = await cli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(manifestOf(join(out, 'stop', 'sweep.json')).cells.map((c) => c.status), ['completed', 'completed']);
  } finally {
    await s.server.close();
  }
});

