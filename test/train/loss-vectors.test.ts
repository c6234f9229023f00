import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { computeLoss, logconfCoef } from '../../src/train/losses.js';
import { ensureTrainerEnv, referenceTrainerPath } from '../../src/train/trainer-env.js';
import type { LossName } from '../../src/train/types.js';

/**
 * The shared vectors' expected values come from test/reference/losses_reference.py, an independent float64 reference
 * (Python standard library, written from the formulas). Both implementations under test, src/train/losses.ts and the
 * Python trainer, must reproduce the reference; the committed vectors must be the reference's current output.
 */
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
const REFERENCE = new URL('../reference/losses_reference.py', import.meta.url);
const vectors = JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: Case[]; coefs: Coef[]; generator?: string };
interface Computed {
  cases: { id: string; loss: number; target: number[][] }[];
  coefs: { id: string; coef: number }[];
}
let reference: Computed;

before(async () => {
  const { stdout } = await promisify(execFile)(process.env['W2S_PYTHON'] || 'python3', [REFERENCE.pathname, 'compute', VECTORS.pathname], {
    maxBuffer: 16 << 20,
  });
  reference = JSON.parse(stdout) as Computed;
});

/** Checks an implementation's outputs, case by case, against the reference's. */
function agreesWithReference(out: Computed, who: string): void {
  assert.equal(out.cases.length, reference.cases.length, `${who} computed every case`);
  for (const ref of reference.cases) {
    const got = out.cases.find((c) => c.id === ref.id);
    assert.ok(got, `${who} skipped ${ref.id}`);
    close(got.loss, ref.loss, `${ref.id} ${who} loss`);
    assert.equal(got.target.length, ref.target.length);
    got.target.forEach((row, i) => row.forEach((v, k) => close(v, ref.target[i]![k]!, `${ref.id} ${who} target[${i}][${k}]`)));
  }
  for (const ref of reference.coefs) close(out.coefs.find((c) => c.id === ref.id)!.coef, ref.coef, `${ref.id} ${who} coef`);
}

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

test('the committed vectors are the independent reference\'s output, not the code under test\'s', () => {
  assert.equal(vectors.generator, 'test/reference/losses_reference.py');
  assert.deepEqual(reference.cases.map((c) => c.id), vectors.cases.map((c) => c.id));
  for (const [i, c] of vectors.cases.entries()) {
    close(c.expected.loss, reference.cases[i]!.loss, `${c.id} stored loss`, 1e-15);
    c.expected.target.forEach((row, r) => row.forEach((v, k) => close(v, reference.cases[i]!.target[r]![k]!, `${c.id} stored target`, 1e-15)));
  }
  for (const [i, c] of vectors.coefs.entries()) close(c.expected, reference.coefs[i]!.coef, `${c.id} stored coef`, 1e-15);
});

test('the TypeScript losses agree with the independent reference', () => {
  agreesWithReference(
    {
      cases: vectors.cases.map((c) => {
        const r = computeLoss(c.loss, c.logits, c.softLabels, c.ctx);
        return { id: c.id, loss: r.loss, target: r.target };
      }),
      coefs: vectors.coefs.map((c) => ({ id: c.id, coef: logconfCoef(c.schedule, c.step, c.totalSteps, c.auxCoef, c.warmupFrac) })),
    },
    'typescript',
  );
});

test('the Python trainer losses agree with the independent reference', { timeout: 30 * 60_000 }, async () => {
  const env = await ensureTrainerEnv();
  const { stdout } = await promisify(execFile)(env.python, [referenceTrainerPath(), 'selftest-losses', VECTORS.pathname], {
    maxBuffer: 16 << 20,
  });
  agreesWithReference(JSON.parse(stdout.trim().split('\n').pop()!) as Computed, 'python');
});
