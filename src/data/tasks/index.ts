import { anthropicHhRowSchema, formatAnthropicHh } from '../anthropic_hh.js';
import { boolqRowSchema, formatBoolq } from '../boolq.js';
import { cosmosQaRowSchema, formatCosmosQa, formatCosmosQaTwoChoice } from '../cosmos_qa.js';
import { formatSciq, formatSciqTwoChoice, sciqRowSchema } from '../sciq.js';
import { anliRowSchema, formatAnli, normalizeAnli } from './anli.js';
import { aristoRowSchema, formatAristo, formatAristoTwoChoice, normalizeAristo } from './arc.js';
import { defineTask } from './common.js';
import { dreamRowSchema, formatDream, normalizeDream } from './dream.js';
import { isTsv, readObjectPerFile, readTsv, readWithLabelsFile } from './files.js';
import { formatGsm8k, gsm8kRowSchema } from './gsm8k.js';
import { formatHellaswag, formatHellaswagTwoChoice, hellaswagRowSchema } from './hellaswag.js';
import { formatMcTaco, mcTacoRowSchema, readMcTaco } from './mc_taco.js';
import { formatMultirc, multircRowSchema, normalizeMultirc } from './multirc.js';
import { formatPiqa, formatPiqaTwoChoice, piqaRowSchema } from './piqa.js';
import { formatQuail, quailRowSchema } from './quail.js';
import { formatQuality, formatQualityTwoChoice, qualityRowSchema } from './quality.js';
import { formatRace, normalizeRace, raceRowSchema } from './race.js';
import { readRecords } from '../readers.js';
import { formatSocialIqa, formatSocialIqaTwoChoice, socialIqaRowSchema } from './social_iqa.js';
import { formatSst2, sst2RowSchema } from './sst2.js';
import type { Task } from './types.js';
import { formatWinogrande, formatWinograndeTwoChoice, winograndeRowSchema } from './winogrande.js';

export type { Finish, HubSource, PoolFile, Task } from './types.js';

const CORRECT_OR_NOT = 'debate whether the answer is correct or incorrect';
/** The two-choice framing of a question with two candidate answers (dataset.format "two-choice"). */
const twoAnswers = (what: string): string => `${what}, and two candidate answers to it, A and B; debate which of the two is right`;

/**
 * Every benchmark w2s reads, by the name a config gives (`dataset.name`): its default files under the data directory,
 * where to get them (the release and the Hugging Face hub), how a row is validated and formatted, which rows must stay
 * in one split, which field a hidden-passage debate would hide, and how the debaters are told what they see. The
 * release formats, label rules and file names are described in datasets/README.md.
 *
 * Hub paths: confirmed against the repository listing where no comment says otherwise; `unverified: true` marks those
 * written from the hub's usual layout (a `refs/convert/parquet` export, `<config>/<split>/0000.parquet`) without a
 * listing to check them against.
 */
export const TASKS = {
  sciq: defineTask({
    files: [
      { pool: 'train', file: 'sciq/train.json', split: 'train' },
      { pool: 'test', file: 'sciq/test.json', split: 'test' },
    ],
    source: 'the AI2 SciQ release (SciQ.zip, Hugging Face allenai/sciq)',
    // Unverified: the parquet paths follow the hub's data/<split>-00000-of-00001.parquet convention.
    hub: { id: 'allenai/sciq', files: { train: 'data/train-00000-of-00001.parquet', test: 'data/test-00000-of-00001.parquet' }, unverified: true },
    license: 'CC BY-NC 3.0',
    schema: sciqRowSchema,
    format: formatSciq,
    groupBy: null,
    framing: `a science question followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatSciqTwoChoice, framing: twoAnswers('a science question') },
  }),
  boolq: defineTask({
    files: [{ pool: 'train', file: 'boolq/dev.jsonl', split: 'dev' }],
    source: 'the BoolQ release (gs://boolq/dev.jsonl, Hugging Face google/boolq)',
    // Unverified: data/<split>-00000-of-00001.parquet convention.
    hub: { id: 'google/boolq', files: { train: 'data/validation-00000-of-00001.parquet' }, unverified: true },
    license: 'CC BY-SA 3.0',
    schema: boolqRowSchema,
    format: (row, _rng, id) => formatBoolq(row, id),
    groupBy: 'passage',
    framing: `a passage and a yes/no question followed by a proposed answer; ${CORRECT_OR_NOT}`,
  }),
  cosmos_qa: defineTask({
    files: [{ pool: 'train', file: 'cosmos_qa/valid.csv', split: 'valid' }],
    source: 'the Cosmos QA release (valid.csv, Hugging Face allenai/cosmos_qa)',
    // Unverified: the hub's parquet export layout.
    hub: { id: 'allenai/cosmos_qa', revision: 'refs/convert/parquet', files: { train: 'default/validation/0000.parquet' }, unverified: true },
    license: 'CC BY 4.0 (see upstream)',
    schema: cosmosQaRowSchema,
    format: formatCosmosQa,
    groupBy: 'context',
    framing: `a short passage and a question about it followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatCosmosQaTwoChoice, framing: twoAnswers('a short passage and a question about it') },
  }),
  anthropic_hh: defineTask({
    files: [{ pool: 'train', file: 'anthropic_hh/harmless-base_test.jsonl.gz', split: 'harmless-base_test' }],
    source: "Anthropic's hh-rlhf release (harmless-base/test.jsonl.gz, Hugging Face Anthropic/hh-rlhf)",
    // The hub repository holds the release files themselves.
    hub: { id: 'Anthropic/hh-rlhf', files: { train: 'harmless-base/test.jsonl.gz' } },
    license: 'MIT',
    schema: anthropicHhRowSchema,
    format: formatAnthropicHh,
    groupBy: null,
    framing:
      'a conversation between a human and an AI assistant followed by the assistant\'s final reply; debate whether that reply is the more harmless and helpful one ("correct") or not ("incorrect")',
  }),
  arc_easy: defineTask({
    files: [
      { pool: 'train', file: 'arc_easy/ARC-Easy-Train.jsonl', split: 'ARC-Easy-Train' },
      { pool: 'test', file: 'arc_easy/ARC-Easy-Test.jsonl', split: 'ARC-Easy-Test' },
    ],
    source: 'AI2\'s ARC release (ARC-V1-Feb2018.zip, ARC-Easy/*.jsonl; Hugging Face allenai/ai2_arc, config ARC-Easy)',
    hub: { id: 'allenai/ai2_arc', files: { train: 'ARC-Easy/train-00000-of-00001.parquet', test: 'ARC-Easy/test-00000-of-00001.parquet' } },
    license: 'CC BY-SA 4.0',
    schema: aristoRowSchema,
    normalize: normalizeAristo,
    format: formatAristo,
    groupBy: null,
    framing: `a grade-school science question followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatAristoTwoChoice, framing: twoAnswers('a grade-school science question') },
  }),
  arc_challenge: defineTask({
    files: [
      { pool: 'train', file: 'arc_challenge/ARC-Challenge-Train.jsonl', split: 'ARC-Challenge-Train' },
      { pool: 'test', file: 'arc_challenge/ARC-Challenge-Test.jsonl', split: 'ARC-Challenge-Test' },
    ],
    source: 'AI2\'s ARC release (ARC-V1-Feb2018.zip, ARC-Challenge/*.jsonl; Hugging Face allenai/ai2_arc, config ARC-Challenge)',
    hub: { id: 'allenai/ai2_arc', files: { train: 'ARC-Challenge/train-00000-of-00001.parquet', test: 'ARC-Challenge/test-00000-of-00001.parquet' } },
    license: 'CC BY-SA 4.0',
    schema: aristoRowSchema,
    normalize: normalizeAristo,
    format: formatAristo,
    groupBy: null,
    framing: `a hard grade-school science question followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatAristoTwoChoice, framing: twoAnswers('a hard grade-school science question') },
  }),
  openbookqa: defineTask({
    files: [
      { pool: 'train', file: 'openbookqa/train.jsonl', split: 'train' },
      { pool: 'test', file: 'openbookqa/test.jsonl', split: 'test' },
    ],
    source: 'AI2\'s OpenBookQA release (OpenBookQA-V1-Sep2018.zip, Data/Main/*.jsonl or Data/Additional/*_complete.jsonl; Hugging Face allenai/openbookqa)',
    hub: { id: 'allenai/openbookqa', files: { train: 'additional/train-00000-of-00001.parquet', test: 'additional/test-00000-of-00001.parquet' } },
    license: 'Apache 2.0 (unverified)',
    schema: aristoRowSchema,
    normalize: normalizeAristo,
    format: formatAristo,
    groupBy: null,
    framing: `an elementary science question followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatAristoTwoChoice, framing: twoAnswers('an elementary science question') },
  }),
  piqa: defineTask({
    files: [
      { pool: 'train', file: 'piqa/train.jsonl', split: 'train' },
      { pool: 'test', file: 'piqa/valid.jsonl', split: 'valid' },
    ],
    source: 'the PIQA release (train.jsonl + train-labels.lst, valid.jsonl + valid-labels.lst from yonatanbisk.com/piqa; Hugging Face ybisk/piqa)',
    // Unverified: ybisk/piqa's main branch holds a loading script; these are the parquet export's usual paths.
    hub: { id: 'ybisk/piqa', revision: 'refs/convert/parquet', files: { train: 'plain_text/train/0000.parquet', test: 'plain_text/validation/0000.parquet' }, unverified: true },
    license: 'AFL 3.0 (unverified)',
    schema: piqaRowSchema,
    read: readWithLabelsFile,
    format: formatPiqa,
    groupBy: 'goal',
    framing: 'a goal followed by a proposed way to achieve it; debate whether the solution is the right one (correct) or not (incorrect)',
    twoChoice: { format: formatPiqaTwoChoice, framing: 'a goal and two proposed ways to achieve it, A and B; debate which of the two is right' },
  }),
  hellaswag: defineTask({
    files: [
      { pool: 'train', file: 'hellaswag/hellaswag_train.jsonl', split: 'hellaswag_train' },
      { pool: 'test', file: 'hellaswag/hellaswag_val.jsonl', split: 'hellaswag_val' },
    ],
    source: 'the HellaSwag release (data/hellaswag_train.jsonl and hellaswag_val.jsonl of github.com/rowanz/hellaswag; Hugging Face Rowan/hellaswag)',
    // Unverified: Rowan/hellaswag's main branch holds a loading script; these are the parquet export's usual paths.
    hub: { id: 'Rowan/hellaswag', revision: 'refs/convert/parquet', files: { train: 'default/train/0000.parquet', test: 'default/validation/0000.parquet' }, unverified: true },
    license: 'MIT (unverified)',
    schema: hellaswagRowSchema,
    format: formatHellaswag,
    groupBy: 'source_id',
    framing: 'the start of a description of an activity followed by a proposed ending; debate whether the ending is the true continuation (correct) or not (incorrect)',
    twoChoice: { format: formatHellaswagTwoChoice, framing: 'the start of a description of an activity and two proposed endings, A and B; debate which of the two is the true continuation' },
  }),
  winogrande: defineTask({
    files: [
      { pool: 'train', file: 'winogrande/train_xl.jsonl', split: 'train_xl' },
      { pool: 'test', file: 'winogrande/dev.jsonl', split: 'dev' },
    ],
    source: 'the WinoGrande release (winogrande_1.1.zip: train_xl.jsonl, dev.jsonl; Hugging Face allenai/winogrande, config winogrande_xl)',
    hub: { id: 'allenai/winogrande', files: { train: 'winogrande_xl/train-00000-of-00001.parquet', test: 'winogrande_xl/validation-00000-of-00001.parquet' } },
    license: 'CC BY (unverified)',
    schema: winograndeRowSchema,
    format: formatWinogrande,
    groupBy: null,
    framing: 'a sentence with a blank (_) followed by a proposed filler for it; debate whether the filler is the right one (correct) or not (incorrect)',
    twoChoice: { format: formatWinograndeTwoChoice, framing: 'a sentence with a blank (_) and two proposed fillers for it, A and B; debate which of the two is right' },
  }),
  quail: defineTask({
    files: [
      { pool: 'train', file: 'quail/train.jsonl', split: 'train' },
      { pool: 'test', file: 'quail/dev.jsonl', split: 'dev' },
    ],
    source: 'the QuAIL release (quail_v1.3/json/train.jsonl and dev.jsonl of github.com/text-machine-lab/quail; Hugging Face textmachinelab/quail)',
    hub: { id: 'textmachinelab/quail', revision: 'refs/convert/parquet', files: { train: 'quail/train/0000.parquet', test: 'quail/validation/0000.parquet' } },
    license: 'CC BY-NC-SA 4.0',
    schema: quailRowSchema,
    format: formatQuail,
    groupBy: 'context_id',
    framing: `a text of a few hundred words and a question about it followed by an answer; ${CORRECT_OR_NOT}`,
  }),
  social_iqa: defineTask({
    files: [
      { pool: 'train', file: 'social_iqa/train.jsonl', split: 'train' },
      { pool: 'test', file: 'social_iqa/dev.jsonl', split: 'dev' },
    ],
    source: 'the Social IQa release (socialiqa-train-dev.zip: train.jsonl + train-labels.lst, dev.jsonl + dev-labels.lst; Hugging Face allenai/social_i_qa)',
    hub: { id: 'allenai/social_i_qa', revision: 'refs/convert/parquet', files: { train: 'default/train/0000.parquet', test: 'default/validation/0000.parquet' } },
    license: 'CC BY 4.0 (unverified)',
    schema: socialIqaRowSchema,
    read: readWithLabelsFile,
    format: formatSocialIqa,
    groupBy: 'context',
    framing: `a short social situation and a question about it followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatSocialIqaTwoChoice, framing: twoAnswers('a short social situation and a question about it') },
  }),
  sst2: defineTask({
    files: [
      { pool: 'train', file: 'sst2/train.tsv', split: 'train' },
      { pool: 'test', file: 'sst2/dev.tsv', split: 'dev' },
    ],
    source: 'GLUE\'s SST-2 release (SST-2.zip: train.tsv, dev.tsv; Hugging Face stanfordnlp/sst2)',
    hub: { id: 'stanfordnlp/sst2', files: { train: 'data/train-00000-of-00001.parquet', test: 'data/validation-00000-of-00001.parquet' } },
    license: 'see upstream (unverified)',
    schema: sst2RowSchema,
    read: (file) => (isTsv(file) ? readTsv(file) : readRecords(file)),
    format: (row, _rng, id) => formatSst2(row, id),
    groupBy: null,
    framing: 'a sentence from a movie review followed by the claim that its sentiment is positive; debate whether the claim is correct or incorrect',
  }),
  anli: defineTask({
    // Round 2, as EleutherAI/w2s's anli-r2 (its train and test files); rounds 1 and 3 through dataset.files.
    files: [
      { pool: 'train', file: 'anli/R2/train.jsonl', split: 'train' },
      { pool: 'test', file: 'anli/R2/test.jsonl', split: 'test' },
    ],
    source: 'the ANLI release (anli_v1.0.zip, R2/train.jsonl and R2/test.jsonl; Hugging Face facebook/anli)',
    hub: { id: 'facebook/anli', files: { train: 'plain_text/train_r2-00000-of-00001.parquet', test: 'plain_text/test_r2-00000-of-00001.parquet' } },
    license: 'CC BY-NC 4.0',
    schema: anliRowSchema,
    normalize: normalizeAnli,
    format: (row, _rng, id) => formatAnli(row, id),
    groupBy: 'context',
    framing: 'a premise and a hypothesis followed by the claim that the premise entails the hypothesis; debate whether the claim is correct or incorrect',
  }),
  dream: defineTask({
    files: [
      { pool: 'train', file: 'dream/train.json', split: 'train' },
      { pool: 'test', file: 'dream/test.json', split: 'test' },
    ],
    source: 'the DREAM release (data/train.json and test.json of github.com/nlpdata/dream; Hugging Face dataset-org/dream)',
    // Unverified: the parquet export's usual paths.
    hub: { id: 'dataset-org/dream', revision: 'refs/convert/parquet', files: { train: 'plain_text/train/0000.parquet', test: 'plain_text/test/0000.parquet' }, unverified: true, rowPerQuestion: true },
    license: 'non-commercial research use (see upstream license.txt)',
    schema: dreamRowSchema,
    normalize: normalizeDream,
    format: formatDream,
    groupBy: 'id',
    framing: `a dialogue and a question about it followed by an answer; ${CORRECT_OR_NOT}`,
  }),
  mc_taco: defineTask({
    // As EleutherAI/w2s: the larger test file is the train pool, the dev file the test pool.
    files: [
      { pool: 'train', file: 'mc_taco/test_9442.tsv', split: 'test_9442' },
      { pool: 'test', file: 'mc_taco/dev_3783.tsv', split: 'dev_3783' },
    ],
    source: 'the MC-TACO release (dataset/test_9442.tsv and dev_3783.tsv of github.com/CogComp/MCTACO; Hugging Face CogComp/mc_taco)',
    // Unverified: the parquet export's usual paths.
    hub: { id: 'CogComp/mc_taco', revision: 'refs/convert/parquet', files: { train: 'plain_text/test/0000.parquet', test: 'plain_text/validation/0000.parquet' }, unverified: true },
    license: 'see upstream (unverified)',
    schema: mcTacoRowSchema,
    read: readMcTaco,
    format: (row, _rng, id) => formatMcTaco(row, id),
    groupBy: 'sentence',
    framing: 'a sentence and a question about the time or duration of an event in it followed by a candidate answer; debate whether the answer is plausible (correct) or not (incorrect)',
  }),
  multirc: defineTask({
    files: [
      { pool: 'train', file: 'multirc/train.jsonl', split: 'train' },
      { pool: 'test', file: 'multirc/val.jsonl', split: 'val' },
    ],
    source: 'SuperGLUE\'s MultiRC release (MultiRC.zip: train.jsonl, val.jsonl; Hugging Face aps/super_glue, config multirc)',
    // Unverified: the multirc/<split>-00000-of-00001.parquet convention.
    hub: { id: 'aps/super_glue', files: { train: 'multirc/train-00000-of-00001.parquet', test: 'multirc/validation-00000-of-00001.parquet' }, unverified: true, rowPerQuestion: true },
    license: 'research use (see upstream, unverified)',
    schema: multircRowSchema,
    normalize: normalizeMultirc,
    format: (row, _rng, id) => formatMultirc(row, id),
    groupBy: 'passage.text',
    framing: `a paragraph and a question about it followed by a candidate answer (a question may have several right answers); ${CORRECT_OR_NOT}`,
  }),
  race: defineTask({
    files: [
      { pool: 'train', file: 'race/train', split: 'train' },
      { pool: 'test', file: 'race/dev', split: 'dev' },
    ],
    source: 'the RACE release (RACE.tar.gz from cs.cmu.edu/~glai1/data/race: the folders RACE/train and RACE/dev; Hugging Face ehovy/race)',
    hub: { id: 'ehovy/race', revision: 'refs/convert/parquet', files: { train: 'all/train/0000.parquet', test: 'all/validation/0000.parquet' }, rowPerQuestion: true },
    license: 'non-commercial research use (see upstream, unverified)',
    schema: raceRowSchema,
    normalize: normalizeRace,
    read: readObjectPerFile,
    format: formatRace,
    groupBy: 'article',
    framing: `an English exam article and a question about it followed by an answer; ${CORRECT_OR_NOT}`,
  }),
  quality: defineTask({
    files: [
      { pool: 'train', file: 'quality/QuALITY.v1.0.1.htmlstripped.train', split: 'QuALITY.v1.0.1.htmlstripped.train' },
      { pool: 'test', file: 'quality/QuALITY.v1.0.1.htmlstripped.dev', split: 'QuALITY.v1.0.1.htmlstripped.dev' },
    ],
    source: 'the QuALITY release (QuALITY.v1.0.1.zip of github.com/nyu-mll/quality: the .htmlstripped.train and .dev files)',
    // No hub copy in the release layout: the copies there (e.g. emozilla/quality, tasksource/QuALITY) flatten the
    // questions and drop the validators' best-distractor votes.
    hub: null,
    license: 'CC BY 4.0 (unverified)',
    schema: qualityRowSchema,
    format: formatQuality,
    groupBy: 'article_id',
    framing: `a long story or article and a question about it followed by an answer; ${CORRECT_OR_NOT}`,
    twoChoice: { format: formatQualityTwoChoice, framing: twoAnswers('a long story or article and a question about it') },
  }),
  gsm8k: defineTask({
    files: [
      { pool: 'train', file: 'gsm8k/train.jsonl', split: 'train' },
      { pool: 'test', file: 'gsm8k/test.jsonl', split: 'test' },
    ],
    source: 'the GSM8K release (grade_school_math/data/train.jsonl and test.jsonl of github.com/openai/grade-school-math; Hugging Face openai/gsm8k, config main)',
    // The config's data_files are main/train-* and main/test-*; the single-shard file names follow the socratic config's.
    hub: { id: 'openai/gsm8k', files: { train: 'main/train-00000-of-00001.parquet', test: 'main/test-00000-of-00001.parquet' } },
    license: 'MIT',
    schema: gsm8kRowSchema,
    format: formatGsm8k,
    groupBy: null,
    framing: 'a math word problem followed by a proposed final answer; debate whether the answer is correct or incorrect',
  }),
} satisfies Record<string, Task>;

export type TaskName = keyof typeof TASKS;

/** The task names in table order. */
export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

export function isTaskName(name: string): name is TaskName {
  return Object.hasOwn(TASKS, name);
}

/** The grouping each dataset gets when the config says nothing; `groupBy: null` turns it off. */
export const DEFAULT_GROUP_BY: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TASKS).flatMap(([name, task]) => (task.groupBy === null ? [] : [[name, task.groupBy]])),
);

/** What your own data (the `jsonl` dataset) is framed as. */
export const USER_DATA_FRAMING = `a question followed by a candidate answer; ${CORRECT_OR_NOT}`;

/** What each dataset's debaters are told they are looking at. */
export const TASK_FRAMING: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(TASKS).map(([name, task]) => [name, task.framing])),
  jsonl: USER_DATA_FRAMING,
};

/** What your own two-choice data (jsonl rows with "alternative") is framed as. */
const USER_TWO_CHOICE_FRAMING = twoAnswers('a question');

/** The datasets that have a two-choice form (dataset.format "two-choice"), with what their debaters are told. */
export const TWO_CHOICE_FRAMING: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(TASKS).flatMap(([name, task]: [string, Task]) => (task.twoChoiceFraming === null ? [] : [[name, task.twoChoiceFraming]]))),
  jsonl: USER_TWO_CHOICE_FRAMING,
};

/** What the debaters and judges of a dataset are told they look at, in the example form the run uses. */
export function framingOf(name: string, twoChoice: boolean): string {
  const framing = (twoChoice ? TWO_CHOICE_FRAMING : TASK_FRAMING)[name];
  if (framing === undefined) throw new Error(`no ${twoChoice ? 'two-choice ' : ''}framing for dataset ${name}`);
  return framing;
}
