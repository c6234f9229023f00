import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { computeLoss, logconfCoef } from '../../src/train/losses.js';
import { ensureTrainerEnv, referenceTrainerPath } from '../../src/train/trainer-env.js';
import type { LossName } from '../../src/train/types.js';

/** The shared vectors hold the TypeScript losses' outputs; the Python trainer must reproduce them. */
interface Case {
  id: string;
  loss: LossName;
  logits: number[][];
  softLabels: number[][];
  ctx: { step: number; totalSteps: number; auxCoef?: number; warmupFrac?: number; alpha?: number; beta?: number };
  expected: { loss: number; target: number[][] };
}
interface Coef {
  id: string;
  schedule: 'step' | 'linear';
  step: number;
  totalSteps: number;
  auxCoef: number;
  warmupFrac: number;
  expected: number;
}
const VECTORS = new URL('../vectors/losses.json', import.meta.url);
const vectors = JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: Case[]; coefs: Coef[] };

function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

test('the vectors cover every loss, both logconf schedules and the edge cases', () => {
  const names = new Set(vectors.cases.map((c) => c.loss));
  assert.deepEqual([...names].sort(), ['logconf', 'logconf_linear', 'product', 'xent']);
  // Facts from the original code, independent of either implementation.
  const step = (s: number) => vectors.coefs.find((c) => c.id === `step-${s}-100-0.5-0.1`)!.expected;
  close(step(10), 0.05, 'original schedule just before the jump');
  close(step(11), 0.5, 'original schedule just after the jump');
  close(vectors.coefs.find((c) => c.id === 'linear-5-100-0.5-0.1')!.expected, 0.25, 'linear ramp halfway');
  const ties = vectors.cases.find((c) => c.id === 'logconf-ties')!;
  // An untrained head: every p0 equals the threshold, so every row hardens to class 0 with c = 0.5.
  assert.deepEqual(ties.expected.target[1], [0.5, 0.5]);
  close(vectors.cases.find((c) => c.id === 'xent-extreme')!.expected.loss, (400 + 0 + 60) / 3, 'xent on extreme logits', 1e-6);
});

test('the TypeScript losses reproduce the shared vectors', () => {
  for (const c of vectors.cases) {
    const r = computeLoss(c.loss, c.logits, c.softLabels, c.ctx);
    close(r.loss, c.expected.loss, `${c.id} loss`);
    r.target.forEach((row, i) => row.forEach((v, k) => close(v, c.expected.target[i]![k]!, `${c.id} target[${i}][${k}]`)));
  }
  for (const c of vectors.coefs) close(logconfCoef(c.schedule, c.step, c.totalSteps, c.auxCoef, c.warmupFrac), c.expected, c.id);
});

test('the Python trainer losses agree with the shared vectors', { timeout: 30 * 60_000 }, async () => {
  const env = await ensureTrainerEnv();
  const { stdout } = await promisify(execFile)(env.python, [referenceTrainerPath(), 'selftest-losses', VECTORS.pathname], {
    maxBuffer: 16 << 20,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as {
    cases: { id: string; loss: number; target: number[][] }[];
    coefs: { id: string; coef: number }[];
  };
  assert.equal(out.cases.length, vectors.cases.length);
  for (const c of vectors.cases) {
    const py = out.cases.find((p) => p.id === c.id);
    assert.ok(py, `python skipped ${c.id}`);
    close(py.loss, c.expected.loss, `${c.id} python loss`);
    py.target.forEach((row, i) => row.forEach((v, k) => close(v, c.expected.target[i]![k]!, `${c.id} python target[${i}][${k}]`)));
  }
  for (const c of vectors.coefs) close(out.coefs.find((p) => p.id === c.id)!.coef, c.expected, `${c.id} python coef`);
});
