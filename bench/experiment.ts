/** Shared by the benches: a synthetic JSONL dataset and a scripted-debater experiment config of a given size. */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseExperiment } from '../src/config/load.js';
import type { ExperimentConfig } from '../src/config/experiment.js';
import { registerScript } from '../src/models/adapters/scripted.js';

export const REPO = resolve(import.meta.dirname, '..');

export function writeRows(dir: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = (i * 2654435761) % 7 < 3 ? 1 : 0;
    lines.push(JSON.stringify({ id: `r${i}`, question: `Which shelf holds crate ${i} of lot ${i % 97}?`, answer: `shelf ${i % 11}`, label }));
  }
  const file = join(dir, 'rows.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A debater that argues in a few words and names its side, so transcripts carry some signal. */
export function registerBenchDebater(): string {
  registerScript('bench-debater', {
    generate: (req) => {
      const last = req.messages.at(-1)!.content;
      return /Your side: the proposed answer is correct/.test(last) ? 'The shelf matches the record; the answer holds.' : 'The record names another shelf; the answer fails.';
    },
  });
  return 'scripted:bench-debater';
}

export function benchConfig(dataset: string, n: number, extra: { samples?: number; turns?: number } = {}): ExperimentConfig {
  const third = Math.floor(n / 3);
  const samples = extra.samples ?? 1;
  return parseExperiment({
    name: `bench${n}`,
    seed: 1,
    dataset: { name: 'jsonl', path: dataset, sizes: { train_weak: third, train_strong: third, test: n - 2 * third } },
    debate: { protocol: 'debate', debaters: [registerBenchDebater()], turns: extra.turns ?? 2, samples, promptsDir: join(REPO, 'prompts') },
    weak: { features: { kind: 'hashed', dim: 4096, ngrams: [1, 2] }, ensemble: { kind: 'debate', size: samples }, probe: { epochs: 5 } },
    strong: { features: { kind: 'hashed', dim: 4096, ngrams: [1, 2] }, probe: { epochs: 5 } },
    gateway: { concurrency: 16 },
    metrics: { bootstrap: 200 },
  });
}
