import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { startFaultServer } from '../helpers/fault-server.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli, smallConfig, writeConfig, writeDataset } from './fixture.js';

function entries(file: string): number {
  const s = openStore(file, { readonly: true });
  try {
    return s.cache.cacheStats().entries;
  } finally {
    s.close();
  }
}

test('gateway.cache in the config is the cache a run uses, --cache overrides it, and the run says which file it uses', async () => {
  const dir = tempDir();
  const server = await startFaultServer();
  try {
    const fromConfig = join(dir, 'from-config.sqlite');
    const cfg = smallConfig({ dataset: writeDataset(dir, 12), debater: `openai:m@${server.url}` });
    Object.assign(cfg.gateway as object, { cache: fromConfig });
    const configFile = writeConfig(dir, cfg);

    const first = await runCli(['run', configFile, '--out', join(dir, 'a.sqlite')], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`response cache ${fromConfig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.ok(entries(fromConfig) > 0, 'the answers went to the configured cache');
    assert.ok(!existsSync(join(dir, 'results', 'cache.sqlite')), 'the default cache was not touched');

    const override = join(dir, 'override.sqlite');
    const posts = server.requests.length;
    const second = await runCli(['run', configFile, '--out', join(dir, 'b.sqlite'), '--cache', override], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /response cache .*override\.sqlite/);
    assert.equal(entries(override), entries(fromConfig), 'the override cache got every answer');
    assert.ok(server.requests.length > posts, 'a different cache: the answers were paid for again, as asked');

    // A third run into a new database with the configured cache pays nothing: every answer is in it.
    const before = server.requests.length;
    const third = await runCli(['run', configFile, '--out', join(dir, 'c.sqlite')], { cwd: dir });
    assert.equal(third.code, 0, third.stderr);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, server.requests.slice(0, before).filter((r) => r.method === 'POST').length);
  } finally {
    await server.close();
  }
});
