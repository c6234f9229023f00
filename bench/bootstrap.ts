/**
 * The bootstrap's inner loop, on the sizes a run's evaluate stage uses: accuracy and PGR intervals over n test
 * examples with 1,000 resamples, plain and clustered (groups of 4, as passages), best of several repeats.
 *   node --import tsx bench/bootstrap.ts [n]
 */
import { cpus } from 'node:os';
import { accuracyCI, pgrCI, type BootstrapOptions } from '../src/metrics/index.js';
import { createRng } from '../src/rng.js';

const n = Number(process.argv[2] ?? 1000);
const rng = createRng(1);
const labels = Array.from({ length: n }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
const model = (skill: number): number[] => labels.map((y) => (rng.random() < skill ? (y ? 0.8 : 0.2) : y ? 0.3 : 0.7));
const [weak, w2s, ceiling] = [model(0.7), model(0.8), model(0.9)];
const groups = labels.map((_, i) => Math.floor(i / 4));

/** Milliseconds of the fastest of `repeats` calls (the first call also warms the JIT). */
function best(run: () => unknown, repeats = 30): number {
  let min = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    run();
    min = Math.min(min, performance.now() - t);
  }
  return +min.toFixed(2);
}
const opts = (clustered: boolean): BootstrapOptions => ({ random: createRng(7).random, resamples: 1000, ...(clustered && { groups }) });
// Code before clustered resampling ignores `groups`; code with it refuses a malformed one.
const supportsGroups = ((): boolean => {
  try {
    accuracyCI(weak, labels, { random: Math.random, resamples: 1, groups: [0] });
    return false;
  } catch {
    return true;
  }
})();
console.log(
  JSON.stringify({
    bench: 'bootstrap',
    n,
    resamples: 1000,
    accuracyMs: best(() => accuracyCI(weak, labels, opts(false))),
    pgrMs: best(() => pgrCI(weak, w2s, ceiling, labels, opts(false))),
    ...(supportsGroups && {
      accuracyClusteredMs: best(() => accuracyCI(weak, labels, opts(true))),
      pgrClusteredMs: best(() => pgrCI(weak, w2s, ceiling, labels, opts(true))),
    }),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
  }),
);
