import type { Statement } from 'better-sqlite3';
import type { DB } from '../store/db.js';
import { SPLITS } from '../store/examples.js';
import type { JudgeEnsembleModelView, RunConfigView } from './queries.js';
import { subjectName } from './subjects.js';

/**
 * A run's examples as the viewer lists them: one row per example with every model's, judge's and judge ensemble's
 * P(correct), filtered, searched and sorted in SQL (so a page of a 50,000-example run costs two queries: its totals
 * and its rows), and the neighbours of an example in that same order (the example page's previous/next links).
 *
 * A decision is "correct" when P(correct) > 0.5, as the stored accuracies count it (0.5 counts as "incorrect"); a
 * value is wrong when that decision differs from the gold label. A judge's P(correct) on an example is the mean over
 * its judgments (both orders, every transcript and sample), as its stored metrics take it.
 */

export type SubjectKind = 'ensemble' | 'member' | 'judge' | 'judge_ensemble' | 'weak' | 'strong';

/** One column of P(correct): a model, the weak ensemble, a judge or a judge ensemble. */
export interface SubjectColumn {
  /** The column's key in URLs (?sort=, ?wrong=): ensemble, member:<k>, judge:<name>, judge_ensemble:<name>, weak, strong. */
  key: string;
  kind: SubjectKind;
  /** The stored subject it is (weak_ensemble, member0, judge:j1, ...). */
  subject: string;
  /** Its short name, as every view prints it ("member 0", "judge j1"): the column header. */
  label: string;
  /** What it is, in full (the long label): the header's tooltip. */
  description: string;
}

/** The fixed columns that sort: key -> SQL expression. */
const FIXED_SORT: Record<string, string> = {
  id: 'id',
  question: 'COALESCE(question, text)',
  answer: 'answer',
  gold: 'label',
  split: 'split',
};
export const FIXED_SORT_KEYS = Object.keys(FIXED_SORT);

export type Disagreement = 'members' | 'judges';

/** What the list shows: every field is in the page's URL, so a view is a link. */
export interface ListQuery {
  /** One split, or null for every split (the default is test). */
  split: string | null;
  /** Only examples this subject (a column key) gets wrong. */
  wrong: string | null;
  /** Only examples on which the ensemble members' (or the judges') decisions differ. */
  disagree: Disagreement | null;
  /** Only examples with a transcript of this protocol. */
  protocol: string | null;
  /** Case-insensitive text in the question, the proposed answer, the example's text or any turn of its transcripts. */
  q: string | null;
  /** A column key (fixed or subject), or null for the stored order. */
  sort: string | null;
  dir: 'asc' | 'desc';
}

export interface ListRow {
  id: string;
  split: string;
  label: 0 | 1;
  question: string | null;
  text: string;
  answer: string | null;
  /** P(correct) per subject column, in column order; null where none is stored (yet). */
  values: (number | null)[];
}

export interface ListTotals {
  total: number;
  /** Per subject column: how many listed examples it has a value for, and how many of those it gets wrong. */
  valued: number[];
  wrong: number[];
}

/** Where an example sits in a list: its 1-based position, and the ids before and after it (null at the ends). */
export interface Neighbours {
  position: number;
  total: number;
  prev: string | null;
  next: string | null;
}

export interface RunList {
  columns: SubjectColumn[];
  /** The protocols of the run's transcripts. */
  protocols: string[];
  /** How many examples the list holds, with each column's counts: one pass over the filtered rows. */
  totals(query: ListQuery): ListTotals;
  /** One page of the list, in its order: one more pass, so a request makes two whatever the page. */
  rows(query: ListQuery, limit: number, offset: number): ListRow[];
  /** The example's place in the list, or null when the list does not hold it. */
  neighbours(query: ListQuery, exampleId: string): Neighbours | null;
}

/** Reads a list query from a URL's parameters; values that name nothing this run has are ignored. */
export function parseListQuery(params: URLSearchParams, columns: readonly SubjectColumn[], protocols: readonly string[]): ListQuery {
  const split = params.get('split');
  const wrong = params.get('wrong');
  const disagree = params.get('disagree');
  const protocol = params.get('protocol');
  const q = params.get('q');
  const sort = params.get('sort');
  const keys = new Set(columns.map((c) => c.key));
  return {
    split: split === 'all' ? null : split !== null && (SPLITS as readonly string[]).includes(split) ? split : 'test',
    wrong: wrong !== null && keys.has(wrong) ? wrong : null,
    // "1" is what older links said for the members.
    disagree: disagree === 'members' || disagree === '1' ? 'members' : disagree === 'judges' ? 'judges' : null,
    protocol: protocol !== null && protocols.includes(protocol) ? protocol : null,
    q: q !== null && q.trim() !== '' ? q : null,
    sort: sort !== null && (keys.has(sort) || FIXED_SORT_KEYS.includes(sort)) ? sort : null,
    dir: params.get('dir') === 'desc' ? 'desc' : 'asc',
  };
}

/** The query as URL parameters, defaults left out (so the plain run URL is the default list). */
export function listParams(query: ListQuery): URLSearchParams {
  const p = new URLSearchParams();
  if (query.split !== 'test') p.set('split', query.split ?? 'all');
  if (query.wrong !== null) p.set('wrong', query.wrong);
  if (query.disagree !== null) p.set('disagree', query.disagree);
  if (query.protocol !== null) p.set('protocol', query.protocol);
  if (query.q !== null) p.set('q', query.q);
  if (query.sort !== null) {
    p.set('sort', query.sort);
    p.set('dir', query.dir);
  }
  return p;
}

/** A LIKE pattern that matches `text` literally anywhere: %, _ and the escape character itself are escaped. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const statements = new WeakMap<DB, Map<string, Statement>>();
function prepared(db: DB, sql: string): Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map()));
  let st = byText.get(sql);
  if (!st) {
    st = db.prepare(sql);
    // Each run has its own columns, so its own SQL; a long-lived viewer keeps a bounded number.
    if (byText.size > 256) byText.clear();
    byText.set(sql, st);
  }
  return st;
}

interface ModelRow {
  id: string;
  role: string;
  member: number;
}

/**
 * The run's list: its columns from what it stored (ensemble members, judges that judged, judge ensembles, the weak
 * baseline and the strong model), in the order the brief of every view uses: the weak ensemble, its members, the
 * judges (config order first), the judge ensembles, then the weak baseline and the w2s strong model. `unscored`: the
 * judges and judge ensembles stored as "not scored" (below their minCoverage), left out as calibration and compare
 * leave them out.
 */
export function runList(db: DB, runId: string, config: RunConfigView, judgeEnsembles: readonly JudgeEnsembleModelView[], unscored: ReadonlySet<string> = new Set()): RunList {
  const models = prepared(db, "SELECT id, role, member FROM models WHERE run_id = ? AND role IN ('weak', 'weak_member', 'strong', 'judge_ensemble') ORDER BY role, member").all(runId) as ModelRow[];
  const judgeNames = (prepared(db, 'SELECT DISTINCT judge FROM judgments WHERE run_id = ?').pluck().all(runId) as string[]);
  const judges = [...config.judges.filter((j) => judgeNames.includes(j)), ...judgeNames.filter((j) => !config.judges.includes(j)).sort()];
  const protocols = prepared(db, 'SELECT DISTINCT protocol FROM debates WHERE run_id = ? ORDER BY protocol').pluck().all(runId) as string[];

  const params: Record<string, string | number | null> = {};
  let n = 0;
  const bind = (value: string): string => {
    const name = `v${n++}`;
    params[name] = value;
    return `@${name}`;
  };
  const columns: SubjectColumn[] = [];
  const exprs: string[] = [];
  const add = (col: SubjectColumn, expr: string): void => {
    columns.push(col);
    exprs.push(expr);
  };
  const one = (id: string): string => `(SELECT p1 FROM predictions WHERE model_id = ${bind(id)} AND example_id = e.id)`;
  const column = (key: string, kind: SubjectKind, subject: string): SubjectColumn => {
    const names = subjectName(subject, config);
    return { key, kind, subject, label: names.short, description: names.long };
  };
  const members = models.filter((m) => m.role === 'weak_member');
  if (members.length) {
    add(column('ensemble', 'ensemble', 'weak_ensemble'), `(SELECT AVG(p1) FROM predictions WHERE example_id = e.id AND model_id IN (${members.map((m) => bind(m.id)).join(', ')}))`);
  }
  for (const m of members) add(column(`member:${m.member}`, 'member', `member${m.member}`), one(m.id));
  for (const j of judges) {
    if (unscored.has(`judge:${j}`)) continue;
    add(column(`judge:${j}`, 'judge', `judge:${j}`), `(SELECT AVG(p_correct) FROM judgments WHERE run_id = @run AND example_id = e.id AND judge = ${bind(j)})`);
  }
  for (const m of models.filter((x) => x.role === 'judge_ensemble')) {
    const name = judgeEnsembles.find((e) => e.index === m.member)?.name ?? `ensemble${m.member}`;
    if (unscored.has(`judge_ensemble:${name}`)) continue;
    add(column(`judge_ensemble:${name}`, 'judge_ensemble', `judge_ensemble:${name}`), one(m.id));
  }
  for (const role of ['weak', 'strong'] as const) {
    const m = models.find((x) => x.role === role);
    if (m) add(column(role, role, role), one(m.id));
  }

  const cols = exprs.map((_, i) => `s${i}`);
  const memberCols = columns.map((c, i) => (c.kind === 'member' ? cols[i]! : null)).filter((c): c is string => c !== null);
  const judgeCols = columns.map((c, i) => (c.kind === 'judge' ? cols[i]! : null)).filter((c): c is string => c !== null);
  const votes = (cs: string[]): [string, string] =>
    cs.length ? [cs.map((c) => `COALESCE(${c} > 0.5, 0)`).join(' + '), cs.map((c) => `(${c} IS NOT NULL)`).join(' + ')] : ['0', '0'];
  const [memberYes, memberN] = votes(memberCols);
  const [judgeYes, judgeN] = votes(judgeCols);
  const wrongExpr = (c: string): string => `(${c} IS NOT NULL AND (${c} > 0.5) <> (label = 1))`;

  /** The filtered rows as a CTE named picked; the filters that depend on the query are written in, values bound. */
  const base = (query: ListQuery): { sql: string; args: Record<string, unknown> } => {
    const where: string[] = [];
    if (query.wrong !== null) where.push(wrongExpr(cols[columns.findIndex((c) => c.key === query.wrong)]!));
    if (query.disagree === 'members') where.push(`(${memberN}) > 1 AND (${memberYes}) > 0 AND (${memberYes}) < (${memberN})`);
    if (query.disagree === 'judges') where.push(`(${judgeN}) > 1 AND (${judgeYes}) > 0 AND (${judgeYes}) < (${judgeN})`);
    const sql = `WITH listed AS (
  SELECT e.rowid AS ord, e.id, e.split, e.label, e.question, e.text, e.answer${exprs.map((x, i) => `,\n    ${x} AS ${cols[i]}`).join('')}
  FROM examples e
  WHERE e.run_id = @run AND (@split IS NULL OR e.split = @split)
    AND (@protocol IS NULL OR EXISTS (SELECT 1 FROM debates d WHERE d.run_id = e.run_id AND d.example_id = e.id AND d.protocol = @protocol))
    AND (@like IS NULL OR e.question LIKE @like ESCAPE '\\' OR e.answer LIKE @like ESCAPE '\\' OR e.text LIKE @like ESCAPE '\\'
      OR EXISTS (SELECT 1 FROM debates d JOIN turns t ON t.debate_id = d.id WHERE d.run_id = e.run_id AND d.example_id = e.id AND t.text LIKE @like ESCAPE '\\'))
), picked AS (SELECT * FROM listed${where.length ? ` WHERE ${where.join(' AND ')}` : ''})`;
    return {
      sql,
      args: { ...params, run: runId, split: query.split, protocol: query.protocol, like: query.q === null ? null : likePattern(query.q) },
    };
  };
  const orderBy = (query: ListQuery): string => {
    if (query.sort === null) return 'ord';
    const i = columns.findIndex((c) => c.key === query.sort);
    const expr = i >= 0 ? cols[i]! : FIXED_SORT[query.sort] ?? 'ord';
    return `${expr} ${query.dir === 'desc' ? 'DESC' : 'ASC'} NULLS LAST, ord`;
  };

  return {
    columns,
    protocols,
    totals(query) {
      const { sql, args } = base(query);
      const sums = cols.map((c, i) => `, COUNT(${c}) AS n${i}, COALESCE(SUM(${wrongExpr(c)}), 0) AS w${i}`).join('');
      const totals = prepared(db, `${sql} SELECT COUNT(*) AS total${sums} FROM picked`).get(args) as Record<string, number>;
      return { total: totals.total!, valued: cols.map((_, i) => totals[`n${i}`]!), wrong: cols.map((_, i) => totals[`w${i}`]!) };
    },
    rows(query, limit, offset) {
      const { sql, args } = base(query);
      const rows = prepared(db, `${sql} SELECT id, split, label, question, text, answer${cols.map((c) => `, ${c}`).join('')} FROM picked ORDER BY ${orderBy(query)} LIMIT @limit OFFSET @offset`)
        .all({ ...args, limit, offset }) as Record<string, unknown>[];
      return rows.map((r) => ({
        id: r.id as string, split: r.split as string, label: r.label as 0 | 1, question: r.question as string | null, text: r.text as string, answer: r.answer as string | null,
        values: cols.map((c) => r[c] as number | null),
      }));
    },
    neighbours(query, exampleId) {
      const { sql, args } = base(query);
      const order = orderBy(query);
      const row = prepared(db, `${sql} SELECT position, total, prev, next FROM (
  SELECT id, ROW_NUMBER() OVER w AS position, COUNT(*) OVER () AS total, LAG(id) OVER w AS prev, LEAD(id) OVER w AS next FROM picked WINDOW w AS (ORDER BY ${order})
) WHERE id = @exampleId`).get({ ...args, exampleId }) as Neighbours | undefined;
      return row ?? null;
    },
  };
}
