import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/errors.js';
import { openStore, type ExampleRow, type Store } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'w2s-tables-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function fresh(): Store {
  const s = openStore(join(dir, `t${n++}.sqlite`));
  s.runs.createRun({ id: 'r1', name: 'run one', config: { b: 2, a: [1, 2] }, configHash: 'hash1', dataset: 'sciq' });
  return s;
}

const EXAMPLES: ExampleRow[] = [
  { id: 'e1', split: 'train_weak', text: 'Q: a A: b', label: 1, question: 'a', answer: 'b', meta: { src: 'x' }, group: 'passage-1' },
  { id: 'e2', split: 'train_strong', text: 'Q: c A: d', label: 0 },
  { id: 'e3', split: 'test', text: 'Q: e A: f', label: 1 },
];

test('runs: create, find by config hash, status transitions, duplicate id', () => {
  const s = fresh();
  try {
    const r = s.runs.getRun('r1')!;
    assert.deepEqual(r.config, { a: [1, 2], b: 2 });
    assert.equal(r.status, 'running');
    assert.equal(r.finishedAt, null);
    assert.equal(s.runs.findRunByConfigHash('hash1')?.id, 'r1');
    assert.equal(s.runs.findRunByConfigHash('other'), undefined);
    s.runs.createRun({ id: 'r2', config: {}, configHash: 'hash1' });
    assert.equal(s.runs.findRunByConfigHash('hash1')?.id, 'r2', 'the newest run with the hash');
    assert.deepEqual(s.runs.listRuns().map((x) => x.id), ['r2', 'r1']);

    s.runs.setRunStatus('r1', 'failed', 'boom');
    let f = s.runs.getRun('r1')!;
    assert.equal(f.status, 'failed');
    assert.equal(f.error, 'boom');
    assert.ok(f.finishedAt);
    s.runs.setRunStatus('r1', 'running');
    f = s.runs.getRun('r1')!;
    assert.equal(f.finishedAt, null);
    assert.equal(f.error, null);

    assert.throws(() => s.runs.createRun({ id: 'r1', config: {}, configHash: 'x' }), UserError);
    assert.throws(() => s.runs.setRunStatus('nope', 'completed'), UserError);
    assert.throws(() => s.runs.setRunStatus('r1', 'weird' as never), /CHECK/);
  } finally {
    s.close();
  }
});

test('examples: idempotent insert, order, split filter, counts, invalid rows rejected', () => {
  const s = fresh();
  try {
    assert.equal(s.examples.insertExamples('r1', EXAMPLES), 3);
    assert.equal(s.examples.insertExamples('r1', [...EXAMPLES, { id: 'e4', split: 'test', text: 't', label: 0 }]), 1);
    const all = s.examples.listExamples('r1');
    assert.deepEqual(all.map((e) => e.id), ['e1', 'e2', 'e3', 'e4']);
    assert.deepEqual(all[0], EXAMPLES[0]);
    assert.deepEqual(all[1], { ...EXAMPLES[1], question: null, answer: null, meta: null, group: null });
    assert.deepEqual(s.examples.listExamples('r1', 'test').map((e) => e.id), ['e3', 'e4']);
    assert.deepEqual(s.examples.countBySplit('r1'), { train_weak: 1, train_strong: 1, test: 2 });
    assert.equal(s.examples.getExample('r1', 'e2')?.label, 0);
    // A bad label is an error, not a silently skipped row; and the batch it came in is not half-written.
    assert.throws(() => s.examples.insertExamples('r1', [{ id: 'e5', split: 'test', text: 't', label: 1 }, { id: 'e6', split: 'test', text: 't', label: 2 as 0 }]), /CHECK/);
    assert.equal(s.examples.getExample('r1', 'e5'), undefined);
  } finally {
    s.close();
  }
});

test('debates and turns: first write wins, idempotent turns, status, transcripts', () => {
  const s = fresh();
  try {
    s.examples.insertExamples('r1', EXAMPLES);
    const d = s.debates.upsertDebate({ id: 'd1', runId: 'r1', exampleId: 'e1', protocol: 'debate', sample: 0, seed: 7, sides: { A: 'correct', B: 'incorrect' } });
    assert.equal(d.status, 'pending');
    // Same (run, example, protocol, sample) under another id or other sides: the stored debate is returned unchanged.
    const again = s.debates.upsertDebate({ id: 'd1-other', runId: 'r1', exampleId: 'e1', protocol: 'debate', sample: 0, seed: 9, sides: { A: 'incorrect', B: 'correct' } });
    assert.equal(again.id, 'd1');
    assert.equal(again.seed, 7);
    assert.deepEqual(again.sides, { A: 'correct', B: 'incorrect' });
    assert.equal(s.debates.listDebates('r1').length, 1);

    const turn = { debateId: 'd1', idx: 0, speaker: 'A', side: 'correct' as const, text: '  The answer   is right. ', promptHash: 'p0' };
    assert.equal(s.debates.insertTurn(turn), true);
    assert.equal(s.debates.insertTurn({ ...turn, text: 'different' }), false);
    s.debates.insertTurn({ debateId: 'd1', idx: 1, speaker: 'B', side: 'incorrect', text: 'No.', promptHash: 'p1', truncated: true });
    const turns = s.debates.listTurns('d1');
    assert.deepEqual(turns.map((t) => [t.idx, t.text, t.wordCount, t.truncated, t.callId]), [
      [0, '  The answer   is right. ', 4, false, null],
      [1, 'No.', 1, true, null],
    ]);

    s.debates.upsertDebate({ id: 'd2', runId: 'r1', exampleId: 'e1', protocol: 'debate', sample: 1, seed: 8, sides: { A: 'incorrect', B: 'correct' } });
    s.debates.upsertDebate({ id: 'd3', runId: 'r1', exampleId: 'e2', protocol: 'consultancy', sample: 0, seed: 1, sides: { A: 'correct' } });
    assert.deepEqual(s.debates.transcriptsForExample('r1', 'e1'), [], 'pending debates are not transcripts');
    s.debates.completeDebate('d1');
    s.debates.failDebate('d2', 'HTTP 500');
    s.debates.completeDebate('d3');
    assert.equal(s.debates.getDebate('d2')?.error, 'HTTP 500');
    assert.deepEqual(s.debates.listDebates('r1', { status: 'failed' }).map((x) => x.id), ['d2']);
    assert.deepEqual(s.debates.listDebates('r1', { protocol: 'consultancy' }).map((x) => x.id), ['d3']);
    assert.deepEqual(s.debates.listDebates('r1', { exampleId: 'e1', sample: 1 }).map((x) => x.id), ['d2']);

    const tr = s.debates.transcriptsForExample('r1', 'e1');
    assert.deepEqual(tr.map((t) => [t.id, t.turns.length]), [['d1', 2]]);
    assert.deepEqual(s.debates.listTranscripts('r1').map((t) => [t.id, t.turns.length]), [['d1', 2], ['d3', 0]]);

    s.debates.resetDebate('d2');
    assert.deepEqual([s.debates.getDebate('d2')?.status, s.debates.getDebate('d2')?.error], ['pending', null]);
    assert.throws(() => s.debates.insertTurn({ ...turn, debateId: 'ghost' }), /FOREIGN KEY/);
  } finally {
    s.close();
  }
});

test('calls: ledger rows and summaries by role and model', () => {
  const s = fresh();
  try {
    const base = { runId: 'r1', model: 'openai:m', kind: 'generate' as const, requestHash: 'h', latencyMs: 10, inputTokens: 100, outputTokens: 20 };
    const id1 = s.calls.insertCall({ ...base, role: 'debater', cacheHit: false, attempts: 2, costUsd: 0.5, finishReason: 'stop' });
    s.calls.insertCall({ ...base, role: 'debater', cacheHit: true, attempts: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
    s.calls.insertCall({ ...base, role: 'judge', cacheHit: false, attempts: 6, costUsd: 0, inputTokens: 0, outputTokens: 0, error: 'HTTP 503' });
    s.calls.insertCall({ ...base, runId: null, role: 'probe', cacheHit: false, attempts: 1, costUsd: 1 });
    assert.ok(id1 > 0);
    assert.equal(s.calls.getCall(id1)?.attempts, 2);
    assert.equal(s.calls.getCall(id1)?.cacheHit, false);
    assert.deepEqual(s.calls.listCalls('r1', { role: 'judge' }).map((c) => c.error), ['HTTP 503']);
    assert.equal(s.calls.listCalls('r1', { limit: 2 }).length, 2);

    const sum = s.calls.ledgerSummary('r1');
    assert.deepEqual(sum.total, { calls: 3, hits: 1, errors: 1, attempts: 8, inputTokens: 100, outputTokens: 20, costUsd: 0.5, latencyMs: 30 });
    assert.deepEqual(sum.byRoleModel.map((g) => [g.role, g.model, g.calls, g.hits, g.costUsd]), [
      ['debater', 'openai:m', 2, 1, 0.5],
      ['judge', 'openai:m', 1, 0, 0],
    ]);
    assert.equal(s.calls.ledgerSummary(null).total.calls, 1);
    assert.deepEqual(s.calls.ledgerSummary('empty').total.calls, 0);
  } finally {
    s.close();
  }
});

test('cache: miss, hit counting, first write wins, stats, clear by model', () => {
  const s = fresh();
  try {
    assert.equal(s.cache.getCached('k1'), undefined);
    s.cache.putCached('k1', 'generate', 'openai:a', { text: 'hello', usage: { inputTokens: 1, outputTokens: 2 } });
    s.cache.putCached('k1', 'generate', 'openai:a', { text: 'overwritten?' });
    s.cache.putCached('k2', 'embed', 'ollama:e', [0.1, -2.5e-8, 3]);
    s.cache.putCached('k3', 'generate', 'openai:b', { text: 'é' });
    assert.deepEqual(s.cache.getCached('k1'), { text: 'hello', usage: { inputTokens: 1, outputTokens: 2 } });
    s.cache.getCached('k1');
    assert.deepEqual(s.cache.getCached('k2'), [0.1, -2.5e-8, 3]);
    const st = s.cache.cacheStats();
    assert.equal(st.entries, 3);
    assert.equal(st.hits, 3);
    assert.ok(st.bytes > 0);
    assert.deepEqual(st.byModel.map((m) => [m.model, m.kind, m.entries, m.hits]), [
      ['ollama:e', 'embed', 1, 1],
      ['openai:a', 'generate', 1, 2],
      ['openai:b', 'generate', 1, 0],
    ]);
    assert.equal(s.cache.clearCache('openai:*'), 2);
    assert.equal(s.cache.getCached('k1'), undefined);
    assert.equal(s.cache.clearCache('nothing'), 0);
    assert.equal(s.cache.clearCache(), 1);
    assert.equal(s.cache.cacheStats().entries, 0);
  } finally {
    s.close();
  }
});

test('judgments: unique per (example, judge, debate, order), null debate included', () => {
  const s = fresh();
  try {
    s.examples.insertExamples('r1', EXAMPLES);
    s.debates.upsertDebate({ id: 'd1', runId: 'r1', exampleId: 'e1', protocol: 'debate', sample: 0, seed: 1, sides: { A: 'correct', B: 'incorrect' } });
    const j = { runId: 'r1', exampleId: 'e1', judge: 'j', debateId: null, orderSwapped: false, pCorrect: 0.7, method: 'logprobs' as const };
    assert.equal(s.judgments.insertJudgment(j), true);
    assert.equal(s.judgments.insertJudgment({ ...j, pCorrect: 0.1 }), false, 'a null debate id is still a duplicate');
    assert.equal(s.judgments.insertJudgments([{ ...j, orderSwapped: true }, { ...j, debateId: 'd1' }, { ...j, debateId: 'd1' }]), 2);
    assert.equal(s.judgments.hasJudgment('r1', 'e1', 'j', null, true), true);
    assert.equal(s.judgments.hasJudgment('r1', 'e1', 'j', 'd1', true), false);
    const rows = s.judgments.listJudgments('r1', { judge: 'j' });
    assert.equal(rows.length, 3);
    assert.deepEqual([rows[0]!.pCorrect, rows[0]!.orderSwapped, rows[0]!.rawText], [0.7, false, null]);
    assert.throws(() => s.judgments.insertJudgment({ ...j, exampleId: 'ghost' }), /FOREIGN KEY/);
  } finally {
    s.close();
  }
});

test('trained models and predictions: replace on retrain, typed arrays, bulk predictions', () => {
  const s = fresh();
  try {
    s.examples.insertExamples('r1', EXAMPLES);
    const m = s.models.insertModel({
      id: 'm1', runId: 'r1', role: 'weak_member', member: 2, backend: 'probe', seed: 5,
      config: { lr: 0.1 }, state: { w: new Float32Array([0.5, -1]), b: 0 }, stats: { loss: [1, 0.5] },
    });
    assert.deepEqual(m.state, { w: [0.5, -1], b: 0 });
    assert.equal(s.models.getModel('r1', 'weak_member', 2)?.id, 'm1');
    assert.equal(s.models.getModel('r1', 'weak_member'), undefined);
    s.models.insertPredictions('m1', 'r1', [{ exampleId: 'e1', p1: 0.9, debateId: null }, { exampleId: 'e2', p1: 0.2 }]);
    s.models.insertPredictions('m1', 'r1', [{ exampleId: 'e2', p1: 0.3 }]);
    assert.deepEqual(s.models.listPredictions('m1'), [{ exampleId: 'e1', debateId: null, p1: 0.9 }, { exampleId: 'e2', debateId: null, p1: 0.3 }]);
    // A bad row rolls back the whole batch.
    assert.throws(() => s.models.insertPredictions('m1', 'r1', [{ exampleId: 'e3', p1: 0.5 }, { exampleId: 'ghost', p1: 0.5 }]), /FOREIGN KEY/);
    assert.equal(s.models.listPredictions('m1').length, 2);

    // Retraining the same (run, role, member) replaces the model and drops its stale predictions.
    s.models.insertModel({ id: 'm1b', runId: 'r1', role: 'weak_member', member: 2, backend: 'probe', seed: 6, config: {}, stats: {} });
    assert.equal(s.models.getModelById('m1'), undefined);
    assert.deepEqual(s.models.listPredictions('m1'), []);
    assert.equal(s.models.getModel('r1', 'weak_member', 2)?.state, null);
    s.models.insertModel({ id: 'm0', runId: 'r1', role: 'strong', backend: 'probe', seed: 1, config: {}, stats: {}, artifactPath: '/x' });
    assert.deepEqual(s.models.listModels('r1').map((x) => [x.id, x.role, x.member]), [['m0', 'strong', 0], ['m1b', 'weak_member', 2]]);
    assert.deepEqual(s.models.listModels('r1', 'strong').map((x) => x.artifactPath), ['/x']);
  } finally {
    s.close();
  }
});

test('metrics upsert and stages', () => {
  const s = fresh();
  try {
    s.metrics.upsertMetric({ runId: 'r1', subject: 'strong', name: 'accuracy', value: 0.9, lo: 0.85, hi: 0.95, n: 200 });
    const provenance = { method: 'percentile bootstrap', level: 0.95, resamples: 1000, undefinedResamples: 3, seed: 42, covers: 'test examples (200)' };
    s.metrics.upsertMetrics([
      { runId: 'r1', subject: 'strong', name: 'accuracy', value: 0.91, n: 200, ...provenance },
      { runId: 'r1', subject: 'all', name: 'pgr', value: Number.NaN, note: 'ceiling <= weak' },
    ]);
    const unset = { method: null, level: null, resamples: null, undefinedResamples: null, seed: null, covers: null };
    assert.deepEqual(s.metrics.listMetrics('r1'), [
      { runId: 'r1', subject: 'all', name: 'pgr', value: null, lo: null, hi: null, n: null, note: 'ceiling <= weak', ...unset },
      { runId: 'r1', subject: 'strong', name: 'accuracy', value: 0.91, lo: null, hi: null, n: 200, note: null, ...provenance },
    ]);
    assert.equal(s.metrics.getMetric('r1', 'strong', 'accuracy')?.value, 0.91);
    assert.equal(s.metrics.listMetrics('r1', 'all').length, 1);

    assert.equal(s.stages.isStageDone('r1', 'prepare'), false);
    s.stages.markStageDone('r1', 'prepare');
    s.stages.markStageDone('r1', 'debate');
    s.stages.markStageDone('r1', 'prepare');
    assert.equal(s.stages.isStageDone('r1', 'prepare'), true);
    assert.deepEqual(s.stages.listStages('r1').map((x) => x.name).sort(), ['debate', 'prepare']);
    assert.equal(s.stages.clearStage('r1', 'debate'), true);
    assert.equal(s.stages.isStageDone('r1', 'debate'), false);
    assert.throws(() => s.stages.markStageDone('ghost', 'x'), /FOREIGN KEY/);
  } finally {
    s.close();
  }
});

test('store.transaction rolls back every write when the function throws', () => {
  const s = fresh();
  try {
    assert.throws(() =>
      s.transaction(() => {
        s.examples.insertExamples('r1', EXAMPLES);
        s.stages.markStageDone('r1', 'prepare');
        throw new Error('crash mid-stage');
      }),
    );
    assert.equal(s.examples.listExamples('r1').length, 0);
    assert.equal(s.stages.isStageDone('r1', 'prepare'), false);
  } finally {
    s.close();
  }
});
