import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { openReport } from '../../src/report/queries.js';
import { formatJudges, judgesView } from '../../src/report/judges.js';
import { compareMembers, testView } from '../../src/report/analysis.js';
import { formatComparison, formatRunSummary } from '../../src/report/terminal.js';
import type { MetricRow } from '../../src/store/index.js';
import { writeJsonl, type DatasetRow } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';
import { completedRun } from '../helpers/completed-run.js';

/**
 * "A judge that says nothing is not a judge." Three scripted judges read the question only (protocol "none"):
 * - speaks: states the right verdict on every case;
 * - mute: never states a verdict (a logprobs judge on a server that returns no logprobs and text that says nothing);
 * - sparse: right, except on the cases numbered 20k + 5, where it states nothing in either presentation.
 * Every expected value is counted by hand from that construction: the test pool is cases 0–39 with label = case % 2,
 * so sparse abstains on test cases 5 and 25 (both label 1: a 0.5 decides "incorrect", wrong): 38 of 40 right.
 */

const prompt = (req: GenerateRequest): string => req.messages.map((m) => m.content).join('\n');
const caseOf = (p: string): number => Number(/Case (\d+)/.exec(p)![1]);
const rightLetter = (p: string): 'A' | 'B' => {
  const holds = /The proposed answer is right\./.test(p);
  const correctIsA = /A: The proposed answer is correct\./.test(p);
  return holds === correctIsA ? 'A' : 'B';
};
registerScript('silent-speaks', { generate: (req) => rightLetter(prompt(req)) });
registerScript('silent-mute', { generate: () => ({ text: 'Once upon a time', topLogprobs: undefined }), capabilities: { logprobs: true } });
registerScript('silent-sparse', { generate: (req) => (caseOf(prompt(req)) % 20 === 5 ? 'Hmm.' : rightLetter(prompt(req))) });

const row = (i: number, pool: string): DatasetRow => ({
  id: `${pool}${i}`, question: `Case ${i}. The proposed answer is ${i % 2 ? 'right' : 'wrong'}.`, answer: `claim ${i}`, label: i % 2,
});

const dir = tempDir('w2s-silent-judges-');
const TRAIN_STRONG = 20;
const TEST = 40;

async function silentRun() {
  const config = parseExperiment({
    name: 'silent-judges',
    seed: 5,
    dataset: {
      name: 'jsonl',
      files: {
        train: writeJsonl(dir, 'train.jsonl', Array.from({ length: 40 }, (_, i) => row(i, 'train'))),
        test: writeJsonl(dir, 'test.jsonl', Array.from({ length: TEST }, (_, i) => row(i, 'test'))),
      },
      sizes: { train_weak: 20, train_strong: TRAIN_STRONG, test: TEST },
    },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, ensemble: { kind: 'finetune', size: 2 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [
      { name: 'speaks', model: 'scripted:silent-speaks', method: 'parsed' },
      { name: 'mute', model: 'scripted:silent-mute', method: 'logprobs' },
      { name: 'sparse', model: 'scripted:silent-sparse', method: 'parsed' },
      { name: 'sparse2', model: 'scripted:silent-sparse', method: 'parsed', maxTokens: 7 },
    ],
    judgeEnsembles: [
      { name: 'with-mute', members: ['speaks', 'mute'] },
      { name: 'with-sparse', members: ['speaks', 'sparse'] },
      { name: 'vote-three', members: ['sparse', 'sparse2', 'speaks'], aggregate: 'vote' },
      { name: 'mean-sparse', members: ['sparse', 'sparse2'], aggregate: 'mean' },
    ],
    metrics: { bootstrap: 200 },
  });
  const { outcome, out, store } = await completedRun(config, join(dir, 'silent.sqlite'), join(dir, 'cache.sqlite'));
  try {
    const runId = outcome.runId;
    const trainStrongCases = store.examples.listExamples(runId, 'train_strong').map((e) => caseOf(e.question!));
    const muteProbabilities = store.db.prepare("SELECT DISTINCT p_correct AS p FROM judgments WHERE judge = 'mute'").pluck().all();
    const byJudge = store.models.listModels(runId, 'strong_by_judge');
    const ensembles = store.models.listModels(runId, 'judge_ensemble').map((m) => m.member);
    const sparseLabels = (byJudge.find((m) => m.member === 2)?.config as { labels?: string } | undefined)?.labels;
    const ensembleLabels = (byJudge.find((m) => m.member === 7)?.config as { labels?: string } | undefined)?.labels;
    const summary = (() => {
      const q = openReport(out);
      try {
        const run = q.resolveRun(runId);
        const c = compareMembers(testView(q, runId), { stored: q.metrics(runId) });
        const comparison = { text: formatComparison(c), pairs: c.pairs.map((p) => `${p.a}|${p.b}`), unscored: c.unscored.map((u) => u.name) };
        return { table: formatRunSummary(q, runId), judges: formatJudges(judgesView(q.metrics(runId), run.config, runId)), comparison };
      } finally {
        q.close();
      }
    })();
    return { metrics: store.metrics.listMetrics(runId), trainStrongCases, muteProbabilities, byJudge, ensembles, summary, sparseLabels, ensembleLabels, comparison: summary.comparison };
  } finally {
    store.close();
  }
}

let run: ReturnType<typeof silentRun> | undefined;
const once = () => (run ??= silentRun());

function metric(rows: readonly MetricRow[], subject: string, name: string): MetricRow {
  const m = rows.find((r) => r.subject === subject && r.name === name);
  assert.ok(m, `no metric ${subject} ${name}`);
  return m;
}

// The mute judge read train_strong and test, each example in both presentations: 2 × (20 + 40) replies.
const MUTE_REPLIES = 2 * (TRAIN_STRONG + TEST);
const MUTE_WHY = `0 of ${MUTE_REPLIES} judgments parsed, below minCoverage 90%`;

test('a judge below its minCoverage gets no accuracy, AUROC or calibration, and the reason is stored', async () => {
  const { metrics, muteProbabilities } = await once();
  for (const name of ['accuracy', 'auroc', 'ece', 'brier']) {
    const m = metric(metrics, 'judge:mute', name);
    assert.equal(m.value, null, `mute ${name} has no value`);
    assert.equal(m.note, MUTE_WHY, `mute ${name} says why`);
  }
  assert.equal(metric(metrics, 'judge:mute', 'parse_coverage').value, 0, 'its coverage is stored: 0');
  assert.equal(metric(metrics, 'judge:mute', 'logprob_coverage').value, 0, 'no reply came with logprobs');
  assert.deepEqual(muteProbabilities, [null], 'every reply without a verdict is stored without a probability, never 0.5');
  assert.ok(!metrics.some((m) => m.subject.startsWith('judge_pair:') && m.subject.includes('mute')), 'no agreement figures with a judge that said nothing');
  assert.equal(metric(metrics, 'judge:speaks', 'accuracy').value, 1, 'the judge that speaks is scored');
});

test('a silent judge trains no strong model and gets no PGR; an ensemble with it as a member is not built', async () => {
  const { metrics, byJudge, ensembles } = await once();
  assert.deepEqual(byJudge.map((m) => m.member).sort(), [0, 2, 3, 5, 6, 7], 'strong models for speaks (0), sparse (2), sparse2 (3) and the ensembles but with-mute (4 + 1, 4 + 2, 4 + 3); none for mute (1) or with-mute (4)');
  for (const name of ['accuracy', 'pgr']) {
    const m = metric(metrics, 'strong_by_judge:mute', name);
    assert.equal(m.value, null, `strong on mute: no ${name}`);
    assert.equal(m.note, `no strong model: judge mute has ${MUTE_WHY}`, `strong on mute: ${name} says why`);
  }
  assert.deepEqual(ensembles, [1, 2, 3], 'every ensemble but with-mute is built');
  const ens = metric(metrics, 'judge_ensemble:with-mute', 'accuracy');
  assert.equal(ens.value, null, 'the ensemble with a silent member has no accuracy');
  assert.equal(ens.note, `member mute: ${MUTE_WHY}`, 'and says which member and why');
  assert.equal(metric(metrics, 'strong_by_judge:with-mute', 'pgr').value, null, 'nor a PGR');
  assert.ok(metric(metrics, 'judge_ensemble:with-sparse', 'accuracy').value !== null, 'an ensemble of judges that speak is scored');
});

test('a judge above its minCoverage is scored; its abstentions count as 0.5 and are counted; it supervises only where it spoke', async () => {
  const { metrics, trainStrongCases, sparseLabels } = await once();
  const acc = metric(metrics, 'judge:sparse', 'accuracy');
  assert.equal(acc.value, 38 / 40, 'abstaining on test cases 5 and 25 (label 1) costs two examples');
  assert.equal(acc.note, '2 of 40 test examples had no reply stating a verdict and count as P(correct) = 0.5', 'the abstentions are counted');
  const abstainedTrain = trainStrongCases.filter((c) => c % 20 === 5).length;
  const coverage = metric(metrics, 'judge:sparse', 'parse_coverage');
  assert.equal(coverage.value, 1 - (2 * (2 + abstainedTrain)) / (2 * (TRAIN_STRONG + TEST)), 'coverage = replies with a verdict / replies');
  // The strong model on sparse's labels trains on the train_strong examples where it stated a verdict, and says so.
  const spoke = TRAIN_STRONG - abstainedTrain;
  assert.equal(sparseLabels, abstainedTrain ? `prompted judge sparse (the ${spoke} of ${TRAIN_STRONG} train_strong examples it stated a verdict on)` : 'prompted judge sparse', 'the stored labels say what it trained on');
  const model = metric(metrics, 'strong_by_judge:sparse', 'accuracy');
  assert.ok(model.value !== null, 'strong on sparse is scored');
});

test('an ensemble reads a member\'s abstention as no vote: one speaking member decides; all silent is an abstention, counted', async () => {
  const { metrics, ensembleLabels } = await once();
  // Cases 5 and 25 (label 1): sparse and sparse2 abstain, speaks says "correct": the vote is speaks' alone, right.
  // Everywhere else all three are right. Counting the abstentions as 0.5 ("incorrect" votes) would give 38 of 40.
  const vote = metric(metrics, 'judge_ensemble:vote-three', 'accuracy');
  assert.equal(vote.value, 1, 'the vote ensemble is right on all 40');
  assert.equal(vote.note, null, 'no test example lacked a verdict from every member');
  // sparse and sparse2 both abstain on cases 5 and 25: the ensemble abstains there (0.5: wrong on label 1), and says so.
  const mean = metric(metrics, 'judge_ensemble:mean-sparse', 'accuracy');
  assert.equal(mean.value, 38 / 40, 'the all-abstaining examples count as 0.5');
  assert.equal(mean.note, '2 of 40 test examples had no member stating a verdict and count as P(correct) = 0.5', 'and are counted');
  assert.match(ensembleLabels ?? '', /^judge ensemble mean-sparse \(mean\)( \(the \d+ of 20 train_strong examples a member stated a verdict on\))?$/, `its strong model's labels say what it trained on: ${ensembleLabels}`);
});

test('compare leaves a judge that was not scored out of every table and test, and lists it as n/a', async () => {
  const { comparison } = await once();
  assert.ok(!comparison.text.match(/^judge mute\s+\d/m), `no accuracy for mute in compare:\n${comparison.text}`);
  assert.ok(comparison.text.includes(`judge mute`) && comparison.text.includes(`n/a (${MUTE_WHY})`), `mute is listed as n/a with the reason:\n${comparison.text}`);
  assert.ok(!comparison.pairs.some((p) => p.includes('mute')), `no paired test with mute: ${comparison.pairs.join(', ')}`);
  assert.ok(comparison.unscored.includes('judge_ensemble:with-mute'), `the ensemble with the silent member is listed too: ${comparison.unscored.join(', ')}`);
});

test('the run table says n/a with the reason, once per row', async () => {
  const { summary: { table: summary, judges } } = await once();
  const muteLine = summary.split('\n').find((l) => /^judge mute\b/.test(l));
  assert.ok(muteLine, `a row for judge mute in:\n${summary}`);
  assert.ok(muteLine.includes(`n/a (${MUTE_WHY})`), `the accuracy cell says why: ${muteLine}`);
  const strongLine = summary.split('\n').find((l) => /^strong on judge mute\b/.test(l));
  assert.ok(strongLine, `a row for the strong model on mute in:\n${summary}`);
  assert.equal(strongLine.split(MUTE_WHY).length - 1, 1, `the reason appears once in the row: ${strongLine}`);
  // compare --judges: the accuracy cell says why, the other figures read n/a, coverage is shown.
  const judgeRow = judges.split('\n').find((l) => l.startsWith('prompted judge mute'));
  assert.ok(judgeRow, `a row for mute in compare --judges:\n${judges}`);
  assert.ok(judgeRow.includes(`n/a (${MUTE_WHY})`) && judgeRow.includes('0.0 (120 replies; 0.0 from logprobs)'), `why and coverage: ${judgeRow}`);
});
