/**
 * The data terms of the probe's full-batch objective over n×d features X, 2×d weights W = [W0; W1], biases b and
 * per-row targets t_i and sample weights w_i (see xentObjective in ./logistic.ts):
 *
 *   z_i = [b0 + Σ_j W0_j·x_ij, b1 + Σ_j W1_j·x_ij]            each sum over j = 0, 1, …, d−1 in order
 *   ℓ_i = −Σ_k t_ik·log softmax(z_i)_k,  c_i = w_i·(softmax(z_i)·Σ_k t_ik − t_i) / Σ_i w_i
 *   L = Σ_i w_i·ℓ_i,   B = Σ_i c_i,   G_k,j = Σ_i c_ik·x_ij   over the rows with w_i ≠ 0
 *
 * The rows are taken in P = min(8, ⌈n/256⌉) consecutive parts of 4·⌈n/(4P)⌉ rows (the last ones shorter or empty);
 * each of L, B and G is summed in row order within a part, and the part sums are added in part order. The parts
 * depend on n alone, so every implementation here returns the same numbers bit for bit, whichever runs and however
 * many threads it uses; up to 256 rows (one part) they are the sums of one pass over the rows, beyond that only the
 * order of the additions differs from it.
 *
 *  - WebAssembly SIMD (128-bit, f64x2), assembled below into a module specialised to d (row strides become constant
 *    load offsets): z keeps [z_i0, z_i1] in one vector, four rows at a time, against weights stored interleaved as
 *    [W0_j, W1_j]; G keeps [G_k,j, G_k,j+1] in one vector and adds four rows into it before storing it back. Base
 *    WebAssembly SIMD has no fused multiply-add, so nothing is contracted. A part goes block by block of rows (z,
 *    then ℓ and c, then G) so that a block's features are still in cache for their second read. The features are
 *    copied once per fit into the module's shared memory: n·d·4 bytes more for the length of the fit.
 *  - A helper thread: the calling thread and a helper worker claim parts from a shared counter. The calling thread
 *    claims too, so a busy or not yet started helper costs speed, never a result.
 *  - Plain JavaScript (dense rows blocked four at a time, or CSR), where WebAssembly is unavailable, the features
 *    would not fit in its 32-bit memory, or they are mostly zeros.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FeatureMatrix } from './sparse.js';

/** Byte size above which features are not copied into WebAssembly memory (the JavaScript kernels are used). */
export const WASM_MAX_FEATURE_BYTES = 2 ** 31;

/** Features below this many values (n·d) are not worth waking the helper thread for. */
const PARALLEL_MIN_VALUES = 2 ** 18;

/**
 * Which implementation reads dense features: 'auto' (WebAssembly SIMD, with a helper thread on big enough sets),
 * 'single' (WebAssembly SIMD on the calling thread only) or 'js' (JavaScript). The numbers are the same bit for bit.
 */
export type KernelPreference = 'auto' | 'single' | 'js';

/** The data terms of one fit's objective; see the module comment. */
export interface ObjectiveKernels {
  readonly kind: 'wasm' | 'js' | 'csr';
  /** Row-major n×2: the logits of the last `logits` or `evaluate` call. */
  readonly z: Float64Array;
  /** Row-major n×2: the targets t_i, which the caller writes (and may rewrite between evaluations). */
  readonly target: Float64Array;
  /** z for every row at weights w (row-major 2×d; only its first 2d values are read) and biases b0, b1. */
  logits(w: Float64Array, b0: number, b1: number): void;
  /** L, B and G at weights w and biases b0, b1: writes G (2×d) into g[0 .. 2d) and returns [L, B0, B1]. */
  evaluate(w: Float64Array, b0: number, b1: number, g: Float64Array): [number, number, number];
  /** Parts the helper thread has computed so far (0 without one). */
  helperTasks(): number;
  /** Releases the features' copy and the helper's hold on it; the kernels must not be used afterwards. */
  close(): void;
}

/**
 * Kernels for m (CSR when it has a CSR copy, else dense) and sample weights weight (n values; all 1 when null), with
 * their sum sw (Σ weight, passed so the caller's own sum is the one used).
 */
export function objectiveKernels(
  m: FeatureMatrix,
  weight: Float64Array | null,
  sw: number,
  prefer: KernelPreference = 'auto',
): ObjectiveKernels {
  const { x, n, d } = m;
  const w = weight ?? new Float64Array(n).fill(1);
  if (m.csr) return plainKernels('csr', m, w, sw);
  if (prefer !== 'js' && n * d * 4 <= WASM_MAX_FEATURE_BYTES) {
    const k = wasmKernels(x, n, d, w, sw, prefer === 'auto' && n * d >= PARALLEL_MIN_VALUES);
    if (k) return k;
  }
  return plainKernels('js', m, w, sw);
}

/** The parts the rows are summed in: how many, and the rows in each (a multiple of four). */
export function rowParts(n: number): { count: number; size: number } {
  const count = Math.min(8, Math.ceil(n / 256));
  return { count, size: 4 * Math.ceil(n / count / 4) };
}

/** About 1 MiB of float32 features per block (half a core's L2), in whole groups of four rows. */
const blockRowsFor = (d: number): number => Math.max(4, 4 * Math.floor(65536 / d));

/**
 * ℓ and c for rows [start, end): adds Σ w_i·ℓ_i, Σ c_i0 and Σ c_i1 in row order to acc[k], acc[k+1], acc[k+2] and
 * writes c_i to coef (0 for rows with weight 0, which add nothing to G: a sum that starts at +0 is never changed by
 * adding ±0). Self-contained: the helper thread runs its source text.
 */
function rowTerms(
  z: Float64Array,
  target: Float64Array,
  weight: Float64Array,
  sw: number,
  coef: Float64Array,
  start: number,
  end: number,
  acc: Float64Array,
  k: number,
): void {
  let loss = acc[k]!;
  let gb0 = acc[k + 1]!;
  let gb1 = acc[k + 2]!;
  for (let i = start; i < end; i++) {
    const wi = weight[i]!;
    if (wi === 0) {
      coef[2 * i] = 0;
      coef[2 * i + 1] = 0;
      continue;
    }
    const z0 = z[2 * i]!;
    const z1 = z[2 * i + 1]!;
    const m = Math.max(z0, z1);
    const e0 = Math.exp(z0 - m);
    const e1 = Math.exp(z1 - m);
    const lse = m + Math.log(e0 + e1);
    const t0 = target[2 * i]!;
    const t1 = target[2 * i + 1]!;
    let l = 0;
    if (t0 !== 0) l -= t0 * (z0 - lse);
    if (t1 !== 0) l -= t1 * (z1 - lse);
    loss += wi * l;
    const ts = t0 + t1;
    const c = wi / sw;
    const g0 = ((e0 / (e0 + e1)) * ts - t0) * c;
    const g1 = ((e1 / (e0 + e1)) * ts - t1) * c;
    coef[2 * i] = g0;
    coef[2 * i + 1] = g1;
    gb0 += g0;
    gb1 += g1;
  }
  acc[k] = loss;
  acc[k + 1] = gb0;
  acc[k + 2] = gb1;
}

/** [L, B0, B1] and G (into out) from the parts' sums, added in part order (acc: L, B0, B1 of each part; g: each
 *  part's G, 2d values apart). */
function combineParts(
  count: number,
  acc: Float64Array,
  g: Float64Array,
  d: number,
  out: Float64Array,
): [number, number, number] {
  for (let j = 0; j < 2 * d; j++) {
    let v = g[j]!;
    for (let k = 1; k < count; k++) v += g[2 * d * k + j]!;
    out[j] = v;
  }
  let loss = acc[0]!;
  let b0 = acc[1]!;
  let b1 = acc[2]!;
  for (let k = 1; k < count; k++) {
    loss += acc[3 * k]!;
    b0 += acc[3 * k + 1]!;
    b1 += acc[3 * k + 2]!;
  }
  return [loss, b0, b1];
}

// ---------------------------------------------------------------------------------------------------------------
// JavaScript kernels: dense rows blocked four at a time, or CSR (a row's non-zeros in increasing column order).

function plainKernels(kind: 'js' | 'csr', m: FeatureMatrix, weight: Float64Array, sw: number): ObjectiveKernels {
  const { x, n, d } = m;
  const csr = kind === 'csr' ? m.csr! : null;
  const z = new Float64Array(2 * n);
  const target = new Float64Array(2 * n);
  const coef = new Float64Array(2 * n);
  const parts = rowParts(n);
  const acc = new Float64Array(3 * parts.count);
  const partsG = new Float64Array(2 * d * parts.count);
  const block = csr ? 1024 : blockRowsFor(d);
  const logitsRows = (w: Float64Array, b0: number, b1: number, s: number, e: number): void => {
    if (csr) csrLogits(csr.rowPtr, csr.col, csr.val, d, w, b0, b1, z, s, e);
    else denseLogits(x, d, w, b0, b1, z, s, e);
  };
  return {
    kind,
    z,
    target,
    logits(w, b0, b1) {
      logitsRows(w, b0, b1, 0, n);
    },
    evaluate(w, b0, b1, g) {
      acc.fill(0);
      partsG.fill(0);
      for (let part = 0; part < parts.count; part++) {
        const gp = partsG.subarray(2 * d * part, 2 * d * (part + 1));
        for (let s = part * parts.size, end = Math.min(n, s + parts.size); s < end; s += block) {
          const e = Math.min(end, s + block);
          logitsRows(w, b0, b1, s, e);
          rowTerms(z, target, weight, sw, coef, s, e, acc, 3 * part);
          if (csr) csrAddGrad(csr.rowPtr, csr.col, csr.val, d, coef, gp, s, e);
          else denseAddGrad(x, d, coef, gp, s, e);
        }
      }
      return combineParts(parts.count, acc, partsG, d, g);
    },
    helperTasks: () => 0,
    close() {},
  };
}

// The hot loops take every array as a parameter (not from a closure) so that the optimiser keeps them in registers.
/** Logits only, row-major n×2 into a new array: the JavaScript kernels' sums (as `logits` of objectiveKernels(m,
 *  null, n, 'js') computes them), without the objective's buffers. */
export function featureLogits(m: FeatureMatrix, w: Float64Array, b0: number, b1: number): Float64Array {
  const z = new Float64Array(2 * m.n);
  if (m.csr) csrLogits(m.csr.rowPtr, m.csr.col, m.csr.val, m.d, w, b0, b1, z, 0, m.n);
  else denseLogits(m.x, m.d, w, b0, b1, z, 0, m.n);
  return z;
}

function csrLogits(
  rowPtr: Int32Array, col: Int32Array, val: Float32Array, d: number, w: Float64Array, b0: number, b1: number,
  z: Float64Array, start: number, end: number,
): void {
  for (let i = start; i < end; i++) {
    let z0 = b0;
    let z1 = b1;
    const stop = rowPtr[i + 1]!;
    for (let k = rowPtr[i]!; k < stop; k++) {
      const j = col[k]!;
      const v = val[k]!;
      z0 += w[j]! * v;
      z1 += w[d + j]! * v;
    }
    z[2 * i] = z0;
    z[2 * i + 1] = z1;
  }
}

function csrAddGrad(
  rowPtr: Int32Array, col: Int32Array, val: Float32Array, d: number, coef: Float64Array, g: Float64Array,
  start: number, end: number,
): void {
  for (let i = start; i < end; i++) {
    const c0 = coef[2 * i]!;
    const c1 = coef[2 * i + 1]!;
    const stop = rowPtr[i + 1]!;
    for (let k = rowPtr[i]!; k < stop; k++) {
      const j = col[k]!;
      const v = val[k]!;
      g[j] = g[j]! + c0 * v;
      g[d + j] = g[d + j]! + c1 * v;
    }
  }
}

/** z for rows [start, end), four rows at a time: each row's sums still in column order. */
function denseLogits(
  x: Float32Array, d: number, w: Float64Array, b0: number, b1: number, z: Float64Array, start: number, end: number,
): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let a0 = b0, a1 = b1, p0 = b0, p1 = b1, q0 = b0, q1 = b1, r0 = b0, r1 = b1;
    const oa = i * d, ob = oa + d, oc = ob + d, oe = oc + d;
    for (let j = 0; j < d; j++) {
      const w0 = w[j]!;
      const w1 = w[d + j]!;
      const xa = x[oa + j]!, xb = x[ob + j]!, xc = x[oc + j]!, xe = x[oe + j]!;
      a0 += w0 * xa; a1 += w1 * xa;
      p0 += w0 * xb; p1 += w1 * xb;
      q0 += w0 * xc; q1 += w1 * xc;
      r0 += w0 * xe; r1 += w1 * xe;
    }
    z[2 * i] = a0; z[2 * i + 1] = a1;
    z[2 * i + 2] = p0; z[2 * i + 3] = p1;
    z[2 * i + 4] = q0; z[2 * i + 5] = q1;
    z[2 * i + 6] = r0; z[2 * i + 7] = r1;
  }
  for (; i < end; i++) {
    let a0 = b0, a1 = b1;
    const oa = i * d;
    for (let j = 0; j < d; j++) {
      const xa = x[oa + j]!;
      a0 += w[j]! * xa;
      a1 += w[d + j]! * xa;
    }
    z[2 * i] = a0;
    z[2 * i + 1] = a1;
  }
}

/** g += Σ_i c_i ⊗ x_i over rows [start, end), four rows at a time: each column's sums still in row order. */
function denseAddGrad(x: Float32Array, d: number, coef: Float64Array, g: Float64Array, start: number, end: number): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const ca0 = coef[2 * i]!, ca1 = coef[2 * i + 1]!, cb0 = coef[2 * i + 2]!, cb1 = coef[2 * i + 3]!;
    const cc0 = coef[2 * i + 4]!, cc1 = coef[2 * i + 5]!, ce0 = coef[2 * i + 6]!, ce1 = coef[2 * i + 7]!;
    const oa = i * d, ob = oa + d, oc = ob + d, oe = oc + d;
    for (let j = 0; j < d; j++) {
      const xa = x[oa + j]!, xb = x[ob + j]!, xc = x[oc + j]!, xe = x[oe + j]!;
      // Left to right: the same sequence of additions as four row-by-row updates.
      g[j] = g[j]! + ca0 * xa + cb0 * xb + cc0 * xc + ce0 * xe;
      g[d + j] = g[d + j]! + ca1 * xa + cb1 * xb + cc1 * xc + ce1 * xe;
    }
  }
  for (; i < end; i++) {
    const c0 = coef[2 * i]!, c1 = coef[2 * i + 1]!;
    const oa = i * d;
    for (let j = 0; j < d; j++) {
      const xa = x[oa + j]!;
      g[j] = g[j]! + c0 * xa;
      g[d + j] = g[d + j]! + c1 * xa;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// WebAssembly SIMD kernels and the helper thread.

/** Rows per block in the unrolled WebAssembly loops (four rows' accumulators fit the 16 vector registers). */
const R = 4;

// Control words (Int32, shared): the current evaluation's task word (generation << 16 | next part), parts finished,
// session closed, parts the helper computed, parts the helper failed to compute (a bit each: the calling thread
// recomputes them).
const WORD = 0;
const DONE = 1;
const CLOSED = 2;
const HELPED = 3;
const FAILED = 4;

/** Where things lie in a session's memory (byte offsets) and its sizes. */
interface Layout {
  n: number;
  d: number;
  parts: number;
  partRows: number;
  block: number;
  sw: number;
  rowBytes: number;
  wp: number;
  z: number;
  target: number;
  weight: number;
  coef: number;
  /** Each part's G (2×d), 16·d bytes apart. */
  g: number;
  /** b0, b1, then L, B0, B1 of each part. */
  acc: number;
}

interface Exports {
  logits: (x: number, wp: number, z: number, rows: number, b0: number, b1: number) => void;
  grad: (x: number, c: number, g: number, rows: number, cols: number) => void;
}

/**
 * Part `part` of an evaluation: block by block, z, then ℓ and c (rowTerms), then G into the part's own G. Self-
 * contained: the helper thread runs its source text (with rowTerms').
 */
function runPart(ex: Exports, buf: ArrayBufferLike, L: Layout, part: number): void {
  const f64 = new Float64Array(buf);
  const z = new Float64Array(buf, L.z, 2 * L.n);
  const target = new Float64Array(buf, L.target, 2 * L.n);
  const weight = new Float64Array(buf, L.weight, L.n);
  const coef = new Float64Array(buf, L.coef, 2 * L.n);
  const acc = new Float64Array(buf, L.acc, 2 + 3 * L.parts);
  const g = L.g + part * 16 * L.d;
  f64.fill(0, g / 8, g / 8 + 2 * L.d);
  acc[2 + 3 * part] = 0;
  acc[3 + 3 * part] = 0;
  acc[4 + 3 * part] = 0;
  const end = Math.min(L.n, (part + 1) * L.partRows);
  for (let s = part * L.partRows; s < end; s += L.block) {
    const rows = Math.min(end - s, L.block);
    ex.logits(s * L.rowBytes, L.wp, L.z + 16 * s, rows, acc[0]!, acc[1]!);
    rowTerms(z, target, weight, L.sw, coef, s, s + rows, acc, 2 + 3 * part);
    ex.grad(s * L.rowBytes, L.coef + 16 * s, g, rows, L.d);
  }
}

/**
 * A helper worker (CommonJS, evaluated): for each session posted to it, instantiates the module on the session's
 * shared memory and claims parts until the session closes or no evaluation starts for 2 s; then waits for the
 * next session.
 */
const HELPER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const __name = (f) => f;
const [WORD, DONE, CLOSED, HELPED, FAILED] = [${WORD}, ${DONE}, ${CLOSED}, ${HELPED}, ${FAILED}];
let broken = false;
${rowTerms.toString()}
${runPart.toString()}
parentPort.on('message', (s) => {
  if (broken) return;
  let ex;
  try {
    ex = new WebAssembly.Instance(s.module, { e: { m: s.memory } }).exports;
  } catch {
    return;
  }
  const ctl = new Int32Array(s.control);
  let seen = -1;
  while (!Atomics.load(ctl, CLOSED)) {
    const w = Atomics.load(ctl, WORD);
    if (w === seen) {
      if (Atomics.wait(ctl, WORD, w, 2000) === 'timed-out') break;
      continue;
    }
    const part = w & 0xffff;
    if (w === 0 || part >= s.layout.parts) {
      seen = w;
      continue;
    }
    if (Atomics.compareExchange(ctl, WORD, w, w + 1) !== w) continue;
    try {
      runPart(ex, s.memory.buffer, s.layout, part);
      Atomics.add(ctl, HELPED, 1);
    } catch {
      // Hand the part back and take no more (this thread's copy of the code cannot run here).
      Atomics.or(ctl, FAILED, 1 << part);
      broken = true;
    }
    Atomics.add(ctl, DONE, 1);
    Atomics.notify(ctl, DONE);
    if (broken) break;
  }
});
`;

/** The helper worker, started on first use and kept (unref'd) for the process; null once it has died. */
let helper: Worker | null | undefined;

function helperThread(): Worker | null {
  if (helper === undefined) {
    helper = null;
    if (availableParallelism() > 1) {
      try {
        const w = new Worker(HELPER_SOURCE, { eval: true, execArgv: [], env: {} });
        w.unref();
        const drop = (): void => {
          if (helper === w) helper = null;
        };
        w.on('error', drop);
        w.on('exit', drop);
        helper = w;
      } catch {
        helper = null; // no threads here: the calling thread computes every part
      }
    }
  }
  return helper;
}

function wasmKernels(
  x: Float32Array,
  n: number,
  d: number,
  weight: Float64Array,
  sw: number,
  parallel: boolean,
): ObjectiveKernels | null {
  // Memory: X (n·d f32) | WP (d × [W0_j, W1_j]) | Z, target, coef (n × 2 each) | weight (n) | G (parts × 2d) |
  // b0, b1, then [L, B0, B1] of each part.
  const parts = rowParts(n);
  const wp = align16(n * d * 4);
  const z = wp + 16 * d;
  const target = z + 16 * n;
  const coef = target + 16 * n;
  const weightOff = coef + 16 * n;
  const g = align16(weightOff + 8 * n);
  const acc = g + 16 * d * parts.count;
  const total = acc + 8 * (2 + 3 * parts.count);
  const L: Layout = {
    n, d, parts: parts.count, partRows: parts.size, block: blockRowsFor(d), sw, rowBytes: 4 * d,
    wp, z, target, weight: weightOff, coef, g, acc,
  };
  let module: WebAssembly.Module | null;
  let memory: WebAssembly.Memory;
  let ex: Exports;
  try {
    module = compiledModule(d);
    if (!module) return null;
    const pages = Math.ceil(total / 65536);
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    ex = new WebAssembly.Instance(module, { e: { m: memory } }).exports as unknown as Exports;
  } catch {
    return null; // no WebAssembly SIMD or threads, or not enough memory: the JavaScript kernels do the same sums
  }
  const buf = memory.buffer;
  new Float32Array(buf, 0, n * d).set(x);
  new Float64Array(buf, weightOff, n).set(weight);
  const wpView = new Float64Array(buf, wp, 2 * d);
  const accView = new Float64Array(buf, acc, 2 + 3 * parts.count);
  const ctl = new Int32Array(new SharedArrayBuffer(4 * 5));
  const worker = parallel ? helperThread() : null;
  worker?.postMessage({ module, memory, control: ctl.buffer, layout: L });
  let gen = 0;
  let closed = false;

  const setWeights = (w: Float64Array, b0: number, b1: number): void => {
    if (closed) throw new Error('The probe kernels were used after close().');
    for (let j = 0; j < d; j++) {
      wpView[2 * j] = w[j]!;
      wpView[2 * j + 1] = w[d + j]!;
    }
    accView[0] = b0;
    accView[1] = b1;
  };

  return {
    kind: 'wasm',
    z: new Float64Array(buf, z, 2 * n),
    target: new Float64Array(buf, target, 2 * n),
    logits(w, b0, b1) {
      setWeights(w, b0, b1);
      ex.logits(0, wp, z, n, b0, b1);
    },
    evaluate(w, b0, b1, out) {
      setWeights(w, b0, b1);
      // Publish the parts; claim them alongside the helper; wait for any the helper took.
      gen = (gen % 32767) + 1;
      Atomics.store(ctl, DONE, 0);
      Atomics.store(ctl, WORD, gen << 16);
      if (worker) Atomics.notify(ctl, WORD);
      for (;;) {
        const word = Atomics.load(ctl, WORD);
        const part = word & 0xffff;
        if (part >= parts.count) break;
        if (Atomics.compareExchange(ctl, WORD, word, word + 1) !== word) continue;
        runPart(ex, buf, L, part);
        Atomics.add(ctl, DONE, 1);
      }
      for (let waited = 0; ; ) {
        const done = Atomics.load(ctl, DONE);
        if (done >= parts.count) break;
        // A helper only stops mid-part if its thread dies; do not wait for it forever.
        if (Atomics.wait(ctl, DONE, done, 1000) === 'timed-out' && (waited += 1000) >= 120_000) {
          throw new Error('The probe helper thread stopped responding.');
        }
      }
      const failed = Atomics.exchange(ctl, FAILED, 0);
      for (let part = 0; part < parts.count; part++) if (failed & (1 << part)) runPart(ex, buf, L, part);
      return combineParts(parts.count, accView.subarray(2), new Float64Array(buf, g, 2 * d * parts.count), d, out);
    },
    helperTasks: () => Atomics.load(ctl, HELPED),
    close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctl, CLOSED, 1);
      Atomics.notify(ctl, WORD);
    },
  };
}

const align16 = (v: number): number => Math.ceil(v / 16) * 16;

const modules = new Map<number, WebAssembly.Module | null>();

/** The kernel module for feature dimension d, compiled once per d (null where WebAssembly SIMD is missing). */
function compiledModule(d: number): WebAssembly.Module | null {
  if (!modules.has(d)) {
    let m: WebAssembly.Module | null = null;
    try {
      const bytes = assembleKernels(d);
      if (typeof WebAssembly === 'object' && WebAssembly.validate(bytes)) m = new WebAssembly.Module(bytes);
    } catch {
      m = null;
    }
    modules.set(d, m);
  }
  return modules.get(d)!;
}

// A minimal WebAssembly assembler: each instruction is a list of bytes (nested lists are flattened).
type Code = number | Code[];
const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v = Math.floor(v / 128);
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const flat = (c: Code[]): number[] => (c as unknown[]).flat(Infinity as 1) as number[];
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const get = (i: number): Code => [0x20, uleb(i)];
const set = (i: number): Code => [0x21, uleb(i)];
const tee = (i: number): Code => [0x22, uleb(i)];
const i32 = (v: number): Code => [0x41, sleb(v | 0)]; // two's complement, as address arithmetic wraps
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_NE = 0x47;
const I32_LT_U = 0x49;
const I32_EQ = 0x46;
const I32_AND = 0x71;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const memarg = (alignLog2: number, offset: number): Code => [uleb(alignLog2), uleb(offset)];
const f64load = (off: number): Code => [0x2b, memarg(3, off)];
const f64store = (off: number): Code => [0x39, memarg(3, off)];
const f32load = (off: number): Code => [0x2a, memarg(2, off)];
const F64_PROMOTE_F32 = 0xbb;
const F64_ADD = 0xa0;
const F64_MUL = 0xa2;
const simd = (op: number, ...imm: Code[]): Code => [0xfd, uleb(op), imm];
const v128load = (off: number): Code => simd(0x00, memarg(4, off));
const v128store = (off: number): Code => simd(0x0b, memarg(4, off));
const load32splat = (off: number): Code => simd(0x09, memarg(2, off));
const load64splat = (off: number): Code => simd(0x0a, memarg(3, off));
const load64zero = (off: number): Code => simd(0x5d, memarg(3, off));
const F64X2_SPLAT = simd(0x14);
const f64x2ReplaceLane = (lane: number): Code => simd(0x22, lane);
const F64X2_PROMOTE_LOW = simd(0x5f);
const F64X2_ADD = simd(0xf0);
const F64X2_MUL = simd(0xf2);
const block = (...body: Code[]): Code => [0x02, 0x40, body, 0x0b];
const loop = (...body: Code[]): Code => [0x03, 0x40, body, 0x0b];
const ifThen = (...body: Code[]): Code => [0x04, 0x40, body, 0x0b];
const brIf = (depth: number): Code => [0x0d, uleb(depth)];
const br = (depth: number): Code => [0x0c, uleb(depth)];
const vec = (items: Code[]): Code => [uleb(items.length), items];
const section = (id: number, body: Code[]): Code => {
  const bytes = flat(body);
  return [id, uleb(bytes.length), bytes];
};
const name = (s: string): Code => vec([...Buffer.from(s)]);

function func(locals: number[], body: Code[]): Code {
  const groups: [number, number][] = [];
  for (const t of locals) {
    const last = groups.at(-1);
    if (last && last[1] === t) last[0]++;
    else groups.push([1, t]);
  }
  const bytes = flat([vec(groups.map(([count, type]) => [uleb(count), type])), body, 0x0b]);
  return [uleb(bytes.length), bytes];
}

/**
 * logits(x, wp, z, rows, b0, b1): for each of `rows` rows starting at byte x, z[r] = [b0, b1] + Σ_j [W0_j, W1_j]·x_rj
 * (pairs at byte wp, 16 bytes per j; results at byte z, 16 bytes per row). Blocks of R rows, then single rows.
 */
function logitsFunc(d: number): Code {
  const rowBytes = 4 * d;
  // params 0 x, 1 wp, 2 z, 3 rows, 4 b0, 5 b1; locals 6 p, 7 q, 8 pEnd, 9 bias, 10 wv, 11.. acc[R]
  const [X, WP, Z, ROWS, B0, B1, P, Q, PEND, BIAS, WV, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const rowsLoop = (rows: number): Code =>
    block(
      loop(
        get(ROWS), i32(rows), I32_LT_U, brIf(1),
        Array.from({ length: rows }, (_, r) => [get(BIAS), set(ACC + r)]),
        get(X), set(P), get(WP), set(Q), get(X), i32(rowBytes), I32_ADD, set(PEND),
        loop(
          get(Q), v128load(0), set(WV),
          Array.from({ length: rows }, (_, r) => [
            get(ACC + r), get(WV), get(P), load32splat(r * rowBytes), F64X2_PROMOTE_LOW, F64X2_MUL, F64X2_ADD, set(ACC + r),
          ]),
          get(Q), i32(16), I32_ADD, set(Q),
          get(P), i32(4), I32_ADD, tee(P), get(PEND), I32_NE, brIf(0),
        ),
        Array.from({ length: rows }, (_, r) => [get(Z), get(ACC + r), v128store(16 * r)]),
        get(Z), i32(16 * rows), I32_ADD, set(Z),
        get(X), i32(rows * rowBytes), I32_ADD, set(X),
        get(ROWS), i32(rows), I32_SUB, set(ROWS),
        br(0),
      ),
    );
  return func([I32, I32, I32, V128, V128, ...Array<number>(R).fill(V128)], [
    get(B0), F64X2_SPLAT, get(B1), f64x2ReplaceLane(1), set(BIAS),
    rowsLoop(R),
    rowsLoop(1),
  ]);
}

/**
 * grad(x, c, g, rows, cols): for each of `rows` rows starting at byte x, in order, G0_j += c_r0·x_rj and
 * G1_j += c_r1·x_rj for the `cols` columns from byte x on (coefficient pairs at byte c, 16 bytes per row; G0 at byte
 * g, G1 at byte g + 8d). Columns two at a time in one vector per logit; an odd last column in scalar code.
 */
function gradFunc(d: number): Code {
  const rowBytes = 4 * d;
  const g1 = 8 * d;
  // params 0 x, 1 c, 2 g, 3 rows, 4 cols; locals 5 p, 6 q, 7 pEnd, 8 tx, 9 tg, 10 G0, 11 G1, 12 X, 13.. coef0[R], coef1[R]
  const [X, C, G, ROWS, COLS, P, Q, PEND, TX, TG, GV0, GV1, XV, C0, C1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 13 + R];
  const rowsLoop = (rows: number): Code =>
    block(
      loop(
        get(ROWS), i32(rows), I32_LT_U, brIf(1),
        Array.from({ length: rows }, (_, r) => [
          get(C), load64splat(16 * r), set(C0 + r),
          get(C), load64splat(16 * r + 8), set(C1 + r),
        ]),
        // Column pairs: p runs over this row block's columns, q over G0's.
        get(X), set(P), get(G), set(Q), get(X), get(COLS), i32(1), I32_SHR_U, i32(3), I32_SHL, I32_ADD, set(PEND),
        block(
          get(P), get(PEND), I32_EQ, brIf(0),
          loop(
            get(Q), v128load(0), set(GV0),
            get(Q), v128load(g1), set(GV1),
            Array.from({ length: rows }, (_, r) => [
              get(P), load64zero(r * rowBytes), F64X2_PROMOTE_LOW, set(XV),
              get(GV0), get(C0 + r), get(XV), F64X2_MUL, F64X2_ADD, set(GV0),
              get(GV1), get(C1 + r), get(XV), F64X2_MUL, F64X2_ADD, set(GV1),
            ]),
            get(Q), get(GV0), v128store(0),
            get(Q), get(GV1), v128store(g1),
            get(Q), i32(16), I32_ADD, set(Q),
            get(P), i32(8), I32_ADD, tee(P), get(PEND), I32_NE, brIf(0),
          ),
        ),
        // An odd last column: g_k = (((g_k + c_0k·x_0) + c_1k·x_1) + …), scalar, at tx (features) and tg (G0).
        get(COLS), i32(1), I32_AND,
        ifThen(
          get(P), set(TX), get(Q), set(TG),
          [0, 1].map((k) => [
            get(TG),
            get(TG), f64load(k * g1),
            Array.from({ length: rows }, (_, r) => [
              get(C), f64load(16 * r + 8 * k), get(TX), f32load(r * rowBytes), F64_PROMOTE_F32, F64_MUL, F64_ADD,
            ]),
            f64store(k * g1),
          ]),
        ),
        get(C), i32(16 * rows), I32_ADD, set(C),
        get(X), i32(rows * rowBytes), I32_ADD, set(X),
        get(ROWS), i32(rows), I32_SUB, set(ROWS),
        br(0),
      ),
    );
  return func([I32, I32, I32, I32, I32, V128, V128, V128, ...Array<number>(2 * R).fill(V128)], [rowsLoop(R), rowsLoop(1)]);
}

/** The module's bytes: imports shared memory e.m, exports logits and grad for feature dimension d. */
export function assembleKernels(d: number): Uint8Array<ArrayBuffer> {
  const logitsType = [0x60, vec([I32, I32, I32, I32, F64, F64]), vec([])];
  const gradType = [0x60, vec([I32, I32, I32, I32, I32]), vec([])];
  return Uint8Array.from(
    flat([
      [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      section(1, [vec([logitsType, gradType])]),
      // Memory import, shared (limits flag 3: shared, with a maximum), 1 to 65,536 pages.
      section(2, [vec([[name('e'), name('m'), 0x02, 0x03, uleb(1), uleb(65536)]])]),
      section(3, [vec([0, 1])]),
      section(7, [vec([[name('logits'), 0x00, 0], [name('grad'), 0x00, 1]])]),
      section(10, [vec([logitsFunc(d), gradFunc(d)])]),
    ]),
  );
}
