/**
 * Debater ratings as the views read them: the matches of one or more runs (one per judged debate transcript), the
 * Bradley–Terry fit of src/metrics/ratings.ts, its metric rows, and its text. Used by the evaluate stage (one run,
 * stored as metrics) and by `w2s ratings` (several runs pooled into one fit).
 */
import { judgeName } from '../config/experiment.js';
import { modelSpec } from '../config/load.js';
import { clustersFromKeys, ELO_PER_LOGIT, ratingsCI, DEFAULT_PRIOR_SD, type Match, type RatingEstimate, type RatingsWithIntervals } from '../metrics/index.js';
import type { DB } from '../store/db.js';
import { groupKey } from '../store/examples.js';
import type { MetricRow } from '../store/index.js';
import { textTable } from './results.js';

export interface RunMatches {
  /** The judge whose verdicts decide the matches; null when the run has none that reads transcripts. */
  judge: string | null;
  matches: Match[];
  /** The cluster of each match: its example's group, else the example (shared across pooled runs of one dataset). */
  clusters: string[];
  /** Judged transcripts left out because every reply of the judge abstained. */
  abstained: number;
}

interface StoredConfig {
  debate?: { protocol?: string; debaters?: unknown[] };
  judges?: { name?: string; reads?: string }[];
}

/** The model names a run's debaters play under (A, B). */
export function debaterNames(config: StoredConfig): { A: string; B: string } {
  const refs = (config.debate?.debaters ?? []) as Parameters<typeof modelSpec>[0][];
  const a = refs[0] ? modelSpec(refs[0]) : 'imported';
  return { A: a, B: refs[1] ? modelSpec(refs[1]) : a };
}

/** The judge that rates debaters: the named one, else the run's first judge that reads transcripts. */
export function ratingJudge(config: StoredConfig, wanted?: string): string | null {
  const judges = (config.judges ?? []).map((j, i) => ({ name: judgeName(j, i), reads: j.reads ?? 'transcript' }));
  if (wanted !== undefined) return judges.some((j) => j.name === wanted) ? wanted : null;
  return judges.find((j) => j.reads === 'transcript')?.name ?? null;
}

/**
 * One match per completed debate (protocol "debate": two sides) the judge stated a verdict on: the model on the side
 * the gold label makes right against the model on the other; the judge's mean P(correct) over its replies says who
 * won (above 0.5 for the right side: a win; exactly 0.5: a tie).
 */
export function runMatches(db: DB, runId: string, wantedJudge?: string): RunMatches {
  const row = db.prepare('SELECT config_json FROM runs WHERE id = ?').get(runId) as { config_json: string } | undefined;
  const config = JSON.parse(row?.config_json ?? '{}') as StoredConfig;
  const judge = ratingJudge(config, wantedJudge);
  const out: RunMatches = { judge, matches: [], clusters: [], abstained: 0 };
  if (judge === null) return out;
  const names = debaterNames(config);
  const rows = db
    .prepare(
      `SELECT d.example_id, d.sides_json, e.label, e.group_id, AVG(j.p_correct) AS p, COUNT(j.p_correct) AS stated
       FROM debates d JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id
       JOIN judgments j ON j.run_id = d.run_id AND j.debate_id = d.id AND j.judge = ?
       WHERE d.run_id = ? AND d.status = 'completed' AND d.protocol = 'debate'
       GROUP BY d.id ORDER BY d.rowid`,
    )
    .all(judge, runId) as { example_id: string; sides_json: string; label: 0 | 1; group_id: string | null; p: number | null; stated: number }[];
  for (const r of rows) {
    if (r.stated === 0 || r.p === null) {
      out.abstained++;
      continue;
    }
    const sides = JSON.parse(r.sides_json) as Record<'A' | 'B', 'correct' | 'incorrect'>;
    const right = (side: string): boolean => (side === 'correct') === (r.label === 1);
    const winnerIsA = right(sides.A);
    const pRight = r.label === 1 ? r.p : 1 - r.p;
    out.matches.push({
      correct: winnerIsA ? names.A : names.B,
      incorrect: winnerIsA ? names.B : names.A,
      outcome: pRight > 0.5 ? 1 : pRight < 0.5 ? 0 : 0.5,
    });
    out.clusters.push(groupKey({ id: r.example_id, group: r.group_id }));
  }
  return out;
}

/** How the stored ratings were computed, in the words of the metrics table's method column. */
export const RATINGS_METHOD = `Bradley–Terry MAP fit (Gaussian prior, sd ${DEFAULT_PRIOR_SD} logits), Elo points; percentile bootstrap refitting each resample`;

export interface RatingsResult extends RatingsWithIntervals {
  judge: string;
  /** Matches, and transcripts the judge abstained on. */
  n: number;
  abstained: number;
  covers: string;
  method: string;
  seed: number;
}

/** The pooled fit of several runs' matches (or null when there is none to fit), clustered by example or group. */
export function fitMatches(parts: readonly RunMatches[], opts: { random: () => number; resamples: number; level: number; seed: number }): RatingsResult | null {
  const matches = parts.flatMap((p) => p.matches);
  if (matches.length === 0) return null;
  const keys = parts.flatMap((p) => p.clusters);
  const groups = clustersFromKeys(keys);
  const clusters = new Set(keys).size;
  const fit = ratingsCI(matches, { random: opts.random, resamples: opts.resamples, level: opts.level, groups: clusters < matches.length ? groups : undefined });
  const judges = [...new Set(parts.map((p) => p.judge).filter((j): j is string => j !== null))];
  return {
    ...fit, judge: judges.join(', '), n: matches.length, abstained: parts.reduce((s, p) => s + p.abstained, 0), seed: opts.seed,
    method: clusters < matches.length ? RATINGS_METHOD.replace('percentile bootstrap', 'clustered percentile bootstrap') : RATINGS_METHOD,
    covers: clusters < matches.length ? `judged transcripts, clustered by example or group (${clusters} clusters of ${matches.length})` : `judged transcripts (${matches.length})`,
  };
}

/** Logits as Elo points. */
export const elo = (x: number | null): number | null => (x === null ? null : x * ELO_PER_LOGIT);

/** Elo points as text: whole points, rounded first (so −0.3 reads "0", not "-0"), a + on positives; n/a when missing. */
export function eloText(v: number | null | undefined): string {
  if (v == null) return 'n/a';
  const r = Math.round(v) || 0;
  return `${r > 0 ? '+' : ''}${r}`;
}

/** The fit as metric rows: debater:<model> rating, rating_correct, rating_incorrect; debater_pair:<a> vs <b> rating_diff. */
export function ratingRows(runId: string, r: RatingsResult): MetricRow[] {
  const row = (subject: string, name: string, e: RatingEstimate, n: number, note: string | null): MetricRow => ({
    runId, subject, name, value: elo(e.value), lo: elo(e.lo), hi: elo(e.hi), n, note, method: r.method, level: r.level, resamples: r.resamples,
    undefinedResamples: e.undefinedCount, seed: r.seed, covers: r.covers,
  });
  const judged = `judge ${r.judge}${r.abstained ? `; ${r.abstained} transcripts without a verdict left out` : ''}`;
  const out: MetricRow[] = [];
  for (const m of r.models) {
    const played = r.matches.get(m)!;
    out.push(row(`debater:${m}`, 'rating', r.overall.get(m)!, played.correct + played.incorrect, `${judged}; mean of its correct-side and incorrect-side ratings`));
    out.push(row(`debater:${m}`, 'rating_correct', r.correct.get(m)!, played.correct, `${judged}; arguing the side the gold label makes right`));
    out.push(row(`debater:${m}`, 'rating_incorrect', r.incorrect.get(m)!, played.incorrect, `${judged}; arguing the other side`));
  }
  for (const [key, e] of r.differences) {
    const [a, b] = key.split('\u0000') as [string, string];
    out.push(row(`debater_pair:${a} vs ${b}`, 'rating_diff', e, r.n, `${judged}; rating of ${a} minus rating of ${b}`));
  }
  return out;
}

const interval = (e: RatingEstimate): string => `${eloText(elo(e.value))} [${eloText(elo(e.lo))}, ${eloText(elo(e.hi))}]${e.undefinedCount ? ` (${e.undefinedCount} resamples undefined)` : ''}`;

/** The fit as a terminal table. */
export function formatRatings(r: RatingsResult): string {
  const rows = r.models.map((m) => {
    const n = r.matches.get(m)!;
    return [m, interval(r.overall.get(m)!), interval(r.correct.get(m)!), interval(r.incorrect.get(m)!), `${n.correct}/${n.incorrect}`];
  });
  const lines = [
    `Debater ratings (Elo points, ${Math.round(r.level * 100)}% intervals; ${r.n} matches judged by ${r.judge}${r.abstained ? `, ${r.abstained} without a verdict left out` : ''})`,
    textTable(['model', 'rating', 'arguing correct', 'arguing incorrect', 'matches (correct/incorrect)'], rows),
  ];
  for (const [key, e] of r.differences) {
    const [a, b] = key.split('\u0000');
    lines.push(`${a} − ${b}: ${interval(e)}`);
  }
  lines.push(`Intervals: ${r.method}; they cover ${r.covers}. Ratings of sides no match connects are set relative to each other by the prior only.`);
  return lines.join('\n');
}

type StoredMetric = Pick<MetricRow, 'subject' | 'name' | 'value' | 'lo' | 'hi' | 'n' | 'note'>;

/** A table of cells: its header and its rows. */
export interface CellTable {
  header: string[];
  rows: string[][];
}

/**
 * The debater metrics a run stored, as tables every view shows (the terminal as lines, the report and the viewer as
 * HTML tables): open roles' choices and each judge's accuracy split by whether the chosen side was right; the quotes
 * per side; the debater ratings and their pairwise differences. A part is absent when the run stored none of it.
 */
export interface DebaterTables {
  openRoles?: { choice: CellTable; judges: CellTable };
  quotes?: CellTable;
  ratings?: { debaters: CellTable; pairs: CellTable };
}

/** The titles of those parts, the same in every view. */
export const DEBATER_TITLES = {
  openRoles: 'Open roles',
  quotes: 'Quotes from the passage (by the side the gold label makes right or wrong)',
  ratings: 'Debater ratings (Elo points; arguing the right side / the wrong side)',
} as const;

/** Whether the run stored any debater metric the views show. */
export const hasDebaterTables = (t: DebaterTables): boolean => Boolean(t.openRoles || t.quotes || t.ratings);

/** The stored debater metrics as tables (read, never recomputed). */
export function debaterTables(metrics: readonly StoredMetric[]): DebaterTables {
  const out: DebaterTables = {};
  const pct = (v: number | null | undefined): string => (v == null ? 'n/a' : `${(100 * v).toFixed(1)}%`);
  const ci = (m: StoredMetric | undefined): string => (m ? `${pct(m.value)}${m.lo != null && m.hi != null ? ` [${pct(m.lo)}, ${pct(m.hi)}]` : ''} (n = ${m.n ?? 0})` : 'n/a');
  const find = (subject: string, name: string): StoredMetric | undefined => metrics.find((m) => m.subject === subject && m.name === name);
  const chose = find('open_roles', 'chose_correct');
  if (chose) {
    out.openRoles = {
      choice: { header: ['chose the right side', 'replies stating a side'], rows: [[ci(chose), ci(find('open_roles', 'choice_stated'))]] },
      judges: {
        header: ['judge', 'accuracy when the chosen side was right', 'when it was wrong'],
        rows: metrics.filter((x) => x.name === 'accuracy_chose_correct').map((m) => [m.subject, ci(m), ci(find(m.subject, 'accuracy_chose_incorrect'))]),
      },
    };
  }
  const quoted = (['right', 'wrong'] as const).map((side) => ({ side: `the ${side} side`, perTurn: find(`quotes:${side}`, 'per_turn'), verified: find(`quotes:${side}`, 'verified_share') }));
  if (quoted.some((q) => q.perTurn)) {
    out.quotes = {
      header: ['arguing', 'quotes per turn', 'turns', 'verified'],
      rows: quoted.flatMap((q) => (q.perTurn ? [[q.side, q.perTurn.value == null ? 'n/a' : q.perTurn.value.toFixed(2), String(q.perTurn.n ?? 0), ci(q.verified)]] : [])),
    };
  }
  // A debater with an overall rating or (self-play, where none is stored) a per-side one.
  const debaters = [...new Set(metrics.filter((m) => m.subject.startsWith('debater:') && (m.name === 'rating' || m.name === 'rating_correct')).map((m) => m.subject))];
  if (debaters.length) {
    const span = (m: StoredMetric | undefined): string => (m ? `${eloText(m.value)} [${eloText(m.lo)}, ${eloText(m.hi)}]` : 'n/a');
    out.ratings = {
      debaters: {
        header: ['debater', 'rating', 'arguing the right side', 'arguing the wrong side'],
        rows: debaters.map((s) => [s.slice('debater:'.length), span(find(s, 'rating')), span(find(s, 'rating_correct')), span(find(s, 'rating_incorrect'))]),
      },
      pairs: {
        header: ['pair', 'difference'],
        rows: metrics.filter((m) => m.subject.startsWith('debater_pair:') && m.name === 'rating_diff').map((d) => [d.subject.slice('debater_pair:'.length), span(d)]),
      },
    };
  }
  return out;
}

/**
 * The run summary's lines on debaters: the tables of debaterTables, as text. Empty when the run stored none of them.
 */
export function debaterSummaryLines(metrics: readonly StoredMetric[]): string[] {
  const t = debaterTables(metrics);
  const out: string[] = [];
  if (t.openRoles) {
    const [chose, stated] = t.openRoles.choice.rows[0]!;
    out.push('', `${DEBATER_TITLES.openRoles}: chose the right side ${chose}; replies stating a side ${stated}`);
    for (const [judge, right, wrong] of t.openRoles.judges.rows) out.push(`  ${judge} accuracy when the chosen side was right ${right}, when it was wrong ${wrong}`);
  }
  if (t.quotes) {
    out.push('', `${DEBATER_TITLES.quotes}:`);
    for (const [side, perTurn, turns, verified] of t.quotes.rows) out.push(`  arguing ${side}: ${perTurn} per turn (${turns} turns); verified ${verified}`);
  }
  if (t.ratings) {
    out.push('', `${DEBATER_TITLES.ratings}:`);
    for (const [model, overall, right, wrong] of t.ratings.debaters.rows) out.push(`  ${model} ${overall}; ${right} / ${wrong}`);
    for (const [pair, diff] of t.ratings.pairs.rows) out.push(`  ${pair}: difference ${diff}`);
  }
  return out;
}
