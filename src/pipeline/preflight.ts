import { constants, existsSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import type { ExperimentConfig, ModelRef } from '../config/experiment.js';
import { modelSpec } from '../config/load.js';
import { storedForm } from '../data/passage.js';
import type { SplitName } from '../data/types.js';
import { framingOf, planDebate, type Protocol } from '../debate/protocols.js';
import { runDebate, type DebateTemplates, type Generator } from '../debate/run.js';
import { loadTemplate, promptsDirOf, type Template } from '../debate/templates.js';
import { AS_LISTED, withTranscript, type Turn } from '../debate/transcript.js';
import { UserError } from '../errors.js';
import { JUDGE_DEFAULTS, judgeName } from '../config/experiment.js';
import { judge, presentations } from '../judge/prompted.js';
import { inspectModel, requireCapability, type ModelInspection } from '../models/create.js';
import { generateBound, priceOf } from '../models/gateway.js';
import { parseModelSpec } from '../models/spec.js';
import type { GenerateRequest } from '../models/types.js';
import { loadDebateTemplates } from './debates.js';
import { stackingProblem } from './judge-ensembles.js';
import { judgedSplits } from './judges.js';
import { trainingSeeds } from './predictions.js';
import { longestImportedTranscript, readImport } from './import.js';
import { drawExamples } from './prepare.js';

/**
 * The preflight: everything about a config that can be checked without writing a file, loading a model or making a
 * call, checked before `w2s run` writes anything (and by `w2s config check`), so bad input fails in a second instead
 * of after the weak model has trained. It also plans the run: how many model calls it makes at most, and what they
 * can cost at most.
 */

export type PlanRole = 'debater' | 'judge' | 'embedding';

export interface Plan {
  /** Examples per split, as the run will draw them. */
  examples: Record<SplitName, number>;
  /** At most this many backend calls per role: the count before the cache (a cache hit costs nothing). */
  calls: Record<PlanRole, number>;
  total: number;
  /** The most the calls can cost in USD at gateway.prices; null when no prices are set. */
  worstCaseUsd: number | null;
}

/** Throws a UserError naming what to fix; returns the plan when the config is fit to run. Writes nothing. */
export async function preflight(config: ExperimentConfig): Promise<Plan> {
  const protocol = config.debate.protocol as Protocol;
  // Every spec parses, even in a section this config leaves unused (a typo there is still a typo).
  for (const { where, ref } of modelRefs(config)) await at(where, () => parseModelSpec(modelSpec(ref)));
  // The Batch API is OpenAI's: "batch" on another adapter's model is a mistake, said before anything runs.
  for (const { where, ref } of modelRefs(config)) {
    if (typeof ref !== 'string' && ref.batch && parseModelSpec(ref.spec).adapter !== 'openai') {
      throw new UserError(`${where}: "batch" sends calls through the OpenAI Batch API, which ${ref.spec} does not have; remove "batch" from it.`);
    }
    if (typeof ref !== 'string' && ref.batch && (ref as { endpoints?: unknown }).endpoints !== undefined) {
      throw new UserError(`${where}: "batch" sends calls to one server's Batch API, but ${ref.spec} lists several endpoints; remove "batch" or "endpoints".`);
    }
  }

  // The models the run will use: their files, and the capability each role needs, as their clients will declare it.
  const needs = capabilityNeeds(config);
  const needAt = (where: string) => needs.find((n) => n.where === where);
  const debaters = protocol === 'none' || config.debate.import ? [] : await Promise.all(config.debate.debaters!.map((ref, i) => checkModel(`debate.debaters[${i}]`, ref)));
  const judges = await Promise.all(config.judges.map((j, i) => checkModel(`judges[${i}].model`, j.model, needAt(`judges[${i}].model`))));
  const featurizers: Partial<Record<'weak' | 'strong', ModelInspection>> = {};
  for (const group of ['weak', 'strong'] as const) {
    const t = config[group];
    if (t.backend === 'hf') await checkTrainer(group, t.hf!);
    else if (t.features.kind === 'embedding') featurizers[group] = await checkModel(`${group}.features.model`, t.features.model, needAt(`${group}.features.model`));
  }

  const templates = await loadTemplates(config);
  // The data: the files exist and parse, and the splits can be drawn (the same code the prepare stage runs).
  const { draw } = await drawExamples(config);
  const n = draw.drawn;
  checkPassages(config, draw.examples);
  // As the prepare stage stores them (debate.passage decides what judges and weak models read).
  const examples = draw.examples.map((e) => ({ ...e, ...storedForm(e, config.debate.passage) }));
  const longest = (texts: string[]): string => texts.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), '');
  const longestText = longest(examples.map((e) => e.text));

  // Every prompt, rendered by the code that renders it in the run (an unknown or missing slot fails here) and measured.
  const prompts = await at(`The prompts in ${resolve(promptsDirOf(config.debate))}`, () =>
    measurePrompts(
      config, templates, longest(examples.map((e) => e.question ?? e.text)), longest(examples.map((e) => e.answer ?? '')),
      // Two-choice: a debater's stance repeats one of the answers, so answer B is measured at the longer of both.
      config.dataset.format === 'two-choice' ? longest(examples.flatMap((e) => [e.answer ?? '', e.alternative ?? ''])) : undefined,
      longest(examples.map((e) => e.passage ?? '')),
    ),
  );

  // Count the calls as the stages make them (debates.ts, judges.ts, training.ts), and price each at its worst case.
  const prices = config.gateway.prices;
  let usd = 0;
  const pay = (m: ModelInspection, calls: number, inputPerCall: number, outputPerCall: number): void => {
    const p = priceOf(prices, m);
    if (p) usd += (calls * (inputPerCall * p.inputPerMTok + outputPerCall * p.outputPerMTok)) / 1e6;
  };
  const all = n.train_weak + n.train_strong + n.test;
  // Imported transcripts (debate.import) call no debater.
  const transcripts = protocol === 'none' || config.debate.import ? 0 : all * config.debate.samples;
  const calls: Record<PlanRole, number> = { debater: transcripts * config.debate.turns, judge: 0, embedding: 0 };
  if (transcripts) for (const t of prompts.debater) pay(debaters[t.speaker === 'B' && debaters[1] ? 1 : 0]!, transcripts, t.input, config.debate.maxTokens);
  // Open roles: one short choice call per transcript. Best-of-N: N candidates per turn, each scored by the scorer in
  // two presentations (counted with the judges' calls; the scorer's price is not in the worst case).
  if (transcripts && config.debate.roles === 'open') calls.debater += transcripts;
  const bestOf = config.debate.bestOf ?? 1;
  if (transcripts && bestOf > 1) {
    calls.debater += transcripts * config.debate.turns * (bestOf - 1);
    calls.judge += transcripts * config.debate.turns * bestOf * 2;
    for (const t of prompts.debater) pay(debaters[t.speaker === 'B' && debaters[1] ? 1 : 0]!, transcripts * (bestOf - 1), t.input, config.debate.maxTokens);
  }

  // Judges read train_strong and test (and train_weak, for a stacked ensemble), each transcript they read (or none), in
  // each presentation they read, sampled `samples` times.
  config.judges.forEach((j, i) => {
    const splits = judgedSplits(config, judgeName(j, i)).reduce((sum, split) => sum + n[split], 0);
    const alone = (j.reads ?? JUDGE_DEFAULTS.reads) !== 'transcript';
    const transcriptsRead = protocol === 'none' || alone ? 1 : (j.transcripts?.length ?? config.debate.samples);
    const perPresentation = splits * transcriptsRead * (j.samples ?? JUDGE_DEFAULTS.samples);
    const inputs = prompts.judge.get(j.template ?? JUDGE_DEFAULTS.template)!;
    for (const swapped of presentations(j.orders)) {
      calls.judge += perPresentation;
      pay(judges[i]!, perPresentation, inputs[swapped ? 1 : 0]!, j.maxTokens);
    }
  });

  // Embedding features: one call per batch of texts, for every model trained and every prediction it makes.
  const seeds = trainingSeeds(config).length;
  const plainBytes = Buffer.byteLength(longestText);
  const twoChoice = config.dataset.format === 'two-choice';
  const withDebateBytes = Buffer.byteLength(withTranscript(longestText, prompts.turns, protocol, undefined, twoChoice ? AS_LISTED : undefined));
  const embedding = (group: 'weak' | 'strong', jobs: { trainings: number; texts: number; textBytes: number; extraCalls?: number }[]): void => {
    const model = featurizers[group];
    if (!model) return;
    for (const job of jobs) {
      const batches = job.trainings * (Math.ceil(job.texts / EMBED_BATCH) + (job.extraCalls ?? 0));
      calls.embedding += batches;
      // The gateway bounds an embed call by its texts' bytes plus 2 each; spread over the batches, the sum is the same.
      pay(model, 1, job.trainings * job.texts * (job.textBytes + 2), 0);
    }
  };
  const size = config.weak.ensemble.size;
  const families = config.weak.ensemble.ablation ? 2 : 1;
  // market: cross-fitted fold models on train_weak (primary seed only). Each trains on the other folds and predicts
  // its own: n_train_weak texts in two featurize calls, so at most one batch more than ceil(n_train_weak / 64).
  const weakGroups = new Set(examples.filter((e) => e.split === 'train_weak').map((e) => e.group ?? e.id)).size;
  if (protocol === 'market' && weakGroups < 2) {
    throw new UserError(`market needs out-of-sample weak picks on train_weak, from folds of at least 2 groups, but train_weak holds ${weakGroups}; raise sizes.train_weak or choose another protocol.`);
  }
  const folds = protocol === 'market' ? Math.min(CROSSFIT_FOLDS, weakGroups) : 0;
  // A stacked judge ensemble is fit on train_weak (cross-fitted): refuse one it cannot be fit on before a judge is paid.
  const trainWeak = examples.filter((e) => e.split === 'train_weak').map((e) => ({ label: e.label, group: e.group ?? null }));
  for (const [i, e] of (config.judgeEnsembles ?? []).entries()) {
    const problem = e.aggregate === 'stacked' ? stackingProblem(config, e.name, trainWeak) : null;
    if (problem) {
      throw new UserError(`judgeEnsembles[${i}] "${e.name}" is stacked, so its weights are fit on train_weak, but ${problem}; raise dataset.sizes.train_weak or choose another aggregate.`);
    }
  }
  embedding('weak', [
    { trainings: seeds, texts: n.train_weak, textBytes: plainBytes },
    { trainings: seeds, texts: all, textBytes: plainBytes },
    { trainings: folds, texts: n.train_weak, textBytes: plainBytes, extraCalls: 1 },
    { trainings: seeds * families * size, texts: n.train_weak, textBytes: withDebateBytes },
    { trainings: seeds * families * size, texts: n.train_strong + n.test, textBytes: withDebateBytes },
  ]);
  // Strong, per seed: on the ensemble's labels, the baseline's, each judge's and judge ensemble's, and the ceiling (with
  // the ablation, also on one member's and on the finetune ensemble's); each trains on train_strong and predicts test.
  const supervisors = config.judges.length + (config.judgeEnsembles?.length ?? 0);
  const strongModels = seeds * (3 + supervisors + (config.weak.ensemble.ablation ? 2 : 0));
  embedding('strong', [
    { trainings: strongModels, texts: n.train_strong, textBytes: plainBytes },
    { trainings: strongModels, texts: n.test, textBytes: plainBytes },
  ]);

  const total = calls.debater + calls.judge + calls.embedding;
  return { examples: { ...n }, calls, total, worstCaseUsd: Object.keys(prices).length ? usd : null };
}

/**
 * Renders the prompts of one debate and of one judgment through runDebate and judge, with stand-in models that
 * record each request: with the longest question and answer, the longer side label, and every earlier turn at its
 * bound (worstTurn), each request's size bounds that call's input in any real transcript.
 */
async function measurePrompts(
  config: ExperimentConfig,
  templates: { debate?: DebateTemplates; judge: Map<string, Template> },
  question: string,
  answer: string,
  alternative: string | undefined,
  passage: string,
): Promise<{ debater: { speaker: 'A' | 'B'; input: number }[]; judge: Map<string, number[]>; turns: Turn[] }> {
  const protocol = config.debate.protocol as Protocol;
  const task = framingOf(config.dataset.name, alternative !== undefined);
  const cfg = config.debate;
  const out: { debater: { speaker: 'A' | 'B'; input: number }[]; judge: Map<string, number[]>; turns: Turn[] } = { debater: [], judge: new Map(), turns: [] };
  const answering = (text: string, record: (req: GenerateRequest) => void): Generator => ({
    generate: async (req) => {
      record(req);
      return { text, finishReason: 'stop', usage: { inputTokens: 0, outputTokens: 0 }, callId: null };
    },
  });
  // Imported transcripts: the judges' prompts are measured on the longest one, as they will read it.
  if (cfg.import) out.turns = longestImportedTranscript(await readImport(config));
  else if (templates.debate) {
    const plan = planDebate({ protocol, turns: cfg.turns, seed: 0, exampleId: 'preflight', sample: 0, naivePick: 'correct' });
    // Only the side labels' lengths matter, and "incorrect" is the longer one.
    plan.turns = plan.turns.map((t) => ({ ...t, side: 'incorrect' }));
    const debater = (speaker: 'A' | 'B') => answering(worstTurn(cfg.maxTokens), (req) => out.debater.push({ speaker, input: inputBound(req) }));
    out.turns = await runDebate({
      plan, task, question, answer, alternative, sample: 0, seed: 0, debaters: { A: debater('A'), B: debater('B') }, templates: templates.debate,
      maxTokens: cfg.maxTokens, wordLimit: cfg.wordLimit, temperature: cfg.temperature, done: [], onTurn: () => {},
      passage: passage ? { text: passage, judgesRead: cfg.passage === 'all' } : null,
    });
  }
  // Each judge template's prompt in the original and the swapped presentation, in that order.
  for (const [path, template] of templates.judge) {
    const inputs: number[] = [];
    const model = answering('A', (req) => inputs.push(inputBound(req)));
    await judge({ model, method: 'parsed', template, task, question, answer, alternative, turns: out.turns, protocol, maxTokens: 1, passage, passageShown: cfg.passage === 'all' });
    out.judge.set(path, inputs);
  }
  // A judge-alone baseline renders its template without a transcript (and with the passage): checked, not measured.
  for (const j of config.judges) {
    if ((j.reads ?? JUDGE_DEFAULTS.reads) === 'transcript') continue;
    const model = answering('A', () => {});
    const template = templates.judge.get(j.template ?? JUDGE_DEFAULTS.template)!;
    await judge({ model, method: 'parsed', template, task, question, answer, alternative, turns: [], protocol, maxTokens: 1, passage, reads: j.reads });
  }
  return out;
}

/**
 * debate.passage "debaters" or "all" needs examples that carry a passage apart from their question: refused here, before
 * any work, with one sentence naming what to change.
 */
function checkPassages(config: ExperimentConfig, examples: readonly { passage?: string }[]): void {
  const mode = config.debate.passage;
  if (mode !== 'debaters' && mode !== 'all') return;
  const d = config.dataset;
  // Imported rows (debate.import) give their passage in their own "passage" field.
  if (d.name === 'jsonl' && d.passageField === undefined && !config.debate.import) {
    throw new UserError(`debate.passage "${mode}" needs each row's passage; set dataset.passageField to the row field that holds it.`);
  }
  if (!examples.some((e) => e.passage !== undefined)) {
    throw new UserError(
      `debate.passage "${mode}": dataset ${d.name} gives no passage apart from its questions; remove debate.passage, or use a dataset with passages (sciq, boolq, cosmos_qa, quail, quality, race, multirc, dream, mc_taco, or jsonl with dataset.passageField).`,
    );
  }
}

/** One line for the terminal: `at most 912 model calls (debater 768, judge 144); worst-case cost $0.41`. */
export function formatPlan(plan: Plan): string {
  const roles = (Object.entries(plan.calls) as [PlanRole, number][]).filter(([, c]) => c > 0).map(([r, c]) => `${r} ${c}`);
  const calls = plan.total === 0 ? 'no model calls' : `at most ${plan.total} model calls (${roles.join(', ')})`;
  const cost = plan.worstCaseUsd === null ? 'no prices set' : `worst-case cost $${formatUsd(plan.worstCaseUsd)}`;
  return `${calls}; ${cost}`;
}

function formatUsd(usd: number): string {
  if (usd === 0) return '0';
  return usd >= 0.01 ? usd.toFixed(2) : usd.toPrecision(2);
}

/** Texts per embed call: embeddingFeaturizer's default batch (the probe predicts in chunks of 1024, a multiple of it). */
const EMBED_BATCH = 64;
/** training.ts: the market protocol's cross-fit folds (fewer when train_weak has fewer groups). */
const CROSSFIT_FOLDS = 5;

/** The input bound of one generate call, as the gateway bounds it for the cost budget. */
const inputBound = (req: GenerateRequest): number => generateBound(req).inputTokens;

/**
 * An earlier turn, at its bound, as later prompts carry it. A turn is the prefix of at most maxTokens generated
 * tokens; read back by the next model, each generated token is at most 5 tokens (the worst is a character that
 * escapeArgument turns into an entity of up to 5, "&amp;"). In the bound's unit of one token per byte that is 5 bytes
 * per generated token. This is the bound's one assumption about tokenizers: that re-reading text costs at most as
 * many tokens as escaping can make of each generated one.
 */
function worstTurn(maxTokens: number): string {
  return 'x'.repeat(5 * maxTokens);
}

/** Runs a check; a UserError it throws is prefixed with where in the config the fix goes. */
async function at<T>(where: string, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${where}: ${e.message}`, { cause: e }) : e;
  }
}

/** Every place a config names a model. */
function modelRefs(config: ExperimentConfig): { where: string; ref: ModelRef }[] {
  const out: { where: string; ref: ModelRef }[] = [];
  (config.debate.debaters ?? []).forEach((ref, i) => out.push({ where: `debate.debaters[${i}]`, ref }));
  config.judges.forEach((j, i) => out.push({ where: `judges[${i}].model`, ref: j.model }));
  for (const group of ['weak', 'strong'] as const) {
    const f = config[group].features;
    if (f.kind === 'embedding') out.push({ where: `${group}.features.model`, ref: f.model });
  }
  return out;
}

/** A role that needs a capability of its model: a logprobs judge needs logprobs, an embedding featurizer embeddings. */
export interface CapabilityNeed {
  /** The role's section of the config: `judges[0]`, `weak.features`. */
  field: string;
  /** The field that names its model: `judges[0].model`, `weak.features.model`. */
  where: string;
  /** The role as the preflight's capability check names it: `judge:j1`, `weak_features`. */
  role: string;
  /** The role in words: `judge j1`, `weak featurizer`. */
  label: string;
  ref: ModelRef;
  cap: 'logprobs' | 'embeddings';
  /** What to do instead, as the preflight says it: `set judges[0].method to 'parsed'`. */
  alternative: string;
  /** The same, with the config value as JSON writes it: `set judges[0].method to "parsed"`. */
  instead: string;
}

/**
 * The roles of a config that need a capability of their model (the preflight checks them against what the model
 * declares; the run then probes the remote ones, see probe-roles.ts). A featurizer of the hf backend needs none.
 */
export function capabilityNeeds(config: ExperimentConfig): CapabilityNeed[] {
  const out: CapabilityNeed[] = [];
  config.judges.forEach((j, i) => {
    if (j.method !== 'logprobs') return;
    const name = judgeName(j, i);
    out.push({
      field: `judges[${i}]`, where: `judges[${i}].model`, role: `judge:${name}`, label: `judge ${name}`, ref: j.model, cap: 'logprobs',
      alternative: `set judges[${i}].method to 'parsed'`, instead: `set judges[${i}].method to "parsed"`,
    });
  });
  for (const group of ['weak', 'strong'] as const) {
    const t = config[group];
    if (t.backend === 'hf' || t.features.kind !== 'embedding') continue;
    const alternative = `use ${group}.features.kind "hashed"`;
    out.push({ field: `${group}.features`, where: `${group}.features.model`, role: `${group}_features`, label: `${group} featurizer`, ref: t.features.model, cap: 'embeddings', alternative, instead: alternative });
  }
  return out;
}

/** A model's local files and, when its role needs one, the capability, as its client will declare it. */
async function checkModel(where: string, ref: ModelRef, need?: Pick<CapabilityNeed, 'cap' | 'role' | 'alternative'>): Promise<ModelInspection> {
  return at(where, async () => {
    const m = await inspectModel(modelSpec(ref), typeof ref === 'string' ? {} : { capabilities: ref.capabilities, apiKeyEnv: ref.apiKeyEnv, endpoints: ref.endpoints, host: ref.host });
    if (need) requireCapability(m, need.cap, need.role, need.alternative);
    return m;
  });
}

/** The prompts the run will load (debates.ts loads all three debate templates; judges.ts the verdict). */
async function loadTemplates(config: ExperimentConfig): Promise<{ debate?: DebateTemplates; judge: Map<string, Template> }> {
  const dir = promptsDirOf(config.debate);
  const usesDebate = config.debate.protocol !== 'none';
  if (!usesDebate && config.judges.length === 0) return { judge: new Map() };
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new UserError(`debate.promptsDir ${resolve(dir)} is not a folder; point it at a prompts folder such as the w2s repository's prompts/, or leave it out for the prompts w2s ships.`);
  }
  return {
    debate: usesDebate ? loadDebateTemplates(dir) : undefined,
    judge: await judgeTemplates(config, dir),
  };
}

/** Each judge template the judges name, loaded once; a missing one names the judge's field (its own prompt variant). */
async function judgeTemplates(config: ExperimentConfig, dir: string): Promise<Map<string, Template>> {
  const out = new Map<string, Template>();
  for (const [i, j] of config.judges.entries()) {
    const path = j.template ?? JUDGE_DEFAULTS.template;
    if (out.has(path)) continue;
    if (j.template === undefined) out.set(path, loadTemplate(dir, path));
    else if (!existsSync(join(dir, path))) throw new UserError(`judges[${i}].template: ${resolve(dir, path)} does not exist; give a template under debate.promptsDir (${resolve(dir)}).`);
    else out.set(path, await at(`judges[${i}].template`, () => loadTemplate(dir, path)));
  }
  return out;
}

/** The hf backend's settings that name files: the trainer executable when one is given, and a local base model. */
async function checkTrainer(group: 'weak' | 'strong', hf: NonNullable<ExperimentConfig['weak']['hf']>): Promise<void> {
  const exe = hf.command?.[0];
  if (hf.command && !exe) throw new UserError(`${group}.hf.command is empty; give the trainer executable and its arguments, or leave it out for the reference trainer.`);
  if (exe && !(await findExecutable(exe))) {
    throw new UserError(`${group}.hf.command: the trainer executable "${exe}" was not found or is not executable; fix the path, or leave command out for the reference trainer.`);
  }
  const base = hf.baseModel;
  if (/^(\.{1,2}\/|\/|~\/)/.test(base) || base.toLowerCase().endsWith('.gguf')) {
    const path = resolve(base.startsWith('~/') ? join(homedir(), base.slice(2)) : base);
    if (!(await stat(path).catch(() => undefined))) throw new UserError(`${group}.hf.baseModel ${path} does not exist; check the path, or name a Hugging Face hub id.`);
  }
}

/** A path with a slash is checked as is (relative to the working directory); a bare name is looked up on PATH. */
async function findExecutable(exe: string): Promise<boolean> {
  const candidates = exe.includes('/') ? [resolve(exe)] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, exe));
  for (const c of candidates) {
    const isFile = (await stat(c).catch(() => undefined))?.isFile();
    if (isFile && (await access(c, constants.X_OK).then(() => true, () => false))) return true;
  }
  return false;
}
