import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ExperimentConfig } from '../../src/config/experiment.js';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { formatPlan, preflight } from '../../src/pipeline/preflight.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { createClient, inspectModel } from '../../src/models/create.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { REPO, smallConfig, writeDataset } from '../reliability/fixture.js';

/**
 * The preflight checks what it can without writing, loading a model or calling one, and plans the run. Its call count
 * is checked against the ledger of real runs (scripted models, no cache), which count by doing, not by formula.
 */

const MODEL = join(REPO, '..', 'shared', 'models', 'stories260K.gguf');
const embedding = (spec: string) => ({ kind: 'embedding', model: spec });

function config(dir: string, over: Record<string, unknown> = {}, o: { debater?: string; judge?: string; perSplit?: number; samples?: number; turns?: number; rows?: number } = {}) {
  const base = smallConfig({ dataset: writeDataset(dir, o.rows ?? Math.max(30, 3 * (o.perSplit ?? 6)), `rows${o.rows ?? o.perSplit ?? 6}.jsonl`), debater: o.debater ?? 'scripted:echo', judge: o.judge, perSplit: o.perSplit ?? 6, samples: o.samples ?? 2, turns: o.turns ?? 3 });
  return parseExperiment({ ...base, ...over });
}

async function refuses(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Backend calls per ledger role (cache hits and other runs aside), and their cost. */
function ledger(out: string): { byRole: Record<string, number>; total: number; costUsd: number } {
  const store = openStore(out, { readonly: true });
  try {
    const rows = store.db.prepare('SELECT role, COUNT(*) AS n, SUM(cost_usd) AS usd FROM calls WHERE cache_hit = 0 GROUP BY role').all() as { role: string; n: number; usd: number }[];
    const byRole = Object.fromEntries(rows.map((r) => [r.role, r.n]));
    return { byRole, total: rows.reduce((s, r) => s + r.n, 0), costUsd: rows.reduce((s, r) => s + r.usd, 0) };
  } finally {
    store.close();
  }
}

const sum = (byRole: Record<string, number>, match: (role: string) => boolean) =>
  Object.entries(byRole).filter(([r]) => match(r)).reduce((s, [, n]) => s + n, 0);

// An embedding model with a price of its own (the scripted adapter's default embedding).
registerScript('pf-embedder', {});
// A judge that states a verdict (the echo model states none, and a judge that never does trains no strong model, which
// the plan, an upper bound, would still count).
registerScript('pf-judge', { generate: () => ({ text: 'A', topLogprobs: [[{ token: 'A', logprob: Math.log(0.7) }, { token: 'B', logprob: Math.log(0.3) }]] }) });

test('the planned calls equal the backend calls of real runs, role by role, and the worst-case cost bounds the real cost', async () => {
  const dir = tempDir();
  const prices = { 'scripted:echo': { inputPerMTok: 3, outputPerMTok: 15 }, 'scripted:pf-embedder': { inputPerMTok: 0.1, outputPerMTok: 0 } };
  const cases = {
    // Two judges, two seeds, the ensemble ablation, embeddings for both groups: every counted branch at once.
    debate: config(dir, {
      seeds: 2,
      judges: [{ name: 'j', model: 'scripted:pf-judge', method: 'logprobs' }, { name: 'k', model: 'scripted:pf-judge', method: 'parsed', maxTokens: 4 }],
      weak: { features: embedding('scripted:pf-embedder'), ensemble: { kind: 'debate', size: 2, ablation: true }, probe: { epochs: 2 } },
      strong: { features: embedding('scripted:pf-embedder'), probe: { epochs: 2 } },
      gateway: { prices },
    }, { perSplit: 70 }),
    // Two debaters at different prices; market's cross-fitted folds embed too.
    market: config(dir, {
      debate: { protocol: 'market', debaters: ['scripted:echo', 'scripted:informed-debater'], turns: 3, samples: 2, maxTokens: 20, wordLimit: 15, promptsDir: join(REPO, 'prompts') },
      weak: { features: embedding('scripted:pf-embedder'), ensemble: { kind: 'debate', size: 2 }, probe: { epochs: 2 } },
      gateway: { prices: { ...prices, 'scripted:informed-debater': { inputPerMTok: 1, outputPerMTok: 2 } } },
    }),
    consultancy: config(dir, {
      debate: { protocol: 'consultancy', debaters: ['scripted:echo'], turns: 2, samples: 1, maxTokens: 30, wordLimit: 10, promptsDir: join(REPO, 'prompts') },
      weak: { features: { kind: 'hashed', dim: 64 }, ensemble: { kind: 'finetune', size: 2 }, probe: { epochs: 2 } },
      judges: [{ name: 'j', model: 'scripted:pf-judge', method: 'logprobs' }],
      gateway: { prices },
    }),
    none: config(dir, {
      debate: { protocol: 'none' },
      judges: [{ name: 'j', model: 'scripted:pf-judge', method: 'parsed' }],
      strong: { features: embedding('scripted:pf-embedder'), probe: { epochs: 2 } },
    }),
  };
  for (const [name, cfg] of Object.entries(cases)) {
    const plan = await preflight(cfg);
    const out = join(dir, `${name}.sqlite`);
    const outcome = await runExperiment({ config: cfg, out, noCache: true });
    assert.equal(outcome.status, 'completed', `${name}: ${outcome.status !== 'completed' ? outcome.reason : ''}`);
    const real = ledger(out);
    assert.ok(real.total > 0, name);
    assert.deepEqual(
      { debater: plan.calls.debater, judge: plan.calls.judge, embedding: plan.calls.embedding },
      {
        debater: sum(real.byRole, (r) => r === 'debater'),
        judge: sum(real.byRole, (r) => r.startsWith('judge:')),
        embedding: sum(real.byRole, (r) => r.endsWith('_features')),
      },
      `${name}: ${JSON.stringify(real.byRole)}`,
    );
    assert.equal(plan.total, real.total, name);
    if (name === 'none') assert.equal(plan.worstCaseUsd, null);
    else {
      assert.ok(plan.worstCaseUsd !== null && real.costUsd > 0, name);
      assert.ok(plan.worstCaseUsd >= real.costUsd, `${name}: worst case $${plan.worstCaseUsd} < real $${real.costUsd}`);
    }
  }
});

test('the plan reads as one line: calls by role, and the worst-case cost or that no prices are set', async () => {
  const dir = tempDir();
  const plan = await preflight(config(dir, {}, { judge: 'scripted:echo', perSplit: 4, samples: 1, turns: 2 }));
  // 12 examples debated in 2 turns; 8 (train_strong, test) judged in both orders.
  assert.deepEqual(plan.calls, { debater: 24, judge: 16, embedding: 0 });
  assert.deepEqual(plan.examples, { train_weak: 4, train_strong: 4, test: 4 });
  assert.equal(formatPlan(plan), 'at most 40 model calls (debater 24, judge 16); no prices set');
  const priced = await preflight(config(dir, { gateway: { prices: { 'scripted:echo': { inputPerMTok: 1, outputPerMTok: 1 } } } }, { perSplit: 4 }));
  assert.match(formatPlan(priced), /^at most \d+ model calls \(debater \d+\); worst-case cost \$\d/);
  const free = await preflight(config(dir, { debate: { protocol: 'none' } }));
  assert.equal(formatPlan(free), 'no model calls; no prices set');
});

test('bad input of every kind is refused with one sentence naming where to fix it, and nothing is written', async () => {
  const dir = tempDir();
  const notGguf = join(dir, 'fake.gguf');
  writeFileSync(notGguf, 'PK\u0003\u0004 a zip');
  /** A copy of the prompts with one template edited (or, given null, removed). */
  const prompts = (name: string, file: string, edit: ((text: string) => string) | null): string => {
    const to = join(dir, name);
    cpSync(join(REPO, 'prompts'), to, { recursive: true });
    if (edit) writeFileSync(join(to, file), edit(readFileSync(join(to, file), 'utf8')));
    else rmSync(join(to, file));
    return to;
  };
  const debateWith = (promptsDir: string) => ({ debate: { protocol: 'debate', debaters: ['scripted:echo'], turns: 2, samples: 2, promptsDir } });
  const cases: [string, ExperimentConfig, RegExp][] = [
    ['unknown spec prefix', config(dir, {}, { debater: 'gpt:foo' }), /^debate\.debaters\[0\]: Unknown model spec "gpt:foo"/],
    ['unknown spec in a section left unused', config(dir, { weak: { backend: 'hf', hf: { baseModel: 'x/y' }, features: embedding('gpt:bar'), ensemble: { size: 2 } } }), /^weak\.features\.model: Unknown model spec "gpt:bar"/],
    ['missing GGUF', config(dir, {}, { debater: `llamacpp:${join(dir, 'missing.gguf')}` }), /^debate\.debaters\[0\]: The model file .*missing\.gguf does not exist/],
    ['not a GGUF', config(dir, {}, { debater: `llamacpp:${notGguf}` }), /^debate\.debaters\[0\]: The file .*fake\.gguf is not a GGUF model/],
    ['missing fixture', config(dir, {}, { judge: `scripted:${join(dir, 'nope.json')}` }), /^judges\[0\]\.model: Scripted fixture .*nope\.json does not exist/],
    ['missing dataset', parseExperiment(smallConfig({ dataset: join(dir, 'nowhere.jsonl'), debater: 'scripted:echo' })), /data file .*nowhere\.jsonl does not exist/],
    ['too few rows', config(dir, {}, { perSplit: 20, rows: 30 }), /ask for 60 examples but the dataset's one pool has only 30/],
    ['missing prompts folder', config(dir, debateWith(join(dir, 'no-prompts'))), /^debate\.promptsDir .*no-prompts is not a folder/],
    ['missing template', config(dir, debateWith(prompts('p0', 'debate/consultancy.md', null))), /Prompt template .*p0\/debate\/consultancy\.md is missing/],
    ['unknown slot', config(dir, debateWith(prompts('p1', 'debate/turn.md', (t) => `${t}\nMood: {{mood}}\n`))), /^The prompts in .*p1: Prompt template debate\/turn\.md uses \{\{mood\}\}, which w2s does not fill/],
    [
      'missing slot',
      config(dir, { ...debateWith(prompts('p2', 'judge/verdict.md', (t) => t.replace('{{question}}', 'the question'))), judges: [{ model: 'scripted:echo', method: 'parsed' }] }),
      /^The prompts in .*p2: Prompt template judge\/verdict\.md does not use \{\{question\}\}/,
    ],
    [
      'logprobs judge without logprobs',
      config(dir, { judges: [{ name: 'j', model: { spec: 'scripted:echo', capabilities: { logprobs: false } }, method: 'logprobs' }] }),
      /^judges\[0\]\.model: judge:j model scripted:echo has no logprobs; use a model that returns logprobs or set judges\[0\]\.method to 'parsed'\.$/,
    ],
    [
      'embedding features without embeddings',
      config(dir, { strong: { features: { kind: 'embedding', model: { spec: 'scripted:echo', capabilities: { embeddings: false } } } } }),
      /^strong\.features\.model: strong_features model scripted:echo has no embeddings/,
    ],
    ['missing trainer', config(dir, { weak: { backend: 'hf', hf: { baseModel: 'x/y', command: [join(dir, 'no-trainer')] }, ensemble: { size: 2 } } }), /^weak\.hf\.command: the trainer executable .*no-trainer" was not found/],
    ['market without two groups', config(dir, { debate: { protocol: 'market', debaters: ['scripted:echo'], samples: 1 }, weak: { ensemble: { size: 1 } }, dataset: { name: 'jsonl', path: writeDataset(dir, 30), sizes: { train_weak: 1, train_strong: 4, test: 4 } } }), /market needs out-of-sample weak picks/],
  ];
  for (const [name, cfg, pattern] of cases) {
    await refuses(preflight(cfg), pattern).catch((e: Error) => assert.fail(`${name}: ${e.message}`));
  }
  assert.deepEqual(readdirSync(dir).filter((f) => /sqlite|results/.test(f)), [], 'nothing written');
});

test('a real GGUF passes: its magic bytes are read, the model is not loaded', async () => {
  const dir = tempDir();
  const plan = await preflight(config(dir, { strong: { features: embedding(`llamacpp:${MODEL}`) } }, { debater: `llamacpp:${MODEL}`, perSplit: 4, samples: 1, turns: 1 }));
  assert.equal(plan.calls.debater, 12);
  assert.ok(plan.calls.embedding > 0);
});

test('what the preflight reads of a model is what its client declares, the config override included', async () => {
  const dir = tempDir();
  const fixture = join(dir, 'fixture.json');
  writeFileSync(fixture, JSON.stringify({ '*': 'A' }));
  registerScript('pf-no-logprobs', { capabilities: { logprobs: false } });
  const cases: [string, { capabilities?: Record<string, boolean> }][] = [
    ['scripted:echo', {}],
    ['scripted:pf-no-logprobs', {}],
    [`scripted:${fixture}`, { capabilities: { embeddings: false } }],
    // Neither client reaches its server when it is made.
    ['openai:m@http://127.0.0.1:9/v1', {}],
    ['ollama:m@127.0.0.1:9', { capabilities: { logprobs: false } }],
    [`llamacpp:${MODEL}`, {}],
  ];
  for (const [spec, options] of cases) {
    const inspected = await inspectModel(spec, options);
    const client = await createClient(spec, { ...options, threads: 1 });
    try {
      assert.equal(inspected.id, client.id, spec);
      assert.equal(inspected.model, client.model, spec);
      // llama.cpp's chat support comes from the GGUF's chat template, read on loading; no role needs it.
      const { chat: _c1, ...declared } = inspected.capabilities;
      const { chat: _c2, ...actual } = client.capabilities;
      assert.deepEqual(declared, actual, spec);
    } finally {
      await client.close?.();
    }
  }
});
