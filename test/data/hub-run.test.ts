import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { configHash, parseExperiment } from '../../src/config/load.js';
import { loadDataset } from '../../src/data/registry.js';
import { UserError } from '../../src/errors.js';
import { preflight } from '../../src/pipeline/preflight.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A run with dataset.source "hub": the prepare stage reads the task's hub files through the cache (the preflight
 * downloads them first), draws exactly the examples a run on the same release file from ../shared/datasets draws, and
 * records which files it read with their sha256.
 */

const SHARED = join(import.meta.dirname, '../../../shared/datasets');
const HH = join(SHARED, 'anthropic_hh/harmless-base_test.jsonl.gz');
const HH_SHA = createHash('sha256').update(readFileSync(HH)).digest('hex');
const dir = tempDir('w2s-hub-run-');
const dataDir = join(dir, 'data');
// This file's own caches, never the developer's.
process.env['W2S_CACHE_DIR'] = join(dir, 'w2s-cache');
process.env['W2S_DATA_DIR'] = dataDir;
delete process.env['HF_TOKEN'];
delete process.env['HF_HUB_OFFLINE'];
delete process.env['W2S_OFFLINE'];

let hub: HubServer;
before(async () => {
  hub = await startHubServer({
    repos: [
      { id: 'Anthropic/hh-rlhf', files: [{ path: 'harmless-base/test.jsonl.gz', source: HH }] },
      { id: 'me/my-data', files: [{ path: 'data/test.jsonl', source: Buffer.from('{"text": "one", "label": 1}\n{"text": "two", "label": 0}\n{"text": "three", "label": 1}\n') }] },
    ],
  });
  process.env['HF_ENDPOINT'] = hub.url;
});
after(() => hub.close());

function config(dataset: Record<string, unknown>, name: string) {
  return parseExperiment({
    name,
    seed: 1,
    dataset: { name: 'anthropic_hh', sizes: { train_weak: 20, train_strong: 20, test: 20 }, ...dataset },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'finetune', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, probe: { epochs: 2 } },
    metrics: { bootstrap: 200 },
  });
}

async function runOf(dataset: Record<string, unknown>, name: string) {
  const out = join(dir, `${name}.sqlite`);
  const outcome = await runExperiment({ config: config(dataset, name), out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed', `the ${name} run completed`);
  const store = openStore(out, { readonly: true });
  try {
    const examples = store.examples.listExamples(outcome.runId).map((e) => ({ id: e.id, split: e.split, label: e.label, text: e.text }));
    const files = store.metrics.listMetrics(outcome.runId, 'dataset').filter((m) => m.name.startsWith('file:'));
    return { examples, files };
  } finally {
    store.close();
  }
}

test('a run from the hub draws the examples a run on the release file draws, and records the file and its sha256', async () => {
  const cached = join(dataDir, 'hub/Anthropic/hh-rlhf/main/harmless-base/test.jsonl.gz');
  // The preflight writes no database, but it may fill the cache: the first run downloads.
  const from = hub.requests.length;
  await preflight(config({ source: 'hub' }, 'hub'));
  assert.ok(existsSync(cached), 'the preflight fetched the file into the cache');
  assert.equal(existsSync(join(dir, 'hub.sqlite')), false, 'and wrote no database');
  assert.ok(hub.requests.slice(from).some((q) => q.server === 'cdn'), 'by downloading it');

  const fromHub = await runOf({ source: 'hub' }, 'hub');
  const fromFiles = await runOf({ dataDir: SHARED }, 'files');
  assert.equal(fromHub.examples.length, 60, 'every split filled');
  assert.deepEqual(fromHub.examples, fromFiles.examples, 'the same examples: ids, splits, labels and texts');

  assert.deepEqual(
    fromHub.files.map((m) => ({ name: m.name, value: m.value, note: m.note })),
    [{ name: `file:${cached}`, value: statSync(HH).size, note: `sha256 ${HH_SHA}; hub Anthropic/hh-rlhf revision main (commit ${commitOf()}) path harmless-base/test.jsonl.gz` }],
    'the hub run records the cached file, its size, sha256, and where on the hub it came from',
  );
  assert.deepEqual(
    fromFiles.files.map((m) => ({ name: m.name, value: m.value, note: m.note })),
    [{ name: `file:${HH}`, value: statSync(HH).size, note: `sha256 ${HH_SHA}` }],
    'a run on local files records them the same way',
  );
});

/** The commit the loopback hub reports for Anthropic/hh-rlhf (the sha1 of its id). */
function commitOf(): string {
  return createHash('sha1').update('Anthropic/hh-rlhf').digest('hex');
}

test('offline, a hub dataset missing from the cache stops the preflight with one sentence, without a request', async () => {
  const before = hub.requests.length;
  process.env['W2S_OFFLINE'] = '1';
  process.env['W2S_DATA_DIR'] = join(dir, 'empty-cache');
  try {
    await assert.rejects(preflight(config({ source: 'hub' }, 'offline')), (e: unknown) => {
      assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
      assert.match(e.message, /^Offline mode is on and Anthropic\/hh-rlhf harmless-base\/test\.jsonl\.gz at revision main is not in the cache/, e.message);
      return true;
    });
  } finally {
    delete process.env['W2S_OFFLINE'];
    process.env['W2S_DATA_DIR'] = dataDir;
  }
  assert.equal(hub.requests.length, before, 'no request');
});

test('dataset.hub reads your own data from a hub repository; the config refuses what does not fit source "hub"', async () => {
  const loaded = await loadDataset({ name: 'jsonl', dataDir: SHARED, source: 'hub', hub: { id: 'me/my-data', files: { train: 'data/test.jsonl' } }, seed: 0 });
  assert.deepEqual(loaded.pools.train.map((e) => [e.id, e.label]), [['jsonl/test/0', 1], ['jsonl/test/1', 0], ['jsonl/test/2', 1]], 'the rows of the hub file');

  const parse = (dataset: Record<string, unknown>) => parseExperiment({ debate: { protocol: 'none' }, weak: {}, strong: {}, dataset: { name: 'sciq', ...dataset } });
  const bad = (dataset: Record<string, unknown>, pattern: RegExp, why: string): void => {
    assert.throws(() => parse(dataset), pattern, why);
  };
  bad({ source: 'hub', dataDir: 'x' }, /"dataDir" is not used with source "hub"/, 'dataDir with the hub');
  bad({ source: 'hub', files: { train: 'a.json' } }, /"files" is not used with source "hub"/, 'files with the hub');
  bad({ revision: 'main' }, /"revision" is for source "hub"/, 'a revision without the hub');
  bad({ name: 'jsonl', source: 'hub' }, /dataset "jsonl" from the hub needs "hub"/, 'jsonl from the hub without a repository');
  bad({ source: 'hub', hub: { id: 'no-slash', files: { train: 'a' } } }, /owner\/name/, 'a malformed hub id');
  bad({ source: 'hub', hub: { id: 'owner/..', files: { train: 'a' } } }, /^UserError: config: field dataset\.hub\.id: write the hub dataset id as owner\/name, neither part "\." or "\.\."\.$/, 'an id the hub cache refuses is refused by the config first');
  const ok = parse({ source: 'hub', revision: 'refs/convert/parquet' });
  assert.equal(ok.dataset.source, 'hub', 'source hub with a revision is accepted');
  assert.equal(
    configHash(parse({ source: 'files' })),
    configHash(parse({})),
    'source "files" spelled out is the same run as leaving it out',
  );
  assert.notEqual(configHash(ok), configHash(parse({})), 'a hub run is another run');
});
