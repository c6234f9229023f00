import type { ProgressEvent, ProgressListener } from '../pipeline/progress.js';

/**
 * Renders stage progress: a redrawn bar on a TTY, plain lines otherwise (CI logs, pipes), where ticks are thinned
 * to one line per 10% so a log stays readable.
 */
export function progressRenderer(stream: NodeJS.WriteStream = process.stderr): ProgressListener & { clear(): void } {
  const tty = stream.isTTY === true;
  const lastDecile = new Map<string, number>();
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  const listener = (e: ProgressEvent): void => {
    if (e.kind === 'tick' && e.total) {
      if (tty) {
        const width = 30;
        const filled = Math.round((width * (e.done ?? 0)) / e.total);
        stream.write(`\r\x1b[2K${e.stage} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.done}/${e.total}`);
        barShown = true;
        return;
      }
      const decile = Math.floor((10 * (e.done ?? 0)) / e.total);
      if (decile === lastDecile.get(e.stage) && e.done !== e.total) return;
      lastDecile.set(e.stage, decile);
      stream.write(`${e.stage}: ${e.done}/${e.total}\n`);
      return;
    }
    clearBar();
    if (e.kind === 'start') stream.write(`▶ ${e.stage}${e.message ? `: ${e.message}` : ''}\n`);
    else if (e.kind === 'skip') stream.write(`✓ ${e.stage} (already done)\n`);
    else if (e.kind === 'end') stream.write(`✓ ${e.stage}\n`);
    else if (e.message) stream.write(`  ${e.stage}: ${e.message}\n`);
  };
  // Called before the command's last words, so they don't land on the bar's line.
  return Object.assign(listener, { clear: clearBar });
}
