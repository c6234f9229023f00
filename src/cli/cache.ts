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
    .action((opts: { cache: string }) => {
      const file = resolve(opts.cache);
      if (!existsSync(file)) {
        process.stdout.write(`${file}: no cache yet (0 entries)\n`);
        return;
      }
      const store = openStore(file, { readonly: true });
      try {
        const s = store.cache.cacheStats();
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
