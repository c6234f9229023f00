/**
 * Special functions for p-values and intervals, accurate to roughly 1e-13 relative (plenty for statistics that are
 * printed with 3–4 digits). Written out here because metrics imports nothing, and JavaScript has no erfc.
 */

const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0: shift x up to ≥ 15 with Γ(x + 1) = x·Γ(x), then Stirling's series (error < 1e-15 there). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lnGamma: x must be positive (got ${x}).`);
  let shift = 0;
  while (x < 15) {
    shift += Math.log(x);
    x += 1;
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  const series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))));
  return (x - 0.5) * Math.log(x) - x + HALF_LN_2PI + series - shift;
}

const TINY = 1e-300;

/**
 * A continued fraction b0 + a1/(b1 + a2/(b2 + …)), inverted, by the modified Lentz method: starts from 1/b0 (and
 * C0 = c0), and each step(a_n, b_n) multiplies in the next convergent ratio and returns it (1 when converged).
 */
function lentz(b0: number, c0: number): { step(an: number, bn: number): number; value(): number } {
  const guard = (v: number): number => (Math.abs(v) < TINY ? TINY : v);
  let d = 1 / guard(b0);
  let c = c0;
  let h = d;
  return {
    step(an, bn) {
      d = 1 / guard(bn + an * d);
      c = guard(bn + an / c);
      const delta = d * c;
      h *= delta;
      return delta;
    },
    value: () => h,
  };
}

/**
 * Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). Below x = a + 1 the power series for P = 1 − Q
 * converges fast; above it, Legendre's continued fraction for Q does (evaluated with the modified Lentz method).
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) throw new RangeError(`gammaQ: needs a > 0 and x ≥ 0 (got a=${a}, x=${x}).`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const logPrefactor = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    // P(a, x) = e^{-x} x^a / Γ(a+1) · Σ_k x^k / ((a+1)…(a+k))
    let term = 1 / a;
    let sum = term;
    for (let k = 1; k < 10000; k++) {
      term *= x / (a + k);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(logPrefactor);
  }
  // Legendre's fraction: 1/(x+1−a−) (1·(1−a))/(x+3−a−) (2·(2−a))/(x+5−a−) …
  const fraction = lentz(x + 1 - a, 1 / TINY);
  for (let i = 1; i < 10000; i++) {
    if (Math.abs(fraction.step(-i * (i - a), x + 1 - a + 2 * i) - 1) < 1e-16) break;
  }
  return Math.exp(logPrefactor) * fraction.value();
}

/** Complementary error function, via erfc(x) = Q(1/2, x²) for x ≥ 0 and erfc(−x) = 2 − erfc(x). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const q = gammaQ(0.5, x * x);
  return x >= 0 ? q : 2 - q;
}

/** P(χ²_dof ≥ x). For 1 degree of freedom this equals erfc(√(x/2)). */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(dof > 0)) throw new RangeError(`chiSquareSurvival: dof must be positive (got ${dof}).`);
  if (x <= 0) return 1;
  return dof === 1 ? erfc(Math.sqrt(x / 2)) : gammaQ(dof / 2, x / 2);
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Φ⁻¹(p) for p in (0, 1), by bisection on Φ (slow-ish but exact to double precision; called once per interval). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1) (got ${p}).`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo)); i++) {
    const mid = 0.5 * (lo + hi);
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** ln C(n, k). */
export function lnChoose(n: number, k: number): number {
  return lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);
}

/**
 * Regularised incomplete beta I_x(a, b), by its continued fraction (modified Lentz), using the symmetry
 * I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
 */
export function betaInc(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) throw new RangeError(`betaInc: needs a, b > 0 and x in [0, 1] (got x=${x}, a=${a}, b=${b}).`);
  if (x === 0 || x === 1) return x;
  if (x > (a + 1) / (a + b + 2)) return 1 - betaInc(1 - x, b, a);
  const logFront = a * Math.log(x) + b * Math.log(1 - x) - (lnGamma(a) + lnGamma(b) - lnGamma(a + b)) - Math.log(a);
  // 1/(1−) d1/(1+) d2/(1−) …: odd steps d_{2m+1} = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)), even d_{2m} = m(b−m)x / ((a+2m−1)(a+2m)).
  const fraction = lentz(1 - ((a + b) * x) / (a + 1), 1);
  for (let m = 1; m < 10000; m++) {
    fraction.step((m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), 1);
    if (Math.abs(fraction.step((-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1)), 1) - 1) < 1e-16) break;
  }
  return Math.exp(logFront) * fraction.value();
}

/** Student's t CDF with `df` degrees of freedom: P(T ≤ t) = 1 − ½·I_{df/(df+t²)}(df/2, ½) for t ≥ 0. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: df must be positive (got ${df}).`);
  const tail = 0.5 * betaInc(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The t quantile for p in (0, 1), by bisection on the CDF (called once per interval). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1) (got ${p}).`);
  let lo = -1e7;
  let hi = 1e7;
  for (let i = 0; i < 400 && hi - lo > 1e-13 * Math.max(1, Math.abs(lo)); i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}
