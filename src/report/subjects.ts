/**
 * One vocabulary for what each measured subject is, shared by every view: the run table, `runs`, `compare`, `show`,
 * the report, `table` and the viewer. Every model has exactly two names, made here and nowhere else:
 *
 * - a short name ("member 0", "weak ensemble", "strong on weak ensemble", "strong on judge j1", "judge ensemble trio"):
 *   what columns, legends, pairs and transcripts call it;
 * - a long label ("weak member 0 (ground truth, debate transcript 0)", "strong on debate ensemble of 4 (debate
 *   transcripts, one each) labels (w2s)"): what the row really is, a debate or a finetune ensemble, of which protocol,
 *   of what size; with protocol "none" nothing is called "with debate".
 *
 * `subjectName` takes a stored subject (metrics rows: `member0`, `strong_by_judge:j1`, `weak@seed1`, …) or a model's
 * stored role and member (predictions rows: `{ role: 'weak_member', member: 0 }`); no view prints either raw form.
 */

/** The parts of a run's config a name depends on; a stored run's RunConfigView (queries.ts) is one. */
export interface SubjectContext {
  protocol?: string;
  ensembleKind?: string;
  ensembleSize?: number;
  /** The config's judge names in order (a strong_by_judge model's member is its judge's index, then the judge ensembles'). */
  judges?: readonly string[];
  /** The config's judge ensembles (judgeEnsembles): what names a judge ensemble rather than a judge. */
  judgeEnsembles?: readonly { name: string; members: readonly string[]; aggregate: string }[];
  /** The config's judges with the settings that change what they read (absent: the defaults). */
  judgeSettings?: readonly { name: string; samples?: number; orders?: string; transcripts?: readonly number[]; template?: string; reads?: string }[];
  /** The loss the strong models learn weak labels with (default: read from raw.strong.loss, else xent). */
  strongLoss?: string;
  /** The stored config, where the fields above do not say (RunConfigView carries it). */
  raw?: Record<string, unknown>;
}

/** What a long label leaves out because a table's axis already says it (`w2s table --cols protocol`, …). */
export interface LabelOmit {
  protocol?: boolean;
  ensembleSize?: boolean;
  loss?: boolean;
}

/** A stored subject, or a stored model by role and member (role may carry another training seed's "@seedN"). */
export type NameTarget = string | { role: string; member?: number };

export interface SubjectName {
  /** The stored subject the name is of (for a role without one, e.g. a cross-fitted fold, a key of the same shape). */
  subject: string;
  /** What columns, legends, pairs and transcripts print: "member 0", "strong on judge j1". */
  short: string;
  /** What the row is: "weak member 0 (ground truth, debate transcript 0)". */
  long: string;
}

/** How each aggregate combines its members, as a label says it: "mean of a, b". */
const AGGREGATE_WORDS: Record<string, string> = { mean: 'mean of', vote: 'vote of', 'logit-mean': 'logit-mean of', stacked: 'stacked on' };

/** "judge ensemble e (mean of a, b, c)", or "judge ensemble e" when the config does not say. */
function judgeEnsembleLabel(name: string, c: SubjectContext): string {
  const e = c.judgeEnsembles?.find((x) => x.name === baseName(name));
  if (!e || e.members.length === 0) return `judge ensemble ${name}`;
  return `judge ensemble ${name} (${AGGREGATE_WORDS[e.aggregate] ?? `${e.aggregate} of`} ${e.members.join(', ')})`;
}

/** True when the config names `name` as a judge ensemble (names are unique across judges and judge ensembles). */
const isJudgeEnsemble = (name: string, c: SubjectContext): boolean => c.judgeEnsembles?.some((e) => e.name === baseName(name)) ?? false;

/** A subject's name without another training seed's "@seedN" suffix. */
const baseName = (name: string): string => name.replace(/@seed\d+$/, '');

/**
 * What a prompted judge reads: "both orders, all transcripts" by default; otherwise what its settings say (a judge-alone
 * baseline reads no transcript: "the question alone", "the question and the passage").
 */
function judgeReads(name: string, c: SubjectContext): string {
  const j = c.judgeSettings?.find((x) => x.name === name);
  const orders = !j?.orders || j.orders === 'both' ? 'both orders' : `${j.orders} order only`;
  const transcripts = j?.reads === 'question' ? 'the question alone'
    : j?.reads === 'question-and-passage' ? 'the question and the passage'
    : !j?.transcripts?.length ? 'all transcripts' : `transcript${j.transcripts.length > 1 ? 's' : ''} ${j.transcripts.join(', ')}`;
  const extra = [j?.samples && j.samples > 1 ? `${j.samples} samples each` : '', j?.template ? `prompt ${j.template}` : ''].filter(Boolean);
  return [orders, transcripts, ...extra].join(', ');
}

/** True when the ensemble's members read different transcripts (a debate ensemble), not only different seeds. */
function isDebateEnsemble(c: SubjectContext): boolean {
  return c.ensembleKind === 'debate' && c.protocol !== undefined && c.protocol !== 'none';
}

/** The protocol as a label names it; "its protocol's" when a table's axis says which (protocol "none" always stays). */
const protocolWord = (c: SubjectContext, omit: LabelOmit): string | undefined =>
  omit.protocol && c.protocol !== undefined && c.protocol !== 'none' ? "its protocol's" : c.protocol;

/**
 * "debate ensemble of 4 (market transcripts, one each)" or "finetune ensemble of 4 (no debate)"; without the size or
 * the protocol where a table's axis says them.
 */
export function ensembleLabel(c: SubjectContext, omit: LabelOmit = {}): string {
  const size = omit.ensembleSize ? '' : ` of ${c.ensembleSize ?? '?'}`;
  const protocol = protocolWord(c, omit);
  if (isDebateEnsemble(c)) return `debate ensemble${size} (${protocol} transcripts, one each)`;
  const context = !c.protocol || c.protocol === 'none' ? 'no debate' : `${protocol} transcript 0, seeds differ`;
  return `finetune ensemble${size} (${context})`;
}

/** The strong models trained on weak labels (the ones a strong loss and a PGR apply to). */
const isW2s = (s: string): boolean => ['strong', 'strong_naive', 'strong_single', 'strong_finetune'].includes(s) || s.startsWith('strong_by_judge:');

function strongLossOf(c: SubjectContext): string {
  const raw = c.raw as { strong?: { loss?: unknown } } | undefined;
  return c.strongLoss ?? (typeof raw?.strong?.loss === 'string' ? raw.strong.loss : 'xent');
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/** The short names of the subjects that need no config; the rest are made by subjectName. */
const SHORT: Record<string, string> = {
  majority_class: 'majority class',
  weak: 'weak model',
  weak_ensemble: 'weak ensemble',
  weak_ensemble_vote: 'weak ensemble (vote)',
  weak_ensemble_finetune: 'finetune ensemble',
  strong_naive: 'strong on weak model',
  strong_single: 'strong on member 0',
  strong_finetune: 'strong on finetune ensemble',
  strong: 'strong on weak ensemble',
  strong_ceiling: 'strong ceiling',
  weak_labels: 'weak ensemble labels (train_strong)',
};

/** The short name of a subject that needs no config ("weak ensemble"): for column headers over many runs. */
export const SHORT_NAMES = SHORT as Readonly<Record<'majority_class' | 'weak' | 'weak_ensemble' | 'weak_ensemble_vote' | 'weak_ensemble_finetune' | 'strong_naive' | 'strong_single' | 'strong_finetune' | 'strong' | 'strong_ceiling', string>>;

/**
 * The stored subject of a model by its stored role and member (predictions and models rows): weak_member 2 is
 * "member2", strong_by_judge 1 is "strong_by_judge:<the second judge's name>" (after the judges come the judge
 * ensembles), judge_ensemble 0 is "judge_ensemble:<the first judge ensemble's name>". A role's "@seedN" is kept.
 */
export function subjectOfRole(role: string, member = 0, c: SubjectContext = {}): string {
  const seed = /@seed\d+$/.exec(role)?.[0] ?? '';
  const base = seed ? role.slice(0, -seed.length) : role;
  const judges = c.judges ?? c.judgeSettings?.map((j) => j.name) ?? [];
  const ensembles = c.judgeEnsembles ?? [];
  let subject: string;
  switch (base) {
    case 'weak_member': subject = `member${member}`; break;
    case 'weak_member_finetune': subject = `finetune_member${member}`; break;
    case 'weak_crossfit': subject = `weak_fold${member}`; break;
    case 'judge_ensemble': subject = `judge_ensemble:${ensembles[member]?.name ?? `#${member}`}`; break;
    case 'strong_by_judge': {
      const name = member < judges.length ? judges[member] : ensembles[member - judges.length]?.name;
      subject = `strong_by_judge:${name ?? `#${member}`}`;
      break;
    }
    default: subject = base;
  }
  return subject + seed;
}

/**
 * The short name and the long label of a stored subject, or of a stored model by role and member. `omit` leaves out of
 * the long label what a table's axis says (the short name never depends on it).
 */
export function subjectName(target: NameTarget, c: SubjectContext = {}, omit: LabelOmit = {}): SubjectName {
  const subject = typeof target === 'string' ? target : subjectOfRole(target.role, target.member ?? 0, c);
  const seed = /@seed(\d+)$/.exec(subject);
  if (seed) {
    const base = subjectName(subject.slice(0, seed.index), c, omit);
    return { subject, short: `${base.short} (seed ${seed[1]})`, long: `${base.long}, training seed ${seed[1]}` };
  }
  const [short, long] = names(subject, c, omit);
  return { subject, short, long };
}

function names(subject: string, c: SubjectContext, omit: LabelOmit): [short: string, long: string] {
  const [kind, rest] = splitOnce(subject, ':');
  if (kind === 'judge') return [`judge ${rest}`, `prompted judge ${rest} (${judgeReads(rest, c)})`];
  if (kind === 'judge_ensemble') return [`judge ensemble ${rest}`, judgeEnsembleLabel(rest, c)];
  if (kind === 'judge_pair') {
    const [a, b] = splitOnce(rest, '|');
    return [`judges ${a} and ${b}`, `judges ${a} and ${b} (agreement on test)`];
  }
  if (kind === 'region') {
    const region = KNOWLEDGE_REGIONS.find((r) => r.key === rest);
    return region ? [region.label, region.label] : [`knowledge region ${rest}`, `knowledge region ${rest}`];
  }
  if (kind === 'leak_audit') return [`leak audit (${rest})`, `leak audit of the ${rest} split`];
  if (kind === 'strong_by_judge') {
    const ensemble = isJudgeEnsemble(rest, c);
    const short = `strong on ${ensemble ? 'judge ensemble' : 'judge'} ${rest}`;
    return [short, w2sLong(subject, `strong on ${ensemble ? judgeEnsembleLabel(rest, c) : `judge ${rest}`} labels (w2s)`, c, omit)];
  }
  const member = /^(member|finetune_member|weak_fold)(\d+)$/.exec(subject);
  if (member) {
    const k = member[2]!;
    const noDebate = !c.protocol || c.protocol === 'none';
    const protocol = protocolWord(c, omit);
    if (member[1] === 'weak_fold') return [`weak model, fold ${k}`, `weak model, cross-fitted fold ${k} (ground truth, no debate; predicts the train_weak examples it did not train on)`];
    if (member[1] === 'finetune_member') {
      return [`finetune member ${k}`, `weak finetune-ensemble member ${k} (ground truth, seed ${k}${noDebate ? ', no debate' : `, ${protocol} transcript 0`})`];
    }
    if (isDebateEnsemble(c)) return [`member ${k}`, `weak member ${k} (ground truth, ${protocol} transcript ${k})`];
    return [`member ${k}`, `weak member ${k} (ground truth, seed ${k}${noDebate ? ', no debate' : `, ${protocol} transcript 0`})`];
  }
  const short = SHORT[subject];
  switch (subject) {
    case 'majority_class': return [short!, 'majority class of train_weak (constant)'];
    case 'weak': return [short!, 'weak model (ground truth, no debate)'];
    case 'weak_ensemble': return [short!, `weak ${ensembleLabel(c, omit)}, mean`];
    case 'weak_ensemble_vote': return [short!, `weak ${ensembleLabel(c, omit)}, vote`];
    case 'weak_ensemble_finetune': return [short!, `weak ${ensembleLabel({ ...c, ensembleKind: 'finetune' }, omit)}, mean`];
    case 'strong_single': return [short!, w2sLong(subject, `strong on weak member 0's labels (${protocolWord(c, omit) ?? '?'} transcript 0)`, c, omit)];
    case 'strong_finetune': return [short!, w2sLong(subject, `strong on ${ensembleLabel({ ...c, ensembleKind: 'finetune' }, omit)} labels (w2s)`, c, omit)];
    case 'strong_naive': return [short!, w2sLong(subject, 'strong on weak-model labels (naive w2s)', c, omit)];
    case 'strong': return [short!, w2sLong(subject, `strong on ${ensembleLabel(c, omit)} labels (w2s)`, c, omit)];
    case 'strong_ceiling': return [short!, 'strong ceiling (ground truth)'];
    case 'weak_labels': return [short!, "the weak ensemble's labels on train_strong"];
    // Not a name of ours: said in words, never as the raw identifier.
    default: return [subject.replace(/_/g, ' '), subject.replace(/_/g, ' ')];
  }
}

/**
 * A strong model's long label with what else sets it apart: the protocol a judge-trained model's judge read, and the
 * strong loss when it is not xent ("…; debate protocol, logconf loss").
 */
function w2sLong(subject: string, label: string, c: SubjectContext, omit: LabelOmit): string {
  const extra: string[] = [];
  if (subject.startsWith('strong_by_judge:') && !omit.protocol && c.protocol) extra.push(c.protocol === 'none' ? 'no debate' : `${c.protocol} protocol`);
  const loss = strongLossOf(c);
  if (isW2s(subject) && loss !== 'xent' && !omit.loss) extra.push(`${loss} loss`);
  return extra.length ? `${label}; ${extra.join(', ')}` : label;
}

/** The short name: `shortName('member0')` is "member 0", `shortName({ role: 'weak_member', member: 0 })` too. */
export const shortName = (target: NameTarget, c: SubjectContext = {}): string => subjectName(target, c).short;

/** The long label: what the row is. */
export const describeSubject = (target: NameTarget, c: SubjectContext = {}, omit: LabelOmit = {}): string => subjectName(target, c, omit).long;

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
