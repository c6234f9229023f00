import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openStore } from '../store/index.js';

const DEFAULT_CACHE = 'results/cache.sqlite';

export function register(program: Command): void {
  const cache = program.command('cache').description('show or empty the response cache');
  cache
    .command('stats')
    .description('entries, size and hits of the response cache, per model')
    .option('--cache <file>', 'cache file', DEFAULT_CACHE)
    .option('--json', 'print JSON: {file, entries, bytes, hits, byModel}')
    .action((opts: { cache: string; json?: boolean }) => {
      const file = resolve(opts.cache);
      const json = (s: object) => process.stdout.write(`${JSON.stringify({ file, ...s }, null, 2)}\n`);
      if (!existsSync(file)) {
        if (opts.json) json({ entries: 0, bytes: 0, hits: 0, byModel: [] });
        else process.stdout.write(`${file}: no cache yet (0 entries)\n`);
        return;
      }
      const store = openStore(file, { readonly: true });
      try {
        const s = store.cache.cacheStats();
        if (opts.json) {
          json(s);
          return;
        }
        process.stdout.write(`${file}\nentries: ${s.entries}  bytes: ${s.bytes}  hits: ${s.hits}\n`);
        for (const m of s.byModel) process.stdout.write(`  ${m.model}  ${JSON.stringify(m)}\n`);
      } finally {
        store.close();
      }
    });
  cache
    .command('clear')
    .description('delete cached responses (all, or one model\'s)')
    .option('--cache <file>', 'cache file', DEFAULT_CACHE)
    .option('--model <spec>', 'only this model\'s entries')
    .action((opts: { cache: string; model?: string }) => {
      const file = resolve(opts.cache);
      if (!existsSync(file)) {
        process.stdout.write(`${file}: no cache to clear\n`);
        return;
      }
      const store = openStore(file);
      try {
        const removed = store.cache.clearCache(opts.model);
        process.stdout.write(`removed ${removed} entries from ${file}\n`);
      } finally {
        store.close();
      }
    });
}
