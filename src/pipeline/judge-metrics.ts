import { judgeName, JUDGE_DEFAULTS, type ExperimentConfig } from '../config/experiment.js';
import { modelSpec } from '../config/load.js';
import {
  accuracyBySize, aggregateSpoken, applyStacker, cohenKappa, costFrontier, errorCorrelation, fitStacker, pairAgreement, pairedBootstrapDiff,
  positionBiasCI, type BootstrapOptions, type Label,
} from '../metrics/index.js';
import { priceOf } from '../models/gateway.js';
import { createRng, deriveSeed } from '../rng.js';
import { parseModelSpec } from '../models/spec.js';
import { FRONTIER_METHOD, type JudgmentRow, type MetricRow } from '../store/index.js';
import type { StageContext } from './context.js';
import { probabilitiesOn } from './judges.js';
import { ROLES } from './predictions.js';

/** The test split as the evaluation scores it (see evaluate.ts). */
export interface ScoredSplit {
  ids: string[];
  labels: Label[];
  clusters: number[] | undefined;
  method: string;
  covers: string;
}

/** What the judges' and judge ensembles' diagnostics need from the evaluation of the primary seed. */
export interface JudgeScores {
  split: ScoredSplit;
  /** P(correct) on the test split, by subject (judge:<j>, judge_ensemble:<e>, weak_ensemble). */
  probs: Map<string, number[]>;
  /** Test accuracy by subject. */
  accuracy: Map<string, number>;
  /** Bootstrap options for a (subject, metric): its own seed, the run's level and resamples, the split's clusters. */
  opts: (subject: string, metric: string) => BootstrapOptions;
  /** The seed recorded with a (subject, metric)'s interval. */
  seedOf: (subject: string, metric: string) => number;
  /** Each judge's stored means by example (meanByExample), as the evaluation read them. */
  means: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

const decision = (p: number): 0 | 1 => (p > 0.5 ? 1 : 0);

/**
 * Every judge's and judge ensemble's diagnostics, beside the accuracy, AUROC, ECE and Brier the evaluation gives every
 * subject:
 * - per judge: parse coverage (share of its replies whose verdict was read), position bias (mean P(first option) over
 *   its presentations; 0.5 is none), tokens and cost per judged example;
 * - per pair of judges: agreement, error correlation and kappa on test (diversity is why an ensemble can help);
 * - per judge ensemble: coverage, tokens and cost (its members'), its accuracy minus its best member's and minus the
 *   weak-model ensemble's (paired on the test examples), accuracy against ensemble size over member subsets, and a
 *   stacked ensemble's weights;
 * - which judges and ensembles are on the accuracy–cost frontier.
 */
export function judgeMetrics(ctx: StageContext, scores: JudgeScores): MetricRow[] {
  const { config } = ctx;
  if (config.judges.length === 0) return [];
  const { split } = scores;
  const n = split.labels.length;
  const out: MetricRow[] = [];
  const base = { runId: ctx.runId, n };
  const names = config.judges.map(judgeName);
  const judgments = new Map(names.map((name) => [name, ctx.store.judgments.listJudgments(ctx.runId, { judge: name })]));
  const usage = new Map(config.judges.map((j, i) => [names[i]!, judgeUsage(config, j.model, judgments.get(names[i]!)!)]));

  for (const [i, j] of config.judges.entries()) {
    const name = names[i]!;
    const subject = `judge:${name}`;
    const rows = judgments.get(name)!;
    // The store's counts, as silentSubjects reads them: replies, those that stated a verdict, those read from logprobs.
    const { replies, readable, fromLogprobs } = ctx.store.judgments.coverage(ctx.runId, name);
    const unread = replies - readable;
    const covers = 'every reply of the judge, in every split it read (train_weak too when a stacked ensemble uses it)';
    out.push({
      ...base, subject, name: 'parse_coverage', value: replies ? readable / replies : null, n: replies, method: 'count', covers,
      note: unread ? `${readable} of ${replies} judgments parsed; the ${unread} without a verdict count toward no mean` : null,
    });
    if (j.method === 'logprobs') {
      // A logprobs judge whose reply came back without usable logprobs was read from its text (or not at all): say how often.
      out.push({
        ...base, subject, name: 'logprob_coverage', value: replies ? fromLogprobs / replies : null, n: replies, method: 'count', covers,
        note: fromLogprobs < replies ? `${replies - fromLogprobs} of ${replies} replies had no usable logprobs for A or B and were read from their text, if at all` : null,
      });
    }
    if ((j.orders ?? JUDGE_DEFAULTS.orders) === 'both') {
      out.push(scores.probs.has(subject) ? positionBiasRow(ctx, scores, subject, rows) : { ...base, subject, name: 'position_bias', value: null, method: 'not scored', note: 'not scored: below its minCoverage' });
    }
    out.push(...usageRows(ctx, subject, usage.get(name)!));
  }

  // Diversity: how often two judges decide alike, and whether their errors fall on the same examples (scored judges only).
  for (let a = 0; a < names.length; a++) {
    for (let b = a + 1; b < names.length; b++) {
      const pa = scores.probs.get(`judge:${names[a]}`);
      const pb = scores.probs.get(`judge:${names[b]}`);
      if (!pa || !pb) continue;
      const subject = `judge_pair:${names[a]}|${names[b]}`;
      const how = { ...base, subject, method: 'point estimate', covers: split.covers };
      const corr = errorCorrelation(pa, pb, split.labels);
      const kappa = cohenKappa(pa.map(decision), pb.map(decision));
      out.push(
        { ...how, name: 'agreement', value: pairAgreement(pa, pb), note: 'share of test examples on which the two verdicts agree' },
        { ...how, name: 'error_correlation', value: corr, note: corr === null ? 'undefined: one of the two is always right or always wrong' : 'Pearson correlation of the two judges\' errors (1 = wrong together)' },
        { ...how, name: 'kappa', value: kappa, note: kappa === null ? 'undefined: every verdict was the same' : null },
      );
    }
  }

  for (const [index, e] of (config.judgeEnsembles ?? []).entries()) {
    const subject = `judge_ensemble:${e.name}`;
    const coverages = e.members.map((m) => out.find((r) => r.subject === `judge:${m}` && r.name === 'parse_coverage')!.value ?? null);
    out.push({
      ...base, subject, name: 'parse_coverage', value: coverages.includes(null) ? null : coverages.reduce((s: number, c) => s + c!, 0) / coverages.length,
      method: 'mean of the members\' coverage',
    });
    out.push(...usageRows(ctx, subject, sumUsage(e.members.map((m) => usage.get(m)!))));
    if (!scores.probs.has(subject)) continue; // not built: a member is below its minCoverage
    out.push(...versus(ctx, scores, subject, e.members));
    out.push(...sizeCurve(ctx, scores, subject, e.members, e.aggregate));
    if (e.aggregate === 'stacked') out.push(...stackedWeights(ctx, subject, index));
  }
  // USD only when every judge has a price: a judge without one would count as free and sit on the frontier.
  out.push(...frontier(ctx, scores, out, [...usage.values()].every((u) => u.priced)));
  return out;
}

/**
 * A judge's P(first option): P(correct) when "correct" is option A, else 1 − P(correct), from the transcripts (and
 * samples) it read in both presentations with a verdict in each. A reply in one presentation alone would measure the
 * labels, not a preference for a position; test examples with no such pair are left out (with their clusters), and the
 * note says how many.
 */
function positionBiasRow(ctx: StageContext, scores: JudgeScores, subject: string, rows: readonly JudgmentRow[]): MetricRow {
  const { split } = scores;
  const pairs = new Map<string, { exampleId: string; first: (number | null)[] }>();
  for (const r of rows) {
    const key = `${r.exampleId}\u0000${r.debateId ?? ''}\u0000${r.sample}`;
    const pair = pairs.get(key) ?? { exampleId: r.exampleId, first: [null, null] };
    pair.first[r.orderSwapped ? 1 : 0] = r.pCorrect === null ? null : r.orderSwapped ? 1 - r.pCorrect : r.pCorrect;
    pairs.set(key, pair);
  }
  const byExample = new Map<string, number[]>(split.ids.map((id) => [id, []]));
  for (const { exampleId, first } of pairs.values()) if (first[0] !== null && first[1] !== null) byExample.get(exampleId)?.push(first[0]!, first[1]!);
  const keep = split.ids.flatMap((id, i) => (byExample.get(id)!.length ? [i] : []));
  const left = split.ids.length - keep.length;
  const how = { runId: ctx.runId, subject, name: 'position_bias', n: keep.length, method: split.method, covers: split.covers };
  if (keep.length === 0) return { ...how, value: null, note: 'no test transcript had a verdict in both presentations' };
  const opts = scores.opts(subject, 'position_bias');
  const r = positionBiasCI(keep.map((i) => byExample.get(split.ids[i]!)!), { ...opts, groups: opts.groups && keep.map((i) => opts.groups![i]!) });
  return {
    ...how, value: r.value, lo: r.lo, hi: r.hi, level: r.level, resamples: r.resamples, undefinedResamples: r.undefinedCount,
    seed: scores.seedOf(subject, 'position_bias'),
    note: `mean P(first option) over the judged test transcripts with a verdict in both presentations; 0.5 is no preference${left ? `; ${left} test examples without such a pair left out` : ''}`,
  };
}

/** Tokens and USD per judged example; null when some judgments were stored without their tokens (an older w2s). */
interface Usage {
  tokens: number | null;
  usd: number | null;
  /** How many examples the figures average over (for a judge) or the most any member judged (for an ensemble). */
  examples: number;
  /** Whether a price was set for the model (every member's, for an ensemble); without one, cost is 0 and only tokens compare. */
  priced: boolean;
  /** A judge's price as gateway.prices gave it at evaluation. */
  price?: { inputPerMTok: number; outputPerMTok: number };
}

/** A judge's tokens and cost per judged example: the tokens of each judgment's call (cached or paid), at gateway.prices. */
function judgeUsage(config: ExperimentConfig, model: ExperimentConfig['judges'][number]['model'], rows: readonly JudgmentRow[]): Usage {
  const spec = parseModelSpec(modelSpec(model));
  const price = priceOf(config.gateway.prices, { id: modelSpec(model), model: spec.model });
  const examples = new Set(rows.map((r) => r.exampleId)).size;
  if (examples === 0 || rows.some((r) => r.inputTokens === null || r.outputTokens === null)) return { tokens: null, usd: null, examples, priced: price !== undefined, price };
  let tokens = 0;
  let usd = 0;
  for (const r of rows) {
    tokens += r.inputTokens! + r.outputTokens!;
    if (price) usd += (r.inputTokens! * price.inputPerMTok + r.outputTokens! * price.outputPerMTok) / 1e6;
  }
  return { tokens: tokens / examples, usd: usd / examples, examples, priced: price !== undefined, price };
}

/** An ensemble pays for every member on every example. */
function sumUsage(members: readonly Usage[]): Usage {
  const sum = (get: (u: Usage) => number | null): number | null => (members.some((u) => get(u) === null) ? null : members.reduce((s, u) => s + get(u)!, 0));
  return { tokens: sum((u) => u.tokens), usd: sum((u) => u.usd), examples: Math.max(...members.map((u) => u.examples)), priced: members.every((u) => u.priced) };
}

function usageRows(ctx: StageContext, subject: string, u: Usage): MetricRow[] {
  const method = subject.startsWith('judge_ensemble:')
    ? 'sum of the members\' per-example figures'
    : 'the tokens of every judgment\'s call (cache hits included), per judged example';
  const note = u.tokens === null ? 'some judgments were stored without their tokens (by an older w2s); rerun the judges to measure cost' : null;
  const covers = 'every judgment, in every split the judge read';
  const price = u.price
    ? `at $${u.price.inputPerMTok} in and $${u.price.outputPerMTok} out per million tokens (gateway.prices when the run was evaluated)`
    : u.priced ? 'at the members\' prices (gateway.prices when the run was evaluated)' : 'no price is set in gateway.prices for every model: counted as free';
  return [
    { runId: ctx.runId, subject, name: 'tokens_per_example', value: u.tokens, n: u.examples, method, covers, note },
    { runId: ctx.runId, subject, name: 'cost_usd_per_example', value: u.usd, n: u.examples, method: `${method}, at gateway.prices`, covers, note: note ?? price },
  ];
}

/**
 * The ensemble against its best member (chosen on test, which flatters the member: a conservative comparison for the
 * ensemble) and against the weak-model ensemble, paired on the same test examples: Δ = ensemble − the other.
 */
function versus(ctx: StageContext, scores: JudgeScores, subject: string, members: readonly string[]): MetricRow[] {
  const { split } = scores;
  const ens = scores.probs.get(subject)!;
  const best = members.reduce((b, m) => (scores.accuracy.get(`judge:${m}`)! > scores.accuracy.get(`judge:${b}`)! ? m : b));
  // The member, by name, as a row of its own (views read it, never the note): its test accuracy.
  const rows: MetricRow[] = [{
    runId: ctx.runId, subject, name: `best_member:${best}`, value: scores.accuracy.get(`judge:${best}`)!, n: split.labels.length,
    method: 'the member with the highest test accuracy (the first on a tie)',
  }];
  const diff = (name: string, other: number[], note: string): void => {
    const o = scores.opts(subject, name);
    const d = pairedBootstrapDiff(other, ens, split.labels, o);
    const stacked = (ctx.config.judgeEnsembles ?? []).some((e) => e.aggregate === 'stacked' && `judge_ensemble:${e.name}` === subject);
    const covers = [
      split.covers,
      stacked ? 'the stacked weights (fit on train_weak) held fixed' : '',
      name === 'vs_best_member' ? 'the best member is chosen once, on the whole test split, not again in each resample' : '',
    ].filter(Boolean).join('; ');
    const how = { runId: ctx.runId, subject, n: split.labels.length, seed: scores.seedOf(subject, name), covers };
    rows.push(
      {
        ...how, name, value: d.diff, lo: d.lo, hi: d.hi, method: `paired ${split.method}`, level: d.level, resamples: d.resamples,
        undefinedResamples: d.undefinedCount, note,
      },
      { ...how, name: `${name}_p`, value: d.pValue, method: 'paired bootstrap p-value (two-sided, for no difference)', resamples: d.resamples },
    );
  };
  diff('vs_best_member', scores.probs.get(`judge:${best}`)!, `ensemble accuracy − best member's (${best}, chosen on test)`);
  const weak = scores.probs.get('weak_ensemble');
  if (weak) diff('vs_weak_ensemble', weak, `ensemble accuracy − the weak-model ensemble's (${ctx.config.weak.ensemble.kind})`);
  return rows;
}

/**
 * Accuracy at each ensemble size k: the mean over the ensemble's k-member subsets, with their min and max (a range
 * over subsets, not a confidence interval). A stacked subset is refit on train_weak, as the ensemble was.
 */
function sizeCurve(ctx: StageContext, scores: JudgeScores, subject: string, members: readonly string[], aggregate: string): MetricRow[] {
  const { split } = scores;
  const test = members.map((m) => scores.probs.get(`judge:${m}`)!);
  // Each member's stored means (as the evaluation read them), and on test: null where it stated no verdict.
  // Members are configured judges (the config is checked), so the evaluation read each one's means.
  const means = members.map((m) => scores.means.get(m)!);
  const spoken = means.map((byId) => split.ids.map((id) => byId.get(id) ?? null));
  let combine: Parameters<typeof accuracyBySize>[2]['combine'];
  if (aggregate === 'stacked') {
    const trainWeak = ctx.store.examples.listExamples(ctx.runId, 'train_weak');
    const fitOn = means.map((byId) => probabilitiesOn(byId, trainWeak.map((e) => e.id)));
    const labels = trainWeak.map((e) => e.label);
    // As the ensemble itself is stored (judge-ensembles.ts): 0.5 where every member of the subset abstained, not the
    // stacker's value for all-0.5 inputs (the sigmoid of its intercept).
    combine = (all, subset) => {
      const p = applyStacker(fitStacker(subset.map((k) => fitOn[k]!), labels), subset.map((k) => all[k]!));
      return p.map((v, i) => (subset.every((k) => spoken[k]![i] === null) ? 0.5 : v));
    };
  } else {
    // As the ensemble itself is combined (judge-ensembles.ts): over the subset's members that stated a verdict.
    combine = (_all, subset) => aggregateSpoken(subset.map((k) => spoken[k]!), aggregate as 'mean' | 'vote' | 'logit-mean').map((p) => p ?? 0.5);
  }
  // Sizes with more than 1,000 subsets are sampled, from a stream of the ensemble's own.
  const random = createRng(deriveSeed(ctx.config.seed, 'judge_ensemble_sizes', subject)).random;
  const curve = accuracyBySize(test, split.labels, { random, orderings: 1_000, combine });
  return curve.map((c) => ({
    runId: ctx.runId, subject, name: `accuracy_at_size:${c.size}`, value: c.accuracy, lo: c.min, hi: c.max, n: c.subsets, method: 'mean over member subsets',
    covers: `range over the ${c.subsets} subsets of ${c.size} of ${members.length} members${c.exact ? '' : ' (sampled)'}, not a confidence interval`,
  }));
}

function stackedWeights(ctx: StageContext, subject: string, index: number): MetricRow[] {
  const model = ctx.store.models.getModel(ctx.runId, ROLES.judgeEnsemble, index);
  const w = (model?.state as { weights?: { intercept: number; byMember: Record<string, number> } } | undefined)?.weights;
  if (!w) return [];
  const trainWeak = ctx.store.examples.countBySplit(ctx.runId).train_weak;
  const how = { runId: ctx.runId, subject, n: trainWeak, method: 'logistic regression on the members\' log-odds, fit on train_weak' };
  // The intercept is a row of its own name (stacked_intercept), so no member name can collide with it.
  return [...Object.entries(w.byMember).map(([m, v]) => ({ ...how, name: `weight:${m}`, value: v })), { ...how, name: 'stacked_intercept', value: w.intercept }];
}

/** Judges and ensembles not beaten by a cheaper-or-equal one: by USD when any judge has a price, else by tokens. */
function frontier(ctx: StageContext, scores: JudgeScores, rows: readonly MetricRow[], priced: boolean): MetricRow[] {
  const subjects = [...scores.probs.keys()].filter((s) => s.startsWith('judge:') || s.startsWith('judge_ensemble:'));
  const axis = priced ? 'cost_usd_per_example' : 'tokens_per_example';
  const cost = (s: string): number | null | undefined => rows.find((r) => r.subject === s && r.name === axis)?.value;
  if (subjects.length === 0 || subjects.some((s) => cost(s) === null || cost(s) === undefined)) return [];
  const on = costFrontier(subjects.map((s) => ({ name: s, cost: cost(s)!, accuracy: scores.accuracy.get(s)! })));
  const note = `accuracy on test against ${priced ? 'USD' : 'tokens'} per judged example: 1 when no judge or ensemble is at least as accurate for at most its cost`;
  // The axis is in the method, which views read (FRONTIER_METHOD), so they never parse the note.
  const method = FRONTIER_METHOD[priced ? 'usd' : 'tokens'];
  return subjects.map((s) => ({ runId: ctx.runId, subject: s, name: 'on_frontier', value: on.has(s) ? 1 : 0, n: scores.split.labels.length, method, note }));
}
