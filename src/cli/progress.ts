import { UserError } from '../errors.js';
import type { GatewayStats } from '../models/gateway.js';
import type { ProgressEvent, ProgressListener } from '../pipeline/progress.js';

/** Where progress goes: process.stderr, or a test's recorder. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** The terminal's width; the live line is cut to fit it, so it never wraps (a wrapped line cannot be redrawn). */
  columns?: number;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** A redrawn live line (true) or heartbeat lines (false); default stream.isTTY. */
  tty?: boolean;
  /** The clock, in epoch milliseconds (lastRetry.at is Date.now()); default Date.now. */
  now?: () => number;
  /** The run's call counters; default the source the run sends on its first event that has one (ProgressEvent.stats). */
  stats?: () => GatewayStats | null | undefined;
  /** Without a TTY: at most one heartbeat line per stage this often (default 5000 ms). */
  heartbeatMs?: number;
  /** On a TTY: how often the live line is redrawn while nothing happens (default 250 ms), so waits count down. */
  redrawMs?: number;
  /** Runs fn every ms until the returned function is called; default an unref'd setInterval. Tests drive it by hand. */
  every?: (fn: () => void, ms: number) => () => void;
  /** Put before every stage name (a sweep's cell). */
  prefix?: string;
}

export interface ProgressRenderer extends ProgressListener {
  /** Wipes the live line and stops the timer; called before the command's last words, so they start on a clean line. */
  clear(): void;
  /** Writes a whole line (a log line, a note) above the live line, which is then redrawn. */
  print(line: string): void;
}

export const DEFAULT_HEARTBEAT_MS = 5_000;
const DEFAULT_REDRAW_MS = 250;
/** On a TTY, ticks redraw the line at most this often (a fast stage ticks thousands of times a second). */
const MIN_DRAW_GAP_MS = 100;
/** The rate behind an ETA is measured over about this much of the recent past (or since the stage started). */
const RATE_WINDOW_MS = 30_000;
const BAR_WIDTH = 20;

/** "4.2s", "12s", "1m12s", "2h05m". */
export function formatDuration(ms: number): string {
  const tenths = Math.round(Math.max(0, ms) / 100);
  if (tenths < 100) return `${(tenths / 10).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** "1 call", "2 calls". */
const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * The heartbeat interval without a TTY: W2S_PROGRESS_SECONDS (seconds, decimals allowed), else 5 s. Undefined: the
 * default.
 */
export function heartbeatFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env['W2S_PROGRESS_SECONDS'];
  if (v === undefined || v === '') return undefined;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0) throw new UserError(`W2S_PROGRESS_SECONDS must be a positive number of seconds, got "${v}".`);
  return s * 1000;
}

function formatCount(n: number): string {
  if (n < 1_000) return String(n);
  if (n < 1_000_000) return `${(n / 1_000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

function formatUsd(usd: number): string {
  return `$${usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/** done per millisecond over the recent past: samples thinned to a few a second, the oldest kept as the base. */
class RateMeter {
  private readonly samples: { t: number; done: number }[];
  constructor(t0: number, done0 = 0) {
    this.samples = [{ t: t0, done: done0 }];
  }
  add(t: number, done: number): void {
    if (t - this.samples[this.samples.length - 1]!.t >= 250) this.samples.push({ t, done });
    this.prune(t);
  }
  /** Undefined until something was done in the window (no rate yet). */
  rate(now: number, done: number): number | undefined {
    this.prune(now);
    const base = this.samples[0]!;
    return now > base.t && done > base.done ? (done - base.done) / (now - base.t) : undefined;
  }
  /** Keeps, as the base, the newest sample at least a window old. */
  private prune(now: number): void {
    while (this.samples.length > 1 && this.samples[1]!.t <= now - RATE_WINDOW_MS) this.samples.shift();
  }
}

interface Part {
  name: string;
  done: number;
  total: number;
  meter: RateMeter;
}

interface Stage {
  name: string;
  startedAt: number;
  done?: number;
  total?: number;
  meter: RateMeter;
  /** The piece being worked on (a model in training), and how many pieces the stage has started. */
  part?: Part;
  parts: number;
  /** When its last heartbeat (or its start line) was written. */
  lastLineAt: number;
  /** The counters when it started, for its end line. */
  statsAtStart: GatewayStats | undefined;
}

/** "waiting 4.2 s: rate limited by <model>, attempt 3" while calls back off; the attempt is the one it waits to make. */
export function describeBackoff(s: GatewayStats, now: number): string | undefined {
  if (s.backingOff <= 0) return undefined;
  const r = s.lastRetry;
  const others = s.backingOff > 1 ? ` (${s.backingOff} calls waiting)` : '';
  if (!r) return `${count(s.backingOff, 'call')} backing off before a retry`;
  const left = r.delayMs - (now - r.at);
  const why = /\b429\b/.test(r.reason) || /rate.?limit/i.test(r.reason) ? `rate limited by ${r.model}` : `${r.model} failed (${r.reason.length > 60 ? `${r.reason.slice(0, 59)}…` : r.reason})`;
  return `waiting${left >= 50 ? ` ${(left / 1000).toFixed(1)} s` : ''}: ${why}, attempt ${r.attempt + 1}${others}`;
}

/** "1150 calls, 50 hits, 0 retries, 12.3k tokens, $0.42" (tokens and cost once there are any). */
function describeCalls(s: GatewayStats): string {
  const tokens = s.inputTokens + s.outputTokens;
  return [
    count(s.backendCalls, 'call'),
    count(s.hits, 'hit'),
    count(s.retries, 'retry', 'retries'),
    ...(tokens > 0 ? [`${formatCount(tokens)} tokens`] : []),
    ...(s.costUsd > 0 ? [formatUsd(s.costUsd)] : []),
  ].join(', ');
}

/**
 * Renders stage progress. On a TTY: one live line, redrawn a few times a second, with the stage, its bar and
 * done/total, elapsed time, an ETA (once there is a rate), the calls so far (backend calls, cache hits, retries, tokens,
 * cost) and, while calls back off before a retry, how long and why. Without a TTY (CI logs, pipes): the stage start and
 * end lines and, while a stage runs, one heartbeat line every heartbeatMs with the same facts, never a line per tick.
 * A training stage's models are parts of it: one stage, one heartbeat.
 */
export function progressRenderer(arg: ProgressOptions | ProgressStream = {}): ProgressRenderer {
  const options: ProgressOptions = typeof (arg as ProgressStream).write === 'function' ? { stream: arg as ProgressStream } : (arg as ProgressOptions);
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const redrawMs = options.redrawMs ?? DEFAULT_REDRAW_MS;
  const prefix = options.prefix ?? '';
  const every = options.every ?? ((fn: () => void, ms: number) => {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  });
  let statsSource = options.stats;
  const stats = (): GatewayStats | undefined => {
    try {
      return statsSource?.() ?? undefined;
    } catch {
      return undefined;
    }
  };

  let stage: Stage | undefined;
  let lineShown = false;
  let lastDrawAt = -Infinity;
  let stopTimer: (() => void) | undefined;

  const name = (s: string): string => `${prefix}${s}`;
  const wipe = (): void => {
    if (lineShown) stream.write('\r\x1b[2K');
    lineShown = false;
  };
  const writeLine = (line: string): void => {
    wipe();
    stream.write(`${line}\n`);
  };

  /** What the stage has done: "120/480 (25%)", or its current part's steps. */
  const doneText = (s: Stage): string | undefined => {
    if (s.total) return `${s.done ?? 0}/${s.total} (${Math.floor((100 * (s.done ?? 0)) / s.total)}%)`;
    const p = s.part;
    if (!p) return undefined;
    const steps = p.total ? ` ${p.done}/${p.total} steps (${Math.floor((100 * p.done) / p.total)}%)` : '';
    return `model ${s.parts}: ${p.name}${steps}`;
  };
  /** Milliseconds left, from the stage's rate (or its current part's, when only that has a total); undefined: no rate yet. */
  const eta = (s: Stage, t: number): number | undefined => {
    const [done, total, meter] = s.total ? [s.done ?? 0, s.total, s.meter] : s.part?.total ? [s.part.done, s.part.total, s.part.meter] : [];
    if (total === undefined || done === undefined || !meter || done >= total) return undefined;
    const rate = meter.rate(t, done);
    return rate === undefined ? undefined : (total - done) / rate;
  };

  const heartbeat = (s: Stage, t: number): string => {
    const st = stats();
    const parts = [doneText(s), `${formatDuration(t - s.startedAt)} elapsed`];
    const left = eta(s, t);
    if (left !== undefined) parts.push(`ETA ${formatDuration(left)}`);
    if (st) parts.push(describeCalls(st));
    const waiting = st && describeBackoff(st, t);
    return `${name(s.name)}: ${parts.filter(Boolean).join(', ')}${waiting ? `; ${waiting}` : ''}`;
  };

  const liveLine = (s: Stage, t: number): string => {
    const st = stats();
    const head: string[] = [name(s.name)];
    const [done, total] = s.total ? [s.done ?? 0, s.total] : s.part?.total ? [s.part.done, s.part.total] : [undefined, undefined];
    if (s.part && !s.total) head.push(`model ${s.parts}: ${s.part.name}`);
    if (total) {
      const filled = Math.min(BAR_WIDTH, Math.round((BAR_WIDTH * done!) / total));
      head.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`);
    }
    const parts = [head.join(' '), formatDuration(t - s.startedAt)];
    const left = eta(s, t);
    if (left !== undefined) parts.push(`ETA ${formatDuration(left)}`);
    // A back-off comes before the counters, so a narrow terminal still shows it.
    const waiting = st && describeBackoff(st, t);
    if (waiting) parts.push(waiting);
    if (st) parts.push(describeCalls(st));
    const line = parts.join(' · ');
    const width = stream.columns && stream.columns > 10 ? stream.columns - 1 : Infinity;
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  };

  const draw = (force: boolean): void => {
    if (!stage) return;
    const t = now();
    if (!force && t - lastDrawAt < MIN_DRAW_GAP_MS) return;
    lastDrawAt = t;
    stream.write(`\r\x1b[2K${liveLine(stage, t)}`);
    lineShown = true;
  };

  /** Called by the timer and on each event: redraws the live line, or writes a heartbeat when one is due. */
  const pulse = (force = false): void => {
    if (!stage) return;
    if (tty) return draw(force);
    const t = now();
    if (t - stage.lastLineAt < heartbeatMs) return;
    stage.lastLineAt = t;
    writeLine(heartbeat(stage, t));
  };

  const startTimer = (): void => {
    stopTimer ??= every(() => pulse(true), tty ? redrawMs : Math.min(1_000, heartbeatMs));
  };
  const endTimer = (): void => {
    stopTimer?.();
    stopTimer = undefined;
  };

  const begin = (stageName: string): Stage => {
    const t = now();
    stage = { name: stageName, startedAt: t, meter: new RateMeter(t), parts: 0, lastLineAt: t, statsAtStart: stats() };
    startTimer();
    return stage;
  };

  /** "(480/480, 1m12s, 960 calls, 0 hits)": what the stage did, its time and the calls made while it ran. */
  const endSummary = (s: Stage): string => {
    const t = now();
    const facts: string[] = [];
    if (s.total) facts.push(`${s.done ?? 0}/${s.total}`);
    else if (s.parts) facts.push(`${s.parts} model${s.parts === 1 ? '' : 's'}`);
    facts.push(formatDuration(t - s.startedAt));
    const st = stats();
    const before = s.statsAtStart;
    if (st) {
      const calls = st.backendCalls - (before?.backendCalls ?? 0);
      const hits = st.hits - (before?.hits ?? 0);
      const retries = st.retries - (before?.retries ?? 0);
      if (calls + hits > 0) facts.push(`${count(calls, 'call')}, ${count(hits, 'hit')}${retries ? `, ${count(retries, 'retry', 'retries')}` : ''}`);
    }
    return ` (${facts.join(', ')})`;
  };

  const partOf = (s: Stage, partName: string): Part => {
    if (s.part?.name !== partName) {
      s.part = { name: partName, done: 0, total: 0, meter: new RateMeter(now()) };
      s.parts++;
    }
    return s.part;
  };

  const listener = (e: ProgressEvent): void => {
    if (e.stats && !statsSource) statsSource = e.stats;
    // A piece of work that names a stage other than the one running (a model being trained) belongs to the one running.
    const partName = e.part ?? (stage && e.stage !== stage.name && e.kind === 'tick' ? e.stage : undefined);
    switch (e.kind) {
      case 'start': {
        if (stage?.name === e.stage) {
          // The stage's own start, after the run's: it brings the total and what the stage does.
          if (e.total !== undefined) stage.total = e.total;
          if (e.message) writeLine(`  ${name(e.stage)}: ${e.message}`);
        } else {
          writeLine(`▶ ${name(e.stage)}${e.message ? `: ${e.message}` : ''}`);
          const s = begin(e.stage);
          if (e.total !== undefined) s.total = e.total;
        }
        pulse(true);
        return;
      }
      case 'tick': {
        const s = stage ?? begin(e.stage);
        const t = now();
        if (partName !== undefined) {
          const p = partOf(s, partName);
          p.done = e.done ?? p.done;
          p.total = e.total ?? p.total;
          p.meter.add(t, p.done);
        } else {
          s.done = e.done ?? s.done;
          if (e.total !== undefined) s.total = e.total;
          s.meter.add(t, s.done ?? 0);
        }
        pulse(false);
        return;
      }
      case 'end': {
        const s = stage?.name === e.stage ? stage : undefined;
        writeLine(`✓ ${name(e.stage)}${s ? endSummary(s) : ''}`);
        if (s) {
          stage = undefined;
          endTimer();
        }
        return;
      }
      case 'skip':
        writeLine(`✓ ${name(e.stage)} (already done)`);
        return;
      case 'info': {
        if (partName !== undefined && stage) partOf(stage, partName);
        if (!e.message) return;
        // A part's note (the model a training stage starts) reads under the stage it belongs to.
        writeLine(`  ${name(partName !== undefined && stage ? stage.name : e.stage)}: ${e.message}`);
        pulse(true);
        return;
      }
    }
  };

  return Object.assign(listener, {
    clear: (): void => {
      wipe();
      endTimer();
      stage = undefined;
    },
    print: (line: string): void => {
      writeLine(line.endsWith('\n') ? line.slice(0, -1) : line);
      if (tty) draw(true);
    },
  });
}
