// node-llama-cpp lists one optional package per platform. When the registry this lockfile was made against lacks some
// of them (a mirror missing the Windows or macOS builds), `npm install` leaves them out of package-lock.json and
// `npm ci` then refuses the lockfile. This adds the missing ones as optional entries for their own OS and CPU, which
// npm skips on every other platform without fetching them. Run it after `npm install` changes the lockfile.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'linux-arm64': ['linux', ['arm64', 'x64']],
  'linux-armv7l': ['linux', ['arm', 'x64']],
  'linux-riscv64': ['linux', ['riscv64']],
  'linux-x64': ['linux', ['x64']],
  'linux-x64-cuda': ['linux', ['x64']],
  'linux-x64-cuda-ext': ['linux', ['x64']],
  'linux-x64-vulkan': ['linux', ['x64']],
  'mac-arm64-metal': ['darwin', ['arm64', 'x64']],
  'mac-x64': ['darwin', ['x64']],
  'win-arm64': ['win32', ['arm64', 'x64']],
  'win-x64': ['win32', ['x64']],
  'win-x64-cuda': ['win32', ['x64']],
  'win-x64-cuda-ext': ['win32', ['x64']],
  'win-x64-vulkan': ['win32', ['x64']],
};

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const llama = lock.packages['node_modules/node-llama-cpp'];
let added = 0;
for (const [name, version] of Object.entries(llama.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const platform = PLATFORMS[name.replace('@node-llama-cpp/', '')];
  if (!platform) throw new Error(`no OS/CPU known for ${name}; add it to PLATFORMS in scripts/lock-platform-packages.mjs`);
  lock.packages[key] = { version, cpu: platform[1], license: 'MIT', optional: true, os: [platform[0]], engines: llama.engines };
  added++;
}
const [root, ...rest] = Object.entries(lock.packages);
lock.packages = Object.fromEntries([root, ...rest.sort(([a], [b]) => (a < b ? -1 : 1))]);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform package entries`);
