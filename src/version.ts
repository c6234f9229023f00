import { readFileSync } from 'node:fs';

/** The w2s version from package.json, recorded in every run and DB. */
export const W2S_VERSION: string = (() => {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')).version as string;
    } catch {
      /* try the next layout (src/ under tsx, dist/src/ when built) */
    }
  }
  return '0.0.0';
})();
