import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { preflight } from '../../src/pipeline/preflight.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { exportLines } from '../../src/report/export.js';
import { reportQueries } from '../../src/report/queries.js';
import { findShowTarget, formatShow } from '../../src/report/show.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { openStore } from '../../src/store/index.js';
import { writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * debate.passage "debaters" on the shared SciQ release: the support passage reaches the debaters and nothing else. The
 * ledger stores every message each model received, so the test reads every judge call and every embedding call (the
 * weak models' features) back from it, and the scripted embedder also keeps what it was given in process.
 */

const DATA = resolve('../shared/datasets');
const sciqFile = (split: string) => JSON.parse(readFileSync(join(DATA, `sciq/${split}.json`), 'utf8')) as { question: string; support?: string }[];
const sciq: Record<string, ReturnType<typeof sciqFile>> = { train: sciqFile('train'), test: sciqFile('test') };
const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

const text = (req: GenerateRequest): string => req.messages.map((m) => m.content).join('\n');
/** The passage a debater prompt shows, or '' without one. */
const passageIn = (prompt: string): string => /<passage>\n([\s\S]*?)\n<\/passage>/.exec(prompt)?.[1] ?? '';
/** Quotes the passage's first five words (verified) and a sentence that is in no passage (unverified). */
registerScript('hp-debater', {
  generate: (req) => {
    const passage = passageIn(text(req));
    return passage ? `See <quote>${words(passage).slice(0, 5).join(' ')}</quote> and <quote>the moon is made of green cheese</quote>.` : 'No passage.';
  },
});
registerScript('hp-judge', { generate: () => 'A' });
/** Best-of-N's scorer: answers "A" and keeps every prompt it was shown. */
const scored: string[] = [];
registerScript('hp-scorer', {
  capabilities: { logprobs: true },
  generate: (req) => {
    scored.push(text(req));
    return 'A';
  },
});
const embedded: string[] = [];
registerScript('hp-embed', {
  embed: (t) => {
    embedded.push(t);
    return [t.length % 7, t.length % 5, 1];
  },
  capabilities: { embeddings: true },
});

const dir = tempDir('w2s-hidden-passage-');

function config(passage?: 'debaters' | 'all' | 'none') {
  return parseExperiment({
    name: 'hidden-passage',
    seed: 3,
    dataset: { name: 'sciq', dataDir: DATA, sizes: { train_weak: 6, train_strong: 6, test: 6 } },
    debate: { protocol: 'debate', debaters: ['scripted:hp-debater'], turns: 2, samples: 2, ...(passage ? { passage } : {}) },
    weak: { features: { kind: 'embedding', model: 'scripted:hp-embed' }, ensemble: { kind: 'debate', size: 2 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [
      { name: 'debate', model: 'scripted:hp-judge', method: 'parsed' },
      { name: 'blind', model: 'scripted:hp-judge', method: 'parsed', reads: 'question' },
      ...(passage === 'debaters' || passage === 'all' ? [{ name: 'reader', model: 'scripted:hp-judge', method: 'parsed' as const, reads: 'question-and-passage' as const }] : []),
    ],
    metrics: { bootstrap: 100 },
  });
}

async function run(name: string, passage?: 'debaters' | 'all' | 'none') {
  const out = join(dir, `${name}.sqlite`);
  const outcome = await runExperiment({ config: config(passage), out, cacheFile: join(dir, `${name}-cache.sqlite`) });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  return { store: openStore(out, { readonly: true }), runId: outcome.runId };
}

/** Every call's role with the texts it sent, from the ledger. */
function callTexts(store: ReturnType<typeof openStore>, runId: string): { role: string; texts: string[] }[] {
  const rows = store.db
    .prepare('SELECT c.id, c.role, t.text FROM calls c JOIN call_messages m ON m.call_id = c.id JOIN texts t ON t.hash = m.text_hash WHERE c.run_id = ? ORDER BY c.id, m.position')
    .all(runId) as { id: number; role: string; text: string }[];
  const byCall = new Map<number, { role: string; texts: string[] }>();
  for (const r of rows) {
    if (!byCall.has(r.id)) byCall.set(r.id, { role: r.role, texts: [] });
    byCall.get(r.id)!.texts.push(r.text);
  }
  return [...byCall.values()];
}

describe('debate.passage "debaters"', async () => {
  embedded.length = 0;
  const { store, runId } = await run('debaters', 'debaters');
  const examples = store.examples.listExamples(runId);
  const withPassage = examples.filter((e) => e.passage);
  // What to look for: each passage whole, and its first run of 8 words past the five the debaters quote that is not
  // also in the question or answer (SciQ questions often copy a sentence of their support).
  const secrets = withPassage.flatMap((e) => {
    const w = words(e.passage!);
    const runs = w.slice(5).map((_, i) => w.slice(5 + i, 13 + i).join(' ')).filter((r) => words(r).length === 8);
    const distinctive = runs.find((r) => !e.text.includes(r));
    return distinctive ? [e.passage!, distinctive] : [e.passage!];
  });
  const calls = callTexts(store, runId);

  test('the stored examples are the passage-free question and text, with the support passage apart', () => {
    assert.ok(withPassage.length >= 15, `most SciQ rows have a support passage (${withPassage.length} of ${examples.length})`);
    for (const e of examples) {
      const [, file, index] = /^sciq\/(train|test)\/(\d+)$/.exec(e.id)!;
      const row = sciq[file!]![Number(index)]!;
      assert.equal(e.question, row.question, `${e.id}: the question as SciQ gives it`);
      assert.equal(e.text, `Q: ${row.question} A: ${e.answer}`, `${e.id}: weak-to-strong's text, no passage in it`);
      assert.equal(e.passage ?? null, row.support?.trim() ? row.support : null, `${e.id}: the passage is the row's support`);
    }
  });

  test('debaters read the passage and are told the judge cannot see it', () => {
    const debater = calls.filter((c) => c.role === 'debater');
    assert.ok(debater.length > 0, 'debater calls are in the ledger');
    for (const c of debater) {
      const prompt = c.texts.join('\n');
      const shown = passageIn(prompt);
      if (!shown) continue;
      assert.ok(withPassage.some((e) => e.passage === shown), 'the passage a debater reads is its example\'s stored passage');
      assert.match(c.texts[0]!, /the judge cannot see/, 'the system message says the judge cannot see the passage');
    }
    assert.ok(debater.filter((c) => passageIn(c.texts.join('\n'))).length >= withPassage.length * 2 * 2, 'every turn of every debate on a passage example reads it');
  });

  test('no judge that reads transcripts or the question alone, and no weak-model input, contains the passage', () => {
    const judged = calls.filter((c) => c.role.startsWith('judge:') && c.role !== 'judge:reader');
    assert.ok(judged.length > 0 && embedded.length > 0, 'judge calls and weak embedding inputs exist');
    const weak = calls.filter((c) => !c.role.startsWith('judge:') && c.role !== 'debater').flatMap((c) => c.texts);
    for (const secret of secrets) {
      for (const c of judged) for (const t of c.texts) assert.ok(!t.includes(secret), `${c.role} received passage text "${secret.slice(0, 40)}…"`);
      for (const t of weak) assert.ok(!t.includes(secret), `a weak-model call contains passage text "${secret.slice(0, 40)}…"`);
      for (const t of embedded) assert.ok(!t.includes(secret), `a weak-model input contains passage text "${secret.slice(0, 40)}…"`);
    }
  });

  test('the baseline judge that reads the passage gets it, once per example and presentation, with no transcript', () => {
    const reader = calls.filter((c) => c.role === 'judge:reader').map((c) => c.texts.join('\n'));
    assert.ok(reader.some((t) => withPassage.some((e) => t.includes(e.passage!))), 'the question-and-passage judge reads passages');
    assert.ok(reader.every((t) => !t.includes('<argument')), 'it reads no transcript');
    const rows = store.db.prepare("SELECT COUNT(*) AS n, COUNT(debate_id) AS withDebate FROM judgments WHERE run_id = ? AND judge = 'blind'").get(runId) as { n: number; withDebate: number };
    assert.deepEqual(rows, { n: 12 * 2, withDebate: 0 }, 'the blind judge: 12 judged examples (train_strong + test) × 2 presentations, no transcript');
    const summary = formatRunSummary(reportQueries(store.db), runId);
    assert.match(summary, /prompted judge blind \(both orders, the question alone\)/, 'the run table says what the blind baseline read');
    assert.match(summary, /prompted judge reader \(both orders, the question and the passage\)/, 'and what the reader baseline read');
  });

  test('each turn stores 2 quotes, 1 verified, and judges and weak models see them marked', () => {
    const turns = store.db
      .prepare('SELECT t.quotes, t.quotes_verified, e.passage IS NOT NULL AS has FROM turns t JOIN debates d ON d.id = t.debate_id JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id WHERE d.run_id = ?')
      .all(runId) as { quotes: number | null; quotes_verified: number | null; has: number }[];
    assert.equal(turns.length, examples.length * 2 * 2, '18 examples × 2 samples × 2 turns');
    for (const t of turns) {
      assert.deepEqual([t.quotes, t.quotes_verified], t.has ? [2, 1] : [null, null], 'the first five words check out, the cheese does not; null without a passage');
    }
    const judgePrompt = calls.find((c) => c.role === 'judge:debate' && c.texts.join('').includes('<quote'))!.texts.join('\n');
    assert.match(judgePrompt, /<quote verified="yes">[^<]+<\/quote> and <quote verified="no">the moon is made of green cheese<\/quote>/, 'the judge sees which quote checks out');
    assert.ok(embedded.some((t) => t.includes('<quote verified="no">the moon')), 'weak models read the same marked form');
  });

  test('the run stores, per side the gold label makes right or wrong, 2 quotes per turn and a verified share of 1/2, and its summary prints them', () => {
    const metrics = reportQueries(store.db).metrics(runId);
    const withQuotes = store.db
      .prepare(
        `SELECT CASE WHEN (t.side = 'correct') = (e.label = 1) THEN 'right' ELSE 'wrong' END AS side, COUNT(*) AS n
         FROM turns t JOIN debates d ON d.id = t.debate_id JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id
         WHERE d.run_id = ? AND t.quotes IS NOT NULL GROUP BY 1`,
      )
      .all(runId) as { side: string; n: number }[];
    for (const side of ['right', 'wrong']) {
      const turns = withQuotes.find((r) => r.side === side)?.n ?? 0;
      assert.ok(turns > 0, `some ${side} turns quote`);
      const perTurn = metrics.find((m) => m.subject === `quotes:${side}` && m.name === 'per_turn');
      const verified = metrics.find((m) => m.subject === `quotes:${side}` && m.name === 'verified_share');
      assert.deepEqual([perTurn?.value, perTurn?.n], [2, turns], `${side}: every quoting turn made 2 quotes`);
      assert.deepEqual([verified?.value, verified?.n], [0.5, 2 * turns], `${side}: one of each turn's two quotes is in the passage`);
    }
    assert.match(formatRunSummary(reportQueries(store.db), runId), /Quotes from the passage \(by the side the gold label makes right or wrong\):\n {2}arguing the right side: 2\.00 per turn \(\d+ turns\); verified 50\.0%/, 'the run summary reads the stored figures');
  });

  test('w2s show and w2s export give each turn\'s quote counts', () => {
    const e = withPassage.find((x) => x.split === 'test')!;
    const q = reportQueries(store.db);
    const shown = formatShow(findShowTarget(q, e.id, runId));
    assert.match(shown, /\[Turn 1\] [AB] \((correct|incorrect), \d+ words, 2 quotes, 1 verified\)/, 'the transcript view counts the quotes');
    const lines = [...exportLines(store.db, { what: 'transcripts', format: 'jsonl', runId, splits: ['test'] })].map((l) => JSON.parse(l) as { example_id: string; turns: Record<string, unknown>[] });
    const turns = lines.filter((l) => l.example_id === e.id).flatMap((l) => l.turns);
    assert.ok(turns.length === 4 && turns.every((t) => t.quotes === 2 && t.quotes_verified === 1), 'the export carries them per turn');
  });
});

test('best-of-N\'s scorer reads the transcript as the judges do: quotes marked against the passage it cannot see', async () => {
  scored.length = 0;
  const base = config('debaters');
  const cfg = parseExperiment({ ...JSON.parse(JSON.stringify(base)), name: 'hidden-passage-bestof', debate: { ...JSON.parse(JSON.stringify(base.debate)), bestOf: 2, scorer: 'scripted:hp-scorer' } });
  const out = join(dir, 'bestof.sqlite');
  const outcome = await runExperiment({ config: cfg, out, cacheFile: join(dir, 'bestof-cache.sqlite') });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  assert.ok(scored.length > 0, 'the scorer was asked');
  assert.ok(scored.some((p) => /<quote verified="yes">[^<]+<\/quote> and <quote verified="no">the moon is made of green cheese<\/quote>/.test(p)), 'it sees which quote checks out');
  assert.ok(scored.every((p) => !p.includes('<passage>')), 'and never the passage itself');
});

describe('debate.passage unset and "all"', () => {
  test('unset: no passage stored, no passage section, the judge prompt as before', async () => {
    const { store, runId } = await run('unset');
    const examples = store.examples.listExamples(runId);
    assert.ok(examples.every((e) => e.passage === undefined), 'no example keeps a passage');
    const quotes = store.db.prepare('SELECT COUNT(*) FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.run_id = ? AND t.quotes IS NOT NULL').pluck().get(runId);
    assert.equal(quotes, 0, 'no quote counts without a passage');
    const prompts = callTexts(store, runId).flatMap((c) => c.texts);
    assert.ok(prompts.every((t) => !t.includes('<passage>') && !t.includes('verified=')), 'no passage section and no quote marks');
  });

  test('"all": the judge reading transcripts and the weak models read the passage too', async () => {
    embedded.length = 0;
    const { store, runId } = await run('all', 'all');
    const examples = store.examples.listExamples(runId).filter((x) => x.passage);
    for (const e of examples) assert.equal(e.text, `Passage: ${e.passage}\nQ: ${e.question} A: ${e.answer}`, 'the weak text starts with the passage');
    const judged = callTexts(store, runId).filter((c) => c.role === 'judge:debate').map((c) => c.texts.join('\n'));
    const judgedTests = examples.filter((e) => e.split === 'test');
    assert.ok(judgedTests.length > 0, 'test examples with a passage exist');
    for (const e of judgedTests) assert.ok(judged.some((t) => t.includes(`<passage>\n${e.passage}\n</passage>`)), `the judge reads ${e.id}'s passage in its section`);
    assert.ok(embedded.some((t) => t.includes(examples[0]!.passage!)), 'the weak models read it');
  });
});

describe('bad passage settings stop before any work', () => {
  test('a dataset without passages', async () => {
    const c = parseExperiment({
      name: 'no-passage',
      dataset: { name: 'anthropic_hh', dataDir: DATA, sizes: { train_weak: 4, train_strong: 4, test: 4 } },
      debate: { protocol: 'debate', debaters: ['scripted:hp-debater'], passage: 'debaters', samples: 1 },
      weak: { ensemble: { kind: 'debate', size: 1 } },
    });
    await assert.rejects(preflight(c), /debate\.passage "debaters": dataset anthropic_hh gives no passage apart from its questions; remove debate\.passage/, 'one sentence naming the setting');
  });

  test('jsonl without dataset.passageField, and a row without the passage it names', async () => {
    const file = writeJsonl(dir, 'rows.jsonl', [
      { question: 'q1', answer: 'a', label: 1, context: 'The first passage.' } as never,
      { question: 'q2', answer: 'b', label: 0 } as never,
      { question: 'q3', answer: 'c', label: 1, context: 'The third passage.' } as never,
    ]);
    const base = {
      name: 'jsonl-passage',
      dataset: { name: 'jsonl', path: file, sizes: { train_weak: 1, train_strong: 1, test: 1 } },
      debate: { protocol: 'none' as const, passage: 'debaters' as const },
    };
    await assert.rejects(preflight(parseExperiment(base)), /set dataset\.passageField to the row field that holds it/, 'names passageField');
    await assert.rejects(
      preflight(parseExperiment({ ...base, dataset: { ...base.dataset, passageField: 'context' } })),
      /line 2.*no passage at dataset\.passageField "context"/,
      'names the line and the field',
    );
  });

  test('config: a judge reading the passage needs debate.passage; passageField is for jsonl', () => {
    assert.throws(
      () => parseExperiment({ name: 'x', dataset: { name: 'sciq' }, debate: { protocol: 'none' }, judges: [{ model: 'scripted:hp-judge', reads: 'question-and-passage' }] }),
      /judges\.0\.reads: judge "judge0" reads the passage, which needs debate\.passage "debaters" or "all"/,
      'one sentence naming the field',
    );
    assert.throws(() => parseExperiment({ name: 'x', dataset: { name: 'sciq', passageField: 'support' } }), /"passageField" is for name "jsonl" only/, 'jsonl only');
  });
});
