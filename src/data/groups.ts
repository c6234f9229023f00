import { canonicalJson, sha256 } from '../hash.js';
import type { Example } from './types.js';

/**
 * Groups: examples that share a passage (or a question's pair of rows, or anything the user names) must never straddle
 * two splits, or the test set leaks into training. A dataset row's group is the value at `groupBy`, a dotted path
 * looked up in the raw row as read from the file, then, when the raw row has no such field, in the formatted example
 * (id, text, question, answer, label, meta.*). Equal values are one group, across files and pools.
 */

/** The grouping each dataset gets when the config says nothing (its task's `groupBy`); `groupBy: null` turns it off. */
export { DEFAULT_GROUP_BY } from './tasks/index.js';

/** The value at a dotted path (`meta.passage_id`); a key that itself contains dots is matched whole first. */
export function valueAtPath(value: unknown, path: string): unknown {
  if (!isObject(value)) return undefined;
  if (Object.hasOwn(value, path)) return value[path];
  let at: unknown = value;
  for (const key of path.split('.')) {
    if (!isObject(at) || !Object.hasOwn(at, key)) return undefined;
    at = at[key];
  }
  return at;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Group ids longer than this (passages, contexts) are stored as `sha256:` and 16 hex digits of the value. */
export const MAX_PLAIN_GROUP_ID = 64;

/**
 * A value → its group id, or null when the value is missing (undefined, null or ""). Short single-line strings and
 * numbers are kept as they are (a user's `passage_id` stays readable); anything else is hashed.
 */
export function groupId(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  const plain = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (plain !== undefined && plain.length <= MAX_PLAIN_GROUP_ID && !/[\r\n]/.test(plain) && !plain.startsWith('sha256:')) return plain;
  return `sha256:${sha256(plain ?? canonicalJson(value)).slice(0, 16)}`;
}

/** The example with its group from `groupBy`, looked up in the raw row first, then in the example itself. */
export function withGroup(example: Example, raw: unknown, groupBy: string): Example {
  let value = valueAtPath(raw, groupBy);
  if (value === undefined) value = valueAtPath(example, groupBy);
  const group = groupId(value);
  return group === null ? example : { ...example, group };
}
