import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { tempDir } from '../helpers/tmp.js';
import { completedRun } from '../helpers/completed-run.js';

/**
 * One offline two-choice debate run on the shared SciQ file, with scripted models:
 * - the debater answers "I defend <the answer its prompt says it defends>.";
 * - the judge picks the option whose text comes first in alphabetical order, whatever the debate says.
 * So the judge's P(answer A is right) is 1 on every example whose answer A sorts before answer B and 0 otherwise, in
 * both presentations, and its test accuracy is the share of test examples where "A sorts first" equals "label 1":
 * counted below from the stored examples, not from w2s's metrics code.
 */

const DATA = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'datasets');
const REPO = resolve(import.meta.dirname, '..', '..');
const debaterPrompts: GenerateRequest[] = [];
const judgePrompts: string[] = [];
const userText = (req: GenerateRequest): string => req.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
const STANCE = /Your side: you defend answer ([AB]): (.*)\n/;
const OPTIONS = /\nA: (.*)\nB: (.*)\n\nReply with a single letter/;

registerScript('tc-debater', {
  generate: (req) => {
    debaterPrompts.push(req);
    const m = STANCE.exec(userText(req));
    return m ? `I defend ${m[2]}.` : 'no stance found';
  },
});
registerScript('tc-judge', {
  generate: (req) => {
    const p = userText(req);
    judgePrompts.push(p);
    const [, a, b] = OPTIONS.exec(p)!;
    return a! < b! ? 'A' : 'B';
  },
});

test('a two-choice run: stored pairs, debaters told the answer they defend, judges shown both orders, metrics as counted by hand', async () => {
  const dir = tempDir('w2s-two-choice-run-');
  const config = parseExperiment({
    name: 'two-choice',
    seed: 4,
    dataset: { name: 'sciq', dataDir: DATA, format: 'two-choice', sizes: { train_weak: 6, train_strong: 6, test: 12 } },
    debate: { protocol: 'debate', debaters: ['scripted:tc-debater'], turns: 2, samples: 1, maxTokens: 60, wordLimit: 50, promptsDir: join(REPO, 'prompts') },
    weak: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [{ name: 'alpha', model: 'scripted:tc-judge', method: 'parsed', maxTokens: 2 }],
    metrics: { bootstrap: 100 },
  });
  const { outcome, out, store } = await completedRun(config, join(dir, 'run.sqlite'), join(dir, 'cache.sqlite'));
  try {
    const runId = outcome.runId;
    const examples = store.examples.listExamples(runId);
    assert.equal(examples.length, 24, 'every split filled');
    for (const e of examples) {
      assert.ok(e.alternative && e.alternative !== e.answer, `${e.id}: stored with an answer B that differs from A`);
      assert.equal(e.text, `Q: ${e.question}\nA: ${e.answer}\nB: ${e.alternative}`, `${e.id}: the text models read lists both answers`);
    }
    const byQuestion = new Map(examples.map((e) => [e.question!, e]));

    // Debaters: each prompt names the answer its debater defends, by letter and words, and never says which is right.
    assert.equal(debaterPrompts.length, 24 * 2, 'two turns per example');
    for (const req of debaterPrompts) {
      const text = userText(req);
      const question = /<question>\n([\s\S]*?)\n<\/question>/.exec(text)![1]!;
      const e = byQuestion.get(question)!;
      const [, letter, defended] = STANCE.exec(text)!;
      assert.equal(defended, letter === 'A' ? e.answer : e.alternative, 'the stance quotes the defended answer');
      assert.ok(text.includes(`<answer_a>\n${e.answer}\n</answer_a>\n<answer_b>\n${e.alternative}\n</answer_b>`), 'both answers are shown, A first');
      assert.ok(!text.includes('<proposed_answer>'), 'the claim form\'s block is left out');
      const rest = req.messages.map((m) => m.content).join('\n').split(e.question!).join('').split(e.answer!).join('').split(e.alternative!).join('');
      assert.doesNotMatch(rest, /\b(in)?correct\b/i, 'no word says which answer is right, nor calls a side correct');
    }
    // The stored sides: "correct" is the debater defending answer A, whatever the label.
    for (const e of examples) {
      const debate = store.debates.transcriptsForExample(runId, e.id)[0]!;
      for (const t of debate.turns) {
        assert.equal(t.text, `I defend ${t.side === 'correct' ? e.answer : e.alternative}.`, `${e.id}: side "correct" defends answer A`);
      }
    }

    // Judges: the original presentation lists A then B, the swapped one B then A; arguments are shown under the letter
    // their answer has in that presentation.
    const judged = examples.filter((e) => e.split !== 'train_weak');
    assert.equal(judgePrompts.length, judged.length * 2, 'two presentations per judged example');
    for (const e of judged) {
      const prompts = judgePrompts.filter((p) => p.includes(`<question>\n${e.question}\n</question>`));
      const original = prompts.find((p) => p.includes(`\nA: ${e.answer}\nB: ${e.alternative}\n\nReply`));
      const swapped = prompts.find((p) => p.includes(`\nA: ${e.alternative}\nB: ${e.answer}\n\nReply`));
      assert.ok(original && swapped, `${e.id}: both orders judged`);
      assert.match(original!, new RegExp(`defends="answer A">\\nI defend ${escape(e.answer!)}\\.`), 'original: answer A\'s defender is under A');
      assert.match(swapped!, new RegExp(`defends="answer B">\\nI defend ${escape(e.answer!)}\\.`), 'swapped: the same argument is under B');
      assert.ok(!/side="|proposed answer/.test(original! + swapped!), 'no claim-form wording reaches the judge');
    }

    // The judge's probabilities and accuracy, counted by hand.
    const judgments = store.db.prepare("SELECT example_id AS id, order_swapped AS swapped, p_correct AS p FROM judgments WHERE judge = 'alpha'").all() as { id: string; swapped: number; p: number }[];
    for (const j of judgments) {
      const e = examples.find((x) => x.id === j.id)!;
      assert.equal(j.p, e.answer! < e.alternative! ? 1 : 0, `${j.id} (swapped ${j.swapped}): P(A right) is 1 exactly when A sorts first`);
    }
    const test = examples.filter((e) => e.split === 'test');
    const right = test.filter((e) => (e.answer! < e.alternative!) === (e.label === 1)).length;
    const accuracy = store.db.prepare("SELECT value FROM metrics WHERE run_id = ? AND subject = 'judge:alpha' AND name = 'accuracy'").pluck().get(runId);
    assert.equal(accuracy, right / test.length, `judge accuracy is ${right} of ${test.length}`);
  } finally {
    store.close();
  }
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
