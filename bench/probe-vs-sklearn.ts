/**
 * The in-process probe against scikit-learn's LogisticRegression on the same features: SciQ (shared datasets),
 * hashed word 1-2-gram features, L-BFGS on both sides with matched L2. Time to fit and test accuracy.
 * The sklearn part is skipped, with a message, when Python or scikit-learn is missing (set W2S_PYTHON to a python
 * that has it).   node --import tsx bench/probe-vs-sklearn.ts [trainN=4000] [testN=1000]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadDataset } from '../src/data/registry.js';
import { hashedNgramFeaturizer } from '../src/train/featurizers.js';
import type * as Logistic from '../src/train/logistic.js';

// W2S_PROBE_MODULE points at another copy of logistic.ts (e.g. an older commit's, checked out elsewhere) to time it.
const { predictProba, trainLogistic }: typeof Logistic = await import(process.env.W2S_PROBE_MODULE ?? '../src/train/logistic.js');

const trainN = Number(process.argv[2] ?? 4000);
const testN = Number(process.argv[3] ?? 1000);
const L2 = 1e-3;
const ITERS = 200;
const dataDir = process.env.W2S_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'datasets');
const { pools } = await loadDataset({ name: 'sciq', dataDir, seed: 0, limit: trainN });
const train = pools.train.slice(0, trainN);
const test = (pools.test ?? []).slice(0, testN);
const f = hashedNgramFeaturizer({ dim: 4096, n: [1, 2] });
const flat = (rows: Float32Array[]) => {
  const x = new Float32Array(rows.length * f.dim);
  rows.forEach((r, i) => x.set(r, i * f.dim));
  return x;
};
const t0 = performance.now();
const xtr = flat(await f.featurize(train.map((e) => e.text)));
const xte = flat(await f.featurize(test.map((e) => e.text)));
const featurizeS = (performance.now() - t0) / 1000;
const soft = new Float64Array(train.length * 2);
train.forEach((e, i) => (soft[2 * i + e.label] = 1));

const t1 = performance.now();
const fit = await trainLogistic({ x: xtr, n: train.length, d: f.dim, soft }, { optimizer: 'lbfgs', loss: 'xent', seed: 0, l2: L2, bias: true, lbfgsIterations: ITERS, epochs: 1 });
const probeS = (performance.now() - t1) / 1000;
const p = predictProba(fit.head, xte, test.length);
const probeAcc = test.filter((e, i) => (p[i]! > 0.5 ? 1 : 0) === e.label).length / test.length;
let nonZeros = 0;
for (const v of xtr) if (v !== 0) nonZeros++;
const result: Record<string, unknown> = {
  bench: 'probe-vs-sklearn', dataset: 'sciq', features: f.id, train: train.length, test: test.length, featurizeS: +featurizeS.toFixed(2),
  nonZerosPerRow: +(nonZeros / train.length).toFixed(1), density: +(nonZeros / xtr.length).toFixed(4),
  probe: { optimizer: 'lbfgs', gradTolerance: 1e-4, fitS: +probeS.toFixed(2), accuracy: +probeAcc.toFixed(4), iterations: fit.steps, evaluations: fit.evaluations, msPerEvaluation: +((1000 * probeS) / (fit.evaluations ?? fit.steps)).toFixed(1) },
};

const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-sk-'));
try {
  writeFileSync(join(dir, 'xtr.f32'), Buffer.from(xtr.buffer));
  writeFileSync(join(dir, 'xte.f32'), Buffer.from(xte.buffer));
  // Ours minimises mean loss + (l2/2)‖W‖²; sklearn minimises C·Σ loss + ½‖w‖²: C = 1 / (n · l2).
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ d: f.dim, xtrain: join(dir, 'xtr.f32'), xtest: join(dir, 'xte.f32'), ytrain: train.map((e) => e.label), ytest: test.map((e) => e.label), C: 1 / (train.length * L2), maxIter: ITERS }));
  const python = process.env.W2S_PYTHON ?? 'python3';
  try {
    const out = execFileSync(python, [join(import.meta.dirname, 'sklearn_logreg.py'), join(dir, 'meta.json')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const sk = JSON.parse(out.trim().split('\n').at(-1)!);
    result.sklearn = { solver: 'lbfgs', tol: 1e-4, fitS: +sk.fitS.toFixed(2), accuracy: +sk.accuracy.toFixed(4), iterations: sk.iterations };
  } catch (e) {
    result.sklearn = null;
    result.skipped = `scikit-learn not available via ${python} (${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').at(-1)}); set W2S_PYTHON to a python with scikit-learn`;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
