/**
 * Performance gap recovered: (w2s − weak) / (ceiling − weak), where weak is the weak supervisor's score, w2s the
 * strong model trained on the weak labels and ceiling the strong model trained on ground truth (any metric, usually
 * accuracy; pass all three on the same scale). 1 means the weak labels cost nothing, 0 means no gain over the weak
 * model; values below 0 or above 1 are possible and kept.
 * Returns null when ceiling ≤ weak: there is no gap to recover, and the ratio would be meaningless or infinite.
 */
export function pgr(weak: number, w2s: number, ceiling: number): number | null {
  for (const [name, v] of [['weak', weak], ['w2s', w2s], ['ceiling', ceiling]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`pgr: ${name} must be a finite number (got ${String(v)}).`);
  }
  if (ceiling <= weak) return null;
  return (w2s - weak) / (ceiling - weak);
}
