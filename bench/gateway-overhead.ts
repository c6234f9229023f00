/**
 * Gateway overhead against the raw openai client, two regimes:
 *   latency-bound: 3,000 calls at concurrency 64, server latency 200 ms (ideal = 64 / 0.2 s = 320 calls/s);
 *   CPU-bound:     5,000 calls at concurrency 64, server latency 20 ms (ideal = 3,200 calls/s).
 * Baseline: the official client (maxRetries 0) under p-limit, no cache, no ledger. w2s: the Gateway with a SQLite
 * cache and ledger (fresh files each round, so every call misses: a cache read, a claim, a cache write and a ledger row
 * with its texts). The test server runs in a child process. Both are warmed, then timed in alternating rounds (raw
 * first in odd rounds, w2s first in even ones, so a drift in the machine's load hits both alike); one JSON line per
 * round, then one per regime with the medians and the ratio of the medians.
 *
 *   node --import tsx bench/gateway-overhead.ts [latency|cpu|all] [--rounds N] [--only raw|w2s]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/gateway-overhead.ts cpu --only w2s   (profile one side)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance as perf } from 'node:perf_hooks';
import OpenAI from 'openai';
import pLimit from 'p-limit';
import { createClient } from '../src/models/create.js';
import { Gateway, type GatewayModel } from '../src/models/gateway.js';
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

interface Timing {
  perS: number;
  /** CPU time (user + system) of this process per call, in µs: steadier than wall time on a shared machine. */
  cpuUsPerCall: number;
  /** The event loop's utilisation (0–1): near 1, the process was CPU-bound; lower, it waited on I/O or timers. */
  elu: number;
}

async function timed(n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<Timing> {
  const limit = pLimit(concurrency);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const elu = perf.eventLoopUtilization();
  await Promise.all(Array.from({ length: n }, (_, i) => limit(() => one(i))));
  const used = process.cpuUsage(cpu);
  return { perS: n / ((performance.now() - start) / 1000), cpuUsPerCall: (used.user + used.system) / n, elu: perf.eventLoopUtilization(elu).utilization };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const load = () => loadavg().map((l) => +l.toFixed(2));

/** One w2s side: a gateway over fresh cache and ledger files, closed by done(). */
async function w2sSide(dir: string, tag: string, url: string, concurrency: number): Promise<{ model: GatewayModel; done: () => number }> {
  const store = openStore(join(dir, `run-${tag}.sqlite`));
  const cache = openStore(join(dir, `cache-${tag}.sqlite`));
  const gateway = new Gateway({ cache: cache.cache, ledger: store.calls, concurrency });
  const model = gateway.model(await createClient(`openai:m@${url}`), 'bench');
  return {
    model,
    done: () => {
      const rows = (store.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE role = 'bench'").get() as { n: number }).n;
      const entries = (cache.db.prepare('SELECT COUNT(*) AS n FROM cache').get() as { n: number }).n;
      store.close();
      cache.close();
      // Every call wrote its ledger row and its cache entry.
      if (rows !== entries) throw new Error(`${rows} ledger rows but ${entries} cache entries`);
      return rows;
    },
  };
}

async function main(which: string, rounds: number, only: string | undefined): Promise<void> {
  for (const [name, r] of Object.entries(REGIMES)) {
    if (which !== 'all' && which !== name) continue;
    const server = await startServer(r.latencyMs);
    const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-gw-'));
    try {
      const ideal = r.concurrency / (r.latencyMs / 1000);
      const loadBefore = load();
      // Warm both paths (sockets, JIT) before timing.
      const raw = new OpenAI({ apiKey: 'sk-bench', baseURL: server.url, maxRetries: 0 });
      const runRaw = (round: number) =>
        timed(r.calls, r.concurrency, (i) => raw.chat.completions.create({ model: 'm', messages: message(`raw${round}`, i), max_tokens: 16 }));
      const runW2s = async (round: number) => {
        const side = await w2sSide(dir, String(round), server.url, r.concurrency);
        const t = await timed(round === 0 ? 200 : r.calls, r.concurrency, (i) => side.model.generate({ messages: message(`w2s${round}`, i), maxTokens: 16 }));
        return { ...t, ledgerRows: side.done() };
      };
      if (only !== 'w2s') await timed(200, r.concurrency, (i) => raw.chat.completions.create({ model: 'm', messages: message('warm', i), max_tokens: 16 }));
      if (only !== 'raw') await runW2s(0);
      const raws: Timing[] = [];
      const w2ss: (Timing & { ledgerRows: number })[] = [];
      for (let round = 1; round <= rounds; round++) {
        const sides = round % 2 === 1 ? (['raw', 'w2s'] as const) : (['w2s', 'raw'] as const);
        for (const side of sides) {
          if (only && only !== side) continue;
          if (side === 'raw') raws.push(await runRaw(round));
          else w2ss.push(await runW2s(round));
        }
        const rw = raws.at(-1);
        const gw = w2ss.at(-1);
        console.log(
          JSON.stringify({
            bench: 'gateway-overhead',
            regime: name,
            round,
            rawPerS: rw && +rw.perS.toFixed(1),
            w2sPerS: gw && +gw.perS.toFixed(1),
            w2sOverRaw: rw && gw ? +(gw.perS / rw.perS).toFixed(3) : undefined,
            rawCpuUsPerCall: rw && Math.round(rw.cpuUsPerCall),
            w2sCpuUsPerCall: gw && Math.round(gw.cpuUsPerCall),
            rawElu: rw && +rw.elu.toFixed(2),
            w2sElu: gw && +gw.elu.toFixed(2),
            ledgerRows: gw?.ledgerRows,
            load: load(),
          }),
        );
      }
      const rawPerS = raws.length ? median(raws.map((t) => t.perS)) : undefined;
      const w2sPerS = w2ss.length ? median(w2ss.map((t) => t.perS)) : undefined;
      console.log(
        JSON.stringify({
          bench: 'gateway-overhead',
          regime: name,
          rounds,
          calls: r.calls,
          concurrency: r.concurrency,
          latencyMs: r.latencyMs,
          idealPerS: ideal,
          rawPerS: rawPerS && +rawPerS.toFixed(1),
          rawPctIdeal: rawPerS && +((100 * rawPerS) / ideal).toFixed(1),
          w2sPerS: w2sPerS && +w2sPerS.toFixed(1),
          w2sPctIdeal: w2sPerS && +((100 * w2sPerS) / ideal).toFixed(1),
          // The ratio of the medians (each side's median over its rounds).
          w2sOverRaw: rawPerS && w2sPerS ? +(w2sPerS / rawPerS).toFixed(3) : undefined,
          rawCpuUsPerCall: raws.length ? Math.round(median(raws.map((t) => t.cpuUsPerCall))) : undefined,
          w2sCpuUsPerCall: w2ss.length ? Math.round(median(w2ss.map((t) => t.cpuUsPerCall))) : undefined,
          ledgerRowsPerRound: w2ss[0]?.ledgerRows,
          loadBefore,
          loadAfter: load(),
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
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const rounds = Number(flag('--rounds') ?? 3);
  const only = flag('--only');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number of at least 1, got ${rounds}`);
  if (only !== undefined && only !== 'raw' && only !== 'w2s') throw new Error(`--only must be raw or w2s, got ${only}`);
  await main(args[0] ?? 'all', rounds, only);
}
