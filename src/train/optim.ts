/**
 * Optimizers over flat Float64Array parameter vectors: Adam (as torch.optim.Adam, no weight decay: L2 is the
 * objective's business) and L-BFGS (two-loop recursion with a backtracking Armijo line search).
 */

export interface AdamState {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Steps taken so far (bias correction uses t after increment). */
  t: number;
  readonly m: Float64Array;
  readonly v: Float64Array;
}

export function createAdam(size: number, opts: { beta1?: number; beta2?: number; eps?: number } = {}): AdamState {
  return {
    beta1: opts.beta1 ?? 0.9,
    beta2: opts.beta2 ?? 0.999,
    eps: opts.eps ?? 1e-8,
    t: 0,
    m: new Float64Array(size),
    v: new Float64Array(size),
  };
}

/** One Adam update of params in place: θ −= lr · m̂ / (√v̂ + ε), with the bias-corrected moments m̂, v̂. */
export function adamStep(state: AdamState, params: Float64Array, grad: Float64Array, lr: number): void {
  const { beta1, beta2, eps, m, v } = state;
  state.t += 1;
  const c1 = 1 - Math.pow(beta1, state.t);
  const c2 = 1 - Math.pow(beta2, state.t);
  for (let j = 0; j < params.length; j++) {
    const g = grad[j]!;
    const mj = beta1 * m[j]! + (1 - beta1) * g;
    const vj = beta2 * v[j]! + (1 - beta2) * g * g;
    m[j] = mj;
    v[j] = vj;
    params[j] = params[j]! - (lr * (mj / c1)) / (Math.sqrt(vj / c2) + eps);
  }
}

/** Cosine annealing to 0 over totalSteps (torch CosineAnnealingLR with eta_min 0): step 0 uses the full lr. */
export function cosineLr(lr: number, step: number, totalSteps: number): number {
  return totalSteps > 0 ? (lr * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2 : lr;
}

/** An objective: writes the gradient at x into grad and returns the value. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIterations?: number;
  /** History pairs kept (default 10). */
  memory?: number;
  /** Stop when max |gradient| falls below this (default 1e-6). */
  gradTolerance?: number;
  /** Stop when the relative decrease of f in an iteration falls below this (default 1e-10). */
  fTolerance?: number;
  /** Awaited after each accepted iteration (a chance to yield to the event loop or throw on abort);
   *  resolve to false to stop early. */
  onIteration?: (iteration: number, f: number) => boolean | void | Promise<boolean | void>;
}

export interface LbfgsResult {
  f: number;
  iterations: number;
  evaluations: number;
  reason: 'gradient' | 'f_tolerance' | 'max_iterations' | 'line_search' | 'stopped';
}

/** Minimises f from x (updated in place). Async only so that onIteration can yield; the maths is synchronous. */
export async function lbfgs(f: Objective, x: Float64Array, opts: LbfgsOptions = {}): Promise<LbfgsResult> {
  const maxIter = opts.maxIterations ?? 100;
  const mem = opts.memory ?? 10;
  const gTol = opts.gradTolerance ?? 1e-6;
  const fTol = opts.fTolerance ?? 1e-10;
  const n = x.length;
  const g = new Float64Array(n);
  const gNew = new Float64Array(n);
  const xNew = new Float64Array(n);
  const dir = new Float64Array(n);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alphaBuf = new Float64Array(mem);
  let fx = f(x, g);
  let evals = 1;
  if (maxAbs(g) < gTol) return { f: fx, iterations: 0, evaluations: evals, reason: 'gradient' };

  for (let iter = 1; iter <= maxIter; iter++) {
    // Two-loop recursion: dir = −H·g.
    dir.set(g);
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, dir);
      alphaBuf[k] = a;
      axpy(-a, Y[k]!, dir);
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      scale(dir, gamma);
    } else {
      // First iteration: a unit-length steepest-descent step.
      scale(dir, 1 / Math.max(norm(g), 1e-12));
    }
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, dir);
      axpy(alphaBuf[k]! - b, S[k]!, dir);
    }
    scale(dir, -1);
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      dir.set(g);
      scale(dir, -1 / Math.max(norm(g), 1e-12));
      slope = dot(g, dir);
    }
    // Backtracking line search with the Armijo condition.
    let step = 1;
    let fNew = NaN;
    let accepted = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let j = 0; j < n; j++) xNew[j] = x[j]! + step * dir[j]!;
      fNew = f(xNew, gNew);
      evals++;
      if (Number.isFinite(fNew) && fNew <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) return { f: fx, iterations: iter - 1, evaluations: evals, reason: 'line_search' };
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = xNew[j]! - x[j]!;
      y[j] = gNew[j]! - g[j]!;
    }
    const sy = dot(s, y);
    // Keep only curvature pairs that keep H positive definite.
    if (sy > 1e-10) {
      if (S.length === mem) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const fPrev = fx;
    x.set(xNew);
    g.set(gNew);
    fx = fNew;
    if ((await opts.onIteration?.(iter, fx)) === false) return { f: fx, iterations: iter, evaluations: evals, reason: 'stopped' };
    if (maxAbs(g) < gTol) return { f: fx, iterations: iter, evaluations: evals, reason: 'gradient' };
    if (fPrev - fx <= fTol * Math.max(Math.abs(fPrev), Math.abs(fx), 1)) {
      return { f: fx, iterations: iter, evaluations: evals, reason: 'f_tolerance' };
    }
  }
  return { f: fx, iterations: maxIter, evaluations: evals, reason: 'max_iterations' };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let j = 0; j < x.length; j++) y[j] = y[j]! + a * x[j]!;
}

function scale(x: Float64Array, a: number): void {
  for (let j = 0; j < x.length; j++) x[j] = x[j]! * a;
}

function norm(x: Float64Array): number {
  return Math.sqrt(dot(x, x));
}

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j]!));
  return m;
}
