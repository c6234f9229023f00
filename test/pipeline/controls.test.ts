import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { UserError } from '../../src/errors.js';
import { accuracy, pairedPgrDiff, pgr, type Label } from '../../src/metrics/index.js';
import { createClient } from '../../src/models/create.js';
import { ProviderError } from '../../src/models/types.js';
import { generateControlRows, loadControls, parseControls, runControls, sparseScorer, type ControlsResult } from '../../src/pipeline/controls.js';
import { hashedNgramFeaturizer } from '../../src/train/featurizers.js';
import { createProbeBackend } from '../../src/train/probe.js';
import { createRng } from '../../src/rng.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The built-in controls (examples/controls.json) through the ordinary pipeline: informed debaters must produce a
 * significant debate effect, uninformative ones none. The planted truths (what the debater may know, how often it
 * speaks, the label noise) are checked against the generator's knobs, not against the code under test.
 * The coverage check is the bench (bench/controls-coverage.ts); here it only runs on a few seeds for its shape.
 */

const dir = tempDir('w2s-controls-');
const execFileP = promisify(execFile);

async function w2s(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

/** |observed − expected| within 4 standard errors of a binomial proportion (a false alarm about once in 16,000). */
function assertBinomial(successes: number, n: number, p: number, what: string): void {
  const se = Math.sqrt((p * (1 - p)) / n);
  assert.ok(Math.abs(successes / n - p) <= 4 * se + 1e-12, `${what}: ${successes}/${n} = ${(successes / n).toFixed(3)}, planted ${p}`);
}

const TONE = /the overall tone is (favourable|unfavourable)/;

const controls = loadControls('examples/controls.json');
const outDir = join(dir, 'out');
let result: ControlsResult | undefined;

test('the controls detect a real debate effect with informed debaters and invent none without', { timeout: 240_000 }, async () => {
  result = await runControls({ controls, outDir, coverage: false });
  const positive = result.checks.find((c) => c.name === 'positive')!;
  const negative = result.checks.find((c) => c.name === 'negative')!;
  const show = (c: typeof positive): string => c.comparisons.map((x) => `${x.label} ${x.value} [${x.lo}, ${x.hi}]`).join('; ');
  assert.ok(positive.pass, `positive: ${show(positive)}`);
  assert.ok(negative.pass, `negative: ${show(negative)}`);
  assert.equal(positive.comparisons.filter((x) => x.expect === 'positive').length, 3);
  assert.equal(negative.comparisons.filter((x) => x.expect === 'zero').length, 2);
  assert.ok(result.pass);

  // The capacity gap is real: the weak model beats chance, the ceiling beats the weak model, neither beats the
  // noiseless tone's accuracy (1 − labelNoise, up to sampling).
  const f = positive.figures!;
  assert.ok(f.accuracy.weak.lo! > 0.5, `weak ${f.accuracy.weak.value}`);
  assert.ok(f.accuracy.ceiling.lo! > f.accuracy.weak.hi!, `ceiling ${f.accuracy.ceiling.value} vs weak ${f.accuracy.weak.value}`);
  assert.ok(f.accuracy.ceiling.lo! < 1 - controls.data.labelNoise, 'nothing beats the noiseless rule');
});

test('the debaters know only the text: they name its noiseless tone, at the planted rate, and never the gold label', async () => {
  assert.ok(result, 'the controls ran');
  const store = openStore(result.db, { readonly: true });
  try {
    const runs = store.runs.listRuns();
    const run = (suffix: string) => runs.find((r) => r.id.startsWith(`${controls.name}-${suffix}-`))!.id;
    const examples = new Map(store.examples.listExamples(run('positive-debate')).map((e) => [e.id, e]));
    const n = controls.sizes.train_weak + controls.sizes.train_strong + controls.sizes.test;
    assert.equal(examples.size, n);
    // The data: gold = tone flipped with probability labelNoise, independently per row.
    const meta = [...examples.values()].map((e) => e.meta as { tone: 0 | 1; flipped: boolean });
    assertBinomial(meta.filter((m) => m.flipped).length, n, controls.data.labelNoise, 'label noise');
    for (const e of examples.values()) {
      const m = e.meta as { tone: 0 | 1; flipped: boolean };
      assert.equal(e.label, m.flipped ? 1 - m.tone : m.tone);
    }

    let arguments_ = 0;
    let named = 0;
    let namedOnFlipped = 0;
    for (const t of store.debates.listTranscripts(run('positive-debate'))) {
      const m = examples.get(t.exampleId)!.meta as { tone: 0 | 1; flipped: boolean };
      for (const turn of t.turns) {
        arguments_++;
        const hit = TONE.exec(turn.text);
        if (!hit) continue;
        named++;
        assert.equal(hit[1] === 'favourable' ? 1 : 0, m.tone, `a debater named the wrong tone for ${t.exampleId}`);
        if (m.flipped) namedOnFlipped++;
      }
    }
    assert.equal(arguments_, n * controls.debate.samples * controls.debate.turns);
    assertBinomial(named, arguments_, controls.q, 'arguments naming the tone');
    assert.ok(namedOnFlipped > 0, 'on flipped rows the debater still names the tone, not the gold label');

    for (const suffix of ['negative-debate', 'negative-finetune']) {
      const turns = store.debates.listTranscripts(run(suffix)).flatMap((t) => t.turns);
      assert.ok(turns.length > 0);
      assert.ok(turns.every((x) => !TONE.test(x.text)), `${suffix}: an uninformative debater named a tone`);
    }

    // Pairing: the debate and finetune runs of a variant share the test split, the weak baseline and the ceiling.
    for (const variant of ['positive', 'negative']) {
      for (const role of ['weak', 'strong_naive', 'strong_ceiling']) {
        const preds = (r: string) => store.models.listPredictions(store.models.getModel(r, role, 0)!.id).map((p) => [p.exampleId, p.p1]).sort();
        assert.deepEqual(preds(run(`${variant}-debate`)), preds(run(`${variant}-finetune`)), `${variant} ${role}`);
      }
    }
  } finally {
    store.close();
  }
});

test('w2s controls prints the three checks and exits 0 when they pass; non-zero when one fails', { timeout: 300_000 }, async () => {
  assert.ok(result, 'the controls ran');
  // Same out dir: the four runs are finished, so this recomputes the checks from the stored predictions, and runs
  // the coverage check (100 seeds): all three checks of examples/controls.json pass here, in CI.
  const ok = await w2s(['controls', 'examples/controls.json', '--out-dir', outDir]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^positive: PASS$/m);
  assert.match(ok.stdout, /^negative: PASS$/m);
  assert.match(ok.stdout, /^coverage: PASS$/m);
  assert.match(ok.stdout, /debate ensemble − finetune ensemble \(accuracy\): \+\d/);
  assert.match(ok.stdout, /All checks pass/);

  // Debaters that never name the tone cannot produce a positive effect: the positive check fails, the exit code says so.
  const file = join(dir, 'uninformed.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'uninformed', q: 0, sizes: { train_weak: 60, train_strong: 60, test: 60 }, debate: { turns: 1, samples: 2 },
      weak: { features: { kind: 'hashed', dim: 256, ngrams: [1, 1] }, ensemble: { size: 2 }, probe: { epochs: 5 } },
      strong: { features: { kind: 'hashed', dim: 256, ngrams: [1, 2] }, probe: { epochs: 5 } },
      metrics: { bootstrap: 200 },
      coverage: { seeds: 10, population: 2000 },
    }),
  );
  const failed = await w2s(['controls', file, '--out-dir', join(dir, 'uninformed')]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /^positive: FAIL$/m);
  assert.match(failed.stdout, /^coverage: (PASS|FAIL)$/m);
  assert.match(failed.stdout, /of 20 nominal 95% intervals/);
  assert.match(failed.stdout, /A check failed/);
});

test('a bad controls file is one clear sentence and a non-zero exit', async () => {
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const cases: [string, RegExp][] = [
    [join(dir, 'missing.json'), /^w2s: Cannot read controls file .*missing\.json: no such file\.$/],
    [write('broken.json', '{"q": 0.3,'), /^w2s: Controls file .*broken\.json is not valid JSON: .*\.$/],
    [write('unknown.json', '{"qq": 0.3}'), /^w2s: .*unknown\.json: field \(top level\): unknown key\(s\) "qq"; remove or rename them\.$/],
    [write('even.json', '{"data": {"clauses": 4}}'), /^w2s: .*even\.json: field data\.clauses: must be odd, so a review's tone is never a tie\.$/],
    [write('q.json', '{"q": 1.5}'), /^w2s: .*q\.json: field q: .*\.$/],
    [write('weak.json', '{"weak": {"features": {"kind": "hashed", "dim": 1000}}}'), /^w2s: .*weak\.json \(as the positive control's debate run\): field weak\.features\.dim: must be a power of 2\.$/],
  ];
  for (const [file, expected] of cases) {
    const r = await w2s(['controls', file, '--out-dir', join(dir, 'never')]);
    assert.notEqual(r.code, 0, file);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, expected);
    assert.equal(r.stdout, '');
  }
  assert.throws(() => parseControls({ sizes: { test: 5 } }), UserError);
});

test('the informed debater reads its prompt only, takes q from its spec, and refuses what it cannot read', async () => {
  const rows = generateControlRows({ clauses: 5, negation: 0.2, labelNoise: 0.5 - 1e-9 }, 40, 9);
  const prompt = (text: string, side: string) => [
    { role: 'user' as const, content: `Task: t\n\n<question>\n${text}\n</question>\n<proposed_answer>\n\n</proposed_answer>\n\nYou are Debater A. Your side: the proposed answer is ${side}\n` },
  ];
  const always = await createClient('scripted:informed-debater:q=1');
  const never = await createClient('scripted:informed-debater:q=0');
  for (const [i, row] of rows.entries()) {
    const said = (await always.generate({ messages: prompt(row.text, i % 2 ? 'correct' : 'incorrect'), maxTokens: 100, seed: i })).text;
    assert.equal(TONE.exec(said)?.[1], row.meta.tone === 1 ? 'favourable' : 'unfavourable', said);
    assert.doesNotMatch((await never.generate({ messages: prompt(row.text, 'correct'), maxTokens: 100, seed: i })).text, TONE);
  }
  // The same request (seed included) gives the same argument.
  const half = await createClient('scripted:informed-debater:q=0.5');
  const req = { messages: prompt(rows[0]!.text, 'correct'), maxTokens: 100, seed: 77 };
  assert.equal((await half.generate(req)).text, (await half.generate(req)).text);

  await assert.rejects(createClient('scripted:informed-debater:q=2'), (e) => e instanceof UserError && /between 0 and 1/.test(e.message));
  await assert.rejects(always.generate({ messages: [{ role: 'user', content: 'hello' }], maxTokens: 10 }), ProviderError);
});

test('the coverage check measures a model\'s true accuracy with the same numbers the probe predicts', async () => {
  const rows = generateControlRows(controls.data, 1500, 4);
  for (const [dim, n, standardize] of [[1024, [1, 1], true], [512, [1, 2], false]] as const) {
    const featurizer = hashedNgramFeaturizer({ dim, n: [...n] });
    const backend = createProbeBackend({ featurizer, optimizer: 'lbfgs', l2: 0.01, standardize, bias: true });
    const model = await backend.train(rows.slice(0, 200).map((r) => ({ id: r.id, text: r.text, softLabel: r.label ? [0, 1] : [1, 0] })), { role: 'weak', seed: 1, loss: 'xent' });
    const expected = await backend.predict(model, rows.map((r) => ({ id: r.id, text: r.text })));
    const scored = (await sparseScorer(featurizer, rows.map((r) => r.text)))(model.state as never);
    expected.forEach((p, i) => assert.ok(Math.abs(p - scored[i]!) < 1e-9, `row ${i}: ${p} vs ${scored[i]}`));
  }
});

test('pairedPgrDiff: PGR(B) − PGR(A) on the full sample, and its interval covers 0 at about its level under a null', () => {
  const rng = createRng(8);
  const trial = (n: number) => {
    const labels: Label[] = [];
    const weak: number[] = [];
    const a: number[] = [];
    const b: number[] = [];
    const ceiling: number[] = [];
    const guess = (y: number, acc: number): number => ((rng.random() < acc ? y : 1 - y) ? 0.8 : 0.2);
    for (let i = 0; i < n; i++) {
      const y = rng.random() < 0.5 ? 1 : 0;
      labels.push(y as Label);
      weak.push(guess(y, 0.65));
      ceiling.push(guess(y, 0.85));
      // A and B share most of their decisions, as two strong models do, and have the same accuracy in expectation.
      const shared = guess(y, 0.72);
      a.push(rng.random() < 0.85 ? shared : guess(y, 0.72));
      b.push(rng.random() < 0.85 ? shared : guess(y, 0.72));
    }
    return { labels, weak, a, b, ceiling };
  };
  const t = trial(300);
  const r = pairedPgrDiff(t.weak, t.a, t.b, t.ceiling, t.labels, { random: rng.random, resamples: 200 });
  const acc = (p: number[]) => accuracy(p, t.labels);
  assert.equal(r.pgrA, pgr(acc(t.weak), acc(t.a), acc(t.ceiling)));
  assert.ok(Math.abs(r.diff! - (r.pgrB! - r.pgrA!)) < 1e-12);
  assert.equal(pairedPgrDiff(t.weak, t.a, t.b, t.weak, t.labels, { random: rng.random, resamples: 100 }).diff, null, 'no gap, no PGR');

  let covered = 0;
  const trials = 200;
  for (let k = 0; k < trials; k++) {
    const x = trial(300);
    const d = pairedPgrDiff(x.weak, x.a, x.b, x.ceiling, x.labels, { random: rng.random, resamples: 300, level: 0.95 });
    if (d.lo! <= 0 && d.hi! >= 0) covered++;
  }
  assert.ok(covered / trials >= 0.9 && covered / trials <= 0.99, `covered 0 in ${covered} of ${trials}`);
});
