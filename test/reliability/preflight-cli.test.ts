import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { startFaultServer, type FaultServer } from '../helpers/fault-server.js';
import { tempDir } from '../helpers/tmp.js';
import { REPO, runCli, smallConfig, writeConfig, writeDataset } from './fixture.js';

/**
 * Bad input is found before anything is written: `w2s config check` and `w2s run` refuse it with the same one line,
 * and the run leaves no database, cache or results folder behind. A good config gets a plan whose call count is what
 * the run then makes.
 */

let server: FaultServer;
before(async () => {
  server = await startFaultServer();
});
after(() => server.close());

/** Every file and folder under dir, as relative paths. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

test('each bad input: config check and run exit 1 with one line naming the fix, and run writes nothing', async () => {
  const root = tempDir();
  const data = writeDataset(root, 12);
  const fake = join(root, 'fake.gguf');
  writeFileSync(fake, 'PK\u0003\u0004 a zip, not a model');
  /** A copy of the prompts with one template edited. */
  const prompts = (name: string, file: string, edit: (text: string) => string): string => {
    const to = join(root, name);
    cpSync(join(REPO, 'prompts'), to, { recursive: true });
    writeFileSync(join(to, file), edit(readFileSync(join(to, file), 'utf8')));
    return to;
  };
  const small = (o: { debater?: string; judge?: string; dataset?: string } = {}, extra: Record<string, unknown> = {}) => {
    const c = smallConfig({ dataset: o.dataset ?? data, debater: o.debater ?? 'scripted:echo', judge: o.judge, turns: 1 });
    return { ...c, ...extra, debate: { ...(c.debate as object), ...(extra.debate as object) } };
  };
  const cases: Record<string, [Record<string, unknown>, RegExp]> = {
    unknownPrefix: [small({ debater: 'gpt:foo' }), /^w2s: debate\.debaters\[0\]: Unknown model spec "gpt:foo"/],
    missingGguf: [small({ debater: `llamacpp:${join(root, 'missing.gguf')}` }), /^w2s: debate\.debaters\[0\]: The model file .*missing\.gguf does not exist/],
    notGguf: [small({ debater: `llamacpp:${fake}` }), /^w2s: debate\.debaters\[0\]: The file .*fake\.gguf is not a GGUF model/],
    missingData: [small({ dataset: join(root, 'nowhere.jsonl') }), /^w2s: Your data file .*nowhere\.jsonl does not exist/],
    missingFixture: [small({ judge: `scripted:${join(root, 'nope.json')}` }), /^w2s: judges\[0\]\.model: Scripted fixture .*nope\.json does not exist/],
    unknownSlot: [
      small({}, { debate: { promptsDir: prompts('p1', 'debate/turn.md', (t) => `${t}\nMood: {{mood}}\n`) } }),
      /^w2s: The prompts in .*p1: Prompt template debate\/turn\.md uses \{\{mood\}\}/,
    ],
    missingSlot: [
      small({ judge: 'scripted:echo' }, { debate: { promptsDir: prompts('p2', 'judge/verdict.md', (t) => t.replace('{{transcript}}', '')) } }),
      /^w2s: The prompts in .*p2: Prompt template judge\/verdict\.md does not use \{\{transcript\}\}/,
    ],
    missingKey: [small({ debater: 'openai:gpt-4o-mini' }), /^w2s: debate\.debaters\[0\]: Model openai:gpt-4o-mini needs an API key; set the OPENAI_API_KEY environment variable\.$/],
    missingNamedKey: [
      small({ debater: 'scripted:echo' }, { judges: [{ name: 'j', model: { spec: `openai:m@${server.url}`, apiKeyEnv: 'W2S_TEST_NO_SUCH_KEY' }, method: 'parsed' }] }),
      /^w2s: judges\[0\]\.model: Model openai:m@\S+ needs an API key; set the W2S_TEST_NO_SUCH_KEY environment variable\.$/,
    ],
    noLogprobs: [
      small({}, { judges: [{ name: 'j', model: { spec: `openai:m@${server.url}`, capabilities: { logprobs: false } }, method: 'logprobs' }] }),
      /^w2s: judges\[0\]\.model: judge:j model openai:m@\S+ has no logprobs; use a model that returns logprobs or set judges\[0\]\.method to 'parsed'\.$/,
    ],
  };
  await Promise.all(
    Object.entries(cases).map(async ([name, [config, pattern]]) => {
      const cwd = join(root, name);
      mkdirSync(cwd);
      writeConfig(cwd, config);
      const before = listing(cwd);
      for (const args of [['config', 'check', 'config.json'], ['run', 'config.json', '--out', 'out.sqlite']]) {
        // No key in the environment: the hosted-API cases must find that out before any work.
        const r = await runCli(args, { cwd, env: { OPENAI_API_KEY: '' } });
        const what = `${name}, w2s ${args[0]}`;
        assert.equal(r.code, 1, `${what}: ${r.stderr}`);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `${what}: one line, got ${r.stderr}`);
        assert.match(lines[0]!, pattern, what);
        assert.equal(r.stdout, '', `${what}: nothing on stdout`);
        assert.deepEqual(listing(cwd), before, `${what}: nothing written (no database, cache or results folder)`);
      }
    }),
  );
  // Nothing reached the model server: the bad inputs were all found before the first call.
  assert.equal(server.requests.length, 0);
});

test('a good config: config check prints the config and the plan; run prints the plan first and makes that many calls, costing no more than its worst case', async () => {
  const dir = tempDir();
  // The judge states a verdict ("A"): a judge that never does trains no strong model, whose calls the plan (an upper
  // bound) would still count.
  const lastUser = (req: { body: { messages?: { role: string; content: string }[] } }): string => req.body.messages?.filter((m) => m.role === 'user').pop()?.content ?? '';
  const speaking = await startFaultServer({ reply: (req) => (/The proposed answer is (in)?correct\./.test(lastUser(req)) ? 'A' : `Echo: ${lastUser(req)}`) });
  after(() => speaking.close());
  const model = `openai:m@${speaking.url}`;
  const config = smallConfig({ dataset: writeDataset(dir, 12), debater: model, judge: model, turns: 2, samples: 2 });
  const file = writeConfig(dir, {
    ...config,
    strong: { features: { kind: 'embedding', model }, probe: { epochs: 3 } },
    gateway: { ...(config.gateway as object), prices: { [model]: { inputPerMTok: 2.5, outputPerMTok: 10 } } },
  });

  const check = await runCli(['config', 'check', file]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).dataset.sizes.test, 4, 'the config with its defaults on stdout');
  const m = /^preflight: ok — at most (\d+) model calls \(debater (\d+), judge (\d+), embedding (\d+)\); worst-case cost \$([\d.e-]+)$/m.exec(check.stderr);
  assert.ok(m, check.stderr);
  const [planned, debater, judge, embedding, worstUsd] = m.slice(1).map(Number) as [number, number, number, number, number];
  // 12 examples × 2 transcripts × 2 turns; 8 judged examples × 2 transcripts × 2 orders.
  assert.deepEqual([debater, judge], [48, 32]);
  assert.equal(planned, debater + judge + embedding);

  const out = join(dir, 'run.sqlite');
  const run = await runCli(['run', file, '--out', out, '--no-cache'], { cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr.split('\n')[0]!, /preflight: ok — at most \d+ model calls/, 'the plan is the first thing the run prints');
  const store = openStore(out, { readonly: true });
  try {
    const real = store.db.prepare('SELECT COUNT(*) AS n, SUM(cost_usd) AS usd FROM calls WHERE cache_hit = 0').get() as { n: number; usd: number };
    assert.equal(real.n, planned, 'the plan counts the backend calls the run makes');
    assert.ok(real.usd > 0 && real.usd <= worstUsd, `real $${real.usd} within the worst case $${worstUsd}`);
  } finally {
    store.close();
  }
});
