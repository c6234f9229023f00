import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { UserError } from '../errors.js';
import { hashValue } from '../hash.js';
import { ensureTrainerEnv, referenceTrainerPath } from './trainer-env.js';
import type { FineTuneBackend, PredictRow, TrainedModel, TrainOptions, TrainRow } from './types.js';

/**
 * The external fine-tuning backend: drives a trainer process that speaks w2s-trainer/1 (docs/trainer-protocol.md).
 * One process per request: the request goes to stdin as one JSON document, events come back as JSONL on stdout.
 */

export const TRAINER_PROTOCOL = 'w2s-trainer/1';

export type TrainerMode = 'full' | 'lora' | 'head';

export interface ExternalBackendOptions {
  /** The trainer executable and its arguments; default: the reference trainer in the venv from ensureTrainerEnv. */
  command?: string[];
  /** A hub id, a local model directory, or a .gguf file. */
  baseModel: string;
  /** Hub revision (branch, tag or commit); ignored for local models. */
  baseRevision?: string;
  mode?: TrainerMode;
  /** Hyperparameters for every train call (protocol names, camelCase accepted); TrainOptions.params override them. */
  params?: Record<string, unknown>;
  /** Artifacts are written under this folder, one subfolder per trained model. */
  workDir: string;
  /** Backend name recorded in TrainedModel.backend (default "hf"). */
  name?: string;
  /** Between SIGINT and SIGKILL when a call is aborted (default 10 s). */
  killGraceMs?: number;
  /** Extra environment for the trainer process. */
  env?: Record<string, string>;
  /** The trainer's stderr lines (its free-form log). */
  onLog?: (line: string) => void;
  /**
   * Processes per node for data-parallel training and prediction under torchrun (torch.distributed); default 1.
   * Above 1 (or with launcher "torchrun") w2s runs the trainer through `python -m torch.distributed.run` from the
   * reference trainer's venv; the protocol is the same (docs/trainer-protocol.md, "Several processes and nodes").
   */
  processes?: number;
  /** "auto" (default): torchrun when processes > 1 or nnodes > 1; "torchrun": always, even for one process. */
  launcher?: TrainerLauncher;
  /** Nodes taking part (torchrun --nnodes); above 1, the other nodes are started by you and rdzvEndpoint is needed. */
  nnodes?: number;
  /** host:port of the c10d rendezvous every node joins (torchrun --rdzv-endpoint); only with nnodes > 1. */
  rdzvEndpoint?: string;
  /** The rendezvous id every node passes (torchrun --rdzv-id); default "w2s". */
  rdzvId?: string;
}

export type TrainerLauncher = 'auto' | 'torchrun';

/** How w2s starts the trainer under torchrun: the settings of ExternalBackendOptions that concern it. */
export interface TorchrunSettings {
  processes?: number | undefined;
  launcher?: TrainerLauncher | undefined;
  nnodes?: number | undefined;
  rdzvEndpoint?: string | undefined;
  rdzvId?: string | undefined;
}

/** The state an external TrainedModel carries (serialisable). */
export interface ExternalModelState {
  protocol: string;
  artifactDir: string;
  baseModel: { ref: string; kind: string; revision: string | null };
  mode: TrainerMode;
  weights: Record<string, string>;
}

/** Keys of TrainOptions.params that configure the loss rather than the optimiser. */
const LOSS_KEYS = new Set(['aux_coef', 'warmup_frac', 'alpha', 'beta']);

export function createExternalBackend(options: ExternalBackendOptions): FineTuneBackend {
  if (!options.baseModel) throw new UserError('The hf backend needs baseModel: a hub id, a model directory or a .gguf file.');
  const mode = options.mode ?? 'full';
  if (!['full', 'lora', 'head'].includes(mode)) {
    throw new UserError(`The hf backend's mode must be full, lora or head, got "${String(mode)}".`);
  }
  const name = options.name ?? 'hf';
  const workDir = resolve(options.workDir);
  const distributed = usesTorchrun(options);
  let command: Promise<string[]> | undefined;
  const getCommand = (): Promise<string[]> =>
    (command ??= distributed
      ? ensureTrainerEnv({ onLine: options.onLog }).then((env) => torchrunCommand(env.python, options, options.command))
      : options.command
        ? Promise.resolve(options.command)
        : defaultTrainerCommand(options.onLog));
  const run = async (request: Record<string, unknown>, signal?: AbortSignal, onEvent?: (e: TrainerEvent) => void) =>
    runTrainer(await getCommand(), request, {
      signal,
      onEvent,
      onLog: options.onLog,
      killGraceMs: options.killGraceMs,
      env: options.env,
    });

  return {
    name,
    async train(rows: TrainRow[], opts: TrainOptions): Promise<TrainedModel> {
      if (rows.length === 0) throw new UserError('Training needs at least one row.');
      const { hyperparameters, loss } = splitParams({ ...options.params, ...opts.params });
      const config = {
        baseModel: options.baseModel,
        baseRevision: options.baseRevision ?? null,
        mode,
        loss: { name: opts.loss, ...loss },
        hyperparameters,
        seed: opts.seed,
      };
      const key = hashValue({ config, rows: rows.map((r) => [r.id, r.text, r.softLabel, r.weight ?? 1]) }).slice(0, 12);
      const outDir = join(workDir, `${safeName(opts.role)}-s${opts.seed}-${key}`);
      // A leftover folder from an interrupted run must not mix its files into this artifact.
      await rm(outDir, { recursive: true, force: true });
      await mkdir(workDir, { recursive: true });
      const request = {
        protocol: TRAINER_PROTOCOL,
        op: 'train',
        base_model: options.baseModel,
        ...(options.baseRevision ? { base_revision: options.baseRevision } : {}),
        mode,
        loss: config.loss,
        hyperparameters,
        seed: opts.seed,
        output_dir: outDir,
        rows: rows.map((r) => ({ id: r.id, text: r.text, soft_label: r.softLabel, weight: r.weight ?? 1 })),
      };
      const result = await run(request, opts.signal, (e) => {
        if (e.type === 'progress' && opts.onProgress && typeof e['loss'] === 'number') {
          opts.onProgress({
            step: Number(e['step']),
            totalSteps: Number(e['total_steps']),
            loss: e['loss'],
            ...(typeof e['examples_per_sec'] === 'number' ? { examplesPerSec: e['examples_per_sec'] } : {}),
          });
        }
      });
      const artifactDir = String(result['artifact_dir'] ?? outDir);
      const files = result['weights_files'];
      if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof f === 'string')) {
        throw new Error(`The trainer's train reply lists no weights_files (artifact ${artifactDir}).`);
      }
      const weights = await hashWeights(artifactDir, files as string[]);
      const baseModel = (result['base_model'] as ExternalModelState['baseModel'] | undefined) ?? {
        ref: options.baseModel,
        kind: 'unknown',
        revision: options.baseRevision ?? null,
      };
      const state: ExternalModelState = { protocol: TRAINER_PROTOCOL, artifactDir, baseModel, mode, weights };
      return {
        backend: name,
        state,
        artifactPath: artifactDir,
        artifactSha256: combinedSha(weights),
        stats: { ...(result['stats'] as Record<string, unknown> | undefined), config, baseModel, weights },
      };
    },

    async predict(model: TrainedModel, rows: PredictRow[], signal?: AbortSignal): Promise<number[]> {
      if (rows.length === 0) return [];
      const state = model.state as Partial<ExternalModelState> | undefined;
      const artifactDir = model.artifactPath ?? state?.artifactDir;
      if (!artifactDir || !state?.weights) {
        throw new UserError(`This model was trained by the "${model.backend}" backend, not by an external trainer; predict with its own backend.`);
      }
      // The artifact on disk must still be the one that was recorded.
      const now = await hashWeights(artifactDir, Object.keys(state.weights)).catch(() => undefined);
      if (!now || (model.artifactSha256 && combinedSha(now) !== model.artifactSha256)) {
        throw new UserError(`The artifact ${artifactDir} is missing or changed since training (sha256 differs); retrain the model.`);
      }
      const result = await run(
        { protocol: TRAINER_PROTOCOL, op: 'predict', artifact_dir: artifactDir, rows: rows.map((r) => ({ id: r.id, text: r.text })) },
        signal,
      );
      const probs = result['probs'];
      if (!Array.isArray(probs) || probs.length !== rows.length || !probs.every((p) => typeof p === 'number' && p >= 0 && p <= 1)) {
        throw new Error(`The trainer's predict reply has no probability in [0, 1] for each of the ${rows.length} rows.`);
      }
      const ids = result['ids'];
      if (Array.isArray(ids) && ids.some((id, i) => id !== rows[i]!.id)) {
        throw new Error("The trainer's predict reply lists the rows in another order than the request.");
      }
      return probs as number[];
    },
  };
}

/** Asks a trainer what it is and what it runs on (op "check"). */
export async function checkTrainer(command?: string[], signal?: AbortSignal): Promise<Record<string, unknown>> {
  return runTrainer(command ?? (await defaultTrainerCommand()), { protocol: TRAINER_PROTOCOL, op: 'check' }, { signal });
}

/** Whether these settings launch the trainer under torchrun; refuses settings torchrun cannot take. */
export function usesTorchrun(s: TorchrunSettings): boolean {
  const processes = s.processes ?? 1;
  const nnodes = s.nnodes ?? 1;
  if (!Number.isInteger(processes) || processes < 1) throw new UserError(`The hf backend's processes must be a whole number >= 1, got ${String(s.processes)}.`);
  if (!Number.isInteger(nnodes) || nnodes < 1) throw new UserError(`The hf backend's nnodes must be a whole number >= 1, got ${String(s.nnodes)}.`);
  if (s.launcher !== undefined && s.launcher !== 'auto' && s.launcher !== 'torchrun') {
    throw new UserError(`The hf backend's launcher must be "auto" or "torchrun", got "${String(s.launcher)}".`);
  }
  if (nnodes > 1 && !s.rdzvEndpoint) {
    throw new UserError('The hf backend needs rdzvEndpoint (host:port of the rendezvous every node joins) when nnodes > 1.');
  }
  if (nnodes === 1 && s.rdzvEndpoint) {
    throw new UserError('The hf backend\'s rdzvEndpoint is for several nodes; set nnodes too, or leave rdzvEndpoint out.');
  }
  return s.launcher === 'torchrun' || processes > 1 || nnodes > 1;
}

/**
 * The torchrun launch of a trainer: `python -m torch.distributed.run` (the venv's torch) with the reference trainer,
 * or with `trainer` (a command of your own, run with --no-python). One node: a standalone rendezvous on a free port,
 * so launches running side by side never meet. Several: the c10d rendezvous at rdzvEndpoint, which the other nodes
 * join with the same --nnodes, --rdzv-endpoint and --rdzv-id (docs/trainer-protocol.md). No restarts: a rank that
 * fails ends the launch.
 */
export function torchrunCommand(python: string, s: TorchrunSettings, trainer?: string[]): string[] {
  const nnodes = s.nnodes ?? 1;
  const args = [python, '-m', 'torch.distributed.run', '--nproc-per-node', String(s.processes ?? 1), '--max-restarts', '0'];
  if (nnodes > 1) args.push('--nnodes', String(nnodes), '--rdzv-backend', 'c10d', '--rdzv-endpoint', s.rdzvEndpoint!, '--rdzv-id', s.rdzvId ?? 'w2s');
  else args.push('--standalone');
  if (trainer && trainer.length > 0) args.push('--no-python', ...trainer);
  else args.push(referenceTrainerPath());
  return args;
}

/** The reference trainer, run by the venv's python (set up on first use). */
async function defaultTrainerCommand(onLine?: (line: string) => void): Promise<string[]> {
  const env = await ensureTrainerEnv({ onLine });
  return [env.python, referenceTrainerPath()];
}

export interface TrainerEvent {
  type: string;
  [key: string]: unknown;
}

export interface RunTrainerOptions {
  signal?: AbortSignal | undefined;
  onEvent?: ((e: TrainerEvent) => void) | undefined;
  onLog?: ((line: string) => void) | undefined;
  killGraceMs?: number | undefined;
  env?: Record<string, string> | undefined;
}

/** A trainer that crashed or broke the protocol; the message ends with its last output lines. */
export class TrainerProcessError extends Error {
  override readonly name = 'TrainerProcessError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly lastLines: string[],
  ) {
    super(message);
  }
}

/** Error codes a trainer reports for problems the user fixes (see docs/trainer-protocol.md). */
const USER_CODES = new Set(['bad_request', 'model_load', 'protocol']);
const TAIL = 15;

/** Runs one request through a trainer process and resolves with its result event. */
export function runTrainer(
  command: string[],
  request: Record<string, unknown>,
  opts: RunTrainerOptions = {},
): Promise<TrainerEvent> {
  const [exe, ...args] = command;
  if (!exe) return Promise.reject(new UserError('The trainer command is empty; give the executable and its arguments.'));
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(abortReason(signal));

  return new Promise((resolvePromise, reject) => {
    const child = spawn(exe, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      // W2S_TRAINER_SPEAKER: under torchrun, the rank that reads this process's stdin is on this node.
      env: { ...process.env, ...opts.env, PYTHONUNBUFFERED: '1', W2S_TRAINER_PROTOCOL: TRAINER_PROTOCOL, W2S_TRAINER_SPEAKER: '1' },
    });
    const tail: string[] = [];
    const remember = (line: string) => {
      if (line.trim() === '') return;
      tail.push(line);
      if (tail.length > TAIL) tail.shift();
    };
    const torchrun = torchrunFailureReader();
    let result: TrainerEvent | undefined;
    let reported: TrainerEvent | undefined;
    let hello: TrainerEvent | undefined;
    let spawnError: NodeJS.ErrnoException | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let aborted = false;

    const onAbort = () => {
      aborted = true;
      child.kill('SIGINT');
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? 10_000);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    lines(child.stdout, (line) => {
      let event: TrainerEvent | undefined;
      try {
        const parsed = JSON.parse(line) as unknown;
        if (parsed && typeof parsed === 'object' && typeof (parsed as TrainerEvent).type === 'string') event = parsed as TrainerEvent;
      } catch {
        // not a protocol line
      }
      if (!event) {
        remember(line);
        opts.onLog?.(line);
        return;
      }
      if (event.type === 'hello') hello = event;
      else if (event.type === 'result') result = event;
      else if (event.type === 'error') reported = event;
      else if (event.type === 'log' && typeof event['message'] === 'string') {
        remember(event['message']);
        opts.onLog?.(event['message']);
      }
      try {
        opts.onEvent?.(event);
      } catch {
        // a throwing progress callback must not break the protocol stream
      }
    });
    lines(child.stderr, (line) => {
      remember(line);
      torchrun.read(line);
      opts.onLog?.(line);
    });
    child.stdin.on('error', () => {
      // EPIPE: the trainer exited before reading its request; the exit path reports why.
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      const last = tail.slice();
      const shown = last.length ? `; its last lines:\n${last.join('\n')}` : '; it printed nothing';
      if (spawnError) {
        reject(
          spawnError.code === 'ENOENT'
            ? new UserError(`The trainer command "${exe}" was not found; run \`w2s trainer setup\` or fix the trainer command.`)
            : new TrainerProcessError(`The trainer command "${exe}" could not start: ${spawnError.message}`, null, last),
        );
        return;
      }
      if (aborted) {
        reject(abortReason(signal!));
        return;
      }
      if (hello && typeof hello['protocol'] === 'string' && hello['protocol'] !== TRAINER_PROTOCOL) {
        reject(new UserError(`The trainer speaks ${hello['protocol']}, but w2s speaks ${TRAINER_PROTOCOL}; update one of them.`));
        return;
      }
      if (reported) {
        const msg = `The trainer failed (${String(reported['code'] ?? 'error')}): ${String(reported['message'] ?? 'no message')}`;
        if (USER_CODES.has(String(reported['code']))) reject(new UserError(msg));
        else reject(new TrainerProcessError(`${msg}${shown}`, code, last));
        return;
      }
      if (code === 0 && result) {
        resolvePromise(result);
        return;
      }
      const failure = torchrun.failure();
      if (failure) {
        // The lines before torchrun's own traceback and summary: the ranks' logs and torchrun's notices.
        const before = torchrun.linesBefore();
        const its = before.length ? `; the last lines before it stopped:\n${before.join('\n')}` : '';
        reject(new TrainerProcessError(`The trainer's ${describeRankFailure(failure)}; torchrun stopped the other ranks${its}`, code, before));
        return;
      }
      const how = sig ? `was killed by ${sig}` : code === 0 ? 'exited without a result' : `exited with code ${code}`;
      reject(new TrainerProcessError(`The trainer (${command.join(' ')}) ${how}${shown}`, code, last));
    });

    child.stdin.end(JSON.stringify(request));
  });
}

/** The first failure torchrun reports when a launch fails (its "Root Cause" section on stderr). */
export interface TorchrunFailure {
  rank: number;
  localRank?: number;
  host?: string;
  exitCode?: number;
  signal?: string;
}

/**
 * Reads torchrun's stderr: the failure summary it prints when a rank fails (the rank, its host, its exit code or
 * signal), and the lines before torchrun's own traceback (the ranks' logs, which the reference trainer prefixes with
 * "[rank N] ", and torchrun's notices).
 */
export function torchrunFailureReader(): { read(line: string): void; failure(): TorchrunFailure | undefined; linesBefore(): string[] } {
  let section: Partial<TorchrunFailure> | undefined;
  let found: TorchrunFailure | undefined;
  const recent: string[] = [];
  return {
    read(line: string) {
      if (line.trim() !== '') {
        recent.push(line);
        if (recent.length > 200) recent.shift();
      }
      if (/Root Cause \(first observed failure\)/.test(line)) {
        section = {};
        return;
      }
      if (!section) return;
      const field = /^\s*(host|rank|exitcode|traceback)\s*:\s*(.*)$/.exec(line);
      if (field) {
        const value = field[2]!.trim();
        if (field[1] === 'host') section.host = value;
        else if (field[1] === 'rank') {
          const m = /^(\d+)(?:\s*\(local_rank:\s*(\d+)\))?/.exec(value);
          if (m) {
            section.rank = Number(m[1]);
            if (m[2] !== undefined) section.localRank = Number(m[2]);
          }
        } else if (field[1] === 'exitcode') {
          const m = /^(-?\d+)/.exec(value);
          if (m) section.exitCode = Number(m[1]);
          const sig = /\((SIG[A-Z0-9]+)\)/.exec(value);
          if (sig) section.signal = sig[1];
        }
      } else if (/^\s*=+\s*$/.test(line)) {
        if (section.rank !== undefined && !found) found = section as TorchrunFailure;
        section = undefined;
      }
    },
    failure: () => found ?? (section?.rank !== undefined ? (section as TorchrunFailure) : undefined),
    linesBefore: () => {
      // torchrun's own traceback ends in ChildFailedError and its summary follows: cut at that traceback's start.
      const lastIndex = (xs: string[], re: RegExp) => xs.reduce((at, l, i) => (re.test(l) ? i : at), -1);
      const raised = lastIndex(recent, /ChildFailedError/);
      if (raised < 0) return recent.slice(-TAIL);
      const start = lastIndex(recent.slice(0, raised), /^Traceback \(most recent call last\):/);
      return recent.slice(0, start < 0 ? raised : start).slice(-TAIL);
    },
  };
}

/** "rank 1 (local rank 1 on host-a) was killed by signal 9 (SIGKILL)", from torchrun's summary. */
export function describeRankFailure(f: TorchrunFailure): string {
  const where = [f.localRank !== undefined ? `local rank ${f.localRank}` : '', f.host ? `on ${f.host}` : ''].filter(Boolean).join(' ');
  const code = f.exitCode;
  let how = code === undefined ? 'failed' : `exited with code ${code}`;
  if (code !== undefined && code < 0) {
    const name = f.signal ?? signalName(-code);
    const why = -code === 9 ? ': out of memory, or killed by hand' : '';
    how = `was killed by signal ${-code}${name ? ` (${name}${why})` : why}`;
  }
  return `rank ${f.rank}${where ? ` (${where})` : ''} ${how}`;
}

function signalName(n: number): string | undefined {
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
}

function abortReason(signal: AbortSignal): unknown {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('The trainer run was aborted.');
  e.name = 'AbortError';
  return e;
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split(/\r?\n/);
    rest = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}

/** sha256 of each weights file, keyed by its name in the artifact folder. */
async function hashWeights(dir: string, files: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of [...files].sort()) {
    out[f] = await new Promise<string>((res, rej) => {
      const h = createHash('sha256');
      createReadStream(join(dir, f))
        .on('data', (c) => h.update(c))
        .on('end', () => res(h.digest('hex')))
        .on('error', rej);
    });
  }
  return out;
}

/** One digest for an artifact: the file's own sha256 if it has one weights file, else sha256 of sha256sum-style lines. */
export function combinedSha(weights: Record<string, string>): string {
  const names = Object.keys(weights).sort();
  if (names.length === 1) return weights[names[0]!]!;
  return createHash('sha256')
    .update(names.map((n) => `${weights[n]}  ${n}\n`).join(''))
    .digest('hex');
}

/** camelCase keys become the protocol's snake_case; loss settings go to the loss object. */
function splitParams(params: Record<string, unknown>): {
  hyperparameters: Record<string, unknown>;
  loss: Record<string, unknown>;
} {
  const hyperparameters: Record<string, unknown> = {};
  const loss: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const key = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    (LOSS_KEYS.has(key) ? loss : hyperparameters)[key] = v;
  }
  return { hyperparameters, loss };
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40) || 'model';
}
