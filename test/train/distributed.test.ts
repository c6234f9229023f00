import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseExperiment } from '../../src/config/load.js';
import { isUserError } from '../../src/errors.js';
import {
  createExternalBackend,
  describeRankFailure,
  runTrainer,
  torchrunCommand,
  torchrunFailureReader,
  TrainerProcessError,
  usesTorchrun,
  type TrainerEvent,
} from '../../src/train/external.js';
import { ensureTrainerEnv, referenceTrainerPath } from '../../src/train/trainer-env.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Data-parallel fine-tuning under torchrun (torch.distributed, gloo on CPU) against one process, on stories260K.
 *
 * Expected values come from the one-process run of the same request. Tolerances: the two runs do the same
 * arithmetic except that a step's gradient is summed as (rank 0's rows) + (rank 1's rows) instead of over all rows at
 * once, and float32 addition is not associative, so gradients differ in their last bits (relative ~1e-7). Adam
 * normalises each gradient by its own scale, so those bits reach the weights at most as lr-sized nudges on entries
 * whose gradient is near zero; on this run the weights differ by at most ~6e-6 and the probabilities by ~1e-7.
 * PROB_TOL = 1e-5 is 100 times that, and 100 times smaller than how far training moves the probabilities (asserted),
 * so a shard that is lost, repeated or mis-ordered (a difference of the size of training itself) cannot pass.
 */

const MODEL = new URL('../../../shared/models/stories260K.gguf', import.meta.url).pathname;
const WHEELS = '/opt/pypi/simple';
const skip = existsSync(WHEELS) ? false : `the local wheel set ${WHEELS} is absent, so this machine has no offline torch for the trainer venv`;
const PROB_TOL = 1e-5;
const LOSS_TOL = 1e-6;

// 19 rows, global batch 8: steps of 8, 8 and 3 rows per epoch, so the ranks' shares are uneven (4/4, 4/4, 2/1), and
// minibatches of 2 make logconf harden over the whole global batch from gathered predictions.
const TRAIN_ROWS = Array.from({ length: 19 }, (_, i) => ({
  id: `r${i}`,
  text: `Once upon a time stone ${i} was ${i % 2 ? 'heavy' : 'light'} and the cat ${i % 3 ? 'saw' : 'did not see'} it.`,
  soft_label: i % 2 ? [0.2, 0.8] : [0.9, 0.1],
  weight: i % 4 === 0 ? 2 : 1,
}));
const PREDICT_ROWS = [
  ...TRAIN_ROWS.map((r) => ({ id: r.id, text: r.text })),
  ...Array.from({ length: 11 }, (_, i) => ({ id: `h${i}`, text: `The little dog ran ${'far away '.repeat(i % 5)}home.` })),
];
const HP = { epochs: 2, batch_size: 8, minibatch_size: 2, lr: 1e-3, max_ctx: 64, overflow: 'truncate', threads: 1 };

function trainRequest(outputDir: string): Record<string, unknown> {
  return {
    protocol: 'w2s-trainer/1',
    op: 'train',
    base_model: MODEL,
    mode: 'full',
    loss: { name: 'logconf' },
    hyperparameters: HP,
    seed: 7,
    output_dir: outputDir,
    rows: TRAIN_ROWS,
  };
}

function predictRequest(artifactDir: string): Record<string, unknown> {
  return { protocol: 'w2s-trainer/1', op: 'predict', artifact_dir: artifactDir, rows: PREDICT_ROWS, hyperparameters: { predict_batch_size: 8 } };
}

async function run(command: string[], request: Record<string, unknown>): Promise<TrainerEvent[]> {
  const events: TrainerEvent[] = [];
  const log: string[] = [];
  try {
    await runTrainer(command, request, { onEvent: (e) => events.push(e), onLog: (l) => log.push(l) });
  } catch (e) {
    // Every rank's log, not only the tail in the error, so that a failure here can be diagnosed from the test output.
    throw new Error(`${request['op']} failed: ${(e as Error).message}\n--- the trainer's log:\n${log.slice(-120).join('\n')}`, { cause: e });
  }
  return events;
}

/**
 * Every protocol line, less what is compared with a tolerance (losses, probabilities) or differs by design (timings,
 * the artifact folder, the world size).
 */
function messages(events: TrainerEvent[]): unknown[] {
  return events.map((e) => {
    const { examples_per_sec: _eps, loss: _loss, ...rest } = e;
    if (e.type === 'result' && e['op'] === 'predict') {
      const { probs: _p, ...kept } = rest;
      return kept;
    }
    if (e.type !== 'result' || e['op'] !== 'train') return rest;
    const { train_seconds: _t, steps_per_sec: _s, examples_per_sec: _e, world_size: _w, curve: _c, loss_first: _f, loss_last: _l, ...stats } = e['stats'] as Record<string, unknown>;
    return { ...rest, artifact_dir: '<dir>', stats };
  });
}

const losses = (events: TrainerEvent[]) => events.filter((e) => e.type === 'progress').map((e) => e['loss'] as number);
const result = (events: TrainerEvent[]) => events.find((e) => e.type === 'result')!;
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

/** The one-process run every torchrun run is compared with: trained and predicted once, shared by the tests. */
let baselineRun: Promise<{ single: string[]; dir: string; train: TrainerEvent[]; predict: TrainerEvent[]; seconds: number }> | undefined;
function baseline() {
  return (baselineRun ??= (async () => {
    const env = await ensureTrainerEnv();
    const dir = tempDir('w2s-ddp-one-');
    const single = [env.python, referenceTrainerPath()];
    const started = Date.now();
    const train = await run(single, trainRequest(dir));
    const predict = await run(single, predictRequest(dir));
    return { single, dir, train, predict, seconds: (Date.now() - started) / 1000 };
  })());
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

test('torchrun settings: when w2s launches torchrun, the command it builds, and what it refuses', () => {
  assert.equal(usesTorchrun({}), false, 'one process by default');
  assert.equal(usesTorchrun({ processes: 2 }), true, 'processes > 1 launches torchrun');
  assert.equal(usesTorchrun({ launcher: 'torchrun' }), true, 'launcher "torchrun" launches it for one process too');
  assert.deepEqual(
    torchrunCommand('/venv/python', { processes: 2 }),
    ['/venv/python', '-m', 'torch.distributed.run', '--nproc-per-node', '2', '--max-restarts', '0', '--standalone', referenceTrainerPath()],
    'one node: a standalone rendezvous on a free port, the reference trainer',
  );
  assert.deepEqual(
    torchrunCommand('/venv/python', { processes: 4, nnodes: 2, rdzvEndpoint: 'head:29500' }, ['/opt/my-trainer', '--flag']),
    ['/venv/python', '-m', 'torch.distributed.run', '--nproc-per-node', '4', '--max-restarts', '0', '--nnodes', '2', '--rdzv-backend', 'c10d', '--rdzv-endpoint', 'head:29500', '--rdzv-id', 'w2s', '--no-python', '/opt/my-trainer', '--flag'],
    'several nodes: the c10d rendezvous; a trainer command of your own runs with --no-python',
  );
  assert.throws(() => usesTorchrun({ nnodes: 2 }), (e) => isUserError(e) && /needs rdzvEndpoint/.test((e as Error).message), 'several nodes need a rendezvous endpoint');
  assert.throws(() => usesTorchrun({ processes: 0 }), (e) => isUserError(e) && /processes must be a whole number/.test((e as Error).message), 'processes >= 1');

  const base = { name: 'cfg', dataset: { name: 'jsonl', path: 'rows.jsonl' }, debate: { debaters: ['scripted:x'] } };
  const config = parseExperiment({ ...base, weak: { backend: 'hf', hf: { baseModel: 'org/model' } } });
  const hf = config.weak.hf!;
  assert.deepEqual([hf.processes, hf.launcher, hf.nnodes, hf.rdzvEndpoint, hf.rdzvId], [1, 'auto', 1, undefined, 'w2s'], 'the defaults: one plain process');
  assert.throws(
    () => parseExperiment({ ...base, weak: { backend: 'hf', hf: { baseModel: 'org/model', nnodes: 2 } } }),
    (e) => /rdzvEndpoint/.test((e as Error).message),
    'the config refuses several nodes without a rendezvous endpoint',
  );
  assert.throws(
    () => parseExperiment({ ...base, weak: { backend: 'hf', hf: { baseModel: 'org/model', nnodes: 2, rdzvEndpoint: 'h:1', parallel: 2 } } }),
    (e) => /parallel must be 1/.test((e as Error).message),
    'the config refuses parallel launches that would meet at one rendezvous',
  );
});

test("torchrun's failure summary names the rank that died, and the lines shown are the ranks', not torchrun's traceback", () => {
  // What torchrun 2.x printed on stderr when rank 1 was SIGKILLed during training (abridged: paths shortened).
  const stderr = `[rank 0] RuntimeError: [gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:8409: Connection reset by peer.
W1202 03:27:05.876000 20032 torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 20090 closing signal SIGTERM
E1202 03:27:10.578000 20032 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: -9) local_rank: 1 (pid: 20091) of binary: python
Traceback (most recent call last):
  File "torch/distributed/run.py", line 1028, in main
    run(args)
  File "torch/distributed/launcher/api.py", line 383, in launch_agent
    raise ChildFailedError(
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:${' '}
============================================================
trainers/hf/trainer.py FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-02_03:27:10
  host      : localhost
  rank      : 0 (local_rank: 0)
  exitcode  : 143 (pid: 20090)${' '}
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-02_03:27:05
  host      : node-b
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 20091)  (SIGKILL)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 20091
============================================================`;
  const reader = torchrunFailureReader();
  for (const line of stderr.split('\n')) reader.read(line);
  const failure = reader.failure();
  assert.deepEqual(failure, { rank: 1, localRank: 1, host: 'node-b', exitCode: -9, signal: 'SIGKILL' }, 'the root cause, not the rank torchrun stopped');
  assert.equal(describeRankFailure(failure!), 'rank 1 (local rank 1 on node-b) was killed by signal 9 (SIGKILL: out of memory, or killed by hand)', 'one sentence naming the rank');
  assert.deepEqual(
    reader.linesBefore().map((l) => l.slice(0, 20)),
    ['[rank 0] RuntimeErro', 'W1202 03:27:05.87600', 'E1202 03:27:10.57800'],
    "the lines shown stop where torchrun's own traceback starts",
  );
  assert.equal(describeRankFailure({ rank: 3, exitCode: 1 }), 'rank 3 exited with code 1', 'an exit code without a host');
});

test('2 processes under torchrun (gloo) train and predict as 1 process does: the same protocol lines, the same predictions', { skip, timeout: 10 * 60_000 }, async (t) => {
  const env = await ensureTrainerEnv();
  const { dir: oneDir, train: train1, predict: predict1, seconds: oneSeconds } = await baseline();
  const dir = tempDir('w2s-ddp-two-');
  const ddp = torchrunCommand(env.python, { processes: 2 });
  const started = Date.now();
  const train2 = await run(ddp, trainRequest(dir));
  const predict2 = await run(ddp, predictRequest(dir));
  const twoSeconds = (Date.now() - started) / 1000;
  t.diagnostic(`train + predict: 1 process ${oneSeconds.toFixed(1)} s, 2 processes under torchrun ${twoSeconds.toFixed(1)} s`);

  // The same protocol lines in the same order: hello, 6 progress lines (ceil(19 / 8) × 2 epochs) with the same
  // step, total_steps, epoch and lr, one result with the same stats (timings aside); the loss within LOSS_TOL.
  assert.deepEqual(messages(train2), messages(train1), 'the train protocol lines are the same under torchrun');
  assert.equal(losses(train1).length, 6, 'ceil(19 / 8) × 2 epochs = 6 optimiser steps');
  assert.ok(maxDiff(losses(train2), losses(train1)) <= LOSS_TOL, `per-step losses agree within ${LOSS_TOL}: ${losses(train1)} vs ${losses(train2)}`);
  const stats1 = result(train1)['stats'] as Record<string, unknown>;
  const stats2 = result(train2)['stats'] as Record<string, unknown>;
  assert.deepEqual([stats1['world_size'], stats2['world_size']], [1, 2], 'the stats record how many processes trained');
  assert.deepEqual(readdirSync(dir).sort(), readdirSync(oneDir).sort(), 'the speaker alone wrote the artifact: the same files, no leftovers');

  // Predictions: each rank predicts its share of every batch; the speaker returns them in request order.
  assert.deepEqual(messages(predict2), messages(predict1), 'the predict protocol lines are the same (progress counts whole batches)');
  const p1 = result(predict1)['probs'] as number[];
  const p2 = result(predict2)['probs'] as number[];
  assert.deepEqual(result(predict2)['ids'], PREDICT_ROWS.map((r) => r.id), 'the ids come back in request order');
  const diff = maxDiff(p2, p1);
  t.diagnostic(`max |p(2 processes) − p(1 process)| = ${diff.toExponential(2)} over ${p1.length} rows`);
  assert.ok(diff <= PROB_TOL, `2-process predictions match 1-process ones within ${PROB_TOL}, max difference ${diff}`);
  const moved = Math.max(...p1.map((p) => Math.abs(p - 0.5)));
  assert.ok(moved > 100 * PROB_TOL, `training moved the predictions (max |p − 0.5| = ${moved}) far more than the tolerance`);
});

test('two nodes (two torchrun agents on this machine, c10d rendezvous) train as 1 process does; the node w2s started speaks', { skip, timeout: 10 * 60_000 }, async (t) => {
  const env = await ensureTrainerEnv();
  const { single, train: train1, predict: predict1 } = await baseline();
  const dir = tempDir('w2s-ddp-nodes-');

  const settings = { processes: 1, nnodes: 2, rdzvEndpoint: `127.0.0.1:${await freePort()}`, rdzvId: `w2s-test-${process.pid}` };
  const command = torchrunCommand(env.python, settings);
  // The other node, as you would start it on a second machine: the same torchrun line, no request on its stdin.
  const { W2S_TRAINER_SPEAKER: _speaker, ...otherEnv } = process.env;
  const other = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: otherEnv });
  let otherStdout = '';
  let otherStderr = '';
  other.stdout.on('data', (c: Buffer) => (otherStdout += c.toString()));
  other.stderr.on('data', (c: Buffer) => (otherStderr += c.toString()));
  const otherExit = new Promise<number | null>((res) => other.on('close', (code) => res(code)));
  try {
    const started = Date.now();
    const train2 = await run(command, trainRequest(dir));
    t.diagnostic(`2-node train: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(await otherExit, 0, `the other node's torchrun exits 0; its stderr ends:\n${otherStderr.slice(-2000)}`);
    assert.equal(otherStdout, '', 'the other node writes no protocol line');
    assert.deepEqual(messages(train2), messages(train1), 'the train protocol lines are the same over two nodes');
    assert.ok(maxDiff(losses(train2), losses(train1)) <= LOSS_TOL, `per-step losses agree within ${LOSS_TOL}`);
  } finally {
    if (other.exitCode === null) other.kill('SIGKILL');
  }
  // The two-node artifact predicts as the one-process artifact does (both predicted by one process).
  const p1 = result(predict1)['probs'] as number[];
  const p2 = result(await run(single, predictRequest(dir)))['probs'] as number[];
  assert.ok(maxDiff(p2, p1) <= PROB_TOL, `predictions agree within ${PROB_TOL}, max difference ${maxDiff(p2, p1)}`);
});

test('a rank that fails ends the whole launch at once with one error naming the rank', { skip, timeout: 5 * 60_000 }, async (t) => {
  await ensureTrainerEnv();
  const dir = tempDir('w2s-ddp-fault-');
  const rows = TRAIN_ROWS.map((r) => ({ id: r.id, text: r.text, softLabel: r.soft_label as [number, number] }));
  const params = { epochs: 2, batchSize: 8, minibatchSize: 2, lr: 1e-3, maxCtx: 64, overflow: 'truncate', threads: 1 };
  // W2S_TRAINER_FAULT makes rank 1 fail after optimiser step 2, while rank 0 goes on into step 3's all_reduce.
  const launch = async (fault: string) => {
    const backend = createExternalBackend({ baseModel: MODEL, mode: 'full', workDir: dir, processes: 2, env: { W2S_TRAINER_FAULT: fault }, params });
    const steps: number[] = [];
    const started = Date.now();
    const error = await backend.train(rows, { role: 'fault', seed: 7, loss: 'xent', onProgress: (p) => steps.push(p.step) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`W2S_TRAINER_FAULT=${fault}: the launch failed after ${seconds.toFixed(1)} s`);
    assert.ok(error instanceof TrainerProcessError, `the launch fails with a TrainerProcessError, got ${String(error)}`);
    assert.ok(seconds < 120, `the launch fails promptly, not after a collective timeout (${seconds} s)`);
    assert.ok(steps.length >= 1 && steps.length <= 3, `rank 0 reported the steps before the failure (${steps.join(',')})`);
    return error;
  };

  // Killed without a word (SIGKILL, as the out-of-memory killer does): torchrun's failure summary names it.
  const killed = await launch('1:2');
  assert.match(killed.message, /^The trainer's rank 1 \(local rank 1 on \S+\) was killed by signal 9 \(SIGKILL/, `the error names the rank that died and how: ${killed.message}`);
  assert.match(killed.message, /torchrun stopped the other ranks/, 'and says that the launch was stopped');

  // An exception on rank 1 only (a CUDA out-of-memory error is one): rank 1 leaves it in the store, the speaker reports it.
  const raised = await launch('1:2:raise');
  assert.match(raised.message, /^The trainer failed \(internal\): rank 1 \(local rank 1 on \S+\): RuntimeError: injected fault on rank 1 after step 2/, `the error is rank 1's own: ${raised.message}`);

  const leftovers = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'w2s-artifact.json')));
  assert.deepEqual(leftovers, [], 'no artifact is left behind');
});
