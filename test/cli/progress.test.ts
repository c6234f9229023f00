import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeBackoff, formatDuration, heartbeatFromEnv, progressRenderer, type ProgressOptions } from '../../src/cli/progress.js';
import type { GatewayStats } from '../../src/models/gateway.js';

/**
 * The progress renderer driven by a fake clock and a hand-run timer: what it prints on a terminal (the live line,
 * redrawn in place) and off one (start, heartbeat and end lines).
 */

const T0 = 1_800_000_000_000;

function stats(over: Partial<GatewayStats> = {}): GatewayStats {
  return {
    calls: 0, hits: 0, backendCalls: 0, retries: 0, errors: 0, inFlight: 0, queued: 0, backingOff: 0, lastRetry: null,
    inputTokens: 0, outputTokens: 0, costUsd: 0, ...over,
  };
}

/** A renderer on a recording stream, with a clock and a timer the test moves by hand. */
function harness(tty: boolean, opts: Partial<ProgressOptions> & { columns?: number } = {}) {
  let now = T0;
  let text = '';
  let current = stats();
  const timers: { fn: () => void; ms: number; next: number; live: boolean }[] = [];
  const progress = progressRenderer({
    stream: { isTTY: tty, columns: opts.columns, write: (s: string) => void (text += s) },
    now: () => now,
    stats: () => current,
    every: (fn, ms) => {
      const timer = { fn, ms, next: now + ms, live: true };
      timers.push(timer);
      return () => void (timer.live = false);
    },
    ...opts,
  });
  return {
    progress,
    /** Moves the clock, firing the timer each time it is due on the way. */
    advance(ms: number): void {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.ms;
        due.fn();
      }
      now = end;
    },
    setStats(s: Partial<GatewayStats>): void {
      current = stats(s);
    },
    now: () => now,
    text: () => text,
    /** Whole lines written (off a terminal: everything). */
    lines: () => text.split('\n').filter((l) => l !== ''),
    /** On a terminal: the live line as last drawn. */
    live: () => text.slice(text.lastIndexOf('\r\x1b[2K') + 5),
    timersLive: () => timers.filter((t) => t.live).length,
  };
}

test('formatDuration: tenths under 10 s, then seconds, minutes, hours', () => {
  assert.equal(formatDuration(42), '0.0s');
  assert.equal(formatDuration(4_240), '4.2s');
  assert.equal(formatDuration(12_400), '12s');
  assert.equal(formatDuration(72_000), '1m12s');
  assert.equal(formatDuration(216_000), '3m36s');
  assert.equal(formatDuration(59_700), '1m00s');
  assert.equal(formatDuration(2 * 3_600_000 + 5 * 60_000), '2h05m');
});

test('off a terminal: a start line, one heartbeat line per interval with done/total, elapsed, ETA and the calls, and an end line; no line per tick', () => {
  const h = harness(false, { heartbeatMs: 6_000 });
  h.progress({ stage: 'judges', kind: 'start' });
  h.progress({ stage: 'judges', kind: 'start', total: 4800, message: 'j=scripted:judge' });
  // Half the work in the first 36 s, the rest at the same rate; ticks every few milliseconds in between.
  for (let done = 1; done <= 600; done++) {
    h.advance(60);
    h.progress({ stage: 'judges', kind: 'tick', done, total: 4800 });
  }
  h.setStats({ backendCalls: 1150, hits: 50, calls: 1200 });
  h.advance(35_500);
  h.progress({ stage: 'judges', kind: 'tick', done: 1200, total: 4800 });
  h.advance(500);
  const lines = h.lines();
  assert.equal(lines[0], '▶ judges');
  assert.equal(lines[1], '  judges: j=scripted:judge');
  const beats = lines.slice(2);
  assert.equal(beats.length, 12, 'one heartbeat every 6 s of the 72 s, however many ticks');
  assert.equal(beats[0], 'judges: 99/4800 (2%), 6.0s elapsed, ETA 4m45s, 0 calls, 0 hits, 0 retries');
  // The rate of the last 30 s or so: 600 in 36 s, so 3600 more take 3m36s.
  assert.equal(beats.at(-1), 'judges: 1200/4800 (25%), 1m12s elapsed, ETA 3m36s, 1150 calls, 50 hits, 0 retries');

  h.setStats({ backendCalls: 4700, hits: 100, calls: 4800, retries: 2, inputTokens: 900_000, outputTokens: 34_000, costUsd: 0.4213 });
  h.progress({ stage: 'judges', kind: 'tick', done: 4800, total: 4800 });
  h.advance(1_000);
  h.progress({ stage: 'judges', kind: 'end' });
  assert.equal(h.lines().at(-1), '✓ judges (4800/4800, 1m13s, 4700 calls, 100 hits, 2 retries)');
  assert.equal(h.timersLive(), 0, 'the timer stops with the stage');
  const count = h.lines().length;
  h.advance(60_000);
  assert.equal(h.lines().length, count, 'no heartbeat between stages');
});

test('off a terminal: no ETA until there is a rate, and a stage that ticks not at all still beats', () => {
  const h = harness(false, { heartbeatMs: 2_000 });
  h.progress({ stage: 'debates', kind: 'start', total: 10 });
  h.advance(4_100);
  assert.deepEqual(h.lines().slice(1), [
    'debates: 0/10 (0%), 2.0s elapsed, 0 calls, 0 hits, 0 retries',
    'debates: 0/10 (0%), 4.0s elapsed, 0 calls, 0 hits, 0 retries',
  ]);
  h.progress({ stage: 'debates', kind: 'tick', done: 1, total: 10 });
  h.advance(1_900);
  assert.equal(h.lines().at(-1), 'debates: 1/10 (10%), 6.0s elapsed, ETA 54s, 0 calls, 0 hits, 0 retries');
});

test('off a terminal: a long training stage shows as one stage, at most one line per interval, its models as parts', () => {
  const h = harness(false);
  h.progress({ stage: 'train_strong', kind: 'start' });
  const models = ['strong', 'strong_naive', 'strong_ceiling'];
  for (const model of models) {
    h.progress({ stage: 'train', part: model, kind: 'info', message: `training ${model} on 80 rows (probe, xent)` });
    for (let step = 1; step <= 2_000; step++) {
      h.advance(10);
      h.progress({ stage: 'train', part: model, kind: 'tick', done: step, total: 2_000 });
    }
  }
  h.progress({ stage: 'train_strong', kind: 'end' });
  const lines = h.lines();
  assert.equal(lines[0], '▶ train_strong');
  assert.equal(lines.at(-1), '✓ train_strong (3 models, 1m00s)');
  const notes = lines.filter((l) => l.startsWith('  '));
  assert.deepEqual(notes, models.map((m) => `  train_strong: training ${m} on 80 rows (probe, xent)`), 'one line as each model starts');
  const beats = lines.filter((l) => l.startsWith('train_strong: '));
  assert.equal(beats.length, 12, '60 s of training: 12 heartbeats, not one per step');
  assert.ok(lines.length <= 1 + models.length + 12 + 1, lines.join('\n'));
  assert.ok(!lines.some((l) => /^train /.test(l)), 'no line per model stage');
  assert.equal(beats[0], 'train_strong: model 1: strong 499/2000 steps (24%), 5.0s elapsed, ETA 15s, 0 calls, 0 hits, 0 retries');
  assert.match(beats[5]!, /^train_strong: model 2: strong_naive 999\/2000 steps \(49%\), 30s elapsed, ETA 10s, /);
});

test('off a terminal: a call backing off shows in the heartbeat with its wait, its reason and the attempt it waits for', () => {
  const h = harness(false);
  h.progress({ stage: 'debates', kind: 'start', total: 480 });
  h.progress({ stage: 'debates', kind: 'tick', done: 120, total: 480 });
  h.advance(3_200);
  h.setStats({ backendCalls: 240, retries: 2, backingOff: 1, inFlight: 4, lastRetry: { model: 'openai:gpt-4o-mini', attempt: 2, delayMs: 6_000, reason: 'HTTP 429', at: h.now() } });
  h.advance(1_800);
  assert.equal(h.lines().at(-1), 'debates: 120/480 (25%), 5.0s elapsed, ETA 15s, 240 calls, 0 hits, 2 retries; waiting 4.2 s: rate limited by openai:gpt-4o-mini, attempt 3');
});

test('on a terminal: one live line with the bar, done/total, elapsed, ETA and the calls, redrawn in place and cut to the width', () => {
  const h = harness(true, { columns: 200 });
  h.progress({ stage: 'debates', kind: 'start', total: 480 });
  assert.equal(h.text(), '▶ debates\n\r\x1b[2Kdebates [....................] 0/480 · 0.0s · 0 calls, 0 hits, 0 retries');
  h.advance(9_950);
  assert.equal(h.live(), 'debates [....................] 0/480 · 9.8s · 0 calls, 0 hits, 0 retries', 'the timer redraws it with no tick: elapsed moves on');
  assert.ok(!h.text().slice(h.text().indexOf('\n') + 1).includes('\n'), 'the live line is redrawn, never a new line');
  h.setStats({ backendCalls: 230, hits: 10, calls: 240, inputTokens: 11_000, outputTokens: 1_345, costUsd: 0.42 });
  h.progress({ stage: 'debates', kind: 'tick', done: 120, total: 480 });
  h.advance(50);
  assert.equal(h.live(), 'debates [#####...............] 120/480 · 10s · ETA 30s · 230 calls, 10 hits, 0 retries, 12k tokens, $0.42');

  const narrow = harness(true, { columns: 40 });
  narrow.progress({ stage: 'debates', kind: 'start', total: 480 });
  assert.equal(narrow.live(), 'debates [....................] 0/480 ·…');
  assert.equal(narrow.live().length, 39);
});

test('on a terminal: a call backing off shows its wait counting down, before the counters', () => {
  const h = harness(true, { columns: 300 });
  h.progress({ stage: 'judges', kind: 'start', total: 100 });
  h.advance(1_000);
  h.setStats({ backendCalls: 3, retries: 2, backingOff: 1, lastRetry: { model: 'openai:gpt-4o-mini', attempt: 2, delayMs: 6_000, reason: 'HTTP 429', at: h.now() - 1_550 } });
  h.advance(250);
  assert.equal(h.live(), 'judges [....................] 0/100 · 1.3s · waiting 4.2 s: rate limited by openai:gpt-4o-mini, attempt 3 · 3 calls, 0 hits, 2 retries');
  h.advance(1_000);
  assert.match(h.live(), /· waiting 3\.2 s: rate limited by openai:gpt-4o-mini, attempt 3 ·/);
  h.setStats({ backendCalls: 3, retries: 3, backingOff: 2, lastRetry: { model: 'ollama:qwen', attempt: 1, delayMs: 750, reason: 'HTTP 503', at: h.now() } });
  h.advance(250);
  assert.match(h.live(), /· waiting 0\.5 s: ollama:qwen failed \(HTTP 503\), attempt 2 \(2 calls waiting\) ·/);
  h.setStats({ backendCalls: 4, retries: 3 });
  h.advance(250);
  assert.doesNotMatch(h.live(), /waiting/, 'gone once no call backs off');
});

test('describeBackoff: past its delay a wait shows no seconds; an error message is its reason', () => {
  const at = T0;
  const s = stats({ backingOff: 1, lastRetry: { model: 'm', attempt: 1, delayMs: 1_000, reason: 'Model call timed out after 300000 ms', at } });
  assert.equal(describeBackoff(s, at + 5_000), 'waiting: m failed (Model call timed out after 300000 ms), attempt 2');
  assert.equal(describeBackoff(stats(), at), undefined);
});

test('on a terminal: lines printed above the live line, which is redrawn; clear() wipes it and stops the timer', () => {
  const h = harness(true, { columns: 200 });
  h.progress({ stage: 'debates', kind: 'tick', done: 3, total: 10 });
  assert.match(h.text(), /debates \[######\.+\] 3\/10 · 0\.0s · 0 calls, 0 hits, 0 retries$/, 'a tick with no start shows too');
  h.progress.print('[w2s warn] something to say');
  assert.ok(h.text().includes('\r\x1b[2K[w2s warn] something to say\n\r\x1b[2Kdebates ['), 'wiped, printed, redrawn');
  h.progress.clear();
  assert.ok(h.text().endsWith('\r\x1b[2K'), 'the live line is erased and the cursor is at its start');
  assert.equal(h.timersLive(), 0);
  const length = h.text().length;
  h.progress.clear();
  h.advance(5_000);
  assert.equal(h.text().length, length, 'clearing with no line shown writes nothing, and nothing is redrawn');
});

test('on a terminal: a training stage draws its current model\'s steps, and the model notes print above', () => {
  const h = harness(true, { columns: 200 });
  h.progress({ stage: 'train_weak_ensemble', kind: 'start' });
  h.progress({ stage: 'train', part: 'weak_member[1]', kind: 'info', message: 'training weak_member[1] on 80 rows (probe, xent)' });
  h.advance(1_950);
  h.progress({ stage: 'train', part: 'weak_member[1]', kind: 'tick', done: 10, total: 40 });
  h.advance(50);
  assert.equal(h.live(), 'train_weak_ensemble model 1: weak_member[1] [#####...............] 10/40 · 2.0s · ETA 6.0s · 0 calls, 0 hits, 0 retries');
  assert.ok(h.text().includes('  train_weak_ensemble: training weak_member[1] on 80 rows (probe, xent)\n'));
});

test('the run sends its stats source on an event; a sweep cell\'s name prefixes every line', () => {
  let text = '';
  let now = T0;
  const progress = progressRenderer({ stream: { isTTY: false, write: (s: string) => void (text += s) }, now: () => now, every: () => () => {}, prefix: '[s/size=4] ' });
  progress({ stage: 'run', kind: 'info', stats: () => stats({ backendCalls: 7, hits: 2 }) });
  progress({ stage: 'debates', kind: 'start', total: 4 });
  now += 6_000;
  progress({ stage: 'debates', kind: 'tick', done: 2, total: 4 });
  progress({ stage: 'debates', kind: 'end' });
  progress({ stage: 'evaluate', kind: 'skip' });
  assert.equal(text, [
    '▶ [s/size=4] debates',
    '[s/size=4] debates: 2/4 (50%), 6.0s elapsed, ETA 6.0s, 7 calls, 2 hits, 0 retries',
    '✓ [s/size=4] debates (2/4, 6.0s)',
    '✓ [s/size=4] evaluate (already done)',
    '',
  ].join('\n'));
});

test('W2S_PROGRESS_SECONDS sets the heartbeat interval; anything but a positive number is refused', () => {
  assert.equal(heartbeatFromEnv({}), undefined);
  assert.equal(heartbeatFromEnv({ W2S_PROGRESS_SECONDS: '30' }), 30_000);
  assert.equal(heartbeatFromEnv({ W2S_PROGRESS_SECONDS: '0.5' }), 500);
  assert.throws(() => heartbeatFromEnv({ W2S_PROGRESS_SECONDS: '0' }), /W2S_PROGRESS_SECONDS must be a positive number of seconds, got "0"/);
  assert.throws(() => heartbeatFromEnv({ W2S_PROGRESS_SECONDS: 'soon' }), /got "soon"/);
});
