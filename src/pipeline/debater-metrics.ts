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

/**
 * Per side the gold label makes right or wrong (honest or dishonest advocacy): how much each quoted, and how much of it
 * checked out against the passage (turns.quotes, quotes_verified).
 */
function quoteMetrics(ctx: StageContext): MetricRow[] {
  const examples = new Map(ctx.store.examples.listExamples(ctx.runId).map((e) => [e.id, e]));
  const bySide = { right: [] as { example: ExampleRow; quotes: number; verified: number }[], wrong: [] as { example: ExampleRow; quotes: number; verified: number }[] };
  for (const t of ctx.store.debates.listTranscripts(ctx.runId)) {
    const example = examples.get(t.exampleId);
    if (!example) continue;
    for (const turn of t.turns) {
      if (turn.quotes == null) continue;
      const right = (turn.side === 'correct') === (example.label === 1);
      bySide[right ? 'right' : 'wrong'].push({ example, quotes: turn.quotes.made, verified: turn.quotes.verified });
    }
  }
  if (bySide.right.length + bySide.wrong.length === 0) return [];
  const rows: MetricRow[] = [];
  for (const side of ['right', 'wrong'] as const) {
    const turns = bySide[side];
    const quotes = turns.reduce((n, t) => n + t.quotes, 0);
    rows.push({
      runId: ctx.runId, subject: `quotes:${side}`, name: 'per_turn', value: turns.length ? quotes / turns.length : null, n: turns.length, method: 'mean',
      note: `quotes per turn of the debaters arguing the ${side} side (the one the gold label makes ${side}), every split (${quotes} quotes in ${turns.length} turns)`,
    });
    rows.push(proportionRow(ctx, `quotes:${side}`, 'verified_share', turns.map((t) => ({ example: t.example, hits: t.verified, trials: t.quotes })),
      'share of those quotes that matched the passage as whole words (normalised: case, punctuation, whitespace)'));
  }
  return rows;
}

function ratingMetrics(ctx: StageContext): MetricRow[] {
  if (ctx.config.debate.protocol !== 'debate') return [];
  const matches = runMatches(ctx.store.db, ctx.runId);
  const seed = deriveSeed(ctx.config.seed, 'bootstrap', 'debater_ratings');
  const { bootstrap: resamples, level } = ctx.config.metrics;
  const fit = fitMatches([matches], { random: createRng(seed).random, resamples, level, seed });
  if (!fit) return [];
  // With one debater model (self-play) its overall rating is 0 by construction (its right side against its own wrong
  // side), interval [0, 0]: only its per-side ratings say anything, so the overall row is stored from two models on.
  return ratingRows(ctx.runId, fit).filter((r) => fit.models.length >= 2 || r.name !== 'rating');
}

/** Several trials of one item (a turn's quotes, of which `hits` checked out). */
interface Counted {
  example: ExampleRow;
  hits: number;
  trials: number;
}

/** A proportion over transcripts with its cluster-robust interval (an example's transcripts, a group's examples: one cluster). */
function proportionRow(ctx: StageContext, subject: string, name: string, items: ({ example: ExampleRow; hit: boolean } | Counted)[], note: string): MetricRow {
  const { level } = ctx.config.metrics;
  const byCluster = new Map<string, { a: number; n: number }>();
  for (const item of items) {
    const { hits, trials } = 'hit' in item ? { hits: item.hit ? 1 : 0, trials: 1 } : item;
    if (trials === 0) continue;
    const t = byCluster.get(groupKey(item.example)) ?? { a: 0, n: 0 };
    t.a += hits;
    t.n += trials;
    byCluster.set(groupKey(item.example), t);
  }
  if (byCluster.size === 0) return { runId: ctx.runId, subject, name, value: null, n: 0, method: 'count', note: `${note}; none to count` };
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
