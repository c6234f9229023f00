import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUserError } from '../../src/errors.js';
import { ensureTrainerEnv } from '../../src/train/trainer-env.js';

const tmp = mkdtempSync(join(tmpdir(), 'w2s-trainer-env-'));

test('setup is idempotent: a second call reuses the stamped venv', { timeout: 30 * 60_000 }, async () => {
  const first = await ensureTrainerEnv();
  const lines: string[] = [];
  const second = await ensureTrainerEnv({ onLine: (l) => lines.push(l) });
  assert.equal(second.reused, true);
  assert.equal(second.python, first.python);
  assert.equal(second.requirementsHash, first.requirementsHash);
  assert.deepEqual(lines, [], 'nothing was installed the second time');
  assert.match(second.versions['torch'] ?? '', /^\d+\.\d+/);
  assert.ok(second.versions['transformers'] && second.versions['peft'] && second.versions['gguf']);
});

test('a missing Python is one clear UserError', async () => {
  await assert.rejects(ensureTrainerEnv({ cacheDir: join(tmp, 'venv-a'), python: join(tmp, 'no-python3') }), (e) => {
    assert.ok(isUserError(e));
    assert.match((e as Error).message, /Python was not found as ".*no-python3"/);
    return true;
  });
});

test('a failed install is a UserError with pip\'s last lines, and leaves no stamp behind', { timeout: 5 * 60_000 }, async () => {
  const requirements = join(tmp, 'requirements.txt');
  // A local wheel path that does not exist: pip fails without asking any registry.
  writeFileSync(requirements, `${join(tmp, 'w2s_missing-1.0-py3-none-any.whl')}\n`);
  const venv = join(tmp, 'venv-b');
  await assert.rejects(ensureTrainerEnv({ cacheDir: venv, requirementsPath: requirements }), (e) => {
    assert.ok(isUserError(e));
    assert.match((e as Error).message, /Installing the trainer requirements into .*venv-b failed/);
    assert.match((e as Error).message, /w2s_missing-1\.0-py3-none-any\.whl/);
    return true;
  });
  assert.equal(existsSync(join(venv, 'w2s-trainer-stamp.json')), false);
  assert.equal(existsSync(`${venv}.lock`), false, 'the lock is released after a failure');
});
