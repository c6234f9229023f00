/**
 * End-to-end orchestration overhead: a whole experiment with a scripted debater that answers at once, so every
 * millisecond measured is w2s's own (dataset, prompts, gateway, SQLite, probes, metrics). Reports time per stage and
 * per debate turn.   node --import tsx bench/orchestration.ts [examples]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runExperiment } from '../src/pipeline/run.js';
import { benchConfig, writeRows } from './experiment.js';

const n = Number(process.argv[2] ?? 1500);
const dir = mkdtempSync(join(tmpdir(), 'w2s-orch-'));
try {
  const config = benchConfig(writeRows(dir, n), n, { samples: 2, turns: 3 });
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
  const totalMs = performance.now() - t0;
  if (outcome.status !== 'completed') throw new Error(`run ${outcome.status}: ${outcome.reason}`);
  const turns = n * 2 * 3;
  console.log(
    JSON.stringify({
      bench: 'orchestration',
      examples: n,
      debateTurns: turns,
      totalSeconds: +(totalMs / 1000).toFixed(2),
      stageMs,
      debateMsPerTurn: +(stageMs.debates! / turns).toFixed(3),
      turnsPerSecond: Math.round(turns / (stageMs.debates! / 1000)),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      date: new Date().toISOString(),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
