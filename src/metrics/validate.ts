/**
 * Input checks shared by the metric functions. Metrics import nothing of ours (not even UserError), so bad input is
 * a RangeError: it is a caller's bug, and the message names the argument and what it should be.
 */

export type Label = 0 | 1;

/** Throws unless `labels` is a non-empty array of 0/1. */
export function checkLabels(fn: string, labels: readonly number[]): void {
  if (!Array.isArray(labels) && !ArrayBuffer.isView(labels)) {
    throw new RangeError(`${fn}: labels must be an array of 0/1.`);
  }
  if (labels.length === 0) throw new RangeError(`${fn}: needs at least one example (labels is empty).`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`${fn}: labels[${i}] is ${String(y)}; labels must be 0 or 1.`);
  }
}

/** Throws unless `values` has `n` entries, each finite (and in [0, 1] when `probability`). */
export function checkValues(fn: string, name: string, values: readonly number[], n: number, probability: boolean): void {
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) {
    throw new RangeError(`${fn}: ${name} must be an array of numbers.`);
  }
  if (values.length !== n) {
    throw new RangeError(`${fn}: ${name} has ${values.length} entries but labels has ${n}; they must match.`);
  }
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RangeError(`${fn}: ${name}[${i}] is ${String(v)}; expected a finite number.`);
    }
    if (probability && (v < 0 || v > 1)) {
      throw new RangeError(`${fn}: ${name}[${i}] is ${v}; expected a probability in [0, 1].`);
    }
  }
}

/** Throws unless `x` is an integer ≥ `min`. */
export function checkInt(fn: string, name: string, x: number, min: number): void {
  if (!Number.isInteger(x) || x < min) throw new RangeError(`${fn}: ${name} must be an integer ≥ ${min} (got ${String(x)}).`);
}

/** Throws unless `level` is strictly between 0 and 1. */
export function checkLevel(fn: string, level: number): void {
  if (typeof level !== 'number' || !(level > 0 && level < 1)) {
    throw new RangeError(`${fn}: level must be between 0 and 1, e.g. 0.95 (got ${String(level)}).`);
  }
}

/** Throws unless `threshold` is a finite number. */
export function checkThreshold(fn: string, threshold: number): void {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new RangeError(`${fn}: threshold must be a finite number (got ${String(threshold)}).`);
  }
}
