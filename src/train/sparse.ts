/**
 * The probe's feature matrix, read row by row either densely or through a CSR copy. Hashed n-gram features have tens
 * of non-zeros out of thousands of columns, so a dense pass spends almost all its time multiplying by zero; CSR visits
 * only the non-zeros. Both readers visit a row's columns in increasing index order, so the sums they produce are the
 * same numbers (adding w·0 to a sum leaves it unchanged), whichever reader is used.
 */

/** How trainLogistic and predictLogits read features: 'auto' picks CSR when under SPARSE_MAX_DENSITY non-zero. */
export type FeatureLayout = 'auto' | 'dense' | 'sparse';

/** Density (non-zeros / n·d) below which 'auto' reads through CSR. A CSR entry costs about twice a dense one (an
 *  index load and an indirect weight load), so well below 50% it wins; 10% leaves a wide margin. */
export const SPARSE_MAX_DENSITY = 0.1;

/** Compressed sparse rows: row i's non-zeros are col/val[rowPtr[i] .. rowPtr[i+1]), columns increasing. */
export interface Csr {
  rowPtr: Int32Array;
  col: Int32Array;
  val: Float32Array;
}

/** Row-major n×d features, with a CSR copy when the layout chose it. */
export interface FeatureMatrix {
  n: number;
  d: number;
  x: Float32Array;
  csr: Csr | null;
}

/**
 * CSR of row-major x in one scan, or null as soon as more than maxNonZeros turn up (so a dense matrix costs only a
 * partial scan). The index and value buffers double as they fill.
 */
export function toCsr(x: Float32Array, n: number, d: number, maxNonZeros = Infinity): Csr | null {
  const rowPtr = new Int32Array(n + 1);
  let cap = Math.max(1024, Math.ceil(x.length / 64));
  let col = new Int32Array(cap);
  let val = new Float32Array(cap);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[off + j]!;
      if (v === 0) continue;
      if (k === cap) {
        if (k >= maxNonZeros) return null;
        cap *= 2;
        const c = new Int32Array(cap);
        c.set(col);
        col = c;
        const w = new Float32Array(cap);
        w.set(val);
        val = w;
      }
      col[k] = j;
      val[k] = v;
      k++;
    }
    rowPtr[i + 1] = k;
  }
  if (k > maxNonZeros) return null;
  return { rowPtr, col: col.subarray(0, k), val: val.subarray(0, k) };
}

/** Wraps x for row reads, with CSR when the layout calls for it ('auto': under SPARSE_MAX_DENSITY non-zero). */
export function featureMatrix(x: Float32Array, n: number, d: number, layout: FeatureLayout = 'auto'): FeatureMatrix {
  if (layout === 'dense') return { n, d, x, csr: null };
  const maxNonZeros = layout === 'sparse' ? Infinity : SPARSE_MAX_DENSITY * n * d;
  // Mostly non-zero features are told apart by counting (nothing written) over the first fifth of the matrix, which
  // passes the limit when over half of it is non-zero; otherwise toCsr decides, giving up once past the limit.
  if (layout === 'auto' && nonZerosOver(x.subarray(0, Math.min(x.length, 2 * maxNonZeros)), maxNonZeros)) {
    return { n, d, x, csr: null };
  }
  return { n, d, x, csr: toCsr(x, n, d, maxNonZeros) };
}

/** Whether x has more than limit non-zeros, scanning only until it knows. */
function nonZerosOver(x: Float32Array, limit: number): boolean {
  let count = 0;
  const len = x.length;
  for (let start = 0; start < len; start += 4096) {
    const end = Math.min(len, start + 4096);
    for (let k = start; k < end; k++) if (x[k] !== 0) count++;
    if (count > limit) return true;
  }
  return false;
}

/** out[0] = b0 + Σ_j w[j]·x_ij and out[1] = b1 + Σ_j w[d+j]·x_ij, for w the row-major 2×d weights. */
export function rowLogits(m: FeatureMatrix, i: number, w: Float64Array, b0: number, b1: number, out: Float64Array): void {
  const d = m.d;
  let z0 = b0;
  let z1 = b1;
  const csr = m.csr;
  if (csr) {
    const { col, val } = csr;
    const end = csr.rowPtr[i + 1]!;
    for (let k = csr.rowPtr[i]!; k < end; k++) {
      const j = col[k]!;
      const v = val[k]!;
      z0 += w[j]! * v;
      z1 += w[d + j]! * v;
    }
  } else {
    const x = m.x;
    const off = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[off + j]!;
      z0 += w[j]! * v;
      z1 += w[d + j]! * v;
    }
  }
  out[0] = z0;
  out[1] = z1;
}

/** g[j] += g0·x_ij and g[d+j] += g1·x_ij: row i's contribution to the gradient of the 2×d weights. */
export function addRowGrad(m: FeatureMatrix, i: number, g0: number, g1: number, g: Float64Array): void {
  const d = m.d;
  const csr = m.csr;
  if (csr) {
    const { col, val } = csr;
    const end = csr.rowPtr[i + 1]!;
    for (let k = csr.rowPtr[i]!; k < end; k++) {
      const j = col[k]!;
      const v = val[k]!;
      g[j] = g[j]! + g0 * v;
      g[d + j] = g[d + j]! + g1 * v;
    }
  } else {
    const x = m.x;
    const off = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[off + j]!;
      g[j] = g[j]! + g0 * v;
      g[d + j] = g[d + j]! + g1 * v;
    }
  }
}
