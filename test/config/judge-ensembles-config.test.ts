import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configHash, parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';

const base = {
  dataset: { name: 'sciq' },
  debate: { protocol: 'debate', debaters: ['scripted:echo'], samples: 2 },
  weak: { ensemble: { size: 2 } },
  strong: {},
  judges: [
    { name: 'a', model: 'scripted:echo' },
    { name: 'b', model: 'scripted:echo' },
    { model: 'scripted:echo', method: 'parsed' },
  ],
};

const refused = (patch: Record<string, unknown>, message: RegExp): void => {
  assert.throws(() => parseExperiment({ ...base, ...patch }), (e: unknown) => e instanceof UserError && message.test(e.message), String(message));
};

test('a judge ensemble names its members by judge name, judge<index> for an unnamed judge', () => {
  const c = parseExperiment({ ...base, judgeEnsembles: [{ name: 'trio', members: ['a', 'b', 'judge2'] }] });
  assert.deepEqual(c.judgeEnsembles, [{ name: 'trio', members: ['a', 'b', 'judge2'], aggregate: 'mean' }]);
});

test('judge ensembles that cannot be built are refused in one sentence naming the field', () => {
  refused({ judgeEnsembles: [{ name: 'e', members: ['a', 'nobody'] }] }, /field judgeEnsembles\.0\.members: judge ensemble "e" names "nobody", which no judge is called \(judges: a, b, judge2\)/);
  refused({ judgeEnsembles: [{ name: 'e', members: ['a'] }] }, /field judgeEnsembles\.0\.members:/);
  refused({ judgeEnsembles: [{ name: 'e', members: ['a', 'a'] }] }, /lists "a" twice/);
  refused({ judgeEnsembles: [{ name: 'a', members: ['a', 'b'] }] }, /judge ensemble "a" has the name of a judge/);
  refused({ judgeEnsembles: [{ name: 'e', members: ['a', 'b'] }, { name: 'e', members: ['a', 'b'] }] }, /two judge ensembles are named "e"/);
  refused({ judgeEnsembles: [{ name: 'e', members: ['a', 'b'], aggregate: 'median' }] }, /field judgeEnsembles\.0\.aggregate: expected one of "mean", "vote", "logit-mean", "stacked"/);
});

test('judges that cannot differ or cannot run are refused', () => {
  refused({ judges: [{ name: 'a', model: 'scripted:echo' }, { name: 'a', model: 'scripted:echo' }] }, /two judges are named "a"/);
  refused({ judges: [{ name: 's', model: 'scripted:echo', samples: 3, temperature: 0.7 }] }, /judge "s" samples 3 replies, which needs method "parsed"/);
  refused({ judges: [{ name: 's', model: 'scripted:echo', method: 'parsed', samples: 3 }] }, /samples 3 replies at temperature 0, so they would all be the same/);
  refused({ judges: [{ name: 't', model: 'scripted:echo', transcripts: [2] }] }, /judge "t" reads transcript 2, but debate.samples is 2 \(transcripts 0 to 1\)/);
  refused({ debate: { protocol: 'none' }, weak: { ensemble: { kind: 'finetune' } }, judges: [{ name: 't', model: 'scripted:echo', transcripts: [0] }] }, /protocol "none" has none/);
  refused({ judges: [{ name: 't', model: 'scripted:echo', template: 'judge/verdict.txt' }] }, /a prompt template is a \.md file/);
  refused({ judges: [{ name: 't', model: 'scripted:echo', template: '../../etc/x.md' }] }, /a judge template is a path under debate.promptsDir, without ".."/);
  refused({ judges: [{ name: 't', model: 'scripted:echo', transcripts: [1, 1] }] }, /judge "t" lists transcript 1 twice/);
});

test('a config without the new judge fields keeps its hash (and so its run id)', () => {
  // The hash of this config before judge ensembles existed (w2s at commit 3ae6c5b).
  const before = parseExperiment({ ...base, judges: [{ name: 'a', model: 'scripted:echo' }] });
  assert.equal(configHash(before).slice(0, 12), HASH_BEFORE);
});

const HASH_BEFORE = '43246140a48a';

test('spelling out a judge default, or listing transcripts in another order, is the same run', () => {
  const plain = parseExperiment({ ...base, judges: [{ name: 'a', model: 'scripted:echo', transcripts: [1, 0] }] });
  const spelled = parseExperiment({
    ...base,
    judges: [{ name: 'a', model: 'scripted:echo', samples: 1, temperature: 0, orders: 'both', template: 'judge/verdict.md', transcripts: [0, 1] }],
  });
  assert.equal(configHash(spelled), configHash(plain));
  const other = parseExperiment({ ...base, judges: [{ name: 'a', model: 'scripted:echo', orders: 'original', transcripts: [0, 1] }] });
  assert.notEqual(configHash(other), configHash(plain));
});
