import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTrainerEnv, referenceTrainerPath, type TrainerEnv } from '../../src/train/trainer-env.js';

/**
 * logconf hardens the model's predictions at a quantile taken over the optimizer batch (openai/weak-to-strong computes
 * the loss once per batch of 32, over the logits of all its minibatches). Gradient accumulation is a memory device:
 * splitting a batch of 8 into minibatches of 2 must train exactly as one minibatch of 8 does. With a per-minibatch
 * quantile it does not: each pair of rows hardens one row to each class whatever the batch's balance.
 */
const MODEL = new URL('../../../shared/models/stories260K.gguf', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'w2s-logconf-batch-'));
let env: TrainerEnv;

before(async () => {
  env = await ensureTrainerEnv();
});

// Weak labels: 3 of 8 rows class 1, some soft, so minibatches of 2 have balances 0, 0.5 and 1 that differ from the batch's.
const LABELS = [1, 0, 0, 0.9, 0, 0.2, 1, 0];
const rows = LABELS.map((y, i) => ({
  id: `r${i}`,
  text: `Q: Which planet is number ${i + 1} from the sun? A: ${['Mercury', 'Venus', 'Earth', 'Mars', 'Jupiter', 'Saturn', 'Uranus', 'Neptune'][(i * 3) % 8]}`,
  soft_label: [1 - y, y],
}));

async function train(mode: 'head' | 'full', minibatch: number, loss = 'logconf'): Promise<number[]> {
  const request = {
    protocol: 'w2s-trainer/1',
    op: 'train',
    base_model: MODEL,
    mode,
    // warmup_frac 0: the hardened predictions weigh 0.5 from the first step.
    loss: { name: loss, aux_coef: 0.5, warmup_frac: 0 },
    hyperparameters: { epochs: 5, batch_size: 8, minibatch_size: minibatch, lr: mode === 'head' ? 0.05 : 0.002, lr_schedule: 'constant', max_ctx: 64, threads: 1, device: 'cpu', precision: 'fp32' },
    seed: 3,
    output_dir: join(work, `${mode}-${loss}-mb${minibatch}`),
    rows,
  };
  const child = spawn(env.python, [referenceTrainerPath()], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end(JSON.stringify(request));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const events = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; stats?: { curve: { loss: number }[] } });
  const result = events.find((e) => e.type === 'result');
  assert.ok(code === 0 && result, `trainer failed (${code}): ${out}\n${err.slice(-2000)}`);
  return result.stats!.curve.map((c) => c.loss);
}

function assertSameCurve(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-5 * Math.max(1, Math.abs(v)), `${what}, step ${i + 1}: ${v} vs ${b[i]} (all: ${a.join(' ')} | ${b.join(' ')})`));
}

for (const mode of ['head', 'full'] as const) {
  test(`logconf (${mode}): minibatches of 2 train exactly as one minibatch of 8 (the quantile is over the batch)`, { timeout: 5 * 60_000 }, async () => {
    const whole = await train(mode, 8);
    const accumulated = await train(mode, 2);
    assertSameCurve(accumulated, whole, `${mode} logconf, minibatch 2 vs 8`);
    // The loss moves (the head learns), so equal curves are not two untrained heads at ln 2.
    assert.ok(whole.some((l) => Math.abs(l - whole[0]!) > 1e-3), `loss never moved: ${whole.join(' ')}`);
  });
}
