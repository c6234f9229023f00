import pLimit from 'p-limit';
import { JUDGE_DEFAULTS, judgeName, type ExperimentConfig } from '../config/experiment.js';
import { modelSpec } from '../config/load.js';
import { framingOf } from '../debate/protocols.js';
import { loadTemplate, promptsDirOf } from '../debate/templates.js';
import { judge, presentations, type JudgeInput } from '../judge/prompted.js';
import type { ExampleRow, Split } from '../store/index.js';
import { checkStop, endsTheRun, PartialFailureError, settleStage, type StageContext } from './context.js';
import { toTurn } from './debates.js';

/** The judges that stacked judge ensembles fit their weights on: they also judge train_weak, where the gold is known. */
export function stackedMembers(config: ExperimentConfig): Set<string> {
  return new Set((config.judgeEnsembles ?? []).filter((e) => e.aggregate === 'stacked').flatMap((e) => e.members));
}

/** The splits a judge reads: train_strong (it supervises) and test, and train_weak too when a stacked ensemble needs it. */
export function judgedSplits(config: ExperimentConfig, name: string): Split[] {
  return stackedMembers(config).has(name) ? ['train_weak', 'train_strong', 'test'] : ['train_strong', 'test'];
}

/**
 * Prompted weak judges read the question, the answer and each transcript (or none, for protocol "none") twice: as
 * given, and swapped (options in the other order and Debater A/B renamed to B/A; see judge/prompted.ts). Judgments
 * are stored per presentation (order_swapped 0/1), so an interrupted run redoes only the missing ones.
 */
/**
 * What every judge call reads of an example, whoever makes it (a judge, or best-of-N's scorer): the question, the
 * answer (and answer B of a two-choice example), and the passage its quotes are checked against, shown when everyone
 * reads it (debate.passage "all").
 */
export function judgeInputOf(ctx: StageContext, example: ExampleRow): Pick<JudgeInput, 'question' | 'answer' | 'alternative' | 'passage' | 'passageShown'> {
  return {
    question: example.question ?? example.text, answer: example.answer ?? '', alternative: example.alternative,
    passage: example.passage ?? null, passageShown: ctx.config.debate.passage === 'all',
  };
}

export async function runJudges(ctx: StageContext): Promise<void> {
  const judges = ctx.config.judges;
  if (judges.length === 0) return;
  const task = framingOf(ctx.config.dataset.name, ctx.config.dataset.format === 'two-choice');
  const protocol = ctx.config.debate.protocol;
  const limit = pLimit(Math.max(1, ctx.config.gateway.concurrency * 2));
  const jobs: { run: () => Promise<void>; batched: boolean }[] = [];
  let done = 0;
  let failed = 0;
  let firstError = '';
  for (const [index, j] of judges.entries()) {
    const name = judgeName(j, index);
    const template = loadTemplate(promptsDirOf(ctx.config.debate), j.template ?? JUDGE_DEFAULTS.template);
    const orders = j.orders ?? JUDGE_DEFAULTS.orders;
    const samples = j.samples ?? JUDGE_DEFAULTS.samples;
    const model = await ctx.models.forRole(j.model, `judge:${name}`, j.method === 'logprobs' ? ['logprobs'] : []);
    const examples = judgedSplits(ctx.config, name).flatMap((split) => ctx.store.examples.listExamples(ctx.runId, split));
    const readsSample = (sample: number): boolean => j.transcripts === undefined || j.transcripts.includes(sample);
    const reads = j.reads ?? JUDGE_DEFAULTS.reads;
    // A judge that batches asks for all its replies to a transcript at once, so they all go out in one batch.
    const batched = ctx.batching?.isBatched(j.model) === true;
    for (const example of examples) {
      // A judge-alone baseline (reads "question" or "question-and-passage") makes one judgment per example, like protocol "none".
      const transcripts = protocol === 'none' || reads !== 'transcript'
        ? [null]
        : ctx.store.debates.transcriptsForExample(ctx.runId, example.id).filter((t) => t.protocol === protocol && readsSample(t.sample));
      for (const t of transcripts) {
        const debateId = t?.id ?? null;
        const stored = (swapped: boolean, sample: number): boolean => ctx.store.judgments.hasJudgment(ctx.runId, example.id, name, debateId, swapped, sample);
        jobs.push({ batched, run: async () => {
          if (presentations(orders).every((swapped) => Array.from({ length: samples }, (_, s) => s).every((s) => stored(swapped, s)))) {
            ctx.progress({ stage: 'judges', kind: 'tick', done: ++done, total: jobs.length });
            return;
          }
          checkStop(ctx);
          try {
            const v = await judge(
              {
                model, method: j.method, template, task, ...judgeInputOf(ctx, example),
                turns: t ? t.turns.map(toTurn) : [], protocol, maxTokens: j.maxTokens, orders, samples, temperature: j.temperature ?? JUDGE_DEFAULTS.temperature,
                concurrent: batched, reads,
              },
              stored,
            );
            ctx.store.judgments.insertJudgments(
              v.replies.map((o) => ({
                runId: ctx.runId, exampleId: example.id, judge: name, debateId, orderSwapped: o.orderSwapped, sample: o.sample, pCorrect: o.pCorrect,
                method: o.method, rawText: o.rawText, callId: o.callId, inputTokens: o.inputTokens, outputTokens: o.outputTokens,
              })),
            );
          } catch (e) {
            if (endsTheRun(e)) throw e;
            failed++;
            firstError ||= (e as Error).message;
          }
          ctx.progress({ stage: 'judges', kind: 'tick', done: ++done, total: jobs.length });
        } });
      }
    }
  }
  ctx.progress({ stage: 'judges', kind: 'start', total: jobs.length, message: judges.map((j, i) => `${judgeName(j, i)}=${modelSpec(j.model)}`).join(', ') });
  await settleStage(ctx, 'judges', jobs, limit);
  if (failed) throw new PartialFailureError('judgments', failed, jobs.length, firstError);
}

/**
 * A judge's stored means (meanByExample) on the given examples. An example on which the judge abstained (no reply
 * stated a verdict) gets 0.5, the no-information value: the views say how many (abstentionsOn), and a judge that
 * abstains more than its minCoverage allows is not scored at all (silentSubjects).
 */
export function probabilitiesOn(means: ReadonlyMap<string, number>, exampleIds: readonly string[]): number[] {
  return exampleIds.map((id) => means.get(id) ?? 0.5);
}

/** How many of the examples the judge abstained on (no reply stated a verdict). */
export function abstentionsOn(means: ReadonlyMap<string, number>, exampleIds: readonly string[]): number {
  return exampleIds.filter((id) => !means.has(id)).length;
}

/**
 * The judges and judge ensembles that get no figures, keyed by subject (judge:<name>, judge_ensemble:<name>), with
 * why in the words every view prints after "n/a": a judge whose share of replies stating a verdict is below its
 * minCoverage ("3 of 80 judgments parsed, below minCoverage 90%"), and an ensemble with such a member. They get no accuracy
 * or PGR and supervise no strong model: a judge that says nothing is not a judge, however its 0.5s happen to score.
 * Computed from the stored judgments, so every stage that asks gets the same answer.
 */
export function silentSubjects(ctx: StageContext): Map<string, string> {
  const out = new Map<string, string>();
  for (const [index, j] of ctx.config.judges.entries()) {
    const name = judgeName(j, index);
    const c = ctx.store.judgments.coverage(ctx.runId, name);
    const min = j.minCoverage ?? JUDGE_DEFAULTS.minCoverage;
    if (c.readable === 0 || c.readable / c.replies < min) {
      out.set(`judge:${name}`, `${c.readable} of ${c.replies} judgments parsed, below minCoverage ${+(100 * min).toFixed(1)}%`);
    }
  }
  for (const e of ctx.config.judgeEnsembles ?? []) {
    const silent = e.members.filter((m) => out.has(`judge:${m}`));
    if (silent.length) out.set(`judge_ensemble:${e.name}`, silent.map((m) => `member ${m}: ${out.get(`judge:${m}`)}`).join('; '));
  }
  return out;
}
