import { UserError } from '../errors.js';
import { clusteredProportion, erfc } from '../metrics/index.js';
import type { MetricRow, Split } from '../store/index.js';
import { groupKey, SPLITS } from '../store/index.js';
import type { StageContext } from './context.js';

/** What the leak audit found on one split. */
export interface SplitAudit {
  split: Split;
  /** P(advocated side = gold label) over the split's transcripts, with its cluster-robust interval. */
  value: number;
  lo: number;
  hi: number;
  transcripts: number;
  clusters: number;
  /** Two-sided p-values: against the test split (training splits only) and against 0.5 (protocols with random sides). */
  pVsTest: number | null;
  pVsHalf: number | null;
}

/** The side the weak models see argued first: debater A's (debate), the advocate's (consultancy, market). */
const ADVOCATE = 'A';

/**
 * The leak audit. The weak models read each transcript with its sides; if the advocated side agrees with the gold
 * label more often on a split they train on than on the test split, they learn the label from the side (market
 * against an in-sample weak pick did exactly that: agreement 0 % on train_weak, 48 % on test). For every split it
 * stores P(advocated side = gold) with a cluster-robust interval (an example's K transcripts, and a group's
 * examples, are one cluster), and tests each training split against the test split and, where sides are drawn at
 * random, every split against 0.5, each at audit.alpha / (number of tests), so an honest run is stopped with
 * probability at most alpha. A significant difference stops the run unless audit.onLeak is "warn".
 */
export function auditLeaks(ctx: StageContext): SplitAudit[] {
  const protocol = ctx.config.debate.protocol;
  if (protocol === 'none') return [];
  const { level } = ctx.config.metrics;
  const { alpha, onLeak } = ctx.config.audit;
  // Open roles: the agent chose its side, so agreeing with the gold label more than half the time is the point; the
  // training splits are still held to the test split's rate.
  const randomSides = (protocol === 'debate' || protocol === 'consultancy') && ctx.config.debate.roles !== 'open';
  const exampleRows = ctx.store.examples.listExamples(ctx.runId);
  const clusteredBy = exampleRows.some((e) => e.group != null) ? 'group' : 'example';
  const examples = new Map(exampleRows.map((e) => [e.id, e]));
  const tallies = new Map<Split, Map<string, { agree: number; n: number }>>(SPLITS.map((s) => [s, new Map()]));
  for (const d of ctx.store.debates.listDebates(ctx.runId, { status: 'completed' })) {
    const e = examples.get(d.exampleId);
    const side = d.sides[ADVOCATE];
    if (!e || !side) continue;
    const cluster = groupKey(e);
    const bySplit = tallies.get(e.split)!;
    const t = bySplit.get(cluster) ?? { agree: 0, n: 0 };
    t.agree += (side === 'correct') === (e.label === 1) ? 1 : 0;
    t.n++;
    bySplit.set(cluster, t);
  }
  const counts = (s: Split): { a: number[]; n: number[] } => {
    const list = [...tallies.get(s)!.values()];
    return { a: list.map((t) => t.agree), n: list.map((t) => t.n) };
  };
  // Tests use one extra pseudo-cluster of one agreement in two, so a small split that happens to agree everywhere
  // (standard error 0) is not called a leak on no evidence.
  const tested = (s: Split): { p: number; se: number } | null => {
    const { a, n } = counts(s);
    if (n.length === 0) return null;
    const r = clusteredProportion([...a, 1], [...n, 2]);
    return { p: r.estimate, se: r.se };
  };
  const pTwoSided = (diff: number, se: number): number => (se > 0 ? erfc(Math.abs(diff) / se / Math.SQRT2) : diff === 0 ? 1 : 0);
  const test = tested('test');
  const audits: SplitAudit[] = [];
  const rows: MetricRow[] = [];
  for (const split of SPLITS) {
    const { a, n } = counts(split);
    if (n.length === 0) continue;
    const shown = clusteredProportion(a, n, level);
    const mine = tested(split)!;
    const pVsTest = split !== 'test' && test ? pTwoSided(mine.p - test.p, Math.hypot(mine.se, test.se)) : null;
    const pVsHalf = randomSides ? pTwoSided(mine.p - 0.5, mine.se) : null;
    audits.push({ split, value: shown.estimate, lo: shown.lo, hi: shown.hi, transcripts: shown.n, clusters: shown.clusters, pVsTest, pVsHalf });
    const tests = [pVsTest === null ? '' : `vs test ${formatP(pVsTest)}`, pVsHalf === null ? '' : `vs 0.5 ${formatP(pVsHalf)}`].filter(Boolean).join(', ');
    rows.push({
      runId: ctx.runId, subject: `leak_audit:${split}`, name: 'p_side_gold', value: shown.estimate, lo: shown.lo, hi: shown.hi, n: shown.n,
      note: tests || null, method: 'cluster-robust normal interval', level,
      covers: `transcripts, clustered by ${clusteredBy} (${shown.clusters} clusters)`,
    });
  }
  ctx.store.metrics.upsertMetrics(rows);
  // alpha bounds the chance that an honest run is stopped at all, so each of the m tests is held to alpha / m.
  const tests = audits.flatMap((s) => [s.split !== 'test' ? s.pVsTest : null, s.pVsHalf]).filter((p): p is number => p !== null).length;
  const threshold = alpha / Math.max(1, tests);
  const leak = audits.find((s) => (s.split !== 'test' && s.pVsTest !== null && s.pVsTest < threshold) || (s.pVsHalf !== null && s.pVsHalf < threshold));
  if (leak) {
    const testAudit = audits.find((s) => s.split === 'test');
    const vsTest = leak.pVsTest !== null && leak.pVsTest < threshold && testAudit !== undefined;
    const against = vsTest ? `against ${pct(testAudit!.value)} on test` : 'against the 50 % that random sides give';
    const p = vsTest ? leak.pVsTest! : leak.pVsHalf!;
    const message =
      `The leak audit found that on ${leak.split} the ${protocol} protocol's advocated side agrees with the gold label ${pct(leak.value)} of the time ` +
      `${against} (p = ${p.toPrecision(2)}, below ${alpha} / ${tests} tests), so the weak models could learn the label from the side; ` +
      'fix the protocol or its inputs and run again into a fresh database (--out), as the stored debates carry the imbalance, ' +
      'or set audit.onLeak to "warn" if it is intended.';
    if (onLeak === 'stop') throw new UserError(message);
    ctx.progress({ stage: 'leak_audit', kind: 'info', message: `warning: ${message}` });
  }
  return audits;
}

const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
const formatP = (p: number): string => (p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`);
