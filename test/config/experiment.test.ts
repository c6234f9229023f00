import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configHash, experimentJsonSchema, loadExperiment, parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';

const minimal = { dataset: { name: 'sciq' }, debate: { protocol: 'none' }, weak: {}, strong: {} };

test('a minimal config gets every default', () => {
  const c = parseExperiment(minimal);
  assert.equal(c.seed, 0);
  assert.deepEqual(c.dataset.sizes, { train_weak: 100, train_strong: 100, test: 100 });
  assert.equal(c.weak.ensemble.kind, 'debate');
  assert.equal(c.strong.loss, 'xent');
  assert.equal(c.metrics.bootstrap, 1000);
});

test('weak and strong may be left out: they get the defaults of the fields inside', () => {
  const c = parseExperiment({ dataset: { name: 'sciq' }, debate: { protocol: 'none' } });
  const spelled = parseExperiment(minimal);
  assert.deepEqual(c.weak, spelled.weak, 'weak: {} spelled out');
  assert.deepEqual(c.strong, spelled.strong, 'strong: {} spelled out');
  assert.equal(configHash(c), configHash(spelled), 'the same run');
  assert.equal(c.weak.backend, 'probe', 'the probe backend');
  assert.equal(c.strong.features.kind, 'hashed', 'hashed features');
  // With a debate protocol, the debaters are the only models it needs.
  const debate = parseExperiment({ dataset: { name: 'sciq' }, debate: { debaters: ['scripted:echo'] } });
  assert.equal(debate.weak.ensemble.size, 4, 'a debate ensemble of 4');
  assert.equal(debate.debate.samples, 4, 'reading 4 transcripts');
});

test('errors name the field path and what was expected', () => {
  assert.throws(() => parseExperiment({ ...minimal, dataset: { name: 'squad' } }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /field dataset\.name: expected one of "sciq"/);
    return true;
  });
  assert.throws(() => parseExperiment({ ...minimal, seed: -1 }), /field seed:/);
  assert.throws(() => parseExperiment({ ...minimal, weak: { loss: 'hinge' } }), /field weak\.loss: expected one of "xent"/);
  assert.throws(() => parseExperiment({ ...minimal, strong: { bogus: 1 } }), /field strong: unknown key\(s\) "bogus"/);
  // weak adds the ensemble to the trainer fields: a misspelt key there is refused too, not dropped.
  assert.throws(() => parseExperiment({ ...minimal, weak: { ensembel: { size: 2 } } }), /field weak: unknown key\(s\) "ensembel"/);
  assert.throws(() => parseExperiment({ ...minimal, debate: { protocol: 'debate' } }), /field debate\.debaters: protocol "debate" needs at least one debater/);
  assert.throws(() => parseExperiment({ weak: {}, strong: {} }), /field dataset:/);
  assert.throws(
    () => parseExperiment({ ...minimal, debate: { protocol: 'debate', debaters: ['scripted:x'], samples: 2 }, weak: { ensemble: { size: 4 } } }),
    /field weak\.ensemble\.size: .*raise debate\.samples to 4/,
  );
  assert.throws(() => parseExperiment({ ...minimal, weak: { backend: 'hf' } }), /field weak\.hf: backend "hf" needs/);
});

test('a config file that is missing or not JSON gets one clear sentence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'w2s-config-'));
  assert.throws(() => loadExperiment(join(dir, 'nope.json')), /Cannot read config .*nope\.json: no such file/);
  writeFileSync(join(dir, 'bad.json'), '{"dataset": ');
  assert.throws(() => loadExperiment(join(dir, 'bad.json')), /bad\.json is not valid JSON/);
});

test('the config hash ignores $schema, description and the audit settings, and is stable under key order', () => {
  const a = parseExperiment({ ...minimal, seed: 3 });
  const b = parseExperiment({
    seed: 3, strong: {}, weak: {}, debate: { protocol: 'none' }, dataset: { name: 'sciq' }, $schema: 'x', description: 'a comment', audit: { onLeak: 'warn' },
  });
  assert.equal(configHash(a), configHash(b));
  assert.notEqual(configHash(a), configHash(parseExperiment({ ...minimal, seed: 4 })));
});

test('the published JSON Schema is the one generated from the zod schema', () => {
  const published = JSON.parse(readFileSync(new URL('../../schema/experiment.schema.json', import.meta.url), 'utf8'));
  assert.deepEqual(published, JSON.parse(JSON.stringify(experimentJsonSchema())), 'run `npm run schema` to regenerate it');
});

test('every example config is valid', () => {
  for (const name of ['quick', 'hf-gguf', 'openai-compatible', 'ollama', 'hf-trainer', 'judge-ensembles']) {
    const c = loadExperiment(`examples/${name}.json`);
    assert.equal(typeof c.name, 'string', name);
  }
  // The main command's first screen says what a 260K-parameter story model can and cannot show.
  assert.match(loadExperiment('examples/quick.json').description!, /stories260K.*near chance.*not that debate helps/s);
});

test('how the hf trainer is launched (processes, torchrun, nodes) is not part of the run id', () => {
  const one = loadExperiment('examples/hf-trainer.json');
  const hf = one.weak.hf!;
  const torchrun = { ...one, weak: { ...one.weak, hf: { ...hf, processes: 2, launcher: 'torchrun' as const, rdzvId: 'mine' } } };
  assert.equal(configHash(torchrun), configHash(one), 'two processes under torchrun compute what one does: the same run');
  // The id the example had before the launch settings existed (its paths relative to examples/, as since 16.1).
  assert.equal(configHash(one).slice(0, 12), 'b0e2228efe16', 'runs made before the launch settings keep their ids');
  const other = { ...one, weak: { ...one.weak, hf: { ...hf, params: { ...hf.params, lr: 0.5 } } } };
  assert.notEqual(configHash(other), configHash(one), 'a training setting is part of it');
  // A params dict that looks like a model ref ({spec, batch}) is still the trainer's own settings: batch counts there.
  const params = (batch: boolean) => ({ ...one, weak: { ...one.weak, hf: { ...hf, params: { ...hf.params, spec: 'mine', batch } } } });
  assert.notEqual(configHash(params(true)), configHash(params(false)), 'a trainer param named batch is part of the run id');
});

test('a model ref\'s batch setting is not part of the run id, wherever the model is named', () => {
  const judge = (model: unknown) => ({ name: 'j', model });
  const full = (batch: boolean) => parseExperiment({
    ...minimal,
    debate: { protocol: 'debate', debaters: [{ spec: 'openai:a', batch }, 'openai:b'], bestOf: 2, scorer: { spec: 'openai:s', batch } },
    judges: [judge({ spec: 'openai:j', batch, timeoutMs: 5 })],
    weak: { features: { kind: 'embedding', model: { spec: 'openai:e', batch } } },
  });
  const plain = parseExperiment({
    ...minimal,
    debate: { protocol: 'debate', debaters: ['openai:a', 'openai:b'], bestOf: 2, scorer: 'openai:s' },
    judges: [judge({ spec: 'openai:j', timeoutMs: 5 })],
    weak: { features: { kind: 'embedding', model: 'openai:e' } },
  });
  assert.equal(configHash(full(true)), configHash(full(false)), 'batch on or off: the same run');
  assert.equal(configHash(full(true)), configHash(plain), 'a ref that names only its spec besides batch is its spec string');
});
