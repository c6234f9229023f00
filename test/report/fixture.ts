import { join } from 'node:path';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { createRng } from '../../src/rng.js';
import { crateRows, truthByQuestion, writeJsonl } from '../helpers/datasets.js';

/** What a test's database holds: the file, and the run ids of a two-point debate.turns sweep (1 and 2 turns). */
export interface ReportFixture {
  db: string;
  runs: string[];
  /** The text a debater writes to test escaping. */
  xss: string;
}

export const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

/**
 * A real database made by the pipeline: synthetic examples whose text says nothing, an honest debater that names
 * the truth (and now and then writes markup that must never run), a scripted logprob judge, a 3-member debate
 * ensemble, and two runs that differ only in debate.turns.
 */
export async function buildReportDb(dir: string, opts: { n?: number; turns?: number[] } = {}): Promise<ReportFixture> {
  const n = opts.n ?? 90;
  const rows = crateRows(n, 3);
  const truth = truthByQuestion(rows);
  const file = writeJsonl(dir, 'crates.jsonl', rows);
  const noise = createRng(9);
  registerScript('report-debater', {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n');
      const question = /<question>\n(.*)\n<\/question>/.exec(prompt)![1]!;
      const arguesCorrect = /Your side: the proposed answer is correct/.test(prompt);
      const t = truth.get(question) === 1;
      if (noise.random() < 0.1) return `Look here: ${XSS}`;
      // Honest most of the time, so members disagree on some examples.
      if (arguesCorrect === t && noise.random() < 0.85) return t ? 'verified placement confirmed' : 'misplaced crate refuted';
      return 'I think my side holds.';
    },
  });
  registerScript('report-judge', {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n');
      const p = prompt.includes('confirmed') ? 0.8 : prompt.includes('refuted') ? 0.2 : 0.5;
      const swapped = /A: The proposed answer is incorrect\./.test(prompt);
      const pA = swapped ? 1 - p : p;
      return { text: pA >= 0.5 ? 'A' : 'B', topLogprobs: [[{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }]] };
    },
  });
  const db = join(dir, 'report.sqlite');
  const runs: string[] = [];
  const third = Math.floor(n / 3);
  for (const turns of opts.turns ?? [1, 2]) {
    const config = parseExperiment({
      name: `sweep-t${turns}`,
      seed: 5,
      dataset: { name: 'jsonl', path: file, sizes: { train_weak: third, train_strong: third, test: n - 2 * third } },
      debate: { protocol: 'debate', debaters: ['scripted:report-debater'], turns, samples: 3, temperature: 1 },
      weak: { features: { kind: 'hashed', dim: 256, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 3 }, probe: { epochs: 20, lr: 0.05 } },
      strong: { features: { kind: 'hashed', dim: 256, ngrams: [1, 2] } },
      judges: [{ name: 'j1', model: 'scripted:report-judge', method: 'logprobs' }],
      metrics: { bootstrap: 200 },
    });
    const outcome = await runExperiment({ config, out: db, cacheFile: join(dir, 'cache.sqlite') });
    if (outcome.status !== 'completed') throw new Error(`fixture run did not complete: ${outcome.reason}`);
    runs.push(outcome.runId);
  }
  return { db, runs, xss: XSS };
}
