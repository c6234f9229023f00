import { resolve } from 'node:path';
import { DEFAULT_DATA_DIR, loadDataset } from '../data/registry.js';
import { makeSplits } from '../data/splits.js';
import type { StageContext } from './context.js';

/** Loads the dataset, draws the seeded splits and stores the examples. */
export async function prepareExamples(ctx: StageContext): Promise<void> {
  const d = ctx.config.dataset;
  const dataDir = d.dataDir ? resolve(d.dataDir) : process.env.W2S_DATA_DIR ? resolve(process.env.W2S_DATA_DIR) : DEFAULT_DATA_DIR;
  const loaded = await loadDataset({ name: d.name, dataDir, path: d.path, seed: ctx.config.seed, skipInvalid: d.skipInvalid });
  const examples = makeSplits(loaded.pools, { seed: ctx.config.seed, sizes: d.sizes });
  ctx.store.transaction(() => {
    ctx.store.examples.insertExamples(
      ctx.runId,
      examples.map((e) => ({ id: e.id, split: e.split, text: e.text, label: e.label, question: e.question, answer: e.answer, meta: e.meta ?? null })),
    );
    ctx.store.metrics.upsertMetric({
      runId: ctx.runId,
      subject: 'dataset',
      name: 'invalid_rows_skipped',
      value: loaded.invalid.length,
      note: loaded.invalid.slice(0, 5).map((r) => `${r.file}:${r.line}: ${r.reason}`).join('; ') || null,
    });
  });
  if (loaded.invalid.length) ctx.progress({ stage: 'prepare', kind: 'info', message: `skipped ${loaded.invalid.length} invalid rows` });
}
