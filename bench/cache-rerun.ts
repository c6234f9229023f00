/**
 * Rerun of a finished 1,000-example experiment (scripted debaters, hashed features), two ways:
 *   same database: every stage is already done, the table is recomputed from stored predictions;
 *   fresh database, same cache: every model call is a cache hit, training is redone.
 *   node --import tsx bench/cache-rerun.ts [n=1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../src/pipeline/run.js';
import { openStore } from '../src/store/index.js';
import { benchConfig, writeRows } from './experiment.js';

const n = Number(process.argv[2] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-cache-'));
try {
  const config = benchConfig(writeRows(dir, n), n, { samples: 2, turns: 2 });
  const cacheFile = join(dir, 'cache.sqlite');
  const time = async (out: string) => {
    const start = performance.now();
    const outcome = await runExperiment({ config, out, cacheFile });
    if (outcome.status !== 'completed') throw new Error(`run ${outcome.status}`);
    return (performance.now() - start) / 1000;
  };
  const firstS = await time(join(dir, 'a.sqlite'));
  const sameDbS = await time(join(dir, 'a.sqlite'));
  const freshDbS = await time(join(dir, 'b.sqlite'));
  const s = openStore(join(dir, 'b.sqlite'), { readonly: true });
  const calls = s.db.prepare('SELECT COUNT(*) AS n, SUM(cache_hit) AS hits FROM calls').get() as { n: number; hits: number };
  s.close();
  console.log(JSON.stringify({ bench: 'cache-rerun', examples: n, modelCalls: calls.n, cacheHits: calls.hits, firstRunS: +firstS.toFixed(2), rerunSameDbS: +sameDbS.toFixed(2), rerunFromCacheS: +freshDbS.toFixed(2), targetS: 5 }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
