/**
 * Runs every benchmark, each in its own process (so peak RSS and JIT state are its own), and prints their JSON lines
 * with the machine and date.   npm run bench   (or node --import tsx bench/run.ts [name...])
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const BENCHES = ['gateway-overhead', 'cache-rerun', 'store-writes', 'call-texts', 'rss-run', 'probe-train', 'probe-vs-sklearn', 'probe-dense-vs-sklearn', 'orchestration', 'judge-ensembles', 'export-memory', 'bootstrap', 'controls-coverage', 'scale'];
const only = process.argv.slice(2);
console.log(JSON.stringify({ bench: 'machine', date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30) }));
for (const name of BENCHES) {
  if (only.length && !only.includes(name)) continue;
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, `${name}.ts`)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    for (const line of out.split('\n')) if (line.startsWith('{')) console.log(line);
  } catch (e) {
    console.log(JSON.stringify({ bench: name, error: (e as Error).message.split('\n')[0] }));
  }
}
