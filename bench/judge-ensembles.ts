/**
 * Judges and judge ensembles at scale, with scripted judges that answer at once, so every millisecond is w2s's own:
 * the judges stage (prompt rendering, gateway, cache, judgment writes) per judge call, the judge-ensembles stage
 * (aggregation, and the stacked ensemble's cross-fit on train_weak), and the evaluate stage with the judges'
 * diagnostics (intervals, pair diversity, size curves, frontier).
 *   node --import tsx bench/judge-ensembles.ts [test examples] [judges]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperiment } from '../src/config/load.js';
import { registerScript } from '../src/models/adapters/scripted.js';
import { runExperiment } from '../src/pipeline/run.js';
import { createRng } from '../src/rng.js';

const n = Number(process.argv[2] ?? 2000);
const judgeCount = Number(process.argv[3] ?? 6);
const dir = mkdtempSync(join(tmpdir(), 'w2s-judge-bench-'));
try {
  const rng = createRng(5);
  const rows = (count: number, pool: string): string =>
    Array.from({ length: count }, (_, i) => JSON.stringify({ id: `${pool}${i}`, question: `Case ${i} in ${pool}: is it so?`, answer: `claim ${i}`, label: rng.random() < 0.5 ? 1 : 0 })).join('\n');
  writeFileSync(join(dir, 'train.jsonl'), rows(400, 'train'));
  writeFileSync(join(dir, 'test.jsonl'), rows(n, 'test'));
  // Each judge is right with its own probability, decided by a hash of the prompt and its index (no gold read).
  for (let k = 0; k < judgeCount; k++) {
    registerScript(`bench-judge-${k}`, {
      generate(req) {
        const text = req.messages.map((m) => m.content).join('\n');
        let h = 2166136261 ^ k;
        for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
        const pA = 0.2 + 0.6 * ((h >>> 0) / 2 ** 32);
        return { text: pA > 0.5 ? 'A' : 'B', topLogprobs: [[{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }]] };
      },
      capabilities: { logprobs: true },
    });
  }
  const names = Array.from({ length: judgeCount }, (_, k) => `j${k}`);
  const config = parseExperiment({
    name: 'judge-bench',
    dataset: { name: 'jsonl', files: { train: join(dir, 'train.jsonl'), test: join(dir, 'test.jsonl') }, sizes: { train_weak: 200, train_strong: 200, test: n } },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 256 }, ensemble: { kind: 'finetune', size: 2 } },
    strong: { features: { kind: 'hashed', dim: 256 } },
    judges: names.map((name, k) => ({ name, model: `scripted:bench-judge-${k}` })),
    judgeEnsembles: [
      { name: 'all-mean', members: names, aggregate: 'mean' },
      { name: 'all-vote', members: names, aggregate: 'vote' },
      { name: 'all-logit', members: names, aggregate: 'logit-mean' },
      { name: 'all-stacked', members: names, aggregate: 'stacked' },
    ],
  });
  const stageMs: Record<string, number> = {};
  const started: Record<string, number> = {};
  const t0 = performance.now();
  const outcome = await runExperiment({
    config,
    out: join(dir, 'run.sqlite'),
    cacheFile: join(dir, 'cache.sqlite'),
    progress: (e) => {
      if (e.kind === 'start' && !(e.stage in started)) started[e.stage] = performance.now();
      if (e.kind === 'end') stageMs[e.stage] = Math.round(performance.now() - started[e.stage]!);
    },
  });
  if (outcome.status !== 'completed') throw new Error(`run ${outcome.status}: ${outcome.reason}`);
  const judgeCalls = judgeCount * 2 * (200 + n) + judgeCount * 2 * 200;
  console.log(
    JSON.stringify({
      bench: 'judge-ensembles',
      testExamples: n,
      judges: judgeCount,
      judgeCalls,
      totalSeconds: +((performance.now() - t0) / 1000).toFixed(2),
      stageMs,
      judgeMsPerCall: +(stageMs.judges! / judgeCalls).toFixed(3),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      date: new Date().toISOString(),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
