import type { Command } from 'commander';
import { isHubId } from '../config/experiment.js';
import { manifestPath, revisionCacheDir } from '../data/hub-cache.js';
import {
  DEFAULT_REVISION,
  fetchHubFiles,
  hubSettings,
  splitFilesOf,
  type HubEvent,
  type HubFile,
  type HubFileRef,
} from '../data/hub.js';
import { isTaskName, TASK_NAMES, TASKS } from '../data/tasks/index.js';
import { UserError } from '../errors.js';

/** `w2s data get`: dataset files from the Hugging Face hub into the local cache. */
export function register(program: Command): void {
  const data = program.command('data').description('dataset files: fetch them from the Hugging Face hub into the local cache');
  data
    .command('get')
    .description('download a dataset\'s files from the hub (a registered name such as sciq, or a hub id owner/name) into the cache, verified by checksum; print where each went')
    .argument('<dataset>', 'a registered dataset name (sciq, boolq, ...) or a hub dataset id (owner/name)')
    .option('--split <names>', 'comma list: for a name, its pools (train, test); for a hub id, the splits its file paths name (train, validation, test, ...); default all')
    .option('--revision <rev>', `branch, tag or commit (default: the dataset's hub revision, else ${DEFAULT_REVISION})`)
    .option('--offline', 'use the cache only and open no connection (also HF_HUB_OFFLINE=1 or W2S_OFFLINE=1)')
    .option('--json', 'print one JSON document')
    .action(async (target: string, opts: { split?: string; revision?: string; offline?: boolean; json?: boolean }) => {
      const splits = opts.split === undefined ? undefined : [...new Set(opts.split.split(',').map((x) => x.trim()).filter(Boolean))];
      if (splits !== undefined && splits.length === 0) throw new UserError('--split needs at least one split name, e.g. --split train,test.');
      // Without --offline, hubSettings reads offline mode from the environment.
      const settings = hubSettings(process.env, { ...(opts.offline === true && { offline: true }), onEvent: report });
      const { id, revision, refs } = await targetFiles(settings, target, splits, opts.revision);
      const files = await fetchHubFiles(settings, refs);
      const bySplit = files.map((f, i) => ({ split: refs[i]!.split, ...f }));
      const commit = files.find((f) => f.commit)?.commit ?? null;
      const manifest = manifestPath(settings.cacheRoot, id);
      if (opts.json) {
        console.log(JSON.stringify({ id, revision, commit, endpoint: settings.endpoint, offline: settings.offline, manifest, files: bySplit }, null, 2));
        return;
      }
      console.log(printFiles(id, revision, commit, revisionCacheDir(settings.cacheRoot, id, revision), manifest, bySplit));
    });
}

/** A registered name's pool files, or a hub id's split files (from the listing; offline, from the manifest). */
async function targetFiles(
  settings: ReturnType<typeof hubSettings>,
  target: string,
  splits: string[] | undefined,
  revisionOption: string | undefined,
): Promise<{ id: string; revision: string; refs: (HubFileRef & { split: string })[] }> {
  if (isTaskName(target)) {
    const hub = TASKS[target].hub;
    if (!hub) throw new UserError(`w2s knows no hub copy of ${target}; get its files from its release (see datasets/README.md).`);
    const revision = revisionOption ?? hub.revision ?? DEFAULT_REVISION;
    const pools = (['train', 'test'] as const).filter((p) => hub.files[p] !== undefined);
    for (const s of splits ?? []) {
      if (!(pools as readonly string[]).includes(s)) throw new UserError(`${target}'s hub copy (${hub.id}) has the pools ${pools.join(' and ')}; --split names them, not "${s}".`);
    }
    const refs = pools.filter((p) => splits === undefined || splits.includes(p)).map((pool) => ({ id: hub.id, revision, path: hub.files[pool]!, split: pool }));
    return { id: hub.id, revision, refs };
  }
  if (!isHubId(target)) {
    throw new UserError(`"${target}" is neither a dataset w2s knows (${TASK_NAMES.join(', ')}) nor a hub id (owner/name).`);
  }
  const revision = revisionOption ?? DEFAULT_REVISION;
  return { id: target, revision, refs: await splitFilesOf(settings, target, revision, splits) };
}

function printFiles(id: string, revision: string, commit: string | null, dir: string, manifest: string, files: (HubFile & { split: string })[]): string {
  const at = commit && commit !== revision ? `${revision} (commit ${commit})` : revision;
  const lines = [`${id} at ${at}: ${files.length} file${files.length === 1 ? '' : 's'} in ${dir}`];
  const splitWidth = Math.max(...files.map((f) => f.split.length));
  for (const f of files) {
    lines.push(`  ${f.split.padEnd(splitWidth)}  ${f.status.padEnd(10)}  ${f.path}  ${f.size.toLocaleString('en-US')} bytes  sha256 ${f.sha256}`);
    lines.push(`  ${' '.repeat(splitWidth)}  → ${f.file}`);
  }
  lines.push(`manifest: ${manifest}`);
  return lines.join('\n');
}

/** Progress and notices on stderr, so stdout holds only the result. */
function report(e: HubEvent): void {
  const line = (() => {
    switch (e.kind) {
      case 'download':
        return e.from > 0
          ? `resuming ${e.id} ${e.path} from byte ${e.from.toLocaleString('en-US')}${e.size === undefined ? '' : ` of ${e.size.toLocaleString('en-US')}`}`
          : `downloading ${e.id} ${e.path}${e.size === undefined ? '' : ` (${e.size.toLocaleString('en-US')} bytes)`}`;
      case 'retry':
        return `${e.id} ${e.path}: cut off after ${e.received.toLocaleString('en-US')} bytes (${e.reason}); resuming`;
      case 'wait':
        return `waiting for another process fetching ${e.id} ${e.path}`;
      case 'stale':
        return `${e.reason}; using the verified cached copy of ${e.id} ${e.path}`;
    }
  })();
  process.stderr.write(`${line}\n`);
}
