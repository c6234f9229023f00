/**
 * Chance-corrected agreement between raters (ensemble members, judges, debate samples). Categories are non-negative
 * integers; binary 0/1 is the common case, any number of categories works.
 *
 * Degenerate case: when every rating falls in one and the same category, expected agreement is 1 and kappa is 0/0.
 * Both functions return null there (undefined, like AUROC with one class) rather than guessing 1 or 0; the raw
 * agreement is 100% in that case, which a caller can report instead.
 */

/**
 * Cohen's kappa for two raters over the same items: (pₒ − pₑ) / (1 − pₑ), where pₒ is the fraction of items on which
 * they agree and pₑ = Σ_k P(a = k)·P(b = k) the agreement expected from their marginals alone.
 */
export function cohenKappa(a: readonly number[], b: readonly number[]): number | null {
  if (!Array.isArray(a) || !Array.isArray(b)) throw new RangeError('cohenKappa: a and b must be arrays of category numbers.');
  if (a.length !== b.length) throw new RangeError(`cohenKappa: a has ${a.length} ratings and b ${b.length}; they must rate the same items.`);
  if (a.length === 0) throw new RangeError('cohenKappa: needs at least one item.');
  const n = a.length;
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const x = category('cohenKappa', `a[${i}]`, a[i]);
    const y = category('cohenKappa', `b[${i}]`, b[i]);
    if (x === y) agree++;
    ca.set(x, (ca.get(x) ?? 0) + 1);
    cb.set(y, (cb.get(y) ?? 0) + 1);
  }
  let pe = 0;
  for (const [k, count] of ca) pe += (count / n) * ((cb.get(k) ?? 0) / n);
  if (1 - pe < 1e-12) return null;
  return (agree / n - pe) / (1 - pe);
}

/**
 * Fleiss' kappa for a fixed number of raters per item, from ratings[item][rater] = category.
 * `categories` defaults to (largest category seen) + 1; unseen categories contribute nothing.
 * Every item needs the same number (≥ 2) of ratings.
 */
export function fleissKappa(ratings: readonly (readonly number[])[], categories?: number): number | null {
  if (!Array.isArray(ratings) || ratings.length === 0) throw new RangeError('fleissKappa: ratings must be a non-empty items × raters array.');
  let k = categories ?? 0;
  if (categories === undefined) {
    for (let i = 0; i < ratings.length; i++) {
      const row = ratings[i];
      if (!Array.isArray(row)) throw new RangeError(`fleissKappa: ratings[${i}] must be an array of category numbers.`);
      for (let r = 0; r < row.length; r++) k = Math.max(k, category('fleissKappa', `ratings[${i}][${r}]`, row[r]) + 1);
    }
  } else if (!Number.isInteger(categories) || categories < 1) {
    throw new RangeError(`fleissKappa: categories must be a positive integer (got ${String(categories)}).`);
  }
  const counts = ratings.map((row, i) => {
    if (!Array.isArray(row)) throw new RangeError(`fleissKappa: ratings[${i}] must be an array of category numbers.`);
    const c = new Array<number>(k).fill(0);
    for (let r = 0; r < row.length; r++) {
      const x = category('fleissKappa', `ratings[${i}][${r}]`, row[r]);
      if (x >= k) throw new RangeError(`fleissKappa: ratings[${i}][${r}] is ${x} but categories is ${k}.`);
      c[x]!++;
    }
    return c;
  });
  return fleissKappaFromCounts(counts);
}

/**
 * Fleiss' kappa from counts[item][category] = how many raters put the item in that category (the layout of
 * Fleiss 1971). With N items, n raters per item and p_j the share of all ratings in category j:
 *   Pᵢ = (Σ_j n_ij² − n) / (n(n − 1)),  P̄ = mean Pᵢ,  P̄ₑ = Σ_j p_j²,  κ = (P̄ − P̄ₑ) / (1 − P̄ₑ).
 */
export function fleissKappaFromCounts(counts: readonly (readonly number[])[]): number | null {
  if (!Array.isArray(counts) || counts.length === 0) throw new RangeError('fleissKappaFromCounts: counts must be a non-empty items × categories array.');
  const k = counts[0]!.length;
  let raters = -1;
  const totals = new Array<number>(k).fill(0);
  let sumP = 0;
  for (let i = 0; i < counts.length; i++) {
    const row = counts[i]!;
    if (!Array.isArray(row) || row.length !== k) {
      throw new RangeError(`fleissKappaFromCounts: counts[${i}] must have ${k} category counts like the first row.`);
    }
    let n = 0;
    let sq = 0;
    for (let j = 0; j < k; j++) {
      const c = row[j];
      if (!Number.isInteger(c) || c < 0) throw new RangeError(`fleissKappaFromCounts: counts[${i}][${j}] must be a non-negative integer.`);
      n += c;
      sq += c * c;
      totals[j]! += c;
    }
    if (raters === -1) raters = n;
    if (n !== raters) throw new RangeError(`fleissKappaFromCounts: item ${i} has ${n} ratings but item 0 has ${raters}; every item needs the same number.`);
    if (n < 2) throw new RangeError('fleissKappaFromCounts: every item needs at least 2 ratings.');
    sumP += (sq - n) / (n * (n - 1));
  }
  const all = counts.length * raters;
  let pe = 0;
  for (const t of totals) pe += (t / all) ** 2;
  if (1 - pe < 1e-12) return null;
  const pBar = sumP / counts.length;
  return (pBar - pe) / (1 - pe);
}

function category(fn: string, name: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) {
    throw new RangeError(`${fn}: ${name} is ${String(x)}; categories must be non-negative integers such as 0 and 1.`);
  }
  return x;
}
