import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressRenderer } from '../../src/cli/progress.js';

/** A stream that records what is written, claiming to be a terminal or not. */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  let text = '';
  return Object.assign({ isTTY, write: (s: string) => ((text += s), true) }, { text: () => text }) as unknown as NodeJS.WriteStream & { text: () => string };
}

test('on a terminal, clear() wipes a drawn bar so the command\'s last line starts on a clean line', () => {
  const stream = fakeStream(true);
  const progress = progressRenderer(stream);
  progress({ stage: 'debates', kind: 'tick', done: 3, total: 10 });
  assert.match(stream.text(), /debates \[#########\.+\] 3\/10$/, 'the bar is drawn without a newline');
  progress.clear();
  assert.ok(stream.text().endsWith('\r\x1b[2K'), 'the bar line is erased and the cursor is at its start');
  const length = stream.text().length;
  progress.clear();
  assert.equal(stream.text().length, length, 'clearing with no bar shown writes nothing');
});

test('off a terminal, ticks are whole lines and clear() writes nothing', () => {
  const stream = fakeStream(false);
  const progress = progressRenderer(stream);
  progress({ stage: 'debates', kind: 'tick', done: 10, total: 10 });
  progress.clear();
  assert.equal(stream.text(), 'debates: 10/10\n');
});
