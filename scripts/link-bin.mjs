// npm links the bins of dependencies into node_modules/.bin, but not the project's own. Linking w2s there after the
// build makes `npx w2s` run this checkout's CLI in a fresh clone (instead of npx looking for a "w2s" package online).
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';

const target = 'dist/src/cli/main.js';
chmodSync(target, 0o755);
mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/w2s', { force: true });
symlinkSync('../../dist/src/cli/main.js', 'node_modules/.bin/w2s');
