import { z } from 'zod';
import type { Rng } from '../../rng.js';
import { readRecords, type RawRecord } from '../readers.js';
import { formatRows } from '../rows.js';
import type { Task, TaskSpec } from './types.js';

/** Binds a task's row schema to its formatter (keeping the row type between them) and fills in the default reader. */
export function defineTask<Row>(spec: TaskSpec<Row>): Task {
  const { schema, format, normalize, read, ...rest } = spec;
  return {
    ...rest,
    read: read ?? ((file) => readRecords(file)),
    normalize: normalize ?? ((value) => value),
    formatFile: (records, rng, idOf, finish, options) =>
      formatRows(normalize ? normalized(records, normalize) : records, schema, (row, record) => {
        const out = format(row, rng, idOf(record));
        return Array.isArray(out) ? out.map((e) => finish(e, record)) : finish(out, record);
      }, options),
  };
}

function* normalized(records: Iterable<RawRecord>, normalize: (value: unknown) => unknown): Generator<RawRecord> {
  for (const record of records) yield { ...record, value: normalize(record.value) };
}

/**
 * The weak-to-strong draw for a multiple-choice question: label = rng.random() < 0.5; the answer shown is the correct
 * option if label, else one of the options whose text differs from it, chosen by the same rng (sciq, cosmos_qa).
 */
export function drawShown(rng: Rng, correct: string, options: readonly string[]): { label: 0 | 1; answer: string } {
  const label = rng.random() < 0.5 ? 1 : 0;
  return { label, answer: label ? correct : rng.choice(options.filter((o) => o !== correct)) };
}

/** True when some option's text differs from the correct one, so a wrong answer can be shown. */
export const hasWrongOption = (correct: string | undefined, options: readonly string[]): boolean =>
  correct !== undefined && options.some((o) => o !== correct);

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A 0-based option index given as a number or a digit string (JSON releases use one, CSV/TSV/hub copies the other). */
export function indexField(max: number, what: string): z.ZodType<number> {
  return z.union([z.number().int().min(0).max(max), z.string().trim().regex(new RegExp(`^[0-${max}]$`)).transform(Number)], {
    error: `expected ${what}: a number from 0 to ${max}`,
  });
}

/** A non-empty string; the message says which field it is, for rows nested several levels deep. */
export const text = (): z.ZodString => z.string().min(1, { error: 'must not be empty' });

/** An optional id as releases give it: a string or a number, kept as a string. */
export const sourceId = z.union([z.string(), z.number()]).transform(String).optional();

/** The entries whose value is present (not undefined or null): metadata never holds empty keys. */
export function defined(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined && v !== null));
}
