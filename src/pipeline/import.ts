import { relative, resolve, sep } from 'node:path';
import type { ExperimentConfig } from '../config/experiment.js';
import { configHash } from '../config/load.js';
import type { LoadedDataset } from '../data/registry.js';
import { readImportFile, type ImportedFile } from '../data/transcripts.js';
import type { Example, Pools } from '../data/types.js';
import { countQuotes, findQuotes } from '../debate/quotes.js';
import type { Turn } from '../debate/transcript.js';
import { countWords } from '../store/index.js';
import { UserError } from '../errors.js';
import type { StageContext } from './context.js';
import { debateId } from './debates.js';

/**
 * debate.import: transcripts written elsewhere take the place of the debaters. The file is read and checked once per
 * config (the preflight, the draw and the debates stage share it); its rows define the examples or name the dataset's
 * rows by id, and the debates stage stores its transcripts as debates with their provenance, in one transaction.
 */

/** What an imported turn records as its prompt: it had none, and no call. */
export const IMPORTED_PROMPT_HASH = 'imported';

let last: { config: ExperimentConfig; read: Promise<ImportedFile> } | undefined;

/** The config's import file, read and checked (a UserError naming the line and field of the first bad row). */
export function readImport(config: ExperimentConfig): Promise<ImportedFile> {
  const spec = config.debate.import;
  if (!spec) throw new Error('readImport: the config imports no transcripts');
  if (last?.config !== config) {
    const protocol = config.debate.protocol === 'consultancy' ? 'consultancy' : 'debate';
    const read = readImportFile(spec.file, { format: spec.format ?? 'w2s', protocol, seed: config.seed }).then((imported) => {
      checkDatasetSection(config, imported);
      return imported;
    });
    last = { config, read };
    read.catch(() => {
      if (last?.read === read) last = undefined;
    });
  }
  return last.read;
}

/**
 * The dataset section says where the examples come from: the import file itself when its rows define them (dataset
 * "jsonl" with path = the import file, as `w2s import --out` writes it), else the dataset whose rows they name.
 */
function checkDatasetSection(config: ExperimentConfig, imported: ImportedFile): void {
  const d = config.dataset;
  const isFile = d.name === 'jsonl' && d.path !== undefined && resolve(d.path) === resolve(imported.file);
  if (imported.examples && !isFile) {
    throw new UserError(`${imported.file} defines its examples (its rows give "question"), so it is the run's dataset: set dataset.name to "jsonl" and dataset.path to the same file as debate.import.file.`);
  }
  if (imported.examples && d.format === 'two-choice') {
    throw new UserError(`${imported.file} defines its examples as claims about one proposed answer; remove dataset.format "two-choice".`);
  }
  if (!imported.examples && isFile) {
    throw new UserError(`${imported.file} names dataset rows by "id" (its rows give no "question"), so dataset must be the dataset those rows come from, not the import file; fix dataset.`);
  }
}

/** The dataset an import file stands for when its rows define their examples: one train pool, grouped by "group". */
export function importedDataset(imported: ImportedFile): LoadedDataset {
  const train = imported.examples!;
  const grouped = train.some((e) => e.group !== undefined);
  return { pools: { train }, invalid: [], files: [imported.file], groupBy: grouped ? 'group' : null, ungrouped: grouped ? train.filter((e) => e.group === undefined).length : 0 };
}

/**
 * The pools the splits are drawn from: the examples that have imported transcripts. Rows that name an example the
 * dataset does not have, that argued about another answer than the dataset's, or that give an example fewer
 * transcripts than debate.samples are errors, found before anything is written.
 */
export function importedPools(config: ExperimentConfig, imported: ImportedFile, pools: Pools): Pools {
  const where = `${imported.file}`;
  const keep = (pool: Example[] | undefined): Example[] | undefined => pool && pool.filter((e) => imported.transcripts.has(e.id));
  const out: Pools = { train: keep(pools.train)!, ...(pools.test && { test: keep(pools.test) }) };
  const byId = new Map([...out.train, ...(out.test ?? [])].map((e) => [e.id, e]));
  const unknown = [...imported.transcripts.entries()].filter(([id]) => !byId.has(id));
  if (unknown.length) {
    const named = unknown.slice(0, 3).map(([id, list]) => `"${id}" (line ${list[0]!.line})`).join(', ');
    const more = unknown.length > 3 ? ` and ${unknown.length - 3} more` : '';
    throw new UserError(`${where}: ${unknown.length} imported ${unknown.length === 1 ? 'row names an example' : 'rows name examples'} that dataset ${config.dataset.name} does not have: ${named}${more}; fix the ids (they must equal the dataset's example ids, e.g. sciq/train/12) or the dataset.`);
  }
  for (const [id, { answer, line }] of imported.answers) {
    const e = byId.get(id)!;
    if (e.answer !== answer) {
      throw new UserError(`${where} line ${line}: example "${id}" was argued about the answer "${answer}", but the run's example proposes "${e.answer}"; the transcript must argue about the same answer (fix "answer", or leave it out).`);
    }
  }
  const samples = config.debate.samples;
  const short = [...imported.transcripts.entries()].filter(([, list]) => list.length < samples);
  if (short.length) {
    const [id, list] = short[0]!;
    const fewest = Math.min(...short.map(([, l]) => l.length));
    throw new UserError(`${where}: example "${id}" has ${list.length} imported transcript${list.length === 1 ? '' : 's'} (line ${list[0]!.line}), but debate.samples is ${samples}; set debate.samples (and weak.ensemble.size) to ${fewest} or less, or import more transcripts.`);
  }
  return out;
}

/** The imported transcript with the most bytes, as turns: what bounds a judge's prompt in the preflight's plan. */
export function longestImportedTranscript(imported: ImportedFile): Turn[] {
  const bytes = (t: { turns: { text: string }[] }): number => t.turns.reduce((n, turn) => n + Buffer.byteLength(turn.text), 0);
  const all = [...imported.transcripts.values()].flat();
  const longest = all.reduce((a, b) => (bytes(b) > bytes(a) ? b : a), all[0]!);
  return longest.turns.map((t, index) => ({
    index, speaker: t.speaker, side: t.side, text: t.text, wordCount: countWords(t.text), truncated: false, promptHash: IMPORTED_PROMPT_HASH, callId: null,
  }));
}

/**
 * The debates stage of an importing run: each stored example's first debate.samples imported transcripts become its
 * debates 0, 1, … (completed, with their turns and provenance), in one transaction. A transcript already stored is
 * kept, so a rerun stores nothing twice; a file edited since the run started is refused (an edited file is a new run).
 */
export async function importDebates(ctx: StageContext): Promise<void> {
  const cfg = ctx.config.debate;
  const run = ctx.store.runs.getRun(ctx.runId);
  if (run && run.configHash !== configHash(ctx.config)) {
    throw new UserError(`${cfg.import!.file} changed after run ${ctx.runId} started; run the same command again: the edited file is a new run.`);
  }
  const imported = await readImport(ctx.config);
  const protocol = cfg.protocol;
  const examples = ctx.store.examples.listExamples(ctx.runId);
  const total = examples.length * cfg.samples;
  ctx.progress({ stage: 'debates', kind: 'start', total, message: `importing ${protocol} transcripts from ${imported.file} (sha256 ${imported.sha256.slice(0, 12)}…), ${cfg.samples} per example` });
  let stored = 0;
  ctx.store.transaction(() => {
    for (const example of examples) {
      const list = imported.transcripts.get(example.id) ?? [];
      for (let sample = 0; sample < cfg.samples; sample++) {
        const t = list[sample];
        if (!t) throw new UserError(`${imported.file}: example "${example.id}" has no imported transcript ${sample}; import one, or lower debate.samples.`);
        const id = debateId(ctx.runId, example.id, protocol, sample);
        if (ctx.store.debates.getDebate(id)?.status === 'completed') continue;
        ctx.store.debates.upsertDebate({ id, runId: ctx.runId, exampleId: example.id, protocol, sample, seed: 0, sides: t.sides });
        t.turns.forEach((turn, idx) => {
          // Quotes are counted and checked where the run keeps the example's passage, as for generated turns.
          ctx.store.debates.insertTurn({
            debateId: id, idx, speaker: turn.speaker, side: turn.side, text: turn.text, promptHash: IMPORTED_PROMPT_HASH, callId: null,
            quotes: example.passage ? countQuotes(turn.text, example.passage) : null,
          });
        });
        ctx.store.debates.setSource(id, { file: imported.file, sha256: imported.sha256, format: imported.format, line: t.line, meta: t.meta });
        ctx.store.debates.completeDebate(id);
        stored++;
      }
    }
  });
  ctx.progress({ stage: 'debates', kind: 'tick', done: total, total });
  ctx.progress({ stage: 'debates', kind: 'info', message: `stored ${stored} imported transcripts${stored < total ? ` (${total - stored} were stored already)` : ''}` });
}

/** What an import file holds, as `w2s import` prints it. */
export interface ImportSummary {
  file: string;
  sha256: string;
  format: string;
  /** "file": the rows define their examples; "dataset": they name the dataset's rows by id. */
  examplesFrom: 'file' | 'dataset';
  examples: number;
  transcripts: number;
  /** Fewest and most transcripts of one example: debate.samples can be at most the fewest. */
  perExample: { min: number; max: number };
  turns: number;
  /** Turns that carry at least one <quote>. */
  turnsWithQuotes: number;
}

export function summarizeImport(imported: ImportedFile): ImportSummary {
  const lists = [...imported.transcripts.values()];
  const turns = lists.flat().flatMap((t) => t.turns);
  return {
    file: imported.file, sha256: imported.sha256, format: imported.format,
    examplesFrom: imported.examples ? 'file' : 'dataset',
    examples: lists.length,
    transcripts: lists.reduce((n, l) => n + l.length, 0),
    perExample: { min: Math.min(...lists.map((l) => l.length)), max: Math.max(...lists.map((l) => l.length)) },
    turns: turns.length,
    turnsWithQuotes: turns.filter((t) => findQuotes(t.text).length > 0).length,
  };
}

/**
 * A config that runs the imported transcripts (`w2s import --out`), its paths relative to its own folder: the import
 * file as the dataset when its rows define their examples (else `dataset`, the dataset their ids come from), as many
 * transcripts per example as every example has (at most 16), a debate ensemble of up to 4 of them, and the examples
 * shared out over the three splits. No judge: add one to have the transcripts judged.
 */
export function readyConfig(imported: ImportedFile, options: { configDir: string; protocol: 'debate' | 'consultancy'; dataset?: string; name: string; seed: number }): Record<string, unknown> {
  const summary = summarizeImport(imported);
  const rel = relative(options.configDir, imported.file).split(sep).join('/');
  if (!imported.examples && !options.dataset) {
    throw new UserError(`${imported.file} names dataset rows by "id"; pass --dataset <name> (the dataset they come from, e.g. sciq) to write a config.`);
  }
  if (summary.examples < 3) throw new UserError(`${imported.file} holds ${summary.examples} example${summary.examples === 1 ? '' : 's'}, and a run needs at least 3 (one per split) to train and test; import more.`);
  const third = Math.max(1, Math.floor(summary.examples / 3));
  const sizes = { train_weak: third, train_strong: Math.max(1, summary.examples - 2 * third), test: third };
  const samples = Math.min(16, summary.perExample.min);
  return {
    name: options.name,
    seed: options.seed,
    description: `Transcripts imported from ${rel} (${imported.format}, sha256 ${imported.sha256.slice(0, 12)}…) by w2s import; add judges to have them judged.`,
    dataset: imported.examples ? { name: 'jsonl', path: rel, sizes } : { name: options.dataset, sizes },
    debate: { protocol: options.protocol, samples, import: { file: rel, ...(imported.format !== 'w2s' && { format: imported.format }) } },
    weak: { ensemble: { kind: 'debate', size: Math.min(4, samples) } },
  };
}
