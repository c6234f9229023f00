/**
 * Parquet files written by an independent writer (pyarrow), so the parquet reader is checked against files it did not
 * make. pyarrow comes from the machine's local wheel set into a venv cached at ~/.cache/w2s/pyarrow-venv (or
 * $W2S_PYARROW_VENV), set up once under a lock and marked done by a stamp file, as the trainer's venv is.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { acquireLockDir } from '../../src/lock-dir.js';

const LOCAL_INDEX = '/opt/pypi/simple';
const LOCAL_INDEX_MORE = '/opt/pypi-more/simple';
const LOCAL_WHEELS = '/opt/wheels';
const STAMP = 'w2s-pyarrow-stamp.json';

/** Why parquet files cannot be written here, or undefined when they can (the local wheel set is present). */
export function pyarrowUnavailable(): string | undefined {
  return existsSync(LOCAL_INDEX) ? undefined : `the local wheel set ${LOCAL_INDEX} is absent, so pyarrow cannot be installed offline`;
}

/** The python of a venv with pyarrow installed, set up on first use. */
export async function ensurePyarrow(): Promise<string> {
  const venv = process.env['W2S_PYARROW_VENV'] || join(homedir(), '.cache', 'w2s', 'pyarrow-venv');
  const python = join(venv, 'bin', 'python');
  if (stampOk(venv, python)) return python;
  await mkdir(dirname(venv), { recursive: true });
  const release = await acquireLockDir(`${venv}.lock`, {
    pollMs: 500,
    maxWaitMs: 20 * 60 * 1000,
    timeoutError: () => new Error(`the pyarrow venv lock ${venv}.lock has been held for 20 minutes; remove it if no setup is running`),
  });
  try {
    if (stampOk(venv, python)) return python;
    if (!existsSync(python)) await run('python3', ['-m', 'venv', venv]);
    const sources = ['--index-url', `file://${LOCAL_INDEX}`];
    if (existsSync(LOCAL_INDEX_MORE)) sources.push('--extra-index-url', `file://${LOCAL_INDEX_MORE}`);
    if (existsSync(LOCAL_WHEELS)) sources.push('--find-links', LOCAL_WHEELS);
    await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...sources, 'pyarrow']);
    const version = (await run(python, ['-c', 'import pyarrow; print(pyarrow.__version__)'])).trim();
    const tmp = join(venv, `${STAMP}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify({ pyarrow: version, createdAt: new Date().toISOString() }));
    await rename(tmp, join(venv, STAMP));
    return python;
  } finally {
    await release();
  }
}

/**
 * Converts a JSON lines file (gzipped or not) to a snappy-compressed parquet file with pyarrow's own JSON reader, in
 * row groups of `rowGroupSize` rows (several groups, so reading group by group is exercised).
 */
export async function jsonlToParquet(source: string, target: string, rowGroupSize = 1000): Promise<void> {
  const python = await ensurePyarrow();
  const code = [
    'import sys, pyarrow.json as pj, pyarrow.parquet as pq',
    'table = pj.read_json(sys.argv[1])',
    'pq.write_table(table, sys.argv[2], compression="snappy", row_group_size=int(sys.argv[3]))',
  ].join('\n');
  await run(python, ['-c', code, source, target, String(rowGroupSize)]);
}

/**
 * Converts a CSV file with a header row (quoted fields may hold line breaks) to a snappy-compressed parquet file with
 * pyarrow's CSV reader, which types columns itself (a column of integers becomes int64).
 */
export async function csvToParquet(source: string, target: string, rowGroupSize = 1000): Promise<void> {
  const python = await ensurePyarrow();
  const code = [
    'import sys, pyarrow.csv as pc, pyarrow.parquet as pq',
    'table = pc.read_csv(sys.argv[1], parse_options=pc.ParseOptions(newlines_in_values=True))',
    'pq.write_table(table, sys.argv[2], compression="snappy", row_group_size=int(sys.argv[3]))',
  ].join('\n');
  await run(python, ['-c', code, source, target, String(rowGroupSize)]);
}

/** The parquet file's codecs, row groups and column types as pyarrow reports them (to show what was tested). */
export async function parquetFacts(file: string): Promise<{ codecs: string[]; rowGroups: number; rows: number; types: Record<string, string> }> {
  const python = await ensurePyarrow();
  const code = [
    'import sys, json, pyarrow.parquet as pq',
    'f = pq.ParquetFile(sys.argv[1]); m = f.metadata',
    'codecs = sorted({m.row_group(g).column(c).compression for g in range(m.num_row_groups) for c in range(m.num_columns)})',
    'print(json.dumps({"codecs": codecs, "rowGroups": m.num_row_groups, "rows": m.num_rows, "types": {n: str(t) for n, t in zip(f.schema_arrow.names, f.schema_arrow.types)}}))',
  ].join('\n');
  return JSON.parse((await run(python, ['-c', code, file])).trim().split('\n').pop()!);
}

function stampOk(venv: string, python: string): boolean {
  try {
    return existsSync(python) && typeof JSON.parse(readFileSync(join(venv, STAMP), 'utf8')).pyarrow === 'string';
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.slice(0, 2).join(' ')} exited ${code}: ${err.slice(-2000)}`))));
  });
}
