/**
 * One vocabulary for what each measured subject is, shared by the run table, `runs`, `compare`, the report and the
 * viewer. A label says what the row really is: a debate or a finetune ensemble, of which protocol, of what size; with
 * protocol "none" nothing is called "with debate".
 */

/** The parts of a run's config a label depends on. */
export interface SubjectContext {
  protocol?: string;
  ensembleKind?: string;
  ensembleSize?: number;
  /** The config's judge ensembles (judgeEnsembles): what names a judge ensemble rather than a judge. */
  judgeEnsembles?: readonly { name: string; members: readonly string[]; aggregate: string }[];
  /** The config's judges with the settings that change what they read (absent: the defaults). */
  judgeSettings?: readonly { name: string; samples?: number; orders?: string; transcripts?: readonly number[]; template?: string }[];
}

/** How each aggregate combines its members, as a label says it: "mean of a, b". */
const AGGREGATE_WORDS: Record<string, string> = { mean: 'mean of', vote: 'vote of', 'logit-mean': 'logit-mean of', stacked: 'stacked on' };

/** "judge ensemble e (mean of a, b, c)", or "judge ensemble e" when the config does not say. */
export function judgeEnsembleLabel(name: string, c: SubjectContext): string {
  const e = c.judgeEnsembles?.find((x) => x.name === baseName(name));
  if (!e || e.members.length === 0) return `judge ensemble ${name}`;
  return `judge ensemble ${name} (${AGGREGATE_WORDS[e.aggregate] ?? `${e.aggregate} of`} ${e.members.join(', ')})`;
}

/** True when the config names `name` as a judge ensemble (names are unique across judges and judge ensembles). */
export const isJudgeEnsemble = (name: string, c: SubjectContext): boolean => c.judgeEnsembles?.some((e) => e.name === baseName(name)) ?? false;

/** A subject's name without another training seed's "@seedN" suffix. */
const baseName = (name: string): string => name.replace(/@seed\d+$/, '');

/** What a prompted judge reads: "both orders, all transcripts" by default; otherwise what its settings say. */
function judgeReads(name: string, c: SubjectContext): string {
  const j = c.judgeSettings?.find((x) => x.name === name);
  const orders = !j?.orders || j.orders === 'both' ? 'both orders' : `${j.orders} order only`;
  const transcripts = !j?.transcripts?.length ? 'all transcripts' : `transcript${j.transcripts.length > 1 ? 's' : ''} ${j.transcripts.join(', ')}`;
  const extra = [j?.samples && j.samples > 1 ? `${j.samples} samples each` : '', j?.template ? `prompt ${j.template}` : ''].filter(Boolean);
  return [orders, transcripts, ...extra].join(', ');
}

/** True when the ensemble's members read different transcripts (a debate ensemble), not only different seeds. */
function isDebateEnsemble(c: SubjectContext): boolean {
  return c.ensembleKind === 'debate' && c.protocol !== undefined && c.protocol !== 'none';
}

/** "debate ensemble of 4 (market transcripts)" or "finetune ensemble of 4 (no debate)". */
export function ensembleLabel(c: SubjectContext): string {
  const k = c.ensembleSize ?? '?';
  if (isDebateEnsemble(c)) return `debate ensemble of ${k} (${c.protocol} transcripts, one each)`;
  const context = !c.protocol || c.protocol === 'none' ? 'no debate' : `${c.protocol} transcript 0, seeds differ`;
  return `finetune ensemble of ${k} (${context})`;
}

export function describeSubject(subject: string, c: SubjectContext): string {
  const [kind, rest] = splitOnce(subject, ':');
  if (kind === 'judge') return `prompted judge ${rest} (${judgeReads(rest, c)})`;
  if (kind === 'judge_ensemble') return judgeEnsembleLabel(rest, c);
  if (kind === 'judge_pair') {
    const [a, b] = splitOnce(rest, '|');
    return `judges ${a} and ${b} (agreement on test)`;
  }
  if (kind === 'strong_by_judge') return `strong on ${isJudgeEnsemble(rest, c) ? judgeEnsembleLabel(rest, c) : `judge ${rest}`} labels (w2s)`;
  const member = /^member(\d+)$/.exec(subject);
  if (member) {
    const k = member[1];
    if (isDebateEnsemble(c)) return `weak member ${k} (ground truth, ${c.protocol} transcript ${k})`;
    return `weak member ${k} (ground truth, seed ${k}${!c.protocol || c.protocol === 'none' ? ', no debate' : `, ${c.protocol} transcript 0`})`;
  }
  switch (subject) {
    case 'majority_class': return 'majority class of train_weak (constant)';
    case 'weak': return 'weak model (ground truth, no debate)';
    case 'weak_ensemble': return `weak ${ensembleLabel(c)}, mean`;
    case 'weak_ensemble_vote': return `weak ${ensembleLabel(c)}, vote`;
    case 'weak_ensemble_finetune': return `weak ${ensembleLabel({ ...c, ensembleKind: 'finetune' })}, mean`;
    case 'strong_single': return 'strong on one weak model\'s labels (debate transcript 0)';
    case 'strong_finetune': return 'strong on finetune-ensemble labels (w2s)';
    case 'strong_naive': return 'strong on weak-model labels (naive w2s)';
    case 'strong': return `strong on ${isDebateEnsemble(c) ? 'debate' : 'finetune'}-ensemble labels (w2s)`;
    case 'strong_ceiling': return 'strong ceiling (ground truth)';
    default: return subject;
  }
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/**
 * The knowledge regions of a test split (Yang et al. 2024): whether the weak model and the strong ceiling are right.
 * Stored as subject `region:<key>`; `label` is how every view names the region.
 */
export const KNOWLEDGE_REGIONS = [
  { key: 'weak+ceiling+', weak: true, ceiling: true, label: 'weak right, ceiling right' },
  { key: 'weak+ceiling-', weak: true, ceiling: false, label: 'weak right, ceiling wrong' },
  { key: 'weak-ceiling+', weak: false, ceiling: true, label: 'weak wrong, ceiling right (the weak supervisor cannot check these)' },
  { key: 'weak-ceiling-', weak: false, ceiling: false, label: 'weak wrong, ceiling wrong' },
] as const;
