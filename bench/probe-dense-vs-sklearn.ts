/**
 * The dense probe against scikit-learn's LogisticRegression on identical bytes. n×d standard-normal features with a
 * planted linear signal (the generator of bench/probe-train.ts, values rounded to float32 so that the probe's
 * Float32Array holds exactly what sklearn reads) are written once, as raw little-endian float64 plus labels, to a
 * temporary folder; both sides read that file. L-BFGS on both sides, matched objective: sklearn minimises
 * C·Σ loss + ½‖w‖² (with an unpenalised intercept), the probe mean loss + (l2/2)‖W‖² with l2 = 1 / (n·C) and a bias;
 * both stop at max |gradient| < 1e-4 on the mean-loss scale.
 *
 * Fits alternate (probe, sklearn, probe, sklearn, …), `reps` of each; the load average is taken before every fit.
 * sklearn runs in a fresh Python per fit and times `fit` alone; the probe times trainLogistic alone, in this process.
 * Prints one JSON line: medians, every fit's time, iterations, test accuracy and the ratio probe ÷ sklearn.
 * The sklearn half is skipped, with a message, when Python or scikit-learn is missing (set W2S_PYTHON).
 *
 *   W2S_PYTHON=/path/to/python node --import tsx bench/probe-dense-vs-sklearn.ts [--n 10000] [--d 1024]
 *     [--test 2000] [--reps 5] [--C 1] [--noise 0.3]
 *
 * W2S_PROBE_KERNELS=single|js times WebAssembly without the helper thread, or the JavaScript kernels;
 * W2S_PROBE_MODULE=/abs/path/logistic.ts times another copy of the probe (BENCHMARKS.md §6b's "before": a copy of
 * src/ with the probe files of 4523efa^).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createRng } from '../src/rng.js';
import type * as Logistic from '../src/train/logistic.js';

// W2S_PROBE_MODULE points at another copy of logistic.ts (e.g. an older commit's, checked out elsewhere) to time it.
const { predictProba, trainLogistic }: typeof Logistic = await import(process.env.W2S_PROBE_MODULE ?? '../src/train/logistic.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const n = arg('n', 10_000);
const d = arg('d', 1024);
const testN = arg('test', 2000);
const reps = arg('reps', 5);
const C = arg('C', 1);
const noiseScale = arg('noise', 0.3);
const MAX_ITER = 100;
const TOL = 1e-4;

/** Rows of float32-representable float64 features and 0/1 labels (label = [w*·x + noise > 0]). */
function makeData(rows: number, seed: number, wStar: Float64Array): { x: Float64Array; y: number[] } {
  const rng = createRng(seed);
  const x = new Float64Array(rows * d);
  const y: number[] = [];
  const noise = Math.sqrt(d) * noiseScale;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = Math.fround(rng.normal());
      x[i * d + j] = v;
      s += wStar[j]! * v;
    }
    y.push(s + noise * rng.normal() > 0 ? 1 : 0);
  }
  return { x, y };
}

/** The file's float64 values as the Float32Array the probe takes; throws if any value would round. */
function readF32(path: string, count: number): Float32Array {
  const buf = readFileSync(path);
  if (buf.byteLength !== 8 * count) throw new Error(`${path} holds ${buf.byteLength} bytes, expected ${8 * count}`);
  const f64 = new Float64Array(buf.buffer, buf.byteOffset, count);
  const out = Float32Array.from(f64);
  for (let k = 0; k < count; k++) if (out[k] !== f64[k]) throw new Error(`value ${k} of ${path} is not a float32`);
  return out;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r3 = (v: number): number => Math.round(v * 1000) / 1000;
const load1 = (): number => +os.loadavg()[0]!.toFixed(2);

const rng = createRng(42);
const wStar = Float64Array.from({ length: d }, () => rng.normal());
const dir = mkdtempSync(join(os.tmpdir(), 'w2s-bench-dense-'));
try {
  const train = makeData(n, 1, wStar);
  const test = makeData(testN, 2, wStar);
  const paths = { xtrain: join(dir, 'xtr.f64'), xtest: join(dir, 'xte.f64'), meta: join(dir, 'meta.json') };
  writeFileSync(paths.xtrain, new Uint8Array(train.x.buffer));
  writeFileSync(paths.xtest, new Uint8Array(test.x.buffer));
  writeFileSync(
    paths.meta,
    JSON.stringify({ d, dtype: 'float64', xtrain: paths.xtrain, xtest: paths.xtest, ytrain: train.y, ytest: test.y, C, maxIter: MAX_ITER, tol: TOL }),
  );

  // The probe's side reads the same bytes back.
  const xtr = readF32(paths.xtrain, n * d);
  const xte = readF32(paths.xtest, testN * d);
  const soft = new Float64Array(2 * n);
  train.y.forEach((y, i) => (soft[2 * i + y] = 1));
  const kernels = (process.env.W2S_PROBE_KERNELS ?? 'auto') as 'auto' | 'single' | 'js';
  const opts = { optimizer: 'lbfgs' as const, loss: 'xent' as const, seed: 0, l2: 1 / (n * C), bias: true, lbfgsIterations: MAX_ITER, lbfgsTolerance: TOL, kernels };

  const python = process.env.W2S_PYTHON ?? 'python3';
  let skipped: string | null = null;
  const probe: { fitS: number; cpuS: number; load: number; iterations: number; evaluations: number; accuracy: number }[] = [];
  const sklearn: { fitS: number; cpuS: number; load: number; iterations: number; accuracy: number }[] = [];
  for (let r = 0; r < reps; r++) {
    let load = load1();
    const cpu = process.cpuUsage();
    const t = performance.now();
    const fit = await trainLogistic({ x: xtr, n, d, soft }, opts);
    const fitS = (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    const cpuS = (used.user + used.system) / 1e6;
    const p = predictProba(fit.head, xte, testN);
    const accuracy = test.y.filter((y, i) => (p[i]! > 0.5 ? 1 : 0) === y).length / testN;
    probe.push({ fitS: r3(fitS), cpuS: r3(cpuS), load, iterations: fit.steps, evaluations: fit.evaluations ?? fit.steps, accuracy });

    if (skipped) continue;
    load = load1();
    try {
      const out = execFileSync(python, [join(import.meta.dirname, 'sklearn_logreg.py'), paths.meta], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const sk = JSON.parse(out.trim().split('\n').at(-1)!);
      sklearn.push({ fitS: r3(sk.fitS), cpuS: r3(sk.cpuS), load, iterations: sk.iterations, accuracy: sk.accuracy });
    } catch (e) {
      skipped = `scikit-learn not available via ${python} (${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').at(-1)}); set W2S_PYTHON to a python with scikit-learn`;
    }
  }

  const probeMedian = median(probe.map((f) => f.fitS));
  const last = probe.at(-1)!;
  const result: Record<string, unknown> = {
    bench: 'probe-dense-vs-sklearn',
    n, d, test: testN, reps, C, l2: 1 / (n * C), noise: noiseScale,
    probe: {
      optimizer: 'lbfgs', ...(process.env.W2S_PROBE_MODULE ? { module: process.env.W2S_PROBE_MODULE } : { kernels: opts.kernels }), medianS: r3(probeMedian), fitsS: probe.map((f) => f.fitS), cpuMedianS: r3(median(probe.map((f) => f.cpuS))), loads: probe.map((f) => f.load),
      iterations: last.iterations, evaluations: last.evaluations, msPerEvaluation: +((1000 * probeMedian) / last.evaluations).toFixed(1),
      accuracy: last.accuracy,
    },
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
    date: new Date().toISOString(),
  };
  if (sklearn.length) {
    const skMedian = median(sklearn.map((f) => f.fitS));
    result.sklearn = {
      solver: 'lbfgs', medianS: r3(skMedian), fitsS: sklearn.map((f) => f.fitS), cpuMedianS: r3(median(sklearn.map((f) => f.cpuS))), loads: sklearn.map((f) => f.load),
      iterations: sklearn.at(-1)!.iterations, accuracy: sklearn.at(-1)!.accuracy,
    };
    result.ratio = +(probeMedian / skMedian).toFixed(2);
    result.cpuRatio = +(median(probe.map((f) => f.cpuS)) / median(sklearn.map((f) => f.cpuS))).toFixed(2);
  } else {
    result.sklearn = null;
    result.skipped = skipped;
  }
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
