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
  if (kind === 'judge') return `prompted judge ${rest} (both orders, all transcripts)`;
  if (kind === 'strong_by_judge') return `strong on judge ${rest} labels (w2s)`;
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
