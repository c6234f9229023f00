import type { z } from 'zod';
import { recordError, type RawRecord } from './readers.js';
import type { Example, InvalidRow } from './types.js';

/** One readable line per zod issue: which field, what is wrong. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const message = i.message.replace(/^Invalid input: expected (\w+), received undefined$/, 'missing (expected $1)');
      return i.path.length ? `field "${i.path.map(String).join('.')}": ${message}` : `the row: ${message}`;
    })
    .join('; ');
}

export interface FormatRowsOptions {
  /** Skip rows that fail validation and report them, instead of stopping at the first. */
  skipInvalid?: boolean;
  /** Stop after this many examples (the first ones in file order; a row with several questions gives several). */
  limit?: number;
}

export interface FormattedRows {
  examples: Example[];
  invalid: InvalidRow[];
}

/**
 * Validates each record and formats the valid ones, in file order. The formatter is called only for valid rows, so a
 * skipped row draws nothing from the label RNG, and stopping at `limit` leaves the labels of the rows kept unchanged.
 * A row may give several examples (one per question of a passage); they count one by one towards `limit`.
 */
export function formatRows<Row>(
  records: Iterable<RawRecord>,
  schema: z.ZodType<Row>,
  format: (row: Row, record: RawRecord) => Example | Example[],
  options: FormatRowsOptions = {},
): FormattedRows {
  const examples: Example[] = [];
  const invalid: InvalidRow[] = [];
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return { examples, invalid };
  for (const record of records) {
    const parsed = schema.safeParse(record.value);
    if (!parsed.success) {
      const reason = describeIssues(parsed.error.issues);
      if (!options.skipInvalid) {
        throw recordError(record, `row ${record.index} is invalid: ${reason} (fix the row, or set skipInvalid to skip such rows)`);
      }
      invalid.push({ file: record.file, line: record.line, index: record.index, reason });
      continue;
    }
    const formatted = format(parsed.data, record);
    for (const example of Array.isArray(formatted) ? formatted : [formatted]) {
      examples.push(example);
      if (examples.length >= limit) return { examples, invalid };
    }
  }
  return { examples, invalid };
}
