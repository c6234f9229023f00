import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { debateSetup } from '../../src/pipeline/debate-options.js';
import type { StageContext } from '../../src/pipeline/context.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openReport } from '../../src/report/queries.js';
import { findShowTarget, formatShow } from '../../src/report/show.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { openStore, type MetricRow } from '../../src/store/index.js';
import { writeJsonl, type DatasetRow } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Open roles, best-of-N and debater ratings on scripted models whose behaviour is fixed by hand:
 * - "Case i. The proposed answer is right|wrong." with label = i % 2 (1: right);
 * - h3-strong argues "STRONG v<k>" with k = its request seed mod 7; as a chooser it names the true side, except on
 *   cases i % 5 = 1 (it names the false one) and i % 5 = 3 (its reply states no side);
 * - h3-weak argues "WEAK";
 * - h3-judge (parsed) always sides with the argument that says STRONG;
 * - h3-scorer (logprobs) reads the last argument "… v<k>" and gives P(correct) = (k + 1) / 8 in both presentations.
 */
const text = (req: GenerateRequest): string => req.messages.map((m) => m.content).join('\n');
const caseOf = (p: string): number => Number(/Case (\d+)/.exec(p)![1]);
const isChoice = (p: string): boolean => /choose the side you will argue/.test(p);
const letterFor = (p: string, statement: string): 'A' | 'B' => (p.includes(`A: ${statement}`) ? 'A' : 'B');
const CORRECT = 'The proposed answer is correct.';
const INCORRECT = 'The proposed answer is incorrect.';

registerScript('h3-strong', {
  generate: (req) => {
    const p = text(req);
    if (isChoice(p)) {
      const i = caseOf(p);
      const truth = i % 2 === 1 ? 'correct' : 'incorrect';
      if (i % 5 === 3) return 'I would rather not say.';
      return `Side: ${i % 5 === 1 ? (truth === 'correct' ? 'incorrect' : 'correct') : truth}`;
    }
    return `STRONG v${(req.seed ?? 0) % 7}`;
  },
});
registerScript('h3-weak', { generate: () => 'WEAK' });
registerScript('h3-judge', {
  generate: (req) => {
    const p = text(req);
    const strongSide = /<argument speaker="[^"]+" side="(correct|incorrect)">\nSTRONG/.exec(p)?.[1];
    return `Answer: ${letterFor(p, strongSide === 'correct' ? CORRECT : INCORRECT)}`;
  },
});
registerScript('h3-scorer', {
  capabilities: { logprobs: true },
  generate: (req) => {
    const p = text(req);
    const args = [...p.matchAll(/<argument [^>]*>\n([^\n]*)\n<\/argument>/g)];
    const k = /v(\d)/.exec(args[args.length - 1]![1]!)?.[1];
    if (k === undefined) return { text: 'Hmm', topLogprobs: [[{ token: 'x', logprob: 0 }]] };
    const pCorrect = (Number(k) + 1) / 8;
    const pA = letterFor(p, CORRECT) === 'A' ? pCorrect : 1 - pCorrect;
    return { text: 'A', topLogprobs: [[{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }]] };
  },
});

const dir = tempDir('w2s-debater-skill-');
const row = (i: number, pool: string): DatasetRow => ({ id: `${pool}${i}`, question: `Case ${i}. The proposed answer is ${i % 2 ? 'right' : 'wrong'}.`, answer: `claim ${i}`, label: i % 2 });
const files = {
  train: writeJsonl(dir, 'train.jsonl', Array.from({ length: 40 }, (_, i) => row(i, 'train'))),
  test: writeJsonl(dir, 'test.jsonl', Array.from({ length: 30 }, (_, i) => row(i, 'test'))),
};

function config(name: string, debate: Record<string, unknown>) {
  return parseExperiment({
    name, seed: 11,
    dataset: { name: 'jsonl', files, sizes: { train_weak: 20, train_strong: 20, test: 30 } },
    debate: { turns: 2, samples: 1, ...debate },
    weak: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [{ name: 'believer', model: 'scripted:h3-judge', method: 'parsed' }],
    audit: { onLeak: 'warn' },
    metrics: { bootstrap: 200 },
  });
}

async function run(name: string, debate: Record<string, unknown>) {
  const cfg = config(name, debate);
  const out = join(dir, `${name}.sqlite`);
  const outcome = await runExperiment({ config: cfg, out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  return { cfg, out, runId: outcome.runId };
}

const metric = (rows: readonly MetricRow[], subject: string, name: string): MetricRow => {
  const m = rows.find((r) => r.subject === subject && r.name === name);
  assert.ok(m, `no metric ${subject} ${name}`);
  return m;
};

test('best-of-N: every candidate is stored with its own-side score, the best becomes the turn, the scorer is ledgered as "scorer"', async () => {
  const r = await run('bestof', { protocol: 'debate', debaters: ['scripted:h3-strong', 'scripted:h3-weak'], bestOf: 3, scorer: 'scripted:h3-scorer' });
  const store = openStore(r.out, { readonly: true });
  try {
    const debates = store.debates.listTranscripts(r.runId);
    assert.equal(debates.length, 70, 'one transcript per example');
    for (const d of debates) {
      for (const t of d.turns) {
        const cands = store.debates.listCandidates(d.id, t.idx);
        assert.equal(cands.length, 3, `turn ${d.id}/${t.idx} has 3 candidates`);
        for (const c of cands) {
          // By construction: the scorer's P(correct) is (k + 1) / 8, and the score is for the debater's own side.
          const k = /v(\d)/.exec(c.text)?.[1];
          const pCorrect = k === undefined ? null : (Number(k) + 1) / 8;
          const expected = pCorrect === null ? null : t.side === 'correct' ? pCorrect : 1 - pCorrect;
          if (expected === null) assert.equal(c.score, null, 'WEAK has no v<k>: the scorer found no number, so no verdict is expected');
          else assert.ok(Math.abs(c.score! - expected) < 1e-9, `score ${c.score} is the own-side probability ${expected}`);
        }
        const best = Math.max(...cands.map((c) => c.score ?? -1));
        const firstBest = cands.find((c) => (c.score ?? -1) === best)!;
        assert.deepEqual(cands.filter((c) => c.kept).map((c) => c.candidate), [firstBest.candidate], 'exactly the first best candidate is kept');
        assert.equal(t.text, firstBest.text, 'the kept candidate is the turn');
        assert.equal(t.callId, firstBest.callId, 'the turn points at the kept candidate\'s call');
      }
    }
    const scorerCalls = store.calls.listCalls(r.runId, { role: 'scorer' });
    assert.ok(scorerCalls.length > 0, 'the scorer\'s calls are in the ledger under their own role');
  } finally {
    store.close();
  }
});

test('ratings: a debater the judge always believes is rated above the other, with an interval of the difference above 0', async () => {
  const r = await run('bestof', { protocol: 'debate', debaters: ['scripted:h3-strong', 'scripted:h3-weak'], bestOf: 3, scorer: 'scripted:h3-scorer' });
  const store = openStore(r.out, { readonly: true });
  try {
    const rows = store.metrics.listMetrics(r.runId);
    const diff = metric(rows, 'debater_pair:scripted:h3-strong vs scripted:h3-weak', 'rating_diff');
    // The judge reads train_strong (20) and test (30): 50 matches, all won by STRONG.
    assert.equal(diff.n, 50, 'one match per judged transcript');
    assert.ok(diff.value! > 0 && diff.lo! > 0, `strong minus weak ${diff.value} [${diff.lo}, ${diff.hi}] excludes 0`);
    assert.ok(metric(rows, 'debater:scripted:h3-strong', 'rating').value! > metric(rows, 'debater:scripted:h3-weak', 'rating').value!, 'strong rated higher');
    const q = openReport(r.out);
    try {
      assert.match(formatRunSummary(q, r.runId), /Debater ratings \(Elo points/, 'the run summary shows the ratings');
    } finally {
      q.close();
    }
  } finally {
    store.close();
  }
});

test('open roles: the consultant\'s choice sets its side, a reply without a side falls back to the draw, and the choices are measured', async () => {
  const r = await run('open', { protocol: 'consultancy', debaters: ['scripted:h3-strong'], roles: 'open' });
  const store = openStore(r.out);
  try {
    const examples = new Map(store.examples.listExamples(r.runId).map((e) => [e.id, e]));
    const debates = store.debates.listDebates(r.runId);
    assert.equal(debates.length, 70, 'one consultancy per example');
    for (const d of debates) {
      const i = caseOf(examples.get(d.exampleId)!.question!);
      const choice = store.debates.getChoice(d.id);
      assert.equal(d.roles, 'open', 'stored as open roles');
      assert.ok(choice && choice.callId !== null, 'the choice call is stored with its ledger row');
      assert.equal(choice.stated, i % 5 !== 3, `case ${i}: whether the reply stated a side`);
      if (i % 5 !== 3) {
        const truth = i % 2 === 1 ? 'correct' : 'incorrect';
        const expected = i % 5 === 1 ? (truth === 'correct' ? 'incorrect' : 'correct') : truth;
        assert.equal(d.sides.A, expected, `case ${i}: the consultant argues the side it chose`);
      }
    }
    const rows = store.metrics.listMetrics(r.runId);
    // Hand count over cases 0–39 (train) and 0–29 (test): 14 replies state no side, 14 of the 56 stated choices are wrong.
    assert.equal(metric(rows, 'open_roles', 'choice_stated').value, 56 / 70, 'share of replies stating a side');
    assert.equal(metric(rows, 'open_roles', 'chose_correct').value, 42 / 56, 'share of stated choices on the right side');
    // The judge believes the consultant: right on the 18 test cases with a right choice, wrong on the 6 with a wrong one.
    const right = metric(rows, 'judge:believer', 'accuracy_chose_correct');
    const wrong = metric(rows, 'judge:believer', 'accuracy_chose_incorrect');
    assert.deepEqual([right.value, right.n, wrong.value, wrong.n], [1, 18, 0, 6], 'judge accuracy split by the chosen side');

    // Resume: a debate whose choice is stored is not asked again.
    const d = debates[0]!;
    const ctx = { config: r.cfg, store, runId: r.runId } as unknown as StageContext;
    const never = { generate: () => Promise.reject(new Error('the stored choice must not be asked again')) };
    const again = await debateSetup(ctx, never, 'task')({ id: d.id, runId: r.runId, exampleId: d.exampleId, protocol: 'consultancy', sample: 0, seed: d.seed }, examples.get(d.exampleId)!);
    assert.deepEqual(again.row.sides, d.sides, 'the stored sides are kept');

    const q = openReport(r.out);
    try {
      assert.match(formatRunSummary(q, r.runId), /Open roles: chose the right side 75\.0%/, 'the run summary gives the choice rate');
      const fallback = debates.find((x) => caseOf(examples.get(x.exampleId)!.question!) % 5 === 3)!;
      assert.match(formatShow(findShowTarget(q, fallback.id)), /stated no side, so the seeded draw stands/, 'show says the draw stood');
      const chosen = debates.find((x) => caseOf(examples.get(x.exampleId)!.question!) % 5 === 0)!;
      assert.match(formatShow(findShowTarget(q, chosen.id)), /open roles: chosen by the consultant/, 'show says the side was chosen');
    } finally {
      q.close();
    }
  } finally {
    store.close();
  }
});

test('bad settings are refused with one sentence naming the field', () => {
  const refused = (debate: Record<string, unknown>, judges: unknown[], pattern: RegExp): void => {
    assert.throws(
      () => parseExperiment({ name: 'x', dataset: { name: 'jsonl', files }, debate: { debaters: ['scripted:h3-weak'], ...debate }, judges }),
      (e: Error) => pattern.test(e.message),
      `refused: ${JSON.stringify(debate)}`,
    );
  };
  refused({ protocol: 'market', roles: 'open' }, [], /debate\.roles.*protocol "debate" or "consultancy"/s);
  refused({ protocol: 'debate', bestOf: 2 }, [], /debate\.scorer.*set debate\.scorer, or add a judge/s);
  refused({ protocol: 'debate', scorer: 'scripted:h3-scorer' }, [], /set debate\.bestOf/);
});

test('w2s ratings pools the runs that have judged debates and names a run that has none', async () => {
  const a = await run('bestof', { protocol: 'debate', debaters: ['scripted:h3-strong', 'scripted:h3-weak'], bestOf: 3, scorer: 'scripted:h3-scorer' });
  const b = await run('open', { protocol: 'consultancy', debaters: ['scripted:h3-strong'], roles: 'open' });
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'ratings', ...args], { encoding: 'utf8', timeout: 120_000 });
  const ok = cli(a.out, b.out, '--resamples', '100');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`Runs pooled: ${a.runId}`), 'the debate run is pooled');
  assert.match(ok.stdout, /50 matches judged by believer/, 'its 50 judged transcripts are the matches');
  assert.match(ok.stdout, /scripted:h3-strong − scripted:h3-weak: \+\d+/, 'strong minus weak is positive');
  const refused = cli(b.out, '--run', b.runId);
  assert.equal(refused.status, 1, 'a run without judged debates is an error');
  assert.match(refused.stderr.trim(), new RegExp(`^w2s: Run ${b.runId} .* has no judged debate transcripts \\(protocol "debate"\\); leave it out of --run\\.$`), `one sentence: ${refused.stderr}`);
});
