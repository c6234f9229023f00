import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

test('the lockfile lists every platform package of node-llama-cpp, so npm ci accepts it', () => {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
  const llama = lock.packages['node_modules/node-llama-cpp'];
  const missing = Object.keys(llama.optionalDependencies ?? {}).filter((name) => !lock.packages[`node_modules/${name}`]);
  assert.deepEqual(missing, [], 'run `node scripts/lock-platform-packages.mjs` after npm install');
});
