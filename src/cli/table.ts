import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { ensembleSizeFigure, protocolsFigure, standaloneSvg } from '../report/figures.js';
import { atomicWrite } from '../atomic-write.js';
import { openResults, type LocatedRun } from '../report/results-set.js';
import { AXES, buildTable, type Axis, type TableMetric, type TableModel, type Where } from '../report/table.js';
import { formatTable, type TableFormat } from '../report/table-format.js';

const oneOf = <T extends string>(flag: string, allowed: readonly T[]) => (v: string): T => {
  if (!(allowed as readonly string[]).includes(v)) throw new UserError(`${flag} must be one of ${allowed.join(', ')}, got "${v}".`);
  return v as T;
};

function where(v: string, previous: Where[]): Where[] {
  const i = v.indexOf('=');
  const axis = v.slice(0, i);
  if (i < 0 || !(AXES as readonly string[]).includes(axis)) throw new UserError(`--where takes <axis>=<value> with an axis among ${AXES.join(', ')}, got "${v}".`);
  return [...previous, [axis as Axis, v.slice(i + 1)]];
}

interface TableOpts {
  rows?: Axis;
  cols?: Axis;
  metric?: TableMetric;
  format?: TableFormat;
  figure?: 'ensemble-size' | 'protocols';
  where: Where[];
  run?: string[];
  subject?: string;
  overSeeds?: boolean;
  out?: string;
  json?: boolean;
}

type Metric = NonNullable<TableModel['rows'][number]['cells'][number]>['accuracy'];

/** `table --json`: the table as data, with field names of its own (not the report module's internals). */
function tableJson(model: TableModel): unknown {
  const metric = (m: Metric) => (m ? { value: m.value, lo: m.lo, hi: m.hi, level: m.level, n: m.n, method: m.method, covers: m.covers, note: m.note } : null);
  return {
    rowAxis: model.rowAxis,
    colAxis: model.colAxis,
    metric: model.metric,
    subject: model.subject,
    overSeeds: model.overSeeds,
    bestAlongRows: model.bestAlongRows,
    columns: model.columns.map((c) => ({ key: c.key, label: c.label })),
    rows: model.rows.map((r) => ({
      key: r.key,
      label: r.label,
      cells: r.cells.map((c, i) =>
        c ? { column: model.columns[i]!.key, accuracy: metric(c.accuracy), pgr: metric(c.pgr), reference: c.reference, best: { accuracy: c.best.accuracy, pgr: c.best.pgr }, runs: c.runs } : null,
      ),
    })),
    notes: model.notes,
  };
}

export function register(program: Command): void {
  program
    .command('table')
    .description('the paper-shaped table across runs (methods × datasets by default): stored accuracy and PGR with their intervals, the best per column marked, n per cell; or a cross-run SVG figure')
    .argument('[paths...]', 'results folders or databases (default: results)')
    .option('--rows <axis>', `row axis: ${AXES.join(', ')} (default method)`, oneOf('--rows', AXES))
    .option('--cols <axis>', 'column axis, as --rows (default dataset)', oneOf('--cols', AXES))
    .option('--metric <m>', 'accuracy, pgr or both (default both)', oneOf('--metric', ['accuracy', 'pgr', 'both'] as const))
    .option('--format <f>', 'md, csv or latex (booktabs) (default md)', oneOf('--format', ['md', 'csv', 'latex'] as const))
    .option('--figure <kind>', 'instead of the table, an SVG figure: ensemble-size or protocols', oneOf('--figure', ['ensemble-size', 'protocols'] as const))
    .option('--where <axis=value>', 'only runs and rows whose axis has this value, e.g. dataset=sciq, ensemble-size=4, method=naive (repeatable)', where, [])
    .option('--run <id...>', 'only these runs (ids or unique prefixes)')
    .option('--subject <name>', 'when neither axis is method: the stored subject the cells show (default strong: w2s on the ensemble\'s labels)')
    .option('--over-seeds', 'cells are the stored means over training seeds (t intervals), for runs with several seeds')
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--json', 'the table as one JSON document (axes, columns, rows of cells with values, intervals, best marks and runs, notes) instead of --format')
    .action((paths: string[], opts: TableOpts) => {
      if (opts.json && (opts.figure || opts.format)) throw new UserError(`--json prints the table as data; drop ${opts.figure ? '--figure' : '--format'} (or --json).`);
      if (opts.figure) {
        // A figure fixes its own axes and subjects: table-only options would be silently ignored.
        const tableOnly = ([['--format', opts.format], ['--rows', opts.rows], ['--cols', opts.cols], ['--subject', opts.subject], ['--over-seeds', opts.overSeeds], ...(opts.figure === 'ensemble-size' ? [['--metric', opts.metric]] : [])] as [string, unknown][])
          .filter(([, v]) => v !== undefined && v !== false)
          .map(([name]) => name);
        if (tableOnly.length) throw new UserError(`--figure ${opts.figure} does not take ${tableOnly.join(', ')}; drop ${tableOnly.length > 1 ? 'them' : 'it'} (or drop --figure for the table).`);
      }
      const set = openResults(paths);
      try {
        let runs: LocatedRun[] = set.runs();
        if (opts.run?.length) {
          const keep = new Set(opts.run.map((id) => set.resolveRun(id)).map((r) => `${r.file}#${r.run.id}`));
          runs = runs.filter((r) => keep.has(`${r.file}#${r.run.id}`));
        }
        let text: string;
        if (opts.figure === 'ensemble-size') text = standaloneSvg(ensembleSizeFigure(runs, { where: opts.where }));
        else if (opts.figure === 'protocols') text = standaloneSvg(protocolsFigure(runs, { where: opts.where, metric: opts.metric }));
        else {
          const model = buildTable(runs, { rows: opts.rows, cols: opts.cols, metric: opts.metric, where: opts.where, subject: opts.subject, overSeeds: opts.overSeeds });
          text = opts.json ? `${JSON.stringify(tableJson(model), null, 2)}\n` : formatTable(model, opts.format ?? 'md');
        }
        if (opts.out) {
          atomicWrite(opts.out, text);
          process.stdout.write(`wrote ${opts.out}\n`);
        } else process.stdout.write(text);
      } finally {
        set.close();
      }
    });
}
