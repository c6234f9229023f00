import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSweep, parseSweep } from '../../src/config/sweep.js';
import { UserError } from '../../src/errors.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { planSweep, runSweep } from '../../src/pipeline/sweep.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { REPO, smallConfig, writeDataset } from '../reliability/fixture.js';

/**
 * Cell expansion (product, zip, explicit list), the one-sentence errors of a bad sweep, and, in process, that cells
 * over ensemble sizes really share their transcripts through the cache (checked on the stored turns, not assumed).
 */

const dir = tempDir('w2s-sweep-');
const dataset = writeDataset(dir, 30);
const base = smallConfig({ dataset, debater: 'scripted:echo', samples: 4 });

const sweep = (over: Record<string, unknown>) => parseSweep({ name: 's', base, ...over }, 'sweep.json');

function refuses(over: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => sweep(over),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `a UserError, got ${(e as Error).message}`);
      assert.match(e.message, pattern);
      // One sentence: no line breaks, one full stop at the end.
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
}

test('axes are crossed, the last varying fastest; each cell is named by what it sets', () => {
  const s = sweep({ axes: { 'debate.protocol': ['debate', 'consultancy'], 'weak.ensemble.size': [1, 2, 4] } });
  assert.deepEqual(
    s.cells.map((c) => c.label),
    ['debate', 'consultancy'].flatMap((p) => [1, 2, 4].map((k) => `s/protocol=${p},size=${k}`)),
  );
  const c = s.cells[5]!;
  assert.equal(c.config.debate.protocol, 'consultancy');
  assert.equal(c.config.weak.ensemble.size, 4);
  assert.equal(c.config.name, 's.protocol-consultancy_size-4');
  assert.deepEqual(c.set, { 'debate.protocol': 'consultancy', 'weak.ensemble.size': 4 });
  // Everything else is the base's.
  assert.equal(c.config.debate.turns, 2);
  assert.equal(c.config.weak.ensemble.kind, 'debate');
  assert.equal(new Set(s.cells.map((x) => x.hash)).size, 6);
});

test('zip groups go together; explicit cells apply to the base; all three combine as one product', () => {
  const zipped = sweep({ zip: [{ 'debate.samples': [1, 2, 3], 'weak.ensemble.size': [1, 2, 3] }] });
  assert.deepEqual(zipped.cells.map((c) => [c.config.debate.samples, c.config.weak.ensemble.size]), [[1, 1], [2, 2], [3, 3]]);

  const listed = sweep({ cells: [{ '$name': 'naive', 'debate.protocol': 'none' }, { 'strong.loss': 'logconf', 'judges': [] }] });
  assert.deepEqual(listed.cells.map((c) => c.label), ['s/naive', 's/loss=logconf,judges=']);
  assert.equal(listed.cells[0]!.config.debate.protocol, 'none');
  assert.equal(listed.cells[1]!.config.strong.loss, 'logconf');
  assert.equal(listed.cells[1]!.config.debate.protocol, 'debate');

  const all = sweep({
    axes: { seed: [1, 2] },
    zip: [{ 'debate.samples': [1, 2], 'weak.ensemble.size': [1, 2] }],
    cells: [{ '$name': 'xent', 'strong.loss': 'xent' }, { '$name': 'product', 'strong.loss': 'product' }],
  });
  assert.equal(all.cells.length, 8);
  assert.equal(all.cells[0]!.label, 's/seed=1,samples=1,size=1,xent');
  assert.equal(all.cells[7]!.label, 's/seed=2,samples=2,size=2,product');
  assert.deepEqual(all.cells[7]!.set, { seed: 2, 'debate.samples': 2, 'weak.ensemble.size': 2, 'strong.loss': 'product' });
  assert.equal(all.cells[7]!.config.seed, 2);
});

test('paths reach into arrays by index and make missing objects; values are copied per cell', () => {
  const s = sweep({ axes: { 'debate.debaters.0': ['scripted:echo', { spec: 'scripted:informed-debater:q=0.5', concurrency: 2 }], 'weak.probe.l2': [0.1] } });
  assert.deepEqual(s.cells.map((c) => c.label), ['s/debaters.0=scripted:echo,l2=0.1', 's/debaters.0=scripted:informed-debater:q=0.5,l2=0.1']);
  assert.deepEqual(s.cells[1]!.config.debate.debaters, [{ spec: 'scripted:informed-debater:q=0.5', concurrency: 2 }]);
  assert.equal(s.cells[1]!.slug, 'debaters.0-scripted-informed-debater-q-0.5_l2-0.1');
  assert.equal(s.cells[0]!.config.weak.probe.l2, 0.1);
  // The base given as a file path reads the same.
  const file = join(dir, 'base.json');
  writeFileSync(file, JSON.stringify(base));
  assert.deepEqual(parseSweep({ name: 's', base: file, axes: { seed: [5] } }).cells[0]!.config.seed, 5);
});

test('a bad sweep is one sentence naming the field or the cell', () => {
  refuses({ axes: {} }, /sweep\.json: field axes: a sweep needs at least one axis, zip group or cell/);
  refuses({ axes: { 'strong.probe.epochz': [1, 2] } }, /sweep\.json: cell s\/epochz=1: field strong\.probe: unknown key\(s\) "epochz"/);
  // The schema's weak section drops unknown keys rather than rejecting them; the sweep still finds the typo.
  refuses({ axes: { 'weak.ensembel.size': [1, 2] } }, /sweep\.json: cell s\/size=1: field weak: unknown key\(s\) "ensembel"; remove or rename them\./);
  refuses({ axes: { 'weak.ensemble.size': [] } }, /field axes\.weak\.ensemble\.size: give at least one value/);
  refuses({ axes: { 'weak..size': [1] } }, /field axes\.weak\.\.size: a config path is dotted keys/);
  refuses({ axes: { 'debate.protocol': ['debate', 'debat'] } }, /cell s\/protocol=debat: field debate\.protocol: expected one of "debate"/);
  refuses({ zip: [{ 'debate.samples': [1, 2, 3], 'weak.ensemble.size': [1, 2] }] }, /field zip\.0: zipped lists go together, so they need equal lengths, but debate\.samples has 3, weak\.ensemble\.size has 2/);
  refuses({ axes: { seed: [1] }, cells: [{ seed: 2 }] }, /field cells\.0\.seed: seed is also set by axes; set each path in one place/);
  refuses({ axes: { name: ['a'] } }, /the sweep names its cells/);
  refuses({ axes: { 'debate.debaters.3': ['x'] } }, /debate\.debaters is a list of 1, so "3" must be an index below 1/);
  refuses({ axes: { 'debate.turns.x': [1] } }, /debate\.turns is 2, not an object with keys to set/);
  refuses({ axes: { seed: [1, 1] } }, /cells s\/seed=1 and s\/seed=1 get the same file name/);
  refuses({ axes: { 'gateway.concurrency': [1, 2] } }, /cells s\/concurrency=1 and s\/concurrency=2 are the same experiment/);
  refuses({ cells: [{ '$name': 'a b', seed: 1 }] }, /field cells\.0\.\$name: a cell's name uses letters/);
  refuses({ axes: { seed: [1] }, extra: 1 }, /sweep\.json: field \(top level\): unknown key\(s\) "extra"/);
  assert.throws(() => parseSweep({ name: 's', base: join(dir, 'nope.json'), axes: { seed: [1] } }), /Cannot read base config .*nope\.json: no such file\./);
});

test('the examples parse: sweep-quick (9 cells), paper (4 datasets × 17 methods), the README\'s', () => {
  const quick = loadSweep(join(REPO, 'examples', 'sweep-quick.json'));
  assert.equal(quick.cells.length, 9);
  assert.ok(quick.cells.every((c) => c.config.debate.debaters!.every((d) => String(d).startsWith('scripted:'))), 'offline');

  const paper = loadSweep(join(REPO, 'examples', 'paper.json'));
  assert.equal(paper.cells.length, 68);
  assert.match(paper.file.description!, /Qwen-7B.*Qwen-14B/);
  const names = paper.cells.map((c) => c.label);
  for (const d of ['sciq', 'boolq', 'cosmos_qa', 'anthropic_hh']) {
    for (const m of ['naive', 'logconf', 'product', 'consultancy-4', 'market-4', 'finetune-1', 'finetune-6', 'debate-1', 'debate-6']) assert.ok(names.includes(`paper/dataset=${d},${m}`), `${d} × ${m}`);
  }
  const cell = (n: string) => paper.cells.find((c) => c.label === n)!.config;
  assert.equal(cell('paper/dataset=boolq,logconf').strong.loss, 'logconf');
  assert.equal(cell('paper/dataset=sciq,debate-4').weak.ensemble.size, 4);
  assert.equal(cell('paper/dataset=sciq,debate-4').debate.samples, 4);
  assert.equal(cell('paper/dataset=sciq,market-4').debate.protocol, 'market');

  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const example = /## Sweeps[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)![1]!;
  const parsed = JSON.parse(example);
  parsed.base = join(REPO, parsed.base);
  assert.equal(parseSweep(parsed, 'README').cells.length, 12);
});

// A debater whose every argument names its request's seed: equal transcripts across cells mean equal requests.
registerScript('sweep-seeded', { generate: (req) => `I argue my side (seed ${req.seed}).` });

test('ensemble sizes 1..3 make the debate calls once: the size-k cell reads transcripts 0..k-1 of the others', async () => {
  const out = join(dir, 'shared');
  const s = parseSweep({
    name: 'sizes',
    base: smallConfig({ dataset, debater: 'scripted:sweep-seeded', perSplit: 4, turns: 2 }),
    zip: [{ 'debate.samples': [1, 2, 3], 'weak.ensemble.size': [1, 2, 3] }],
  });
  const plan = await planSweep(s, out);
  assert.ok(!existsSync(out), 'planning writes nothing');
  const m = await runSweep(plan);
  assert.deepEqual(m.cells.map((c) => c.status), ['completed', 'completed', 'completed']);
  assert.equal(m.status, 'completed');

  const read = (file: string, runId: string) => {
    const store = openStore(file, { readonly: true });
    try {
      const turns = store.db.prepare('SELECT debate_id AS d, idx, text FROM turns ORDER BY debate_id, idx').all() as { d: string; idx: number; text: string }[];
      const paid = (store.db.prepare('SELECT COUNT(*) AS n FROM calls WHERE cache_hit = 0').get() as { n: number }).n;
      // Debate ids begin with the run id; key the turns by example, sample and turn alone.
      return { paid, turns: new Map(turns.map((t) => [`${t.d.slice(runId.length)}#${t.idx}`, t.text])) };
    } finally {
      store.close();
    }
  };
  const cells = m.cells.map((c) => read(c.database, c.runId));
  const largest = cells[2]!;
  assert.equal(largest.turns.size, 12 * 3 * 2, '12 examples × 3 samples × 2 turns');
  for (const c of cells) for (const [k, text] of c.turns) assert.equal(largest.turns.get(k), text, `transcript turn ${k} is the largest cell's`);
  // Paid once in all: the sweep's backend calls are those of the largest cell alone.
  assert.deepEqual(cells.map((c) => c.paid), [24, 24, 24]);
  assert.equal(cells.reduce((n, c) => n + c.paid, 0), largest.turns.size);
  assert.ok(existsSync(join(out, 'cache.sqlite')));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'sizes', 'sweep.json'), 'utf8')).cells.map((c: { status: string }) => c.status), ['completed', 'completed', 'completed']);
});
