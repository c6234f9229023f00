/**
 * Store write rates as the pipeline writes: one turn per statement (each its own transaction, as stored the moment it
 * is generated) and one ledger row per call, bare and with its texts as the gateway stores them (a system prompt all
 * calls share, a user prompt and a reply of their own: one transaction per call).
 *   node --import tsx bench/store-writes.ts [n=20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';

const n = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-store-'));
try {
  const store = openStore(join(dir, 'w.sqlite'));
  store.runs.createRun({ id: 'r', name: 'r', config: {}, configHash: 'h', dataset: 'jsonl' });
  const debates = Math.ceil(n / 3);
  store.transaction(() => {
    for (let i = 0; i < debates; i++) {
      store.examples.insertExamples('r', [{ id: `e${i}`, split: 'test', text: `text ${i}`, label: 1, question: `q${i}`, answer: 'a', meta: {} }]);
      store.debates.upsertDebate({ id: `d${i}`, runId: 'r', exampleId: `e${i}`, protocol: 'debate', sample: 0, seed: i, sides: { A: 'correct', B: 'incorrect' } });
    }
  });
  const text = 'The record names another shelf; the answer fails because the crate was moved in the spring inventory. '.repeat(3);
  let start = performance.now();
  for (let i = 0; i < n; i++) {
    store.calls.insertCall({ runId: 'r', role: 'debater', model: 'scripted:x', kind: 'generate', requestHash: `h${i}`, cacheHit: false, attempts: 1, latencyMs: 12.5, inputTokens: 300, outputTokens: 40, costUsd: 0, finishReason: 'stop' });
  }
  const ledgerPerS = n / ((performance.now() - start) / 1000);
  const system = 'You are a skilled debater. You will see a question followed by a candidate answer; debate whether the answer is correct or incorrect. Stay on topic and be concise.';
  start = performance.now();
  for (let i = 0; i < n; i++) {
    const messages = [
      { role: 'system', content: system },
      { role: 'user', content: `<question>\nWhich shelf holds crate ${i}?\n</question>\nYou are Debater A. Your side: the proposed answer is correct.\n${text}` },
    ];
    store.calls.insertCall({ runId: 'r', role: 'debater', model: 'scripted:x', kind: 'generate', requestHash: `t${i}`, cacheHit: false, attempts: 1, latencyMs: 12.5, inputTokens: 300, outputTokens: 40, costUsd: 0, finishReason: 'stop', texts: { messages, response: `${i}: ${text}`, params: { maxTokens: 200, temperature: 0.7, seed: i } } });
  }
  const ledgerTextsPerS = n / ((performance.now() - start) / 1000);
  start = performance.now();
  for (let i = 0; i < n; i++) {
    store.debates.insertTurn({ debateId: `d${Math.floor(i / 3)}`, idx: i % 3, speaker: i % 2 ? 'B' : 'A', side: 'correct', text, promptHash: 'p', callId: i + 1 });
  }
  const turnsPerS = n / ((performance.now() - start) / 1000);
  store.close();
  console.log(JSON.stringify({ bench: 'store-writes', rows: n, ledgerRowsPerS: Math.round(ledgerPerS), ledgerRowsWithTextsPerS: Math.round(ledgerTextsPerS), turnsPerS: Math.round(turnsPerS), mode: 'one autocommit statement per row, WAL, synchronous=NORMAL' }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
