import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/tmp.js';

/**
 * w2s as a user gets it: the packed tarball installed globally into a temporary prefix, run from a folder that holds
 * only a config, a scripted debater fixture and a small JSONL dataset, all named relative to the config. No prompts
 * there and no checkout around: the prompts come from the package, the paths from the config's folder, the results
 * land in the folder's results/.
 *
 * To stay fast and offline where it can: the install reads the local npm cache first (--prefer-offline), leaves out
 * node-llama-cpp's platform binaries (--omit=optional: the llamacpp adapter loads lazily, and this run has no llamacpp
 * model) and runs no install scripts (--ignore-scripts: node-llama-cpp's postinstall would build llama.cpp without its
 * binaries); better-sqlite3's native addon, which its install script would compile for minutes, is this checkout's
 * build of the same version (compiled only when the versions differ).
 */

const exec = promisify(execFile);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const npmCheck = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const skip = npmCheck.status === 0 ? false : `npm is not available (${npmCheck.error?.message ?? npmCheck.stderr.trim()}), so the package cannot be packed and installed`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: unknown; stdout?: string; stderr?: string; message: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}

const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

test('the packed package, installed into a prefix, runs an offline experiment from an unrelated folder', { skip, timeout: 900_000 }, async (t) => {
  const root = tempDir('w2s-install-');

  // npm pack runs the build (prepare) and leaves the tarball outside the checkout.
  const packDir = join(root, 'pack');
  mkdirSync(packDir);
  let since = Date.now();
  const pack = await sh('npm', ['pack', '--pack-destination', packDir, '--loglevel=error'], REPO);
  assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr.slice(-4000)}`);
  t.diagnostic(`npm pack (build included): ${seconds(since)}`);
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `npm pack should leave one tarball in ${packDir}, found: ${tarballs.join(', ') || 'none'}`);
  const tarball = join(packDir, tarballs[0]!);

  const prefix = join(root, 'prefix');
  since = Date.now();
  const install = await sh(
    'npm',
    ['install', '--global', '--prefix', prefix, tarball, '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    root,
  );
  assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.stderr.slice(-4000)}`);
  t.diagnostic(`npm install --global --prefix (from the npm cache where it can): ${seconds(since)}`);
  const pkgDir = join(prefix, 'lib', 'node_modules', 'w2s');
  const bin = join(prefix, 'bin', 'w2s');
  assert.ok(existsSync(bin), `the install should link the w2s command at ${bin}`);

  // What the package ships, and what it leaves out.
  for (const f of ['dist/src/cli/main.js', 'prompts/debate/system.md', 'prompts/judge/verdict.md', 'trainers/hf/trainer.py', 'schema/experiment.schema.json']) {
    assert.ok(existsSync(join(pkgDir, f)), `the package should ship ${f}`);
  }
  for (const f of ['test', 'src', 'examples', 'bench']) assert.equal(existsSync(join(pkgDir, f)), false, `the package should not ship ${f}/`);

  // better-sqlite3's addon: this checkout's build when the installed version is the same, else compiled.
  const requireInstalled = createRequire(join(pkgDir, 'package.json'));
  const sqliteDir = dirname(requireInstalled.resolve('better-sqlite3/package.json'));
  const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const ourSqlite = join(REPO, 'node_modules', 'better-sqlite3');
  const ourAddon = join(ourSqlite, 'build', 'Release', 'better_sqlite3.node');
  since = Date.now();
  if (existsSync(ourAddon) && version(ourSqlite) === version(sqliteDir)) {
    mkdirSync(join(sqliteDir, 'build', 'Release'), { recursive: true });
    copyFileSync(ourAddon, join(sqliteDir, 'build', 'Release', 'better_sqlite3.node'));
  } else {
    const rebuild = await sh('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts=false', '--loglevel=error'], pkgDir);
    assert.equal(rebuild.code, 0, `building better-sqlite3 ${version(sqliteDir)} failed:\n${rebuild.stderr.slice(-4000)}`);
    t.diagnostic(`better-sqlite3 ${version(sqliteDir)} compiled (this checkout has ${existsSync(ourSqlite) ? version(ourSqlite) : 'none'}): ${seconds(since)}`);
  }

  // A fresh folder: a config, a debater fixture and a dataset, named relative to the config. No prompts/ here.
  const folder = join(root, 'experiment');
  mkdirSync(join(folder, 'data'), { recursive: true });
  const rows = Array.from({ length: 48 }, (_, i) => {
    const label = i % 2;
    return JSON.stringify({ id: `r${i}`, question: `Is item ${i} ${label ? 'bright' : 'dull'}?`, answer: `${label ? 'yes' : 'no'} ${i % 3 ? 'surely' : 'maybe'}`, label });
  });
  writeFileSync(join(folder, 'data', 'rows.jsonl'), `${rows.join('\n')}\n`);
  writeFileSync(join(folder, 'debater.json'), JSON.stringify({ '*': 'I argue for my side.' }));
  const config = {
    name: 'installed',
    dataset: { name: 'jsonl', path: 'data/rows.jsonl', sizes: { train_weak: 16, train_strong: 16, test: 16 } },
    debate: { debaters: ['scripted:debater.json'], turns: 1, samples: 2 },
    weak: { ensemble: { size: 2 } },
    metrics: { bootstrap: 200 },
  };
  writeFileSync(join(folder, 'cfg.json'), JSON.stringify(config, null, 2));
  const env = { ...process.env, W2S_CACHE_DIR: join(root, 'w2s-cache') };
  delete env['W2S_DATA_DIR'];

  since = Date.now();
  const run = await sh(bin, ['run', 'cfg.json'], folder, env);
  t.diagnostic(`w2s run (installed): ${seconds(since)}`);
  assert.equal(run.code, 0, `the installed w2s run should complete:\n${run.stderr.slice(-4000)}`);
  assert.match(run.stdout, /^Run installed-[0-9a-f]{12} \(.*results\/installed-[0-9a-f]{8}\.sqlite\)/m, 'the run table names the run and its database');
  assert.match(run.stdout, /^strong ceiling\s+\d/m, 'the run table has the ceiling row');
  assert.match(run.stdout, /^weak ensemble\s+\d/m, 'the run table has the weak ensemble row');
  const results = readdirSync(join(folder, 'results'));
  assert.ok(results.some((f) => /^installed-[0-9a-f]{8}\.sqlite$/.test(f)), `the run's database should land in the folder's results/, found: ${results.join(', ')}`);
  assert.ok(results.includes('cache.sqlite'), `the response cache should land in the folder's results/, found: ${results.join(', ')}`);
  assert.equal(existsSync(join(folder, 'prompts')), false, 'the prompts come from the package, not from the folder');
  assert.match(run.stderr, new RegExp(`debaters scripted:${escape(join(folder, 'debater.json'))}`), 'the debater fixture is read from the config\'s folder');

  // config check from another working directory: the dataset path is the config folder's, not the working directory's.
  const elsewhere = join(root, 'elsewhere');
  mkdirSync(elsewhere);
  const check = await sh(bin, ['config', 'check', join('..', 'experiment', 'cfg.json')], elsewhere, env);
  assert.equal(check.code, 0, `config check from another folder should pass:\n${check.stderr.slice(-4000)}`);
  const shown = JSON.parse(check.stdout) as { dataset: { path: string }; debate: { debaters: string[]; promptsDir?: string } };
  assert.equal(shown.dataset.path, join(folder, 'data', 'rows.jsonl'), 'dataset.path resolves against the config file\'s folder');
  assert.deepEqual(shown.debate.debaters, [`scripted:${join(folder, 'debater.json')}`], 'a scripted fixture resolves against the config file\'s folder');
  assert.equal(shown.debate.promptsDir, undefined, 'no promptsDir: the package\'s own prompts');
  assert.match(check.stderr, /preflight: ok/, 'the preflight passes');

  // The same config run again from elsewhere, into --out relative to that working directory: the same run, no calls.
  const again = await sh(bin, ['run', join('..', 'experiment', 'cfg.json'), '--out', 'out.sqlite', '--cache', join(folder, 'results', 'cache.sqlite')], elsewhere, env);
  assert.equal(again.code, 0, `a run from another folder should complete:\n${again.stderr.slice(-4000)}`);
  const runId = /^Run (installed-[0-9a-f]{12})/m.exec(run.stdout)?.[1];
  assert.match(again.stdout, new RegExp(`^Run ${runId} \\(${escape(join(elsewhere, 'out.sqlite'))}\\)`, 'm'), 'the same run id from another working directory, its database where --out says');
  assert.match(again.stderr, /debates \(96\/96, .*0 calls, 96 hits\)/, 'the rerun is served from the shared cache');
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
