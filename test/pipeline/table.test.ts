import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable, type ResultRow } from '../../src/pipeline/evaluate.js';

const iv = (value: number | null, lo: number | null = value, hi: number | null = value) => ({ value, lo, hi });

test('the result table shows intervals, undefined PGR in words, and warns when the gap is noise', () => {
  const rows: ResultRow[] = [
    { subject: 'weak', description: 'weak', accuracy: iv(0.9, 0.88, 0.92), auroc: iv(0.95) },
    { subject: 'strong', description: 'w2s', accuracy: iv(0.926), auroc: iv(0.97), pgr: { ...iv(0.765, 0.6, 0.9), undefinedResamples: 400, note: 'ceiling - weak is only 3.4 points and within noise' } },
    { subject: 'strong_naive', description: 'naive', accuracy: iv(0.89), auroc: iv(null), pgr: { ...iv(null), undefinedResamples: 1000, note: 'undefined: ceiling accuracy <= weak accuracy' } },
  ];
  const text = formatTable(rows, 0.95);
  assert.match(text, /accuracy % \[95% CI\]/);
  assert.match(text, /^weak\s+90\.0 \[88\.0, 92\.0\]\s+95\.0 \[95\.0, 95\.0\]$/m);
  assert.match(text, /^w2s\s+92\.6 .*76\.5 \[60\.0, 90\.0\]$/m);
  assert.match(text, /^naive\s+89\.0 \[89\.0, 89\.0\]\s+n\/a\s+undefined \(undefined: ceiling accuracy <= weak accuracy\)$/m);
  assert.match(text, /^note: w2s: ceiling - weak is only 3\.4 points and within noise\.$/m);
});
