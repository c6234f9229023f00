import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUserError } from '../../src/errors.js';
import { createRng } from '../../src/rng.js';
import { createExternalBackend, runTrainer, TrainerProcessError } from '../../src/train/external.js';
import { ensureTrainerEnv } from '../../src/train/trainer-env.js';
import type { TrainProgress, TrainRow } from '../../src/train/types.js';

const MODEL = new URL('../../../shared/models/stories260K.gguf', import.meta.url).pathname;
const SCIQ = new URL('../../../shared/datasets/sciq/train.json', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'w2s-external-'));
// One thread: the CI machine has two cores, shared with other test files.
const SMALL = { maxCtx: 96, overflow: 'truncate_left', threads: 1 };

/** SciQ rows as openai/weak-to-strong formats them: a seeded coin picks the correct answer or a distractor. */
function sciqRows(n: number, offset = 0): TrainRow[] {
  const raw = JSON.parse(readFileSync(SCIQ, 'utf8')) as Record<string, string>[];
  const rng = createRng(11);
  return raw.slice(offset, offset + n).map((e, i) => {
    const label = rng.random() < 0.5 ? 1 : 0;
    const answer = label ? e['correct_answer']! : rng.choice([e['distractor1']!, e['distractor2']!, e['distractor3']!]);
    return { id: `sciq-${offset + i}`, text: `Q: ${e['question']} A: ${answer}`, softLabel: [1 - label, label] };
  });
}

/** A stand-in trainer written in JavaScript: any executable that speaks the protocol can plug in. */
function fakeTrainer(body: string): string[] {
  const file = join(work, `fake-${createHash('sha256').update(body).digest('hex').slice(0, 8)}.mjs`);
  writeFileSync(file, body);
  return [process.execPath, file];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

before(async () => {
  await ensureTrainerEnv(); // slow only the first time on a machine
});

test('fine-tunes stories260K on SciQ: loss falls, the artifact is recorded, every row gets a prediction', { timeout: 10 * 60_000 }, async () => {
  const rows = sciqRows(200);
  const heldOut = sciqRows(20, 5000);
  const backend = createExternalBackend({ baseModel: MODEL, mode: 'full', workDir: work, params: { ...SMALL, epochs: 3, batchSize: 16, minibatchSize: 16, lr: 1e-3 } });
  const progress: TrainProgress[] = [];
  const model = await backend.train(rows, { role: 'weak', seed: 1, loss: 'xent', onProgress: (p) => progress.push(p) });

  assert.equal(model.backend, 'hf');
  const stats = model.stats as Record<string, any>;
  assert.equal(stats['steps'], 39); // ceil(200 / 16) × 3 epochs
  assert.equal(progress.length, 39);
  assert.equal(progress.at(-1)!.step, 39);
  const losses = progress.map((p) => p.loss);
  assert.ok(Math.abs(losses[0]! - Math.log(2)) < 1e-6, 'a zero-initialised head starts at ln 2');
  assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.05, `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  assert.equal(stats['curve'].length, 39);
  assert.equal(stats['truncated'] > 0, true, 'long SciQ rows are truncated to max_ctx and counted');
  assert.equal(stats['dropped'], 0);

  // Recorded: the artifact, the sha256 of its weights, the base model and its revision (the GGUF's sha256), the config.
  assert.ok(model.artifactPath && existsSync(join(model.artifactPath, 'w2s-artifact.json')));
  const weights = stats['weights'] as Record<string, string>;
  assert.deepEqual(Object.keys(weights).sort(), ['head.safetensors', 'trunk.safetensors']);
  for (const [f, sha] of Object.entries(weights)) {
    assert.equal(createHash('sha256').update(readFileSync(join(model.artifactPath, f))).digest('hex'), sha);
  }
  assert.match(model.artifactSha256 ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(stats['baseModel'], {
    ref: MODEL,
    kind: 'gguf',
    revision: createHash('sha256').update(readFileSync(MODEL)).digest('hex'),
  });
  assert.equal(stats['config'].mode, 'full');
  assert.equal(stats['config'].hyperparameters.batch_size, 16);

  const probs = await backend.predict(model, [...rows, ...heldOut]);
  assert.equal(probs.length, 220);
  assert.ok(probs.every((p) => p >= 0 && p <= 1));
  const trainAcc = mean(rows.map((r, i) => Number(probs[i]! > 0.5 === (r.softLabel[1] === 1))));
  assert.ok(trainAcc > 0.6, `the fine-tuned model should fit its training rows, accuracy ${trainAcc}`);

  // A changed artifact is refused rather than silently used.
  appendFileSync(join(model.artifactPath, 'head.safetensors'), 'x');
  await assert.rejects(backend.predict(model, heldOut), (e) => isUserError(e) && /changed since training/.test((e as Error).message));
});

test('the same seed gives the same predictions; another seed trains differently', { timeout: 5 * 60_000 }, async () => {
  const rows = sciqRows(32, 300);
  const backend = createExternalBackend({ baseModel: MODEL, mode: 'head', workDir: work, params: { ...SMALL, epochs: 1, batchSize: 8, lr: 1e-2 } });
  const train = (seed: number) => backend.train(rows, { role: 'probe', seed, loss: 'product' });
  const curve = (m: { stats: Record<string, unknown> }) => (m.stats['curve'] as { loss: number }[]).map((c) => c.loss);
  const a = await train(3);
  assert.deepEqual(Object.keys(a.stats['weights'] as object), ['head.safetensors']);
  const pa = await backend.predict(a, rows);
  assert.ok(pa.some((p) => p !== 0.5), 'the head moved');
  const b = await train(3);
  assert.deepEqual(await backend.predict(b, rows), pa);
  assert.deepEqual(curve(b), curve(a));
  assert.notDeepEqual(curve(await train(4)), curve(a));
});

test('LoRA with the logconf loss trains an adapter and predicts from it', { timeout: 5 * 60_000 }, async () => {
  const rows = sciqRows(48, 400);
  const backend = createExternalBackend({ baseModel: MODEL, mode: 'lora', workDir: work, params: { ...SMALL, epochs: 1, batchSize: 16, lr: 3e-3, lora: { rank: 4 } } });
  const model = await backend.train(rows, { role: 'weak-member', seed: 5, loss: 'logconf' });
  assert.deepEqual(Object.keys(model.stats['weights'] as object).sort(), ['adapter.safetensors', 'head.safetensors']);
  assert.equal((model.stats['config'] as Record<string, any>)['loss'].name, 'logconf');
  const probs = await backend.predict(model, rows);
  assert.equal(probs.length, 48);
  assert.ok(probs.every((p) => p > 0 && p < 1));
});

test('a crashing trainer surfaces as one error carrying its last lines', async () => {
  const command = fakeTrainer(`
    console.log(JSON.stringify({ type: 'hello', protocol: 'w2s-trainer/1' }));
    console.log(JSON.stringify({ type: 'progress', step: 1, total_steps: 9, loss: 0.7 }));
    console.error('loading shards');
    console.error('RuntimeError: CUDA out of memory. Tried to allocate 20.00 GiB');
    process.exit(1);
  `);
  const backend = createExternalBackend({ command, baseModel: MODEL, workDir: work });
  await assert.rejects(backend.train(sciqRows(4), { role: 'weak', seed: 0, loss: 'xent' }), (e) => {
    assert.ok(e instanceof TrainerProcessError);
    assert.equal(e.exitCode, 1);
    assert.match(e.message, /exited with code 1/);
    assert.match(e.message, /loading shards\nRuntimeError: CUDA out of memory/);
    return true;
  });
});

test('a trainer error line about the request becomes a UserError naming the problem', async () => {
  const backend = createExternalBackend({ baseModel: join(work, 'no-such-model.gguf'), workDir: work, params: SMALL });
  await assert.rejects(backend.train(sciqRows(4), { role: 'weak', seed: 0, loss: 'xent' }), (e) => {
    assert.ok(isUserError(e));
    assert.match((e as Error).message, /model_load.*no-such-model\.gguf does not exist/);
    return true;
  });
});

test('a missing trainer command and a trainer speaking another protocol version are refused clearly', async () => {
  const missing = createExternalBackend({ command: [join(work, 'no-such-trainer')], baseModel: MODEL, workDir: work });
  await assert.rejects(missing.train(sciqRows(2), { role: 'w', seed: 0, loss: 'xent' }), (e) => isUserError(e) && /was not found/.test((e as Error).message));
  const future = fakeTrainer(`
    console.log(JSON.stringify({ type: 'hello', protocol: 'w2s-trainer/2' }));
    console.log(JSON.stringify({ type: 'error', code: 'protocol', message: 'unsupported' }));
    process.exit(2);
  `);
  await assert.rejects(runTrainer(future, { op: 'check' }), (e) => isUserError(e) && /speaks w2s-trainer\/2/.test((e as Error).message));
});

test('aborting stops the real trainer with SIGINT and leaves no artifact', { timeout: 3 * 60_000 }, async () => {
  // A grace period longer than the test's timeout: only a trainer that honours SIGINT lets this test pass.
  const backend = createExternalBackend({ baseModel: MODEL, mode: 'full', workDir: work, killGraceMs: 30 * 60_000, params: { ...SMALL, epochs: 50, batchSize: 8 } });
  const ac = new AbortController();
  let steps = 0;
  const started = backend.train(sciqRows(64, 600), {
    role: 'aborted',
    seed: 0,
    loss: 'xent',
    signal: ac.signal,
    onProgress: () => {
      if (++steps === 2) ac.abort();
    },
  });
  await assert.rejects(started, (e) => (e as Error).name === 'AbortError');
  assert.equal(steps >= 2 && steps < 400, true);
  const dirs = readdirSync(work).filter((d) => d.startsWith('aborted-'));
  for (const d of dirs) assert.equal(existsSync(join(work, d, 'w2s-artifact.json')), false);
});

test('a trainer that ignores SIGINT is killed after the grace period', async () => {
  const stubborn = fakeTrainer(`
    process.on('SIGINT', () => console.error('ignoring SIGINT'));
    console.log(JSON.stringify({ type: 'hello', protocol: 'w2s-trainer/1' }));
    console.log(JSON.stringify({ type: 'progress', step: 1, total_steps: 9, loss: 0.7 }));
    setInterval(() => {}, 1000);
  `);
  const ac = new AbortController();
  const p = runTrainer(stubborn, { op: 'train' }, { signal: ac.signal, killGraceMs: 200, onEvent: (e) => e.type === 'progress' && ac.abort() });
  await assert.rejects(p, (e) => (e as Error).name === 'AbortError');
});
