import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { ExperimentConfig } from '../config/experiment.js';
import { hubProvenance } from '../data/hub.js';
import { hubCacheRoot } from '../data/hub-cache.js';
import { filesUnder } from '../data/tasks/files.js';
import { hashFile } from '../models/file-identity.js';
import { DEFAULT_DATA_DIR, loadDataset, type LoadedDataset } from '../data/registry.js';
import { storedForm } from '../data/passage.js';
import { drawSplits, type SplitDraw } from '../data/splits.js';
import type { StageContext } from './context.js';
import { importedDataset, importedPools, readImport } from './import.js';

type Drawn = { loaded: LoadedDataset; draw: SplitDraw };

/**
 * The last config drawn, and its draw: the preflight draws the splits to check them, and the prepare stage that
 * follows in the same run reads the same draw instead of loading the dataset again. Keyed by the config object, so
 * another config (or a later run) always reads the files afresh; one slot, so a sweep holds one dataset, not all.
 */
let last: { config: ExperimentConfig; drawn: Promise<Drawn> } | undefined;

/** The config's dataset, loaded, and its seeded splits (whole groups only); read-only, so the preflight uses it too. */
export function drawExamples(config: ExperimentConfig): Promise<Drawn> {
  if (last?.config !== config) {
    const drawn = loadAndDraw(config);
    last = { config, drawn };
    // A failed load is not kept: the next call tries the files again.
    drawn.catch(() => {
      if (last?.drawn === drawn) last = undefined;
    });
  }
  return last.drawn;
}

async function loadAndDraw(config: ExperimentConfig): Promise<Drawn> {
  const d = config.dataset;
  const dataDir = d.dataDir ? resolve(d.dataDir) : process.env.W2S_DATA_DIR ? resolve(process.env.W2S_DATA_DIR) : DEFAULT_DATA_DIR;
  // debate.import: the import file's rows define the examples, or pick the dataset's rows by id (pipeline/import.ts).
  const imported = config.debate.import ? await readImport(config) : undefined;
  const loaded = imported?.examples ? importedDataset(imported) : await loadDataset({
    name: d.name,
    dataDir,
    path: d.path,
    files: d.files,
    splitField: d.splitField,
    passageField: d.passageField,
    twoChoice: d.format === 'two-choice',
    groupBy: d.groupBy,
    seed: config.seed,
    skipInvalid: d.skipInvalid,
    ...(d.source === 'hub' ? { source: 'hub' as const, revision: d.revision, hub: d.hub } : {}),
  });
  const pools = imported ? importedPools(config, imported, loaded.pools) : loaded.pools;
  return { loaded: { ...loaded, pools }, draw: drawSplits(pools, { seed: config.seed, sizes: d.sizes }) };
}

/** Loads the dataset, draws the seeded splits (whole groups only) and stores the examples with their groups. */
export async function prepareExamples(ctx: StageContext): Promise<void> {
  const d = ctx.config.dataset;
  const { loaded, draw } = await drawExamples(ctx.config);
  last = undefined; // stored from here on: the run no longer needs the rows in memory
  const read = await filesRead(loaded.files);
  const grouping = loaded.groupBy === null ? 'no grouping' : `groupBy "${loaded.groupBy}"`;
  ctx.store.transaction(() => {
    ctx.store.examples.insertExamples(
      ctx.runId,
      draw.examples.map((e) => ({
        id: e.id, split: e.split, label: e.label, answer: e.answer, alternative: e.alternative ?? null, meta: e.meta ?? null, group: e.group ?? null,
        // debate.passage decides here, once, what judges and weak models read and what debaters read besides.
        ...storedForm(e, ctx.config.debate.passage),
      })),
    );
    ctx.store.metrics.upsertMetric({
      runId: ctx.runId,
      subject: 'dataset',
      name: 'invalid_rows_skipped',
      value: loaded.invalid.length,
      note: loaded.invalid.slice(0, 5).map((r) => `${r.file}:${r.line}: ${r.reason}`).join('; ') || null,
    });
    ctx.store.metrics.upsertMetric({
      runId: ctx.runId,
      subject: 'dataset',
      name: 'train_rows_excluded_shared_group',
      value: draw.trainExcludedSharedGroup,
      note: `train-pool examples left out of training because their group is also in the test split (${grouping}); test examples are never dropped`,
    });
    for (const f of read) ctx.store.metrics.upsertMetric({ runId: ctx.runId, subject: 'dataset', name: `file:${f.file}`, value: f.size, note: f.note });
    if (loaded.groupBy !== null) {
      ctx.store.metrics.upsertMetric({
        runId: ctx.runId,
        subject: 'dataset',
        name: 'rows_without_group',
        value: loaded.ungrouped,
        note: `loaded examples with no value at ${grouping}, each a group of its own`,
      });
    }
  });
  const info = (message: string): void => ctx.progress({ stage: 'prepare', kind: 'info', message });
  if (loaded.invalid.length) info(`skipped ${loaded.invalid.length} invalid rows`);
  if (draw.trainExcludedSharedGroup) info(`left ${draw.trainExcludedSharedGroup} train-pool examples out: their ${grouping} group is also in the test split`);
  if (loaded.groupBy !== null && loaded.ungrouped) info(`${loaded.ungrouped} examples have no value at ${grouping}; each is its own group`);
  for (const split of ['train_weak', 'train_strong', 'test'] as const) {
    if (draw.drawn[split] < d.sizes[split]) info(`${split} holds ${draw.drawn[split]} of ${d.sizes[split]} examples: groups (${grouping}) are kept whole`);
  }
}

/**
 * What the run read, for its record: each file's size and sha256 (stored as the `dataset` metric `file:<path>`, value
 * the size in bytes, note `sha256 <hex>` and, for a file from the hub cache, the dataset id, revision, commit and path
 * in the repository). A folder (a release of one file per article) is summed up by the sha256 of its `sha256sum`
 * listing, over the files the dataset reads (data/tasks/files.ts filesUnder: hidden ones left out, sorted by relative
 * path). Hashed directly, not through the model-file memo (fileIdentity), which a folder of 25k articles would flush.
 */
async function filesRead(files: string[]): Promise<{ file: string; size: number; note: string }[]> {
  const cacheRoot = hubCacheRoot();
  const out: { file: string; size: number; note: string }[] = [];
  for (const file of files) {
    let size: number;
    let note: string;
    if ((await stat(file)).isDirectory()) {
      const listing: string[] = [];
      size = 0;
      for (const f of await filesUnder(file)) {
        const id = await hashFile(f);
        size += id.size;
        listing.push(`${id.sha256}  ${relative(file, f)}`);
      }
      note = `sha256 ${createHash('sha256').update(listing.join('\n') + '\n').digest('hex')} of the folder's sha256sum listing (${listing.length} files)`;
    } else {
      const id = await hashFile(file);
      size = id.size;
      note = `sha256 ${id.sha256}`;
    }
    const hub = await hubProvenance(file, cacheRoot);
    if (hub) note += `; hub ${hub.id} revision ${hub.revision}${hub.commit ? ` (commit ${hub.commit})` : ''} path ${hub.path}`;
    out.push({ file, size, note });
  }
  return out;
}
