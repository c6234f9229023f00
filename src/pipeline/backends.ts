import { basename, dirname, extname, join } from 'node:path';
import type { ExperimentConfig } from '../config/experiment.js';
import { modelSpec } from '../config/load.js';
import { embeddingFeaturizer, hashedNgramFeaturizer } from '../train/featurizers.js';
import { createProbeBackend } from '../train/probe.js';
import type { FineTuneBackend } from '../train/types.js';
import type { StageContext } from './context.js';

type TrainerConfig = ExperimentConfig['weak'] | ExperimentConfig['strong'];

/** Builds the fine-tuning backend a group (weak or strong) trains with. */
export async function createBackend(ctx: StageContext, group: 'weak' | 'strong', trainer: TrainerConfig): Promise<FineTuneBackend> {
  if (trainer.backend === 'hf') {
    const { createExternalBackend } = await import('../train/external.js');
    const hf = trainer.hf!;
    // Artifacts sit beside the experiment's database, one folder per run.
    const db = ctx.store.file;
    const workDir = join(dirname(db), `${basename(db, extname(db))}-artifacts`, ctx.runId, group);
    return createExternalBackend({
      command: hf.command,
      baseModel: hf.baseModel,
      mode: hf.mode,
      params: hf.params,
      workDir,
      processes: hf.processes,
      launcher: hf.launcher,
      nnodes: hf.nnodes,
      rdzvEndpoint: hf.rdzvEndpoint,
      rdzvId: hf.rdzvId,
    });
  }
  const f = trainer.features;
  const featurizer =
    f.kind === 'hashed'
      ? hashedNgramFeaturizer({ dim: f.dim, n: f.ngrams })
      : await (async () => {
          const model = await ctx.models.forRole(f.model, `${group}_features`, ['embeddings']);
          return embeddingFeaturizer({
            id: `embed:${modelSpec(f.model)}`,
            maxLength: f.maxChars,
            // The training's stop signal is not passed on: the gateway stops embed calls as it stops every call
            // (none starts after Ctrl-C; one in flight gets the grace period).
            embed: async (texts) => (await model.embed(texts)).vectors,
          });
        })();
  return createProbeBackend({ featurizer, ...trainer.probe });
}
