import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../../src/config/load.js';
import { loadSweep } from '../../src/config/sweep.js';
import { preflight } from '../../src/pipeline/preflight.js';
import { planSweep } from '../../src/pipeline/sweep.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `w2s config check` on every example (the preflight it runs: files, models' local files and capabilities as declared,
 * prompts, splits), and `w2s sweep --dry-run` on the offline sweep example. No model is loaded and no call is made; the
 * examples' data come from the default data folder (../shared/datasets) and their models' paths are relative to
 * examples/. The openai example names its key's variable; a placeholder key stands in (nothing is sent).
 */

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
process.env['OPENAI_API_KEY'] ??= 'sk-placeholder-for-preflight';

const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json') && f !== 'controls.json').sort();
const isSweep = (f: string): boolean => 'base' in (JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as object);

test('every example config passes config check', async () => {
  const configs = files.filter((f) => !isSweep(f));
  assert.ok(configs.length >= 6, `the example configs, found: ${configs.join(', ')}`);
  for (const f of configs) {
    const plan = await preflight(loadExperiment(join(EXAMPLES, f))).catch((e: Error) => assert.fail(`${f}: ${e.message}`));
    assert.ok(plan.total > 0, `${f} plans some model calls`);
  }
});

// paper.json's 68 cells take some 20 s to preflight; test/pipeline/sweep.test.ts parses them.
test('the offline sweep example passes sweep --dry-run', async () => {
  const sweeps = files.filter(isSweep);
  assert.deepEqual(sweeps, ['paper.json', 'sweep-quick.json'], 'the sweep examples');
  const out = tempDir('w2s-examples-');
  for (const f of ['sweep-quick.json']) {
    const plan = await planSweep(loadSweep(join(EXAMPLES, f)), out).catch((e: Error) => assert.fail(`${f}: ${e.message}`));
    assert.ok(plan.cells.length > 0, `${f} has cells`);
  }
});
