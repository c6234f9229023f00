/**
 * Gateway overhead against the raw openai client, in one process run, two regimes:
 *   latency-bound: 3,000 calls at concurrency 64, server latency 200 ms (ideal = 64 / 0.2 s = 320 calls/s);
 *   CPU-bound:     5,000 calls at concurrency 64, server latency 20 ms (ideal = 3,200 calls/s).
 * Baseline: the official client (maxRetries 0) under p-limit, no cache, no ledger. w2s: the Gateway with a SQLite
 * cache and ledger (fresh files, so every call misses and is written twice). The test server runs in a child process.
 *
 *   node --import tsx bench/gateway-overhead.ts [latency|cpu|all]     (one JSON line per measurement)
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/gateway-overhead.ts cpu   (profile the gap)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pLimit from 'p-limit';
import { createClient } from '../src/models/create.js';
import { Gateway } from '../src/models/gateway.js';
import { openStore } from '../src/store/index.js';

const REGIMES = {
  latency: { calls: 3_000, concurrency: 64, latencyMs: 200 },
  cpu: { calls: 5_000, concurrency: 64, latencyMs: 20 },
} as const;


async function startServer(latencyMs: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--serve', String(latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const message = (tag: string, i: number) => [{ role: 'user' as const, content: `${tag} request ${i}: is the proposed answer correct? Argue briefly.` }];

/** CPU time (user + system) this process spent in the last timed() run, in µs per call: steadier than wall time on a shared machine. */
let lastCpuUsPerCall = 0;

async function timed(n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<number> {
  const limit = pLimit(concurrency);
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: n }, (_, i) => limit(() => one(i))));
  const used = process.cpuUsage(cpu);
  lastCpuUsPerCall = (used.user + used.system) / n;
  return (performance.now() - start) / 1000;
}

async function main(which: string): Promise<void> {
  for (const [name, r] of Object.entries(REGIMES)) {
    if (which !== 'all' && which !== name) continue;
    const server = await startServer(r.latencyMs);
    const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-gw-'));
    try {
      const ideal = r.concurrency / (r.latencyMs / 1000);
      // Warm both paths (sockets, JIT) before timing.
      const raw = new OpenAI({ apiKey: 'sk-bench', baseURL: server.url, maxRetries: 0 });
      await timed(200, r.concurrency, (i) => raw.chat.completions.create({ model: 'm', messages: message('warm', i), max_tokens: 16 }));
      const rawS = await timed(r.calls, r.concurrency, (i) => raw.chat.completions.create({ model: 'm', messages: message('raw', i), max_tokens: 16 }));
      const rawCpu = lastCpuUsPerCall;

      const store = openStore(join(dir, 'run.sqlite'));
      const cache = openStore(join(dir, 'cache.sqlite'));
      const gateway = new Gateway({ cache: cache.cache, ledger: store.calls, concurrency: r.concurrency });
      const model = gateway.model(await createClient(`openai:m@${server.url}`), 'bench');
      await timed(200, r.concurrency, (i) => model.generate({ messages: message('warm-gw', i), maxTokens: 16 }));
      const gwS = await timed(r.calls, r.concurrency, (i) => model.generate({ messages: message('w2s', i), maxTokens: 16 }));
      const gwCpu = lastCpuUsPerCall;
      const ledgerRows = (store.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE role = 'bench'").get() as { n: number }).n;
      store.close();
      cache.close();

      const rawTput = r.calls / rawS;
      const gwTput = r.calls / gwS;
      console.log(
        JSON.stringify({
          bench: 'gateway-overhead',
          regime: name,
          calls: r.calls,
          concurrency: r.concurrency,
          latencyMs: r.latencyMs,
          idealPerS: ideal,
          rawPerS: +rawTput.toFixed(1),
          rawPctIdeal: +((100 * rawTput) / ideal).toFixed(1),
          w2sPerS: +gwTput.toFixed(1),
          w2sPctIdeal: +((100 * gwTput) / ideal).toFixed(1),
          w2sOverRaw: +(gwTput / rawTput).toFixed(3),
          rawCpuUsPerCall: Math.round(rawCpu),
          w2sCpuUsPerCall: Math.round(gwCpu),
          ledgerRows,
        }),
      );
    } finally {
      server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv[2] === '--serve') {
  const { startOpenAIServer } = await import('../test/helpers/openai-server.js');
  const server = await startOpenAIServer({ latencyMs: Number(process.argv[3]) });
  process.stdout.write(`${server.url}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  await main(process.argv[2] ?? 'all');
}
