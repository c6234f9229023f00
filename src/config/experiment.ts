import { z } from 'zod';

/**
 * One experiment is one JSON config. Everything has a default except the dataset and the models. Paths inside it are
 * relative to the config file (config/paths.ts lists the fields that hold one).
 * The JSON Schema published at schema/experiment.schema.json is generated from this (npm run schema).
 */

/** A hub dataset id as written: `owner/name`. */
export const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** A hub dataset id: `owner/name`, neither part `.` or `..` (the id is a folder path in the hub cache). */
export function isHubId(value: string): boolean {
  return HUB_ID.test(value) && !value.split('/').some((p) => p === '.' || p === '..');
}

const capabilityOverrides = z
  .object({
    chat: z.boolean().optional(),
    logprobs: z.boolean().optional(),
    embeddings: z.boolean().optional(),
    seed: z.boolean().optional(),
  })
  .strict();

/** A model as a role names it: a spec string, or a spec with adapter settings. */
export const ModelRefSchema = z.union([
  z.string().min(1).describe('Model spec: openai:<model>[@<baseURL>], ollama:<model>[@<host>], llamacpp:<file.gguf|hf:user/repo:quant>, scripted:<name>'),
  z
    .object({
      spec: z.string().min(1),
      apiKeyEnv: z.string().optional().describe('Environment variable holding this model\'s API key (default OPENAI_API_KEY).'),
      host: z.string().optional(),
      endpoints: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe(
          'openai, ollama: several servers of this model (e.g. vLLM replicas), for a spec without @<baseURL>. Each call goes to the least busy server that is up; one that fails (connection error, timeout, 5xx, 429) is taken out for a cool-down (2 s, doubling with each failure in a row, at most 60 s) and its calls are retried on another. concurrency applies to each server.',
        ),
      timeoutMs: z.number().int().positive().optional(),
      contextSize: z.number().int().positive().optional().describe('llamacpp: context size in tokens.'),
      threads: z.number().int().positive().optional().describe('llamacpp: CPU threads per context.'),
      poolSize: z.number().int().positive().optional().describe('llamacpp: contexts kept for this model; calls beyond it wait.'),
      gpu: z.union([z.literal(false), z.literal('auto'), z.literal('cuda'), z.literal('vulkan'), z.literal('metal')]).optional(),
      cacheDir: z.string().optional().describe('llamacpp: where hf: models are downloaded.'),
      concurrency: z.number().int().positive().optional().describe('Concurrent calls to this model\'s endpoint (to each of its endpoints).'),
      batch: z
        .boolean()
        .optional()
        .describe('openai: send this role\'s calls through the Batch API (lower price, answers within 24 h): a debate turn for every example at once, all judge calls, all embeddings. Not part of the run\'s identity. Default: gateway.batch (or w2s run --batch).'),
      capabilities: capabilityOverrides.optional(),
    })
    .strict(),
]);
export type ModelRef = z.infer<typeof ModelRefSchema>;

/**
 * The datasets a config may name. The config layer may not import src/data, so the list lives here too; it equals
 * src/data's DATASET_NAMES (the task table's names, then jsonl), which test/data/tasks.test.ts checks.
 */
export const DATASET_NAME_LIST = [
  'sciq', 'boolq', 'cosmos_qa', 'anthropic_hh',
  'arc_easy', 'arc_challenge', 'openbookqa', 'piqa', 'hellaswag', 'winogrande', 'quail', 'social_iqa', 'sst2', 'anli',
  'dream', 'mc_taco', 'multirc', 'race', 'quality', 'gsm8k',
  'jsonl',
] as const;

/**
 * The datasets with a two-choice form (dataset.format "two-choice"): their rows carry a wrong answer beside the right
 * one. Equal to the names of src/data's TWO_CHOICE_FRAMING, which test/data/two-choice.test.ts checks.
 */
export const TWO_CHOICE_DATASET_LIST = [
  'sciq', 'cosmos_qa', 'arc_easy', 'arc_challenge', 'openbookqa', 'piqa', 'hellaswag', 'winogrande', 'social_iqa', 'quality', 'jsonl',
] as const;

const LossSchema = z.enum(['xent', 'logconf', 'logconf_linear', 'product']);

const FeaturesSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('hashed'),
      dim: z.number().int().min(16).max(1 << 20).refine((d) => (d & (d - 1)) === 0, 'must be a power of 2').default(4096),
      ngrams: z.tuple([z.number().int().min(1).max(5), z.number().int().min(1).max(5)]).default([1, 2]).describe('Word n-gram orders [min, max].'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('embedding'),
      model: ModelRefSchema,
      maxChars: z.number().int().positive().optional().describe('Texts longer than this are handled by lengthRule.'),
    })
    .strict(),
]);

const ProbeSchema = z
  .object({
    optimizer: z.enum(['adam', 'lbfgs']).default('adam'),
    epochs: z.number().int().positive().default(20),
    lr: z.number().positive().default(0.01),
    batchSize: z.number().int().positive().default(32),
    l2: z.number().min(0).default(0),
    standardize: z.boolean().default(true),
    lengthRule: z.enum(['truncate_head', 'truncate_tail', 'drop']).default('truncate_tail'),
  })
  .strict();

const HfTrainerSchema = z
  .object({
    baseModel: z.string().min(1).describe('Hub id, local directory, or .gguf file; a local one is relative to the config file.'),
    mode: z.enum(['full', 'lora', 'head']).default('lora'),
    command: z.array(z.string()).optional().describe('Trainer executable and arguments; default: the reference trainer in trainers/hf. The executable (when it has a slash) and arguments that start with ./ or ../ or end in .py are relative to the config file.'),
    params: z.record(z.string(), z.unknown()).default({}),
    parallel: z.number().int().positive().default(1).describe('Ensemble members trained at once.'),
    processes: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe('Processes per node for data-parallel fine-tuning and prediction under torchrun (torch.distributed), e.g. one per GPU; batchSize stays the global batch. Above 1, the trainer runs under torchrun.'),
    launcher: z
      .enum(['auto', 'torchrun'])
      .default('auto')
      .describe('"auto": torchrun when processes > 1 or nnodes > 1, else one plain process; "torchrun": always torchrun, even for one process.'),
    nnodes: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe('Nodes taking part (torchrun --nnodes). Above 1, start the other nodes yourself (docs/trainer-protocol.md) and set rdzvEndpoint.'),
    rdzvEndpoint: z.string().min(1).optional().describe('host:port of the c10d rendezvous every node joins (torchrun --rdzv-endpoint); with nnodes > 1 only.'),
    rdzvId: z.string().min(1).default('w2s').describe('Rendezvous id every node passes (torchrun --rdzv-id).'),
  })
  .strict()
  .superRefine((hf, ctx) => {
    if (hf.nnodes > 1 && !hf.rdzvEndpoint) ctx.addIssue({ code: 'custom', path: ['rdzvEndpoint'], message: 'nnodes > 1 needs rdzvEndpoint, the host:port of the rendezvous every node joins' });
    if (hf.nnodes === 1 && hf.rdzvEndpoint) ctx.addIssue({ code: 'custom', path: ['rdzvEndpoint'], message: 'rdzvEndpoint is for several nodes; set nnodes too, or leave it out' });
    if (hf.nnodes > 1 && hf.parallel > 1) ctx.addIssue({ code: 'custom', path: ['parallel'], message: 'several nodes meet at one rendezvous, so only one launch at a time: parallel must be 1 when nnodes > 1' });
  });

/** How one group of models (weak or strong) is trained. */
const TrainerFields = z
  .object({
    backend: z.enum(['probe', 'hf']).default('probe'),
    features: FeaturesSchema.prefault({ kind: 'hashed' }),
    loss: LossSchema.default('xent'),
    probe: ProbeSchema.prefault({}),
    hf: HfTrainerSchema.optional(),
  })
  .strict();
const hasHfSection = (t: { backend: string; hf?: unknown }): boolean => t.backend !== 'hf' || t.hf !== undefined;
const HF_SECTION_MISSING = { message: 'backend "hf" needs an "hf" section with at least baseModel', path: ['hf'] };
const TrainerSchema = TrainerFields.refine(hasHfSection, HF_SECTION_MISSING);

const SizesSchema = z
  .object({
    train_weak: z.number().int().positive().default(100),
    train_strong: z.number().int().positive().default(100),
    test: z.number().int().positive().default(100),
  })
  .strict();

/** How intervals are computed: bootstrap resamples and the two-sided level (also the controls' section). */
export const MetricsSchema = z
  .object({
    bootstrap: z.number().int().min(100).max(100_000).default(1000),
    level: z.number().gt(0).lt(1).default(0.95),
  })
  .strict()
  .prefault({});

export const ExperimentSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1).regex(/^[\w.-]+$/, 'use letters, digits, dot, dash or underscore').default('experiment'),
    description: z
      .string()
      .optional()
      .describe('What this experiment can and cannot show, printed first by `w2s run`. Not part of the run\'s identity (config hash).'),
    seed: z.number().int().min(0).default(0),
    seeds: z
      .union([z.number().int().min(1).max(100), z.array(z.number().int().min(0)).min(1).max(100)])
      .optional()
      .describe('Training seeds: a count (0, 1, …, n−1) or a list. The training side (weak model, members, strong models) is repeated for each, on the same splits and transcripts, and each number is also reported as a mean over seeds with an across-seed interval. Default: one seed.'),
    dataset: z
      .object({
        name: z.enum(DATASET_NAME_LIST),
        dataDir: z.string().optional().describe('Folder holding the dataset files, relative to the config file; default W2S_DATA_DIR, else ../shared/datasets from the working directory.'),
        path: z.string().optional().describe('For name "jsonl": the file, relative to the config file.'),
        files: z
          .object({
            train: z.string().min(1).describe('The train pool: train_weak and train_strong are drawn from it (and test too when there is no test file).'),
            test: z.string().min(1).optional().describe('The test pool: the test split is drawn from it (e.g. the release\'s validation file).'),
          })
          .strict()
          .optional()
          .describe('Your own files in the dataset\'s release format, in place of the default layout under dataDir (any dataset, jsonl too); relative to the config file.'),
        splitField: z
          .string()
          .min(1)
          .optional()
          .describe('For name "jsonl": the row field whose value, "train" or "test", puts each row in the train or the test pool.'),
        passageField: z
          .string()
          .min(1)
          .optional()
          .describe('For name "jsonl": the dotted path of each row\'s passage (e.g. "context" or "meta.article"), kept apart from the question so that debate.passage can hide it from judges and weak models.'),
        groupBy: z
          .union([z.string().min(1), z.null()])
          .optional()
          .describe('Examples with the same value here never straddle two splits: a dotted path into the raw row (passage, meta.passage_id) or the formatted example. Default: the dataset\'s natural group (passage for boolq, context for cosmos_qa, article for race, ...; see datasets/README.md), none for sciq, anthropic_hh, jsonl and the other single-question sets; null: no grouping.'),
        format: z
          .enum(['claim', 'two-choice'])
          .optional()
          .describe('The form of each example: "claim" (the default) a question and one proposed answer, judged correct or not; "two-choice" a question and two answers, A and B (the right one and a wrong one, in an order drawn by the seed), debaters defending one each and judges picking one. Two-choice needs a dataset whose rows carry a wrong answer: ' + TWO_CHOICE_DATASET_LIST.join(', ') + ' (jsonl rows with "alternative").'),
        sizes: SizesSchema.prefault({}),
        skipInvalid: z.boolean().default(false),
        source: z
          .enum(['files', 'hub'])
          .optional()
          .describe('Where the files come from: "files" (the default) the data directory, "files" or "path"; "hub" the Hugging Face hub, downloaded once into the cache ($W2S_DATA_DIR/hub, else ~/.cache/w2s/datasets/hub; offline mode: the cache only).'),
        revision: z
          .string()
          .min(1)
          .optional()
          .describe('With source "hub": the branch, tag or commit to read (a 40-hex commit pins the data); default the dataset\'s hub revision, else main.'),
        hub: z
          .object({
            id: z
              .string()
              .regex(HUB_ID, { error: 'write the hub dataset id as owner/name', abort: true })
              .refine(isHubId, 'write the hub dataset id as owner/name, neither part "." or ".."')
              .describe('The hub dataset id, e.g. allenai/sciq.'),
            files: z
              .object({
                train: z.string().min(1).describe('Path inside the repository of the train pool file.'),
                test: z.string().min(1).optional().describe('Path inside the repository of the test pool file.'),
              })
              .strict(),
          })
          .strict()
          .optional()
          .describe('With source "hub": the repository and pool files to read, in place of the dataset\'s own hub entry (required for name "jsonl").'),
      })
      .strict()
      .superRefine((d, ctx) => {
        const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
        if (d.path !== undefined && d.files !== undefined) issue('files', 'give either "path" or "files", not both');
        else if (d.name === 'jsonl' && d.path === undefined && d.files === undefined && d.source !== 'hub') issue('path', 'dataset "jsonl" needs a "path" (or "files")');
        if (d.name !== 'jsonl' && d.path !== undefined) issue('path', `"path" is for name "jsonl" only; for your own ${d.name} files give "files": {"train": ..., "test": ...}`);
        if (d.files !== undefined && d.dataDir !== undefined) issue('dataDir', '"dataDir" is not used with "files"; remove one of them');
        if (d.format === 'two-choice' && !(TWO_CHOICE_DATASET_LIST as readonly string[]).includes(d.name)) {
          issue('format', `"two-choice" needs rows with a wrong answer beside the right one, which ${d.name} does not have; use one of ${TWO_CHOICE_DATASET_LIST.join(', ')}, or leave format out`);
        }
        if (d.passageField !== undefined && d.name !== 'jsonl') issue('passageField', `"passageField" is for name "jsonl" only; ${d.name}'s passage is built in (see datasets/README.md)`);
        if (d.splitField !== undefined && d.name !== 'jsonl') issue('splitField', `"splitField" is for name "jsonl" only; give ${d.name} a test pool with "files": {"train": ..., "test": ...}`);
        if (d.splitField !== undefined && d.files?.test !== undefined) issue('splitField', 'give either "splitField" (train and test rows in one file) or "files.test", not both');
        if (d.source === 'hub') {
          for (const key of ['path', 'files', 'dataDir'] as const) {
            if (d[key] !== undefined) issue(key, `"${key}" is not used with source "hub" (the files come from the hub cache); remove it, or set source to "files"`);
          }
          if (d.name === 'jsonl' && d.hub === undefined) issue('hub', 'dataset "jsonl" from the hub needs "hub": {"id": "owner/name", "files": {"train": "<path in the repository>"}}');
          if (d.splitField !== undefined && d.hub?.files.test !== undefined) issue('splitField', 'give either "splitField" (train and test rows in one file) or "hub.files.test", not both');
        } else {
          if (d.revision !== undefined) issue('revision', '"revision" is for source "hub"; set "source": "hub", or remove it');
          if (d.hub !== undefined) issue('hub', '"hub" is for source "hub"; set "source": "hub", or remove it');
        }
      }),
    debate: z
      .object({
        protocol: z.enum(['debate', 'consultancy', 'market', 'none']).default('debate'),
        debaters: z.array(ModelRefSchema).min(1).max(2).optional().describe('One model plays both sides, or two models play A and B.'),
        turns: z.number().int().min(1).max(10).default(3),
        samples: z.number().int().min(1).max(16).default(4).describe('Transcripts per example (K); each feeds one debate-ensemble member.'),
        maxTokens: z.number().int().positive().default(200),
        wordLimit: z.number().int().positive().default(150),
        temperature: z.number().min(0).max(2).default(0.7),
        promptsDir: z
          .string()
          .min(1)
          .optional()
          .describe('Folder of prompt templates (debate/, judge/), relative to the config file; default the prompts shipped with w2s.'),
        passage: z
          .enum(['debaters', 'all', 'none'])
          .optional()
          .describe('Who reads the example\'s passage (SciQ support, BoolQ passage, CosmosQA context, dataset.passageField for jsonl): "debaters" (hidden from every judge and weak model; debaters quote it and the judge sees which quotes are verified), "all", or "none". Default: as the task formats it.'),
        roles: z
          .enum(['assigned', 'open'])
          .optional()
          .describe('"open": each debater (consultant) first chooses the answer it argues, and the choice is recorded; default "assigned" (sides drawn at random).'),
        bestOf: z
          .number()
          .int()
          .min(2)
          .max(16)
          .optional()
          .describe('Best-of-N: each turn samples N candidate arguments, scores each by debate.scorer\'s probability for the debater\'s own side, keeps the best and stores all.'),
        scorer: ModelRefSchema.optional().describe('The judge model that scores best-of-N candidates (a logprobs judge); default the first judge\'s model.'),
        import: z
          .object({
            file: z.string().min(1).describe('The JSONL file of transcripts, relative to the config file (docs/import.md). The run id hashes its content, not its path.'),
            format: z
              .enum(['w2s', 'single_turn_debate'])
              .optional()
              .describe('"w2s" (the default): one transcript per line, docs/import.md; "single_turn_debate": the argument data of nyu-mll/single_turn_debate (one argument per answer, paired into a debate).'),
          })
          .strict()
          .optional()
          .describe('Transcripts written elsewhere (human debates, another harness): the debate stage stores them instead of calling debaters. Their rows define the examples (question, answer, label) or name the dataset\'s rows by id.'),
      })
      .strict()
      .prefault({}),
    // One strict object (an intersection would let a misspelt key under weak pass unnoticed).
    weak: TrainerFields.extend({
      ensemble: z
        .object({
          kind: z.enum(['debate', 'finetune']).default('debate'),
          size: z.number().int().min(1).max(16).default(4),
          ablation: z
            .boolean()
            .optional()
            .describe('The paper\'s Table 5 in one run, on the same splits: also train a finetune ensemble (every member reads transcript 0) and strong models on one weak model\'s labels and on the finetune ensemble\'s, beside the debate ensemble. Needs kind "debate" and a debate protocol.'),
        })
        .strict()
        .prefault({}),
    })
      .strict()
      .refine(hasHfSection, HF_SECTION_MISSING)
      .prefault({}),
    strong: TrainerSchema.prefault({}),
    judges: z
      .array(
        z
          .object({
            name: z.string().regex(/^[\w.-]+$/).optional().describe('Default judge<index>; judge ensembles name their members by it.'),
            model: ModelRefSchema,
            method: z.enum(['logprobs', 'parsed']).default('logprobs'),
            maxTokens: z.number().int().positive().default(8),
            template: z
              .string()
              .regex(/\.md$/, 'a prompt template is a .md file')
              .refine((t) => !t.startsWith('/') && !t.split(/[\\/]/).includes('..'), 'a judge template is a path under debate.promptsDir, without ".." or a leading "/"')
              .optional()
              .describe('This judge\'s prompt variant: a template under debate.promptsDir (default judge/verdict.md), with the same placeholders.'),
            samples: z
              .number()
              .int()
              .min(1)
              .max(16)
              .optional()
              .describe('Default 1. Self-consistency: replies sampled per presentation (each with its own seed); P(correct) is the share that pick "correct". More than 1 needs method "parsed" and a temperature above 0.'),
            temperature: z.number().min(0).max(2).optional().describe('Sampling temperature of this judge\'s calls; default 0.'),
            orders: z
              .enum(['both', 'original', 'swapped'])
              .optional()
              .describe('Which presentations the judge reads: both (the default) (the mean cancels option-order and name bias), or one of them (a cheaper, biased judge: a source of diversity in an ensemble).'),
            reads: z
              .enum(['transcript', 'question', 'question-and-passage'])
              .optional()
              .describe('What the judge reads: "transcript" (the default) the question, the answer and each transcript; "question" the question and answer alone, one judgment per example (the judge-alone baseline; with debate.passage "debaters", the blind judge); "question-and-passage" the same with the passage (needs debate.passage "debaters" or "all").'),
            transcripts: z
              .array(z.number().int().min(0).max(15))
              .min(1)
              .optional()
              .describe('Which transcript samples (0-based) the judge reads; default all of them.'),
            minCoverage: z
              .number()
              .min(0)
              .max(1)
              .optional()
              .describe('Default 0.9. The share of the judge\'s replies that must state a verdict; below it the judge gets no accuracy or PGR and supervises no strong model (its figures read "n/a (k of n judgments parsed)"), nor does a judge ensemble it is a member of.'),
          })
          .strict(),
      )
      .default([]),
    judgeEnsembles: z
      .array(
        z
          .object({
            name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, dot, dash or underscore'),
            members: z.array(z.string().min(1)).min(2).describe('Judge names (judges[].name, or judge<index>).'),
            aggregate: z
              .enum(['mean', 'vote', 'logit-mean', 'stacked'])
              .default('mean')
              .describe('mean: the members\' mean P(correct); vote: majority of their verdicts (a tie goes to the mean); logit-mean: the mean of their log-odds; stacked: a logistic regression on their log-odds, fit on train_weak (cross-fitted there), so its members also judge train_weak.'),
          })
          .strict(),
      )
      .optional()
      .describe('Ensembles of prompted judges: each is scored like a judge, supervises a strong model of its own, and is compared with its best member and the weak-model ensemble.'),
    gateway: z
      .object({
        cache: z.string().optional().describe('Shared response cache file, relative to the config file; default results/cache.sqlite in the working directory.'),
        concurrency: z.number().int().positive().default(4),
        maxAttempts: z.number().int().min(1).max(20).default(6),
        timeoutMs: z.number().int().positive().default(120_000),
        stopGraceMs: z
          .number()
          .int()
          .min(0)
          .default(5_000)
          .describe('After Ctrl-C, how long calls in flight may finish before they are cut off (the run resumes them).'),
        prices: z
          .record(z.string(), z.object({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }).strict())
          .default({})
          .describe('USD per million tokens, keyed by model spec. Local models cost 0.'),
        batch: z
          .boolean()
          .optional()
          .describe('Send every openai model\'s calls through the Batch API (as w2s run --batch); a model\'s own "batch" setting wins.'),
        batchPollMs: z.number().int().positive().default(30_000).describe('How often a batch in flight is polled, in milliseconds.'),
        batchPrices: z
          .record(z.string(), z.object({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }).strict())
          .optional()
          .describe('USD per million tokens of batched calls, keyed by model spec; a model not listed pays its prices entry less batchDiscount.'),
        batchDiscount: z
          .number()
          .min(0)
          .max(1)
          .default(0.5)
          .describe('The share of its prices entry a batched call saves when batchPrices does not list its model (OpenAI: 0.5, half price).'),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxCalls: z.number().int().positive().optional().describe("The run's total backend calls, over all its resumes (cached answers are free)."),
        maxCostUsd: z.number().positive().optional().describe("The run's total cost in USD, over all its resumes, from gateway.prices."),
      })
      .strict()
      .describe('Spending limits; kept with the run, so a resume without them keeps the last ones given.')
      .default({}),
    metrics: MetricsSchema,
    audit: z
      .object({
        onLeak: z
          .enum(['stop', 'warn'])
          .default('stop')
          .describe('What the leak audit does when a training split\'s P(advocated side = gold) differs from the test split\'s: stop the run, or only warn (when the imbalance is intended).'),
        alpha: z
          .number()
          .gt(0)
          .lt(0.5)
          .default(0.001)
          .describe('The chance that the leak audit stops an honest run: its tests are held together to this level (each at alpha divided by the number of tests).'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.debate.protocol !== 'none' && !c.debate.debaters && !c.debate.import) {
      ctx.addIssue({ code: 'custom', path: ['debate', 'debaters'], message: `protocol "${c.debate.protocol}" needs at least one debater model` });
    }
    checkImport(c.debate, (path, message) => ctx.addIssue({ code: 'custom', path: ['debate', ...path], message }));
    checkDebaterSkill(c, (path, message) => ctx.addIssue({ code: 'custom', path: ['debate', ...path], message }));
    if (c.weak.ensemble.kind === 'debate' && c.debate.protocol !== 'none' && c.weak.ensemble.size > c.debate.samples) {
      ctx.addIssue({
        code: 'custom',
        path: ['weak', 'ensemble', 'size'],
        message: `a debate ensemble of ${c.weak.ensemble.size} needs at least as many transcripts per example; raise debate.samples to ${c.weak.ensemble.size}`,
      });
    }
    if (c.weak.ensemble.ablation && (c.weak.ensemble.kind !== 'debate' || c.debate.protocol === 'none')) {
      ctx.addIssue({
        code: 'custom',
        path: ['weak', 'ensemble', 'ablation'],
        message: 'the ensemble ablation compares a debate ensemble with a finetune ensemble; set weak.ensemble.kind to "debate" and a debate protocol, or drop ablation',
      });
    }
    checkJudges(c, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    if (Array.isArray(c.seeds) && new Set(c.seeds).size !== c.seeds.length) {
      ctx.addIssue({ code: 'custom', path: ['seeds'], message: 'training seeds must differ; remove the repeated ones' });
    }
  });

export type ExperimentConfig = z.infer<typeof ExperimentSchema>;

/**
 * The judge fields added after runs existed are optional in the schema, so a config that leaves them out keeps its
 * config hash (and its run id); these are their values when left out.
 */
export const JUDGE_DEFAULTS = { samples: 1, temperature: 0, orders: 'both', template: 'judge/verdict.md', minCoverage: 0.9, reads: 'transcript' } as const;

/** A judge's name: its own, or judge<index>. */
export function judgeName(j: { name?: string }, index: number): string {
  return j.name ?? `judge${index}`;
}

/** debate.import: imported transcripts replace the debaters, so the settings that shape generated debates are refused. */
function checkImport(d: z.infer<typeof ExperimentSchema>['debate'], issue: (path: string[], message: string) => void): void {
  if (!d.import) return;
  if (d.protocol !== 'debate' && d.protocol !== 'consultancy') issue(['protocol'], `imported transcripts are stored as protocol "debate" (both sides) or "consultancy" (one side), not "${d.protocol}"; set debate.protocol to one of them`);
  if (d.debaters) issue(['debaters'], 'debate.import replaces the debaters (no debater is called); remove debate.debaters');
  if (d.roles !== undefined) issue(['roles'], 'imported transcripts come with their sides; remove debate.roles');
  if (d.bestOf !== undefined || d.scorer !== undefined) issue([d.bestOf !== undefined ? 'bestOf' : 'scorer'], 'best-of-N picks among generated arguments, and imported transcripts are not generated; remove debate.bestOf and debate.scorer');
}

/** debate.roles "open" and best-of-N: the protocols they apply to, and a scorer to score with. */
function checkDebaterSkill(c: Pick<z.infer<typeof ExperimentSchema>, 'debate' | 'judges' | 'dataset'>, issue: (path: string[], message: string) => void): void {
  const d = c.debate;
  if (d.roles === 'open' && d.protocol !== 'debate' && d.protocol !== 'consultancy') {
    issue(['roles'], `open roles let a debater or consultant choose its side, and protocol "${d.protocol}" has ${d.protocol === 'market' ? 'its side set by the weak model\'s pick' : 'no debater'}; use protocol "debate" or "consultancy", or remove debate.roles`);
  }
  if (d.roles === 'open' && c.dataset.format === 'two-choice') issue(['roles'], 'open roles ask the agent whether the proposed answer is correct, which two-choice examples do not have; remove debate.roles or dataset.format');
  if (d.bestOf !== undefined && d.protocol === 'none') issue(['bestOf'], 'best-of-N picks among debater arguments, and protocol "none" has none; remove debate.bestOf');
  if (d.bestOf !== undefined && d.scorer === undefined && c.judges.length === 0) issue(['scorer'], 'best-of-N scores each candidate with a logprobs judge model; set debate.scorer, or add a judge whose model it defaults to');
  if (d.scorer !== undefined && d.bestOf === undefined) issue(['scorer'], 'debate.scorer scores best-of-N candidates; set debate.bestOf to 2 or more, or remove debate.scorer');
}

type JudgeFields = Pick<z.infer<typeof ExperimentSchema>, 'judges' | 'judgeEnsembles' | 'debate'>;

/** Judges and judge ensembles: unique names, members that exist, sampling that can differ. */
function checkJudges(c: JudgeFields, issue: (path: (string | number)[], message: string) => void): void {
  const names = c.judges.map(judgeName);
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) issue(['judges', i, 'name'], `two judges are named "${n}"; give each judge its own name`);
  });
  c.judges.forEach((j, i) => {
    const samples = j.samples ?? JUDGE_DEFAULTS.samples;
    if (samples > 1 && j.method !== 'parsed') issue(['judges', i, 'samples'], `judge "${names[i]}" samples ${samples} replies, which needs method "parsed" (a logprobs judge already reads a probability)`);
    else if (samples > 1 && !j.temperature) issue(['judges', i, 'temperature'], `judge "${names[i]}" samples ${samples} replies at temperature 0, so they would all be the same; set a temperature above 0`);
    const repeated = (j.transcripts ?? []).find((t, k, all) => all.indexOf(t) !== k);
    if (repeated !== undefined) issue(['judges', i, 'transcripts'], `judge "${names[i]}" lists transcript ${repeated} twice; list each transcript once`);
    const outside = (j.transcripts ?? []).filter((t) => t >= c.debate.samples);
    if (outside.length) issue(['judges', i, 'transcripts'], `judge "${names[i]}" reads transcript ${outside[0]}, but debate.samples is ${c.debate.samples} (transcripts 0 to ${c.debate.samples - 1})`);
    if (j.transcripts && c.debate.protocol === 'none') issue(['judges', i, 'transcripts'], `judge "${names[i]}" picks transcripts, but protocol "none" has none; remove "transcripts"`);
    if (j.transcripts && j.reads !== undefined && j.reads !== 'transcript') issue(['judges', i, 'transcripts'], `judge "${names[i]}" reads the ${j.reads === 'question' ? 'question' : 'question and passage'} alone, so it reads no transcripts; remove "transcripts"`);
    if (j.reads === 'question-and-passage' && c.debate.passage !== 'debaters' && c.debate.passage !== 'all') {
      issue(['judges', i, 'reads'], `judge "${names[i]}" reads the passage, which needs debate.passage "debaters" or "all" (so each example's passage is kept); set it, or let the judge read "question"`);
    }
  });
  const ensembles = (c.judgeEnsembles ?? []).map((e) => e.name);
  (c.judgeEnsembles ?? []).forEach((e, i) => {
    if (ensembles.indexOf(e.name) !== i) issue(['judgeEnsembles', i, 'name'], `two judge ensembles are named "${e.name}"; give each its own name`);
    if (names.includes(e.name)) issue(['judgeEnsembles', i, 'name'], `judge ensemble "${e.name}" has the name of a judge; give it another`);
    const unknown = e.members.filter((m) => !names.includes(m));
    if (unknown.length) {
      issue(['judgeEnsembles', i, 'members'], `judge ensemble "${e.name}" names ${unknown.map((m) => `"${m}"`).join(', ')}, which no judge is called (judges: ${names.join(', ') || 'none'})`);
    }
    const repeated = e.members.find((m, k) => e.members.indexOf(m) !== k);
    if (repeated) issue(['judgeEnsembles', i, 'members'], `judge ensemble "${e.name}" lists "${repeated}" twice; list each member once`);
  });
}
export type ExperimentInput = z.input<typeof ExperimentSchema>;
