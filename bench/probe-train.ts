/**
 * Probe training throughput: 10,000 × 1,024 standard-normal features with a planted linear signal
 * (label = [w*·x + noise > 0]), fitted by the linear head with Adam (batch 32, cosine, 3 epochs) and with full-batch
 * L-BFGS (100 iterations), then scored on 2,000 held-out rows. Prints one JSON line.
 *
 *   node --import tsx bench/probe-train.ts [--n 10000] [--d 1024] [--epochs 3] [--iters 100]
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { createRng } from '../src/rng.js';
import type * as Logistic from '../src/train/logistic.js';

// W2S_PROBE_MODULE points at another copy of logistic.ts (e.g. an older commit's, checked out elsewhere) to time it.
const { predictProba, trainLogistic }: typeof Logistic = await import(process.env.W2S_PROBE_MODULE ?? '../src/train/logistic.js');

export interface ProbeBenchResult {
  bench: 'probe-train';
  n: number;
  d: number;
  adam: { epochs: number; batchSize: number; seconds: number; examplesEpochsPerSec: number; testAccuracy: number };
  lbfgs: {
    iterations: number;
    evaluations: number;
    seconds: number;
    /** Full passes over the data (objective evaluations) × n per second. */
    examplesPassesPerSec: number;
    testAccuracy: number;
  };
  machine: { cpu: string; cores: number; node: string; os: string };
  date: string;
}

function makeData(n: number, d: number, seed: number, wStar: Float64Array) {
  const rng = createRng(seed);
  const x = new Float32Array(n * d);
  const soft = new Float64Array(2 * n);
  const labels = new Uint8Array(n);
  const noise = Math.sqrt(d) * 0.3;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal();
      x[i * d + j] = v;
      s += wStar[j]! * v;
    }
    const y = s + noise * rng.normal() > 0 ? 1 : 0;
    labels[i] = y;
    soft[2 * i] = 1 - y;
    soft[2 * i + 1] = y;
  }
  return { x, n, d, soft, labels };
}

function accuracy(p: Float64Array, labels: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < labels.length; i++) if ((p[i]! > 0.5 ? 1 : 0) === labels[i]) c++;
  return c / labels.length;
}

export async function runProbeBench(opts: { n?: number; d?: number; epochs?: number; iters?: number } = {}): Promise<ProbeBenchResult> {
  const n = opts.n ?? 10_000;
  const d = opts.d ?? 1024;
  const epochs = opts.epochs ?? 3;
  const iters = opts.iters ?? 100;
  const rng = createRng(42);
  const wStar = Float64Array.from({ length: d }, () => rng.normal());
  const train = makeData(n, d, 1, wStar);
  const test = makeData(2000, d, 2, wStar);

  let t = performance.now();
  const adam = await trainLogistic(train, { optimizer: 'adam', loss: 'xent', seed: 0, epochs, batchSize: 32, lr: 1e-2 });
  const adamSec = (performance.now() - t) / 1000;

  t = performance.now();
  const lb = await trainLogistic(train, {
    optimizer: 'lbfgs',
    loss: 'xent',
    seed: 0,
    lbfgsIterations: iters,
    l2: 1e-3,
  });
  const lbSec = (performance.now() - t) / 1000;
  const evaluations = lb.evaluations ?? lb.steps;

  return {
    bench: 'probe-train',
    n,
    d,
    adam: {
      epochs,
      batchSize: 32,
      seconds: round(adamSec),
      examplesEpochsPerSec: Math.round((n * epochs) / adamSec),
      testAccuracy: accuracy(predictProba(adam.head, test.x, test.n), test.labels),
    },
    lbfgs: {
      iterations: lb.steps,
      evaluations,
      seconds: round(lbSec),
      examplesPassesPerSec: Math.round((n * evaluations) / lbSec),
      testAccuracy: accuracy(predictProba(lb.head, test.x, test.n), test.labels),
    },
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, os: `${os.platform()} ${os.release()}` },
    date: new Date().toISOString(),
  };
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runProbeBench({ n: arg('n'), d: arg('d'), epochs: arg('epochs'), iters: arg('iters') });
  console.log(JSON.stringify(result));
}
