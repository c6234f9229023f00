import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openReport } from '../../src/report/queries.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { startOpenAIServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { newestRunId, runCli, smallConfig, writeConfig, writeDataset } from '../reliability/fixture.js';

/**
 * `w2s run` with stderr piped (no TTY), as in CI: stage lines, heartbeats bounded by time, never a line per training
 * step, and the result on stdout exactly as the run builds it.
 */

const STAGES = ['prepare', 'train_weak_baseline', 'debates', 'leak_audit', 'judges', 'judge_ensembles', 'train_weak_ensemble', 'train_strong', 'evaluate'];

/** "4.2s", "12s", "1m05s" → ms. */
function parseDuration(text: string): number {
  const m = /^(?:(\d+)m)?([\d.]+)s$/.exec(text);
  assert.ok(m, `a duration: ${text}`);
  return (Number(m[1] ?? 0) * 60 + Number(m[2])) * 1000;
}

/** Heartbeat lines per stage, and each stage's time from its end line ("✓ debates (12/12, 2.3s, …)"). */
function stagesOf(lines: string[]): Map<string, { beats: number; ms: number }> {
  const stages = new Map<string, { beats: number; ms: number }>();
  for (const line of lines) {
    const beat = /^(\w+): .* elapsed/.exec(line);
    if (beat) {
      const s = stages.get(beat[1]!) ?? { beats: 0, ms: NaN };
      stages.set(beat[1]!, { ...s, beats: s.beats + 1 });
    }
    const end = /^✓ (\w+) \((.*)\)$/.exec(line);
    if (end && !end[2]!.includes('already done')) {
      const time = end[2]!.split(', ').find((f) => /^(\d+m)?[\d.]+s$/.test(f))!;
      const s = stages.get(end[1]!) ?? { beats: 0, ms: NaN };
      stages.set(end[1]!, { ...s, ms: parseDuration(time) });
    }
  }
  return stages;
}

test('piped: a line as each stage starts and ends and as each model starts training, no line per training step; stdout is the result table alone', async () => {
  const dir = tempDir();
  const config = smallConfig({ dataset: writeDataset(dir, 40), debater: 'scripted:echo', perSplit: 12, samples: 2 });
  // 1200 steps per model: the probe reports ~100 of them, which used to print a line per tenth.
  for (const group of ['weak', 'strong'] as const) (config[group] as { probe: object }).probe = { epochs: 400, batchSize: 4 };
  const file = writeConfig(dir, config);
  const out = join(dir, 'run.sqlite');

  const first = await runCli(['run', file, '--out', out, '--no-cache']);
  assert.equal(first.code, 0, first.stderr);
  const runId = newestRunId(out);
  const q = openReport(out);
  try {
    assert.equal(first.stdout, `\nRun ${runId} (${out})\n\n${formatRunSummary(q, runId)}\n`, 'no progress on stdout: the final lines are the table');
  } finally {
    q.close();
  }

  const lines = first.stderr.split('\n').filter((l) => l !== '');
  assert.ok(!lines.some((l) => l.includes('\r') || l.includes('\x1b')), 'no terminal control codes off a terminal');
  assert.ok(!lines.some((l) => /^train\b/.test(l) || /\d+\/1200$/.test(l)), `no line per training step:\n${first.stderr}`);
  assert.deepEqual(lines.filter((l) => l.startsWith('▶ ')), STAGES.map((s) => `▶ ${s}`));
  assert.deepEqual(lines.filter((l) => l.startsWith('✓ ')).map((l) => l.split(' ')[1]), STAGES);
  assert.match(first.stderr, /^✓ debates \(72\/72, [\d.]+s, 144 calls, 0 hits\)$/m);
  assert.match(first.stderr, /^✓ train_strong \(3 models, [\d.]+s\)$/m);
  const training = lines.filter((l) => /^ {2}train_\w+: training /.test(l));
  assert.equal(training.length, 1 + 2 + 3, 'one line per model trained: the weak baseline, 2 members, 3 strong models');
  // Everything else: the preflight and cache notes, the debates' description, heartbeats (5 s apart: a few at most).
  const rest = lines.filter((l) => !/^[▶✓] /.test(l) && !training.includes(l));
  assert.deepEqual(rest.filter((l) => !/^\w+: .* elapsed/.test(l)), [
    lines.find((l) => l.startsWith('  preflight: ok — at most 144 model calls')),
    '  run: response cache off (--no-cache)',
    '  debates: debate, 2 turns, 2 per example, debaters scripted:echo',
  ]);
  for (const [stage, s] of stagesOf(lines)) assert.ok(s.beats <= Math.floor(s.ms / 5_000) + 1, `${stage}: ${s.beats} heartbeats in ${s.ms} ms`);
  assert.ok(lines.length <= 2 + 2 * STAGES.length + 1 + training.length + 3, `a bounded number of lines:\n${first.stderr}`);

  // A rerun: every stage already done, the same table.
  const again = await runCli(['run', file, '--out', out, '--no-cache']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, first.stdout);
  assert.deepEqual(again.stderr.split('\n').filter((l) => l.startsWith('✓ ')), STAGES.map((s) => `✓ ${s} (already done)`));
});

test('piped: while a call is rate limited, the heartbeat says how long it waits, for which model and attempt; heartbeats stay one per interval', async () => {
  const dir = tempDir();
  let chats = 0;
  // The first chat request is rate limited with Retry-After: 2 s; the rest answer at once.
  const server = await startOpenAIServer({
    onRequest: (r) => (r.path === '/v1/chat/completions' && ++chats === 1 ? { status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } } : undefined),
  });
  try {
    const config = smallConfig({ dataset: writeDataset(dir, 18), debater: `openai:m@${server.url}`, perSplit: 4 });
    const r = await runCli(['run', writeConfig(dir, config), '--out', join(dir, 'run.sqlite'), '--no-cache'], { env: { W2S_PROGRESS_SECONDS: '0.25' } });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    const waiting = lines.filter((l) => /^debates: \d+\/12 \(\d+%\), [\d.]+s elapsed, .*; waiting [\d.]+ s: rate limited by openai:m@\S+, attempt 2$/.test(l));
    assert.ok(waiting.length >= 2, `the wait shows in the heartbeats:\n${r.stderr}`);
    const seconds = waiting.map((l) => Number(/waiting ([\d.]+) s/.exec(l)![1]));
    assert.ok(seconds.every((s, i) => s <= 2 && (i === 0 || s < seconds[i - 1]!)), `the wait counts down: ${seconds.join(', ')}`);
    assert.match(r.stderr, /^✓ debates \(12\/12, [\d.]+s, 24 calls, 0 hits, 1 retry\)$/m);
    for (const [stage, s] of stagesOf(lines)) assert.ok(s.beats <= Math.floor(s.ms / 250) + 1, `${stage}: ${s.beats} heartbeats in ${s.ms} ms`);
  } finally {
    await server.close();
  }
});
