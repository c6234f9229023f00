/**
 * Peak RSS of a 10,000-example run: scripted debaters (2 turns, 1 sample), hashed features, probe training, with the
 * ledger and cache on disk. Peak is the process's maxRSS, sampled by the kernel.
 *   node --import tsx bench/rss-run.ts [n=10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../src/pipeline/run.js';
import { benchConfig, writeRows } from './experiment.js';

const n = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-rss-'));
try {
  const config = benchConfig(writeRows(dir, n), n, { samples: 1, turns: 2 });
  const start = performance.now();
  const outcome = await runExperiment({ config, out: join(dir, 'run.sqlite'), cacheFile: join(dir, 'cache.sqlite') });
  if (outcome.status !== 'completed') throw new Error(`run ${outcome.status}`);
  const peakMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ bench: 'rss-run', examples: n, wallS: +((performance.now() - start) / 1000).toFixed(1), peakRssMb: Math.round(peakMb), targetMb: 500 }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
