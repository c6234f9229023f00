import type { DB } from './db.js';

export type Split = 'train_weak' | 'train_strong' | 'test';
export const SPLITS: readonly Split[] = ['train_weak', 'train_strong', 'test'];

export interface ExampleRow {
  id: string;
  split: Split;
  text: string;
  label: 0 | 1;
  /** The question and the proposed answer, when the dataset has them (debate prompts use them). */
  question?: string | null;
  answer?: string | null;
  meta?: Record<string, unknown> | null;
  /** The example's group (passage, question pair); null when the dataset has none. */
  group?: string | null;
  /** The passage debaters read (debate.passage "debaters" or "all"); null when no one in the run reads one. */
  passage?: string | null;
  /** Two-choice examples: answer B (`answer` is answer A; label 1 when A is right); null for the claim form. */
  alternative?: string | null;
}

/** The key an example is grouped by: its group, or (without one) the example alone; no group id can collide with it. */
export function groupKey(e: Pick<ExampleRow, 'id' | 'group'>): string {
  return e.group ?? `\u0000example:${e.id}`;
}

export interface ExamplesTable {
  /** Inserts rows in one transaction; rows whose id already exists in the run are left as they are. Returns how many were new. */
  insertExamples(runId: string, rows: readonly ExampleRow[]): number;
  /** Examples in insertion order, optionally one split only. */
  listExamples(runId: string, split?: Split): ExampleRow[];
  getExample(runId: string, id: string): ExampleRow | undefined;
  countBySplit(runId: string): Record<Split, number>;
}

interface RawExample {
  id: string;
  split: Split;
  text: string;
  label: 0 | 1;
  question: string | null;
  answer: string | null;
  meta_json: string | null;
  group_id: string | null;
  passage: string | null;
  alternative: string | null;
}

function toExample(r: RawExample): ExampleRow {
  return {
    id: r.id,
    split: r.split,
    text: r.text,
    label: r.label,
    question: r.question,
    answer: r.answer,
    meta: r.meta_json === null ? null : (JSON.parse(r.meta_json) as Record<string, unknown>),
    group: r.group_id,
    // Only when there is one, so rows of runs without debate.passage read as they always did.
    ...(r.passage === null ? {} : { passage: r.passage }),
    ...(r.alternative === null ? {} : { alternative: r.alternative }),
  };
}

export function examplesTable(db: DB): ExamplesTable {
  const insert = db.prepare(
    `INSERT INTO examples (run_id, id, split, text, label, question, answer, meta_json, group_id, passage, alternative)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const cols = 'id, split, text, label, question, answer, meta_json, group_id, passage, alternative';
  const all = db.prepare(`SELECT ${cols} FROM examples WHERE run_id = ? ORDER BY rowid`);
  const bySplit = db.prepare(`SELECT ${cols} FROM examples WHERE run_id = ? AND split = ? ORDER BY rowid`);
  const one = db.prepare(`SELECT ${cols} FROM examples WHERE run_id = ? AND id = ?`);
  const counts = db.prepare('SELECT split, COUNT(*) AS n FROM examples WHERE run_id = ? GROUP BY split');

  const insertAll = db.transaction((runId: string, rows: readonly ExampleRow[]) => {
    let added = 0;
    for (const r of rows) {
      const meta = r.meta == null ? null : JSON.stringify(r.meta);
      added += insert.run(runId, r.id, r.split, r.text, r.label, r.question ?? null, r.answer ?? null, meta, r.group ?? null, r.passage ?? null, r.alternative ?? null).changes;
    }
    return added;
  });

  return {
    insertExamples: (runId, rows) => insertAll(runId, rows),
    listExamples(runId, split) {
      const raw = (split ? bySplit.all(runId, split) : all.all(runId)) as RawExample[];
      return raw.map(toExample);
    },
    getExample(runId, id) {
      const r = one.get(runId, id) as RawExample | undefined;
      return r && toExample(r);
    },
    countBySplit(runId) {
      const out: Record<Split, number> = { train_weak: 0, train_strong: 0, test: 0 };
      for (const r of counts.all(runId) as { split: Split; n: number }[]) out[r.split] = r.n;
      return out;
    },
  };
}
