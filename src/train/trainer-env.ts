import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { sha256 } from '../hash.js';
import { acquireLockDir } from '../lock-dir.js';
import { packageFile } from '../package-files.js';

/**
 * The reference trainer's Python environment: a venv in a cache folder with trainers/hf/requirements.txt installed.
 * Setup is idempotent: a stamp file records the hash of the requirements it installed, so a second call is instant.
 */

export interface TrainerEnv {
  /** The venv's python executable. */
  python: string;
  venvDir: string;
  requirementsHash: string;
  /** Versions of the key packages, as the venv's python reports them. */
  versions: Record<string, string>;
  /** True when the stamp matched and nothing was installed. */
  reused: boolean;
}

export interface EnsureTrainerEnvOptions {
  /** The venv's folder; default $W2S_TRAINER_VENV, else ~/.cache/w2s/trainer-venv. */
  cacheDir?: string;
  /** The Python that creates the venv; default $W2S_PYTHON, else python3. */
  python?: string;
  /** Default: trainers/hf/requirements.txt in this package. */
  requirementsPath?: string;
  /** Each line pip and venv print, for a log or a progress line. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

const STAMP = 'w2s-trainer-stamp.json';
/** The machine's local wheel set (see DEVELOPERS.md); used when present, plain pip otherwise. */
const LOCAL_INDEX = '/opt/pypi/simple';
const LOCAL_INDEX_MORE = '/opt/pypi-more/simple';
const LOCAL_WHEELS = '/opt/wheels';

export function defaultTrainerVenvDir(): string {
  return process.env['W2S_TRAINER_VENV'] || join(homedir(), '.cache', 'w2s', 'trainer-venv');
}

export function referenceTrainerPath(): string {
  return packageFile('trainers', 'hf', 'trainer.py');
}

export async function ensureTrainerEnv(options: EnsureTrainerEnvOptions = {}): Promise<TrainerEnv> {
  const venvDir = resolve(options.cacheDir ?? defaultTrainerVenvDir());
  const basePython = options.python ?? (process.env['W2S_PYTHON'] || 'python3');
  const requirementsPath = options.requirementsPath ?? packageFile('trainers', 'hf', 'requirements.txt');
  const requirements = await readFile(requirementsPath, 'utf8');
  const pipArgs = pipSourceArgs();
  // The stamp covers the install sources and every file the requirements include (-r), so editing one reinstalls.
  const requirementsHash = sha256([...(await requirementsTexts(requirementsPath)), pipArgs.join(' ')].join('\n'));
  const python = venvPython(venvDir);
  const onLine = options.onLine ?? (() => {});

  const fresh = await readStamp(venvDir, requirementsHash, python);
  if (fresh) return { python, venvDir, requirementsHash, versions: fresh, reused: true };

  await mkdir(dirname(venvDir), { recursive: true });
  const release = await acquireLock(`${venvDir}.lock`, onLine, options.signal);
  try {
    // Another process may have finished the setup while we waited for the lock.
    const again = await readStamp(venvDir, requirementsHash, python);
    if (again) return { python, venvDir, requirementsHash, versions: again, reused: true };

    await checkPython(basePython);
    if (!existsSync(python)) {
      onLine(`creating venv ${venvDir}`);
      const r = await runLogged(basePython, ['-m', 'venv', venvDir], onLine, options.signal);
      if (r.code !== 0) {
        throw new UserError(
          `Creating the trainer venv at ${venvDir} with ${basePython} failed (install the python3-venv package or pass --python): ${tail(r.lines)}`,
        );
      }
    }
    const pip = [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input'];
    const cpuTorch = /^\s*torch\b/m.test(requirements) ? localCpuTorchWheel() : undefined;
    if (cpuTorch) {
      // The local index's torch is a CUDA build with gigabytes of nvidia wheels; the CPU wheel is enough here and
      // once installed it satisfies requirements.txt's torch line.
      onLine(`installing ${cpuTorch}`);
      const r = await runLogged(pip[0]!, [...pip.slice(1), ...pipArgs, cpuTorch], onLine, options.signal);
      if (r.code !== 0) throw installError(venvDir, r.lines);
    }
    onLine(`installing ${requirementsPath}`);
    const r = await runLogged(pip[0]!, [...pip.slice(1), ...pipArgs, '-r', requirementsPath], onLine, options.signal);
    if (r.code !== 0) throw installError(venvDir, r.lines);

    const versions = await probeVersions(python, options.signal);
    const tmp = join(venvDir, `${STAMP}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify({ requirementsHash, versions, createdAt: new Date().toISOString() }, null, 2));
    await rename(tmp, join(venvDir, STAMP));
    return { python, venvDir, requirementsHash, versions, reused: false };
  } finally {
    await release();
  }
}

/** A requirements file's text and, in order, the texts of the files it includes with -r (relative to the including file). */
async function requirementsTexts(path: string, seen = new Set<string>()): Promise<string[]> {
  const file = resolve(path);
  if (seen.has(file)) return [];
  seen.add(file);
  const text = await readFile(file, 'utf8');
  const out = [text];
  for (const m of text.matchAll(/^\s*(?:-r|--requirement)[=\s]+(\S+)/gm)) out.push(...(await requirementsTexts(join(dirname(file), m[1]!), seen)));
  return out;
}

function venvPython(venvDir: string): string {
  return process.platform === 'win32' ? join(venvDir, 'Scripts', 'python.exe') : join(venvDir, 'bin', 'python');
}

function pipSourceArgs(): string[] {
  if (!existsSync(LOCAL_INDEX)) return [];
  const args = ['--index-url', `file://${LOCAL_INDEX}`];
  if (existsSync(LOCAL_INDEX_MORE)) args.push('--extra-index-url', `file://${LOCAL_INDEX_MORE}`);
  if (existsSync(LOCAL_WHEELS)) args.push('--find-links', LOCAL_WHEELS);
  return args;
}

function localCpuTorchWheel(): string | undefined {
  if (!existsSync(LOCAL_INDEX) || !existsSync(LOCAL_WHEELS)) return undefined;
  const wheel = readdirSync(LOCAL_WHEELS)
    .filter((f) => /^torch-[^-]+\+cpu-.*\.whl$/.test(f))
    .sort()
    .pop();
  return wheel ? join(LOCAL_WHEELS, wheel) : undefined;
}

function installError(venvDir: string, lines: string[]): UserError {
  return new UserError(
    `Installing the trainer requirements into ${venvDir} failed; fix the package source or network and rerun \`w2s trainer setup\`: ${tail(lines)}`,
  );
}

function tail(lines: string[], n = 12): string {
  return lines.filter((l) => l.trim() !== '').slice(-n).join('\n');
}

async function readStamp(venvDir: string, hash: string, python: string): Promise<Record<string, string> | undefined> {
  try {
    const stamp = JSON.parse(await readFile(join(venvDir, STAMP), 'utf8')) as {
      requirementsHash?: string;
      versions?: Record<string, string>;
    };
    if (stamp.requirementsHash === hash && existsSync(python)) return stamp.versions ?? {};
  } catch {
    // no stamp yet
  }
  return undefined;
}

async function checkPython(python: string): Promise<void> {
  let r: { code: number | null; lines: string[] };
  try {
    r = await runLogged(python, ['-c', 'import sys; assert sys.version_info >= (3, 9), sys.version'], () => {});
  } catch (e) {
    throw new UserError(
      `Python was not found as "${python}"; install Python 3.9 or newer, or point --python (or W2S_PYTHON) at it.`,
      { cause: e },
    );
  }
  if (r.code !== 0) {
    throw new UserError(`"${python}" is not a usable Python 3.9 or newer; point --python (or W2S_PYTHON) at one: ${tail(r.lines, 3)}`);
  }
}

async function probeVersions(python: string, signal?: AbortSignal): Promise<Record<string, string>> {
  const code =
    'import json, importlib, importlib.metadata as md\n' +
    'out = {}\n' +
    'for m in ("torch", "transformers", "peft", "gguf", "numpy"):\n' +
    '    importlib.import_module(m)\n' +
    '    out[m] = md.version(m)\n' +
    'print(json.dumps(out))\n';
  const r = await runLogged(python, ['-c', code], () => {}, signal);
  if (r.code !== 0) {
    throw new UserError(`The trainer venv installed but its packages do not import; rerun \`w2s trainer setup\`: ${tail(r.lines)}`);
  }
  return JSON.parse(r.lines.filter((l) => l.startsWith('{')).pop() ?? '{}') as Record<string, string>;
}

/** Runs a command, passing each output line to onLine; rejects only when the command cannot start. */
function runLogged(
  cmd: string,
  args: string[],
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONUNBUFFERED: '1' },
      ...(signal ? { signal } : {}),
    });
    const lines: string[] = [];
    const take = (buf: { rest: string }) => (chunk: Buffer) => {
      const parts = (buf.rest + chunk.toString('utf8')).split(/\r?\n/);
      buf.rest = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(l);
        if (lines.length > 400) lines.shift();
        onLine(l);
      }
    };
    const out = { rest: '' };
    const err = { rest: '' };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    child.on('error', reject);
    child.on('close', (code) => {
      for (const l of [out.rest, err.rest]) if (l) lines.push(l);
      resolvePromise({ code, lines });
    });
  });
}

/** A lock folder beside the venv, so parallel test files or CLI calls never install into one venv at once. */
function acquireLock(lockDir: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<() => Promise<void>> {
  return acquireLockDir(lockDir, {
    signal,
    pollMs: 1000,
    maxWaitMs: 60 * 60 * 1000,
    onWait: () => onLine(`waiting for another setup of the Python environment (${lockDir})`),
    timeoutError: () => new UserError(`The Python environment lock ${lockDir} has been held for an hour; remove it if no setup is running.`),
  });
}
