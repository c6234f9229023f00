/**
 * The debaters' own numbers, computed once at the end of a run and stored as metrics:
 * - debater ratings (protocol "debate" with a judge that reads transcripts): report/ratings.ts's Bradley–Terry fit;
 * - open roles: how often the agent chose the side the gold label makes right, how often its reply stated a side at
 *   all, and each judge's accuracy on the transcripts whose chosen side was right and on those whose was not (Kenton
 *   et al.: with open roles, judges are less often convinced of the wrong answer in debate than in consultancy);
 * - quotes (a passage the debaters quote: debate.passage, or imported transcripts with one): per side, quotes per
 *   turn and the share that matched the passage.
 */
import { judgeName } from '../config/experiment.js';
import { clusteredProportion } from '../metrics/index.js';
import { fitMatches, ratingRows, runMatches } from '../report/ratings.js';
import { createRng, deriveSeed } from '../rng.js';
import { groupKey, type ExampleRow, type MetricRow } from '../store/index.js';
import type { StageContext } from './context.js';

export function debaterMetrics(ctx: StageContext): MetricRow[] {
  return [...ratingMetrics(ctx), ...openRoleMetrics(ctx), ...quoteMetrics(ctx)];
}

/** Per side of the claim: how much each side quoted, and how much of it checked out (turns.quotes, quotes_verified). */
function quoteMetrics(ctx: StageContext): MetricRow[] {
  const turns = ctx.store.db
    .prepare(
      `SELECT t.side, t.quotes, t.quotes_verified AS verified, d.example_id AS exampleId FROM turns t JOIN debates d ON d.id = t.debate_id
       WHERE d.run_id = ? AND d.status = 'completed' AND t.quotes IS NOT NULL`,
    )
    .all(ctx.runId) as { side: 'correct' | 'incorrect'; quotes: number; verified: number; exampleId: string }[];
  if (turns.length === 0) return [];
  const examples = new Map(ctx.store.examples.listExamples(ctx.runId).map((e) => [e.id, e]));
  const rows: MetricRow[] = [];
  for (const side of ['correct', 'incorrect'] as const) {
    const mine = turns.filter((t) => t.side === side && examples.has(t.exampleId));
    const quotes = mine.reduce((n, t) => n + t.quotes, 0);
    rows.push({
      runId: ctx.runId, subject: `quotes:${side}`, name: 'per_turn', value: mine.length ? quotes / mine.length : null, n: mine.length, method: 'mean',
      note: `quotes per turn of the debaters arguing the claim is ${side}, every split (${quotes} quotes in ${mine.length} turns)`,
    });
    const each = mine.flatMap((t) => Array.from({ length: t.quotes }, (_, k) => ({ example: examples.get(t.exampleId)!, hit: k < t.verified })));
    rows.push(proportionRow(ctx, `quotes:${side}`, 'verified_share', each, `share of those quotes that matched the passage (normalised: case, punctuation, whitespace)`));
  }
  return rows;
}

function ratingMetrics(ctx: StageContext): MetricRow[] {
  if (ctx.config.debate.protocol !== 'debate') return [];
  const matches = runMatches(ctx.store.db, ctx.runId);
  const seed = deriveSeed(ctx.config.seed, 'bootstrap', 'debater_ratings');
  const { bootstrap: resamples, level } = ctx.config.metrics;
  const fit = fitMatches([matches], { random: createRng(seed).random, resamples, level, seed });
  return fit ? ratingRows(ctx.runId, fit) : [];
}

/** A proportion over transcripts with its cluster-robust interval (an example's transcripts, a group's examples: one cluster). */
function proportionRow(ctx: StageContext, subject: string, name: string, hits: { example: ExampleRow; hit: boolean }[], note: string): MetricRow {
  const { level } = ctx.config.metrics;
  if (hits.length === 0) return { runId: ctx.runId, subject, name, value: null, n: 0, method: 'count', note: `${note}; none to count` };
  const byCluster = new Map<string, { a: number; n: number }>();
  for (const h of hits) {
    const t = byCluster.get(groupKey(h.example)) ?? { a: 0, n: 0 };
    t.a += h.hit ? 1 : 0;
    t.n++;
    byCluster.set(groupKey(h.example), t);
  }
  const list = [...byCluster.values()];
  const r = clusteredProportion(list.map((t) => t.a), list.map((t) => t.n), level);
  return {
    runId: ctx.runId, subject, name, value: r.estimate, lo: r.clusters > 1 ? r.lo : null, hi: r.clusters > 1 ? r.hi : null, n: r.n, note,
    method: 'cluster-robust normal interval', level, covers: `transcripts, clustered by example or group (${r.clusters} clusters)`,
  };
}

function openRoleMetrics(ctx: StageContext): MetricRow[] {
  if (ctx.config.debate.roles !== 'open') return [];
  const examples = new Map(ctx.store.examples.listExamples(ctx.runId).map((e) => [e.id, e]));
  const choices = ctx.store.debates.choicesOfRun(ctx.runId);
  const debates = ctx.store.debates.listDebates(ctx.runId, { status: 'completed' });
  const chosen: { debateId: string; example: ExampleRow; right: boolean }[] = [];
  const stated: { example: ExampleRow; hit: boolean }[] = [];
  for (const d of debates) {
    const example = examples.get(d.exampleId);
    const choice = choices.get(d.id);
    if (!example || !choice) continue;
    stated.push({ example, hit: choice.stated });
    if (choice.stated) chosen.push({ debateId: d.id, example, right: (d.sides.A === 'correct') === (example.label === 1) });
  }
  const who = ctx.config.debate.protocol === 'consultancy' ? 'the consultant' : 'debater A';
  const rows = [
    proportionRow(ctx, 'open_roles', 'choice_stated', stated, `share of ${who}'s choice replies that stated a side; the rest argue the seeded draw`),
    proportionRow(ctx, 'open_roles', 'chose_correct', chosen.map((c) => ({ example: c.example, hit: c.right })), `share of stated choices where ${who} chose the side the gold label makes right, every split`),
  ];
  // Each judge's verdict per transcript on test: its mean P(correct) over the replies that stated one.
  for (const [i, j] of ctx.config.judges.entries()) {
    if (j.reads !== undefined && j.reads !== 'transcript') continue;
    const name = judgeName(j, i);
    const sums = new Map<string, { s: number; n: number }>();
    for (const r of ctx.store.judgments.listJudgments(ctx.runId, { judge: name })) {
      if (r.debateId === null || r.pCorrect === null) continue;
      const t = sums.get(r.debateId) ?? { s: 0, n: 0 };
      t.s += r.pCorrect;
      t.n++;
      sums.set(r.debateId, t);
    }
    for (const right of [true, false]) {
      const hits = chosen
        .filter((c) => c.right === right && c.example.split === 'test' && sums.has(c.debateId))
        .map((c) => {
          const t = sums.get(c.debateId)!;
          return { example: c.example, hit: t.s / t.n > 0.5 === (c.example.label === 1) };
        });
      rows.push(proportionRow(ctx, `judge:${name}`, right ? 'accuracy_chose_correct' : 'accuracy_chose_incorrect', hits,
        `accuracy on the test transcripts where ${who} chose the ${right ? 'right' : 'wrong'} side`));
    }
  }
  return rows;
}
