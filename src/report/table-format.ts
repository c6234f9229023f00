import { csvField } from './export.js';
import type { MetricValue } from './queries.js';
import { pctCI, pgrCell } from './results.js';
import { AXIS_TITLES, type TableCell, type TableModel } from './table.js';

/** The table as Markdown (GitHub), CSV (one line per cell, numbers in their own columns) or LaTeX (booktabs). */
export type TableFormat = 'md' | 'csv' | 'latex';

export function formatTable(model: TableModel, format: TableFormat): string {
  if (format === 'csv') return tableCsv(model);
  if (format === 'latex') return tableLatex(model);
  return tableMarkdown(model);
}

type Name = 'accuracy' | 'pgr';
const metricsOf = (model: TableModel): Name[] => (model.metric === 'both' ? ['accuracy', 'pgr'] : [model.metric]);
const SHORT: Record<Name, string> = { accuracy: 'acc %', pgr: 'PGR %' };

/** A cell's test size: one n for the whole column goes in the header, else each cell carries its own. */
const nOf = (cell: TableCell | null): number | null => cell?.accuracy?.n ?? cell?.pgr?.n ?? null;

function columnN(model: TableModel, j: number): number | null {
  const ns = new Set(model.rows.map((r) => nOf(r.cells[j] ?? null)).filter((n) => n !== null));
  return ns.size === 1 ? [...ns][0]! : null;
}

/** The printed cell, split into the point estimate and the rest, so that a format can mark the estimate. */
function cellText(cell: TableCell | null, name: Name): { head: string; tail: string } {
  if (cell === null) return { head: '—', tail: '' };
  const m = cell[name];
  // The references have no PGR: a blank, as in the paper.
  if (m === null) return { head: name === 'pgr' && cell.reference ? '' : '—', tail: '' };
  const text = name === 'accuracy' ? pctCI(m) : pgrCell(m);
  const i = text.indexOf(' ');
  return i < 0 ? { head: text, tail: '' } : { head: text.slice(0, i), tail: text.slice(i) };
}

interface Grid {
  /** Column labels, the first the row axis. */
  header: string[];
  body: { label: string; reference: boolean; cells: { head: string; tail: string; best: boolean }[] }[];
}

function grid(model: TableModel): Grid {
  const names = metricsOf(model);
  const header = [AXIS_TITLES[model.rowAxis]];
  const ns = model.columns.map((_, j) => columnN(model, j));
  model.columns.forEach((c, j) => {
    names.forEach((name, k) => {
      const n = k === 0 && ns[j] !== null ? ` (n=${ns[j]})` : '';
      header.push(names.length > 1 ? `${c.label} ${SHORT[name]}${n}` : `${c.label}${n}`);
    });
  });
  const body = model.rows.map((r) => ({
    label: r.label,
    reference: r.cells.some((c) => c?.reference),
    cells: r.cells.flatMap((cell, j) => names.map((name, k) => {
      const t = cellText(cell, name);
      const n = k === 0 && ns[j] === null && nOf(cell) !== null ? ` (n=${nOf(cell)})` : '';
      return { ...t, tail: t.tail + n, best: cell?.best[name] ?? false };
    })),
  }));
  return { header, body };
}

export function tableMarkdown(model: TableModel): string {
  const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\*/g, '\\*').replace(/\r?\n/g, ' ');
  const { header, body } = grid(model);
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const lines = [
    line(header.map(esc)),
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...body.map((r) => line([esc(r.label), ...r.cells.map((c) => (c.best ? `**${esc(c.head)}**` : esc(c.head)) + esc(c.tail))])),
  ];
  return `${lines.join('\n')}\n\n${model.notes.map((n) => `${n}  `).join('\n')}\n`;
}

/** LaTeX-escapes text: the ten special characters, and the Unicode minus the PGR notes print. */
export function latexEscape(s: string): string {
  const map: Record<string, string> = {
    '\\': '\\textbackslash{}', '{': '\\{', '}': '\\}', '%': '\\%', _: '\\_', '&': '\\&', '#': '\\#', $: '\\$', '~': '\\textasciitilde{}', '^': '\\textasciicircum{}', '−': '$-$',
  };
  // A hyphen before a digit is a minus sign.
  return s.replace(/[\\{}%_&#$~^−]/g, (ch) => map[ch]!).replace(/(^|[\s[(])-(?=\d)/g, '$1$$-$$');
}

export function tableLatex(model: TableModel): string {
  const names = metricsOf(model);
  const { header, body } = grid(model);
  const k = names.length;
  const ns = model.columns.map((_, j) => columnN(model, j));
  const out = ['% w2s table; needs \\usepackage{booktabs}', '\\begin{table}[t]', '\\centering', '\\small', `\\begin{tabular}{l${' r'.repeat(header.length - 1)}}`, '\\toprule'];
  if (k > 1) {
    // Two header lines: the column values over their metrics, with a rule under each.
    const tops = model.columns.map((c, j) => `\\multicolumn{${k}}{c}{${latexEscape(c.label)}${ns[j] !== null ? ` (n=${ns[j]})` : ''}}`);
    out.push(`${latexEscape(header[0]!)} & ${tops.join(' & ')} \\\\`);
    out.push(model.columns.map((_, j) => `\\cmidrule(lr){${2 + j * k}-${1 + (j + 1) * k}}`).join(''));
    out.push(` & ${model.columns.map(() => names.map((n) => latexEscape(SHORT[n])).join(' & ')).join(' & ')} \\\\`);
  } else {
    out.push(`${header.map(latexEscape).join(' & ')} \\\\`);
  }
  out.push('\\midrule');
  body.forEach((r, i) => {
    // A rule where the references (weak model, strong ceiling) meet the methods, as in the paper.
    if (i > 0 && model.rowAxis === 'method' && r.reference !== body[i - 1]!.reference) out.push('\\midrule');
    const cells = r.cells.map((c) => {
      const head = c.head === '—' ? '--' : latexEscape(c.head);
      const tail = c.tail ? ` {\\scriptsize ${latexEscape(c.tail.trim())}}` : '';
      return `${c.best ? `\\textbf{${head}}` : head}${tail}`;
    });
    out.push(`${latexEscape(r.label)} & ${cells.join(' & ')} \\\\`);
  });
  out.push('\\bottomrule', '\\end{tabular}', `\\caption{${latexEscape(model.notes.join(' '))}}`, '\\end{table}');
  return `${out.join('\n')}\n`;
}

/**
 * One line per cell with the stored numbers as they are (fractions, full precision), interval bounds, n and how the
 * interval was made in their own columns, and whether the cell is the best of its column (or row).
 */
export function tableCsv(model: TableModel): string {
  const names = metricsOf(model);
  const cols: Record<Name, string[]> = {
    accuracy: ['accuracy', 'accuracy_lo', 'accuracy_hi', 'accuracy_n', 'accuracy_best', 'accuracy_level', 'accuracy_interval', 'accuracy_covers'],
    pgr: ['pgr', 'pgr_lo', 'pgr_hi', 'pgr_n', 'pgr_best', 'pgr_level', 'pgr_interval', 'pgr_covers', 'pgr_note', 'pgr_undefined_resamples', 'pgr_resamples'],
  };
  const values = (m: MetricValue | null, best: boolean, name: Name): unknown[] => {
    const base = m ? [m.value, m.lo, m.hi, m.n, best, m.level, m.method, m.covers] : ['', '', '', '', '', '', '', ''];
    return name === 'pgr' ? [...base, m?.note, m?.undefinedResamples, m?.resamples] : base;
  };
  const header = [model.rowAxis, model.colAxis, 'reference', ...names.flatMap((n) => cols[n]), 'runs'];
  const lines: unknown[][] = [header];
  for (const row of model.rows) {
    row.cells.forEach((cell, j) => {
      if (!cell) return;
      lines.push([row.label, model.columns[j]!.label, cell.reference, ...names.flatMap((n) => values(cell[n], cell.best[n], n)), cell.runs.join(' ')]);
    });
  }
  return lines.map((l) => `${l.map(csvField).join(',')}\r\n`).join('');
}
