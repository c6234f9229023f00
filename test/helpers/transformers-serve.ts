/**
 * Hugging Face's `transformers serve`: a real third-party OpenAI-compatible server, run on this machine, offline, for
 * the openai adapter's contract tests. It serves stories260K (../shared/models/stories260K.gguf) converted once to a
 * Hugging Face folder by transformers-serve/convert.py.
 *
 * - The Python environment is built from transformers-serve/requirements.txt by the project's own ensureTrainerEnv
 *   (idempotent with a stamp and a lock, the local CPU torch wheel first) in $W2S_SERVE_VENV, else
 *   ~/.cache/w2s/serve-venv: about a minute the first time on a machine, instant afterwards.
 * - The converted model is cached in $W2S_SERVE_MODELS, else ~/.cache/w2s/serve-models, in a folder named after the
 *   hash of the GGUF, the converter and the requirements; it is written to a temporary folder and renamed into place,
 *   so two test files converting at once both end with one whole folder.
 * - Each server runs in its own process group on a free port of 127.0.0.1. close() ends the group and waits for it;
 *   the group is also killed when this process exits or is signalled, and the server dies with its parent even when
 *   this process is killed outright (PR_SET_PDEATHSIG), so no server outlives a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTrainerEnv, type TrainerEnv } from '../../src/train/trainer-env.js';
import { freePort } from './openai-server.js';

/** The machine's local wheel set; without it the tests skip rather than reach PyPI. */
export const LOCAL_WHEEL_INDEX = '/opt/pypi/simple';
const HERE = join(fileURLToPath(new URL('.', import.meta.url)), 'transformers-serve');
const REQUIREMENTS = join(HERE, 'requirements.txt');
const CONVERTER = join(HERE, 'convert.py');
export const STORIES_GGUF = fileURLToPath(new URL('../../../shared/models/stories260K.gguf', import.meta.url));

/** Why the transformers-serve tests cannot run here, or undefined when they can. */
export function transformersServeSkipReason(index = LOCAL_WHEEL_INDEX): string | undefined {
  if (!existsSync(index)) return `the local wheel set ${index} is absent, so transformers serve cannot be installed offline`;
  return undefined;
}

export interface TransformersServe {
  /** Base URL, ending in /v1. */
  url: string;
  /** The model name requests use: the converted folder's absolute path. */
  model: string;
  /** Milliseconds each step of the start took (venv, conversion, server up, first answer). */
  timings: { venvMs: number; convertMs: number; healthMs: number; warmupMs: number; venvReused: boolean; converted: boolean };
  /** Ends the server's process group and waits for it; safe to call twice. */
  close(): Promise<void>;
  /** The last lines the server printed (stdout and stderr). */
  logTail(lines?: number): string;
}

export interface StartOptions {
  /** Longest wait for /health and for the first answer, each (default 180 s: a cold start on a busy 2-core machine). */
  startTimeoutMs?: number;
  /** Each line of venv setup, conversion and server output. */
  onLine?: (line: string) => void;
}

export function serveVenvDir(): string {
  return process.env['W2S_SERVE_VENV'] || join(homedir(), '.cache', 'w2s', 'serve-venv');
}

export function serveModelsDir(): string {
  return process.env['W2S_SERVE_MODELS'] || join(homedir(), '.cache', 'w2s', 'serve-models');
}

/** Builds the venv, converts the model (once per machine), starts the server and waits until it answers. */
export async function startTransformersServe(options: StartOptions = {}): Promise<TransformersServe> {
  const onLine = options.onLine ?? (() => {});
  let t = Date.now();
  const env = await ensureTrainerEnv({ cacheDir: serveVenvDir(), requirementsPath: REQUIREMENTS, onLine });
  const venvMs = Date.now() - t;
  t = Date.now();
  const { dir: model, converted } = await convertedModel(env, onLine);
  const convertMs = Date.now() - t;
  const deadline = options.startTimeoutMs ?? 180_000;
  // A port found free can be taken before the server binds it; one more try on a fresh port covers that.
  for (let attempt = 1; ; attempt++) {
    const server = await launch(env, await freePort(), onLine);
    try {
      t = Date.now();
      await waitForHealth(server, deadline);
      const healthMs = Date.now() - t;
      t = Date.now();
      await warmUp(server, model, deadline);
      const warmupMs = Date.now() - t;
      return { url: server.url, model, close: server.close, logTail: server.logTail, timings: { venvMs, convertMs, healthMs, warmupMs, venvReused: env.reused, converted } };
    } catch (e) {
      await server.close();
      if (attempt < 2 && /address already in use/i.test(server.logTail())) continue;
      throw e;
    }
  }
}

/** The converted model folder, made once: a temporary folder renamed into place (the first of racing writers wins). */
async function convertedModel(env: TrainerEnv, onLine: (line: string) => void): Promise<{ dir: string; converted: boolean }> {
  const key = createHash('sha256')
    .update(readFileSync(STORIES_GGUF))
    .update(readFileSync(CONVERTER))
    .update(env.requirementsHash)
    .digest('hex')
    .slice(0, 16);
  const root = serveModelsDir();
  const dir = join(root, `stories260K-${key}`);
  const done = (d: string) => existsSync(join(d, 'w2s-convert.json'));
  if (done(dir)) return { dir, converted: false };
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.tmp-${key}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const r = await runPython(env.python, [CONVERTER, STORIES_GGUF, tmp], onLine);
    if (r.code !== 0 || !done(tmp)) {
      throw new Error(`converting ${STORIES_GGUF} for transformers serve failed (exit ${r.code}):\n${r.lines.slice(-25).join('\n')}`);
    }
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Another process renamed its copy first: keep that one.
      const code = (e as NodeJS.ErrnoException).code;
      if (!(code === 'ENOTEMPTY' || code === 'EEXIST') || !done(dir)) throw e;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { dir, converted: true };
}

function runPython(python: string, args: string[], onLine: (line: string) => void): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv() });
    const lines: string[] = [];
    const take = lineSplitter((l) => {
      lines.push(l);
      if (lines.length > 200) lines.shift();
      onLine(l);
    });
    child.stdout.on('data', take.out);
    child.stderr.on('data', take.err);
    child.on('error', reject);
    child.on('close', (code) => {
      take.flush();
      resolve({ code, lines });
    });
  });
}

/** Offline, one torch thread (the test machine has two cores, shared), no colours or progress bars in the log. */
function serverEnv(hfHome?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    HF_HUB_DISABLE_TELEMETRY: '1',
    HF_HUB_DISABLE_PROGRESS_BARS: '1',
    ...(hfHome ? { HF_HOME: hfHome } : {}),
    OMP_NUM_THREADS: '1',
    MKL_NUM_THREADS: '1',
    TOKENIZERS_PARALLELISM: 'false',
    PYTHONUNBUFFERED: '1',
    NO_COLOR: '1',
    TERM: 'dumb',
  };
}

interface Launched {
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
  exitCode(): number | null | undefined;
  close(): Promise<void>;
  logTail(lines?: number): string;
}

// Makes the server die with this process even if it is killed outright (SIGKILL runs no handler), then becomes it.
// Linux only; elsewhere the exit and signal handlers below are the only guard.
const DIE_WITH_PARENT =
  'import ctypes, os, signal, sys\n' +
  'try:\n' +
  '    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n' +
  'except (AttributeError, OSError):\n' +
  '    pass\n' +
  'if os.getppid() != int(sys.argv[1]): sys.exit(1)  # the parent died before prctl took effect\n' +
  'os.execv(sys.argv[2], sys.argv[2:])\n';

async function launch(env: TrainerEnv, port: number, onLine: (line: string) => void): Promise<Launched> {
  const url = `http://127.0.0.1:${port}/v1`;
  // Its own, empty HF cache: nothing of the user's is read or written (GET /v1/models lists that cache's models).
  const hfHome = mkdtempSync(join(tmpdir(), 'w2s-serve-hf-'));
  mkdirSync(join(hfHome, 'hub'));
  const bin = join(env.venvDir, 'bin', 'transformers');
  const args = ['-c', DIE_WITH_PARENT, String(process.pid), bin, 'serve', '--host', '127.0.0.1', '--port', String(port), '--device', 'cpu', '--log-level', 'info'];
  const child = spawn(env.python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv(hfHome), detached: true });
  const log: string[] = [];
  const take = lineSplitter((l) => {
    log.push(l);
    if (log.length > 400) log.shift();
    onLine(l);
  });
  child.stdout!.on('data', take.out);
  child.stderr!.on('data', take.err);
  let code: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (c, signal) => {
      code = c ?? (signal ? -1 : null);
      resolve();
    });
    child.on('error', (e) => {
      log.push(`spawn error: ${e.message}`);
      code = -1;
      resolve();
    });
  });
  void exited.then(() => take.flush());

  const killGroup = (signal: NodeJS.Signals) => {
    if (code !== undefined || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => {
    killGroup('SIGKILL');
    rmSync(hfHome, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    onExit();
    // Our listener replaced the default action; when nobody else handles the signal, restore it and re-raise.
    removeHandlers();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const removeHandlers = () => {
    process.off('exit', onExit);
    for (const s of signals) process.off(s, onSignal);
  };
  process.on('exit', onExit);
  for (const s of signals) process.on(s, onSignal);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // uvicorn's graceful shutdown waits for generations still running, abandoned ones included (a client that
      // timed out): a few seconds of grace, then the group is killed.
      killGroup('SIGTERM');
      const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), 3_000).unref());
      if ((await Promise.race([exited.then(() => 'ok' as const), timer])) === 'late') {
        killGroup('SIGKILL');
        await exited;
      }
      removeHandlers();
      rmSync(hfHome, { recursive: true, force: true });
    })());

  return {
    url,
    child,
    exited,
    exitCode: () => code,
    close,
    logTail: (n = 40) => log.slice(-n).join('\n'),
  };
}

async function waitForHealth(server: Launched, timeoutMs: number): Promise<void> {
  const health = server.url.replace(/\/v1$/, '/health');
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (server.exitCode() !== undefined) {
      throw new Error(`transformers serve exited (code ${server.exitCode()}) before answering ${health}; its log:\n${server.logTail()}`);
    }
    try {
      const res = await fetch(health, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.ok && /"ok"/.test(body)) return;
      last = `${res.status} ${body.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`transformers serve did not answer ${health} within ${timeoutMs} ms (last: ${last}); its log:\n${server.logTail()}`);
}

/** One token through the chat endpoint, so the model is loaded before the tests time anything. */
async function warmUp(server: Launched, model: string, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0 }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(`transformers serve's first chat completion failed (${(e as Error).message}); its log:\n${server.logTail()}`);
  }
  const body = await res.text();
  if (!res.ok || !/"choices"/.test(body)) {
    throw new Error(`transformers serve answered its first chat completion with ${res.status} ${body.slice(0, 300)}; its log:\n${server.logTail()}`);
  }
}

function lineSplitter(onLine: (line: string) => void): { out: (b: Buffer) => void; err: (b: Buffer) => void; flush: () => void } {
  const rest = { out: '', err: '' };
  const feed = (which: 'out' | 'err') => (chunk: Buffer) => {
    const parts = (rest[which] + chunk.toString('utf8')).split(/\r?\n|\r/);
    rest[which] = parts.pop() ?? '';
    for (const p of parts) if (p.trim() !== '') onLine(p);
  };
  return {
    out: feed('out'),
    err: feed('err'),
    flush: () => {
      for (const which of ['out', 'err'] as const) {
        if (rest[which].trim() !== '') onLine(rest[which]);
        rest[which] = '';
      }
    },
  };
}
