import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment, runIdOf } from '../../src/pipeline/run.js';
import { openReport } from '../../src/report/queries.js';
import { findShowTarget, formatShow } from '../../src/report/show.js';
import { openStore } from '../../src/store/index.js';
import { writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * debate.import end to end, offline: the single_turn_debate fixture (6 questions on 3 stories, 2 arguments each) is
 * the run's dataset and its transcripts; a scripted judge that always answers "A" reads them. Expected values come
 * from the fixture read by hand and from the judge's construction: "A" is "the proposed answer is correct" in the
 * original presentation and "incorrect" in the swapped one, so its two replies per transcript are P(correct) 1 and 0.
 */

registerScript('import-judge-a', { generate: () => 'A' });

const FIXTURE = 'test/fixtures/import/single_turn_debate.jsonl';
const dir = tempDir('w2s-import-');

function config(file: string, extra: Record<string, unknown> = {}) {
  return parseExperiment({
    name: 'imported',
    seed: 2,
    dataset: { name: 'jsonl', path: file, sizes: { train_weak: 2, train_strong: 2, test: 2 } },
    debate: { protocol: 'debate', samples: 1, import: { file, format: 'single_turn_debate' } },
    weak: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [{ name: 'a', model: 'scripted:import-judge-a', method: 'parsed' }],
    metrics: { bootstrap: 100 },
    ...extra,
  });
}

/** Each question's arguments as the fixture gives them (passage_id/question_id → argument texts and their lines). */
function argumentsByHand(file: string): Map<string, { text: string; line: number }[]> {
  const out = new Map<string, { text: string; line: number }[]>();
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    for (const a of JSON.parse(raw).output_data) {
      const id = `single_turn_debate/${a.passage_id}/${a.question_id}`;
      out.set(id, [...(out.get(id) ?? []), { text: a.argument, line: i + 1 }]);
    }
  });
  return out;
}

test('imported transcripts are stored with provenance, judged in both orders, read by the weak models and shown like generated ones', async () => {
  const file = join(dir, 'args.jsonl');
  copyFileSync(FIXTURE, file);
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
  const out = join(dir, 'run.sqlite');
  const cfg = config(file);
  const first = await runExperiment({ config: cfg, out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(first.status, 'completed', first.status === 'completed' ? '' : first.reason);
  const hand = argumentsByHand(file);

  const store = openStore(out, { readonly: true });
  try {
    const runId = first.runId;
    const examples = store.examples.listExamples(runId);
    assert.equal(examples.length, 6, 'the six questions, drawn into 2 + 2 + 2');
    const debates = store.debates.listDebates(runId);
    assert.equal(debates.length, 6, 'one debate per example');
    for (const d of debates) {
      assert.equal(d.status, 'completed', `${d.id} completed`);
      const args = hand.get(d.exampleId)!;
      assert.deepEqual(d.source && { file: d.source.file, sha256: d.source.sha256, format: d.source.format, line: d.source.line }, {
        file, sha256: sha, format: 'single_turn_debate', line: Math.min(...args.map((a) => a.line)),
      }, `${d.id}: provenance is the file, its sha256 and the first argument's line`);
      const turns = store.debates.listTurns(d.id);
      assert.equal(turns.length, 2, `${d.id}: two turns`);
      for (const t of turns) assert.ok(args.some((a) => t.text.startsWith(a.text)), `${d.id}: turn ${t.idx} is one of the question's two arguments`);
      assert.deepEqual(turns.map((t) => t.callId), [null, null], `${d.id}: no model call made an imported turn`);
    }
    assert.equal(store.db.prepare("SELECT COUNT(*) FROM calls WHERE role = 'debater'").pluck().get(), 0, 'no debater was called');

    // Judged in both orders: the judge reads train_strong and test (4 examples), one transcript each.
    const judgments = store.judgments.listJudgments(runId, { judge: 'a' });
    assert.equal(judgments.length, 8, '4 judged examples x 2 presentations');
    for (const j of judgments) assert.equal(j.pCorrect, j.orderSwapped ? 0 : 1, '"A" is P(correct) 1 as listed and 0 swapped');
    // What the judge read: the imported arguments, and nothing of the source's metadata (which holds the gold label).
    for (const j of judgments) {
      const prompt = store.calls.messagesOf(j.callId!).map((m) => m.content).join('\n');
      const args = hand.get(j.exampleId)!;
      for (const a of args) assert.ok(prompt.includes(a.text.slice(0, 30)), `${j.exampleId}: the judge read the argument "${a.text.slice(0, 30)}…"`);
      assert.doesNotMatch(prompt, /argue_for_correct|worker_id|hit_id|"w\d"/, `${j.exampleId}: no source metadata in the judge's prompt`);
    }

    // The weak debate-ensemble member read transcript 0 of each example: its predictions name the imported debates.
    const seen = store.db.prepare("SELECT p.example_id, p.debate_id FROM predictions p JOIN models m ON m.id = p.model_id WHERE m.role = 'weak_member'").all() as { example_id: string; debate_id: string | null }[];
    assert.ok(seen.length >= 4, 'the member predicted train_strong and test');
    for (const p of seen) assert.equal(p.debate_id, `${runId}/${p.example_id}/debate/0`, `${p.example_id}: predicted with the imported transcript as context`);
  } finally {
    store.close();
  }

  // w2s show prints the transcript and where it came from.
  const q = openReport(out);
  try {
    const text = formatShow(findShowTarget(q, 'single_turn_debate/s1/1'), 200);
    assert.match(text, new RegExp(`Imported from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 1 \\(single_turn_debate, sha256 ${sha.slice(0, 12)}…\\)`), 'the provenance line');
    assert.match(text, /The lamp went dark at dusk \(#1\)/, 'the argument');
    assert.match(text, /\(#1\) <quote>At dusk the great lamp sputtered and went dark\.<\/quote>/, 'its snippet, marked as a quote');
  } finally {
    q.close();
  }

  // The same file again: the same run, nothing imported twice, no call made.
  const again = await runExperiment({ config: config(file), out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(again.runId, first.runId, 'the same content is the same run');
  const store2 = openStore(out, { readonly: true });
  try {
    assert.equal(store2.db.prepare('SELECT COUNT(*) FROM debates').pluck().get(), 6, 'no debate added');
    assert.equal(store2.db.prepare('SELECT COUNT(*) FROM turns').pluck().get(), 12, 'no turn added');
  } finally {
    store2.close();
  }

  // An edited file is a new run beside the first.
  const edited = join(dir, 'edited.jsonl');
  writeFileSync(edited, readFileSync(file, 'utf8').replace('The lamp went dark at dusk', 'The lamp failed at dusk'));
  assert.notEqual(runIdOf(config(edited)), first.runId, 'an edited file is a new run');
});

test('rows that name dataset rows by id: matched against the dataset; unknown ids, another answer and too few transcripts stop before anything is written', async () => {
  const rows = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}`, question: `Is ${i} even?`, answer: 'yes', label: i % 2 === 0 ? 1 : 0 }));
  const data = writeJsonl(dir, 'data.jsonl', rows);
  const base = (imports: string, samples = 1) => parseExperiment({
    name: 'by-id',
    dataset: { name: 'jsonl', path: data, sizes: { train_weak: 2, train_strong: 2, test: 2 } },
    debate: { protocol: 'debate', samples, import: { file: imports } },
    weak: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    metrics: { bootstrap: 100 },
  });
  const transcript = (id: string) => ({ id, answer: 'yes', for: `${id} is even.`, against: `${id} is odd.` });
  // Eight of the twelve rows have transcripts: the run's examples are drawn from those eight only.
  const imports = writeJsonl(dir, 'by-id.jsonl', [0, 1, 2, 3, 4, 5, 6, 7].map((i) => JSON.stringify(transcript(`r${i}`))));
  const out = join(dir, 'by-id.sqlite');
  const r = await runExperiment({ config: base(imports), out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(r.status, 'completed', r.status === 'completed' ? '' : r.reason);
  const store = openStore(out, { readonly: true });
  try {
    const ids = store.examples.listExamples(r.runId).map((e) => e.id);
    assert.equal(ids.length, 6, '2 + 2 + 2 examples');
    for (const id of ids) assert.ok(Number(id.slice(1)) < 8, `${id} has an imported transcript`);
    for (const e of store.examples.listExamples(r.runId)) {
      assert.equal(e.label, rows.find((x) => x.id === e.id)!.label, `${e.id}: the dataset's label`);
      const [t] = store.debates.transcriptsForExample(r.runId, e.id);
      assert.deepEqual(t!.turns.map((u) => [u.side, u.text]).sort(), [['correct', `${e.id} is even.`], ['incorrect', `${e.id} is odd.`]], `${e.id}: its imported transcript`);
    }
  } finally {
    store.close();
  }

  const refused = async (imports: string, pattern: RegExp, samples = 1): Promise<void> => {
    const fresh = join(dir, `refused-${Math.random().toString(36).slice(2)}.sqlite`);
    await assert.rejects(runExperiment({ config: base(imports, samples), out: fresh, cacheFile: join(dir, 'cache.sqlite') }), (e: Error) => {
      assert.match(e.message, pattern, 'one sentence naming what to fix');
      return true;
    });
    assert.equal(existsSync(fresh), false, 'nothing written');
  };
  await refused(writeJsonl(dir, 'unknown.jsonl', [JSON.stringify(transcript('r1')), JSON.stringify(transcript('nope'))]), /1 imported row names an example that dataset jsonl does not have: "nope" \(line 2\)/);
  await refused(writeJsonl(dir, 'answer.jsonl', [JSON.stringify({ ...transcript('r1'), answer: 'no' })]), /line 1: example "r1" was argued about the answer "no", but the run's example proposes "yes"/);
  await refused(imports, /example "r0" has 1 imported transcript \(line 1\), but debate\.samples is 2; set debate\.samples \(and weak\.ensemble\.size\) to 1 or less/, 2);
  await refused(join(dir, 'missing.jsonl'), /missing\.jsonl: cannot read the transcripts to import \(no such file\); fix debate\.import\.file/);

  // The run id hashes the import file's content, not its path: the same file elsewhere is the same run.
  const moved = join(dir, 'moved.jsonl');
  copyFileSync(imports, moved);
  assert.equal(runIdOf(base(moved)), r.runId, 'same content, same run');
});

test('a passage in the rows: quotes are counted and checked against it, and the judge sees the marks but not the passage', async () => {
  // Box i is red; the "for" side quotes the passage word for word, the "against" side quotes words it does not hold.
  const rows = Array.from({ length: 6 }, (_, i) => JSON.stringify({
    id: `box${i}`, question: `What colour is box ${i}?`, answer: i % 2 ? 'red' : 'blue', label: i % 2, passage: `Box ${i} is painted red all over.`,
    for: { text: 'The passage says so.', quotes: [`box ${i} is PAINTED red`] }, against: { text: 'It does not.', quotes: ['painted green'] },
  }));
  const file = writeJsonl(dir, 'boxes.jsonl', rows);
  const out = join(dir, 'boxes.sqlite');
  const r = await runExperiment({ config: config(file, { debate: { protocol: 'debate', samples: 1, passage: 'debaters', import: { file } } }), out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(r.status, 'completed', r.status === 'completed' ? '' : r.reason);
  const store = openStore(out, { readonly: true });
  try {
    for (const d of store.debates.listTranscripts(r.runId)) {
      for (const t of d.turns) {
        assert.deepEqual(t.quotes, { made: 1, verified: t.side === 'correct' ? 1 : 0 }, `${d.id} turn ${t.idx}: the passage's words check out (case aside), the invented ones do not`);
      }
    }
    const judgments = store.judgments.listJudgments(r.runId, { judge: 'a' });
    assert.equal(judgments.length, 8, 'judged in both orders');
    for (const j of judgments) {
      const prompt = store.calls.messagesOf(j.callId!).map((m) => m.content).join('\n');
      assert.match(prompt, /<quote verified="yes">box \d is PAINTED red<\/quote>/, `${j.exampleId}: the verified quote, marked`);
      assert.match(prompt, /<quote verified="no">painted green<\/quote>/, `${j.exampleId}: the unverified one, marked`);
      assert.doesNotMatch(prompt, /painted red all over/, `${j.exampleId}: the passage itself stays hidden from the judge`);
    }
  } finally {
    store.close();
  }
});
