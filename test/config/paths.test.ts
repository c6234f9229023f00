import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configHash, loadExperiment, parseExperiment } from '../../src/config/load.js';
import { configOrigin } from '../../src/config/paths.js';
import { loadSweep, parseSweep } from '../../src/config/sweep.js';
import { promptsDirOf } from '../../src/debate/templates.js';
import { packageFile } from '../../src/package-files.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Paths inside a config are relative to the config file; the run id does not depend on where the config (or the
 * checkout) is. Checked on configs written to temporary folders: nothing here reads the files the paths name.
 */

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const root = tempDir('w2s-paths-');

function writeConfig(dir: string, config: unknown, name = 'cfg.json'): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Every kind of path field, written relative; plus the values that are not paths. */
const everyPath = {
  name: 'paths',
  dataset: { name: 'jsonl', files: { train: 'data/train.jsonl', test: './data/../data/test.jsonl' } },
  debate: {
    protocol: 'debate',
    debaters: ['scripted:fixtures/debater.json', { spec: 'llamacpp:../models/m.gguf', cacheDir: 'hf-cache', contextSize: 256 }],
    promptsDir: 'my-prompts',
  },
  judges: [
    { name: 'local', model: 'llamacpp:models/judge.gguf' },
    { name: 'hub', model: 'llamacpp:hf:user/repo:Q4_K_M' },
    { name: 'named', model: 'scripted:echo' },
    { name: 'remote', model: 'openai:gpt-4o-mini@http://127.0.0.1:8000/v1' },
  ],
  weak: {
    backend: 'hf',
    hf: { baseModel: 'Qwen/Qwen2.5-0.5B', command: ['./bin/trainer', 'extra.py', '--flag', 'word'] },
    features: { kind: 'embedding', model: 'scripted:emb.json' },
    ensemble: { size: 2 },
  },
  strong: { backend: 'hf', hf: { baseModel: '../models/strong.gguf', command: ['python3', '../trainers/t.py'] } },
  gateway: { cache: 'cache/responses.sqlite', prices: { 'llamacpp:models/judge.gguf': { inputPerMTok: 0, outputPerMTok: 0 }, 'openai:x': { inputPerMTok: 1, outputPerMTok: 2 } } },
};

test('loading a config file resolves every path field against its folder, and nothing else', () => {
  const dir = join(root, 'a', 'exp');
  const c = loadExperiment(writeConfig(dir, everyPath));
  const at = (p: string): string => join(dir, p);
  assert.deepEqual(c.dataset.files, { train: at('data/train.jsonl'), test: at('data/test.jsonl') }, 'dataset.files, normalised');
  assert.equal(c.debate.promptsDir, at('my-prompts'), 'debate.promptsDir');
  assert.deepEqual(
    c.debate.debaters,
    [`scripted:${at('fixtures/debater.json')}`, { spec: `llamacpp:${resolve(dir, '../models/m.gguf')}`, cacheDir: at('hf-cache'), contextSize: 256 }],
    'debaters: a fixture, a local GGUF and its download folder',
  );
  assert.deepEqual(
    c.judges.map((j) => j.model),
    [`llamacpp:${at('models/judge.gguf')}`, 'llamacpp:hf:user/repo:Q4_K_M', 'scripted:echo', 'openai:gpt-4o-mini@http://127.0.0.1:8000/v1'],
    'judge models: a local file resolved; hf: refs, script names and remote models as written',
  );
  assert.equal(c.weak.features.kind === 'embedding' && c.weak.features.model, `scripted:${at('emb.json')}`, 'weak.features.model');
  assert.equal(c.weak.hf!.baseModel, 'Qwen/Qwen2.5-0.5B', 'a hub id is not a path');
  assert.deepEqual(c.weak.hf!.command, [at('bin/trainer'), at('extra.py'), '--flag', 'word'], 'the trainer executable and its script');
  assert.equal(c.strong.hf!.baseModel, resolve(dir, '../models/strong.gguf'), 'a local .gguf base model');
  assert.deepEqual(c.strong.hf!.command, ['python3', resolve(dir, '../trainers/t.py')], 'a bare executable is looked up on PATH, its script is a path');
  assert.equal(c.gateway.cache, at('cache/responses.sqlite'), 'gateway.cache');
  assert.deepEqual(Object.keys(c.gateway.prices), [`llamacpp:${at('models/judge.gguf')}`, 'openai:x'], 'prices keyed by the spec they price');
  // The folder is remembered off the record: not in JSON (the stored config, `config check`), kept by spreads.
  assert.equal(configOrigin(c)?.dir, dir, 'the config remembers its folder');
  assert.equal(configOrigin({ ...c })?.dir, dir, 'a spread keeps it');
  assert.doesNotMatch(JSON.stringify(c), /configOrigin/, 'JSON leaves it out');
});

test('the run id is the same wherever the config folder is, from any working directory, and equals the one written in code', () => {
  const a = loadExperiment(writeConfig(join(root, 'one', 'exp'), everyPath));
  const b = loadExperiment(writeConfig(join(root, 'two', 'deeper', 'exp'), everyPath));
  assert.notEqual(a.dataset.files!.train, b.dataset.files!.train, 'different files');
  assert.equal(configHash(a), configHash(b), 'same config, same relative layout: same run id');
  assert.equal(configHash({ ...a }), configHash(a), 'a spread config hashes the same');
  assert.equal(configHash(parseExperiment({ ...a }, 'again', join(root, 'unrelated'))), configHash(a), 'a loaded config parsed again keeps its folder');
  // A config built in code resolves against the working directory, and hashes its paths as written.
  const inCode = parseExperiment(everyPath);
  assert.equal(inCode.debate.promptsDir, resolve('my-prompts'), 'parseExperiment resolves against the working directory');
  assert.equal(configHash(inCode), configHash(a), 'the hash sees the paths as written, relative to the config\'s folder');
  // "./data/../data/test.jsonl" is normalised: the same run as "data/test.jsonl".
  const tidy = structuredClone(everyPath);
  tidy.dataset.files.test = 'data/test.jsonl';
  assert.equal(configHash(loadExperiment(writeConfig(join(root, 'tidy'), tidy))), configHash(a), 'normalised relative paths');
  // Another relative path is another run.
  const other = structuredClone(everyPath);
  other.dataset.files.train = 'data/other.jsonl';
  assert.notEqual(configHash(loadExperiment(writeConfig(join(root, 'other'), other))), configHash(a), 'another file, another run');
});

test('a path written absolute stays absolute, in the config and in the hash', () => {
  const abs = { dataset: { name: 'jsonl', path: join(root, 'shared', 'rows.jsonl') }, debate: { protocol: 'none' } };
  const a = loadExperiment(writeConfig(join(root, 'abs1'), abs));
  const b = loadExperiment(writeConfig(join(root, 'abs2', 'x', 'y'), abs));
  assert.equal(a.dataset.path, join(root, 'shared', 'rows.jsonl'), 'absolute as written');
  assert.equal(configHash(a), configHash(b), 'moving a config with an absolute path keeps its run id');
  assert.equal(configHash(a), configHash(parseExperiment(abs)), 'the same as the config built in code');
});

test('the prompts default to the package\'s own, hashed as the old default "prompts"; a config may point elsewhere', () => {
  const none = loadExperiment(writeConfig(join(root, 'p1'), { dataset: { name: 'sciq' }, debate: { protocol: 'none' } }));
  assert.equal(none.debate.promptsDir, undefined, 'left out, it stays out of the config');
  assert.equal(promptsDirOf(none.debate), packageFile('prompts'), 'and means the package\'s prompts');
  assert.equal(packageFile('prompts'), join(REPO, 'prompts'), 'which, in the checkout, are its prompts/');
  // Runs made when the default was "prompts" under the working directory keep their ids.
  const spelled = parseExperiment({ dataset: { name: 'sciq' }, debate: { protocol: 'none', promptsDir: 'prompts' } });
  assert.equal(configHash(none), configHash(spelled), 'the default hashes as "prompts"');
  const mine = loadExperiment(writeConfig(join(root, 'p2'), { dataset: { name: 'sciq' }, debate: { protocol: 'none', promptsDir: 'mine' } }));
  assert.equal(promptsDirOf(mine.debate), join(root, 'p2', 'mine'), 'a config\'s own prompts folder, relative to it');
});

test('a base model folder next to the config is a path; a hub id is not', () => {
  const dir = join(root, 'hfdir');
  mkdirSync(join(dir, 'org', 'local-model'), { recursive: true });
  const c = loadExperiment(
    writeConfig(dir, {
      dataset: { name: 'sciq' },
      debate: { protocol: 'none' },
      weak: { backend: 'hf', hf: { baseModel: 'org/local-model' } },
      strong: { backend: 'hf', hf: { baseModel: 'org/hub-model' } },
    }),
  );
  assert.equal(c.weak.hf!.baseModel, join(dir, 'org', 'local-model'), 'an existing folder under the config\'s folder');
  assert.equal(c.strong.hf!.baseModel, 'org/hub-model', 'a hub id');
});

test('a sweep: base relative to the sweep file, the base\'s paths relative to the base, the sweep\'s own to the sweep; run ids move with the folder', () => {
  const build = (top: string): string => {
    writeConfig(join(top, 'configs'), { dataset: { name: 'jsonl', path: 'data/rows.jsonl' }, debate: { protocol: 'debate', debaters: ['scripted:debater.json'] } }, 'base.json');
    return writeConfig(join(top, 'sweeps'), { name: 's', base: '../configs/base.json', axes: { 'debate.debaters': [['scripted:mine.json'], ['scripted:echo']] } }, 'sweep.json');
  };
  const one = join(root, 's1');
  const s = loadSweep(build(one));
  const [mine, echo] = s.cells.map((c) => c.config);
  assert.equal(mine!.dataset.path, join(one, 'configs', 'data', 'rows.jsonl'), 'the base file\'s path, relative to the base');
  assert.deepEqual(mine!.debate.debaters, [`scripted:${join(one, 'sweeps', 'mine.json')}`], 'a path the sweep sets, relative to the sweep');
  assert.deepEqual(echo!.debate.debaters, ['scripted:echo'], 'a script name is not a path');
  const moved = loadSweep(build(join(root, 'elsewhere', 's2')));
  assert.deepEqual(moved.cells.map((c) => c.hash), s.cells.map((c) => c.hash), 'the same sweep in another folder: the same run ids');
  // A cell that sets no path is the base config's own run (but for its name), wherever the sweep file is.
  const base = loadExperiment(join(one, 'configs', 'base.json'));
  const echoCell = { ...base, debate: { ...base.debate, debaters: ['scripted:echo'] } };
  assert.equal(configHash({ ...echo!, name: base.name }), configHash(echoCell), 'the base\'s paths hash relative to the base file');
  // An inline base is the sweep file's.
  const inline = parseSweep({ name: 's', base: { dataset: { name: 'jsonl', path: 'rows.jsonl' }, debate: { protocol: 'none' } }, axes: { seed: [1] } }, 'sweep.json', join(root, 'inline'));
  assert.equal(inline.cells[0]!.config.dataset.path, join(root, 'inline', 'rows.jsonl'), 'an inline base\'s paths are the sweep file\'s');
});

test('the examples keep their run ids wherever the checkout is', () => {
  for (const name of ['quick', 'judge-ensembles', 'hf-trainer']) {
    const copy = join(root, 'checkout', 'examples');
    mkdirSync(copy, { recursive: true });
    copyFileSync(join(REPO, 'examples', `${name}.json`), join(copy, `${name}.json`));
    const here = loadExperiment(join(REPO, 'examples', `${name}.json`));
    const there = loadExperiment(join(copy, `${name}.json`));
    assert.equal(configHash(there), configHash(here), `${name}: same run id from another checkout`);
  }
  // examples/ sits next to the repository's parent's shared/: its model paths climb two folders.
  const quick = JSON.parse(readFileSync(join(REPO, 'examples', 'quick.json'), 'utf8')) as { debate: { debaters: { spec: string }[] } };
  assert.equal(quick.debate.debaters[0]!.spec, 'llamacpp:../../shared/models/stories260K.gguf', 'relative to examples/');
  const loaded = loadExperiment(join(REPO, 'examples', 'quick.json')).debate.debaters![0] as { spec: string };
  assert.equal(loaded.spec, `llamacpp:${resolve(REPO, '..', 'shared', 'models', 'stories260K.gguf')}`, 'the shared model, from any working directory');
});
