import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../../src/rng.js';

/** One row of the JSONL dataset format the `jsonl` reader takes. */
export interface DatasetRow {
  id?: string;
  question: string;
  answer: string;
  label: number;
}

/**
 * Writes rows as JSONL (one per line, trailing newline) to dir/name and returns the path. A string is written as
 * it stands, so a test can plant a malformed line.
 */
export function writeJsonl(dir: string, name: string, rows: readonly (DatasetRow | string)[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  return file;
}

/** n rows made by row(i), written as JSONL to dir/name; returns the path. */
export function writeRows(dir: string, name: string, n: number, row: (i: number) => DatasetRow): string {
  return writeJsonl(dir, name, Array.from({ length: n }, (_, i) => row(i)));
}

/**
 * n "Which shelf holds crate i?" rows whose text says nothing about the label: each label is a seeded coin flip
 * and each answer a seeded shelf, drawn in that order from createRng(seed).
 */
export function crateRows(n: number, seed: number): DatasetRow[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const label = rng.random() < 0.5 ? 1 : 0;
    return { id: `item${i}`, question: `Which shelf holds crate ${i}?`, answer: `shelf ${rng.int(9)}`, label };
  });
}

/** The true label of each row, keyed by question (what scripted debaters look up). */
export function truthByQuestion(rows: readonly DatasetRow[]): Map<string, 0 | 1> {
  return new Map(rows.map((r) => [r.question, r.label === 1 ? 1 : 0]));
}
