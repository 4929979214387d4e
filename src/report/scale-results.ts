/**
 * The scale study's results contract (OUT/results.json of `probescale study scale`): per model the `run`
 * pipeline's budgets with the kept fraction each stands for, the ProbeScale law's fit and its
 * leave-one-model-out errors, and the prune-vs-train pairs. Written by pipeline/scale.ts, read by report/scale.ts.
 */
import type { BudgetResult, TaskReferences } from './results.js';
import type { RetentionMode } from '../select/retention.js';
import type { SentencePooling } from '../features/task-rows.js';
import type { ComposedHeldOut, HeldOutError, LawFit, LawPoint, ModelDecomposition } from '../scaling/probescale-law.js';

/** One budget of one model: the pipeline's BudgetResult with the kept fraction it stands for. */
export interface ScaleBudget extends BudgetResult {
  /** the kept fraction of layer parameters asked for; null for a budget added for a prune-vs-train pair */
  k: number | null;
  /** the fraction ProbeScale's subset actually keeps (whole layers fit under k) */
  kKept: number;
  /** ProbeScale's test gain against the full model's best layer (law.best.models says per task which
   * reference); absent where no task has one, and in studies written before version 2 */
  gainVsBest?: number;
}

export interface ScaleModel {
  name: string;
  path: string;
  family: string;
  layers: number;
  /** non-embedding parameters: the sum of the layers' (the law's N) */
  N: number;
  /** embeddings, final norm and head: paid whatever is kept */
  fixed: number;
  total: number;
  /** the run's selection retention (gain unless no task's layers add anything measurable on dev) */
  retentionMode: RetentionMode;
  pooling: SentencePooling;
  references: Record<string, TaskReferences>;
  budgets: ScaleBudget[];
  /** fractions that could not hold one layer of this model */
  skipped: number[];
  /** the run folder (results.json, report.html, the written model of the first budget) */
  runDir: string;
  seconds: number;
}

export interface PairTask {
  task: string;
  metric: string;
  units: number;
  pruned: { score: number; lo: number; hi: number };
  small: { score: number; lo: number; hi: number };
  /** pruned - small, paired bootstrap 95% CI over the same test units */
  diff: { score: number; lo: number; hi: number; above: number };
  verdict: PairVerdict;
}

export type PairVerdict = 'pruned better' | 'small better' | 'within noise';

/** A paired difference (pruned - other) is a verdict only when its 95% CI excludes 0. */
export const pairVerdict = (d: { lo: number; hi: number }): PairVerdict => (d.lo > 0 ? 'pruned better' : d.hi < 0 ? 'small better' : 'within noise');

export interface PairResult {
  big: string;
  small: string;
  /** ProbeScale's subset of the big model at the small model's layer parameters */
  layers: number[];
  bigLayers: number;
  keptParameters: { layers: number; total: number };
  smallParameters: { layers: number; total: number };
  tasks: PairTask[];
  /** weighted over tasks (the run's task weights), paired bootstrap */
  weighted: { score: number; lo: number; hi: number; above: number };
  /** median batch latency (calibration batch of the same task texts, each model's own tokenizer), ms */
  latency: { prunedMs: number; smallMs: number; ratio: number; rounds: number };
  /** the small model cut after each task's dev-chosen best layer (absent in studies written before it) */
  smallBest?: PairSmallBest;
  /** at equal measured latency instead of equal parameters (absent in studies written before it) */
  equalLatency?: PairEqualLatency;
}

/**
 * The big model at the small model's measured latency: of ProbeScale's choices at the study's budgets for the big
 * model, the best on dev whose median batch latency, measured in the same rounds as the small model's, is at
 * most the small model's; scored against the small model like the equal-parameter subset. No new selection is
 * run, so this is the best of the choices the study made, not a search at a latency budget.
 */
export interface PairEqualLatency {
  /** every distinct choice measured: its layers, dev retention (the run's selection mode) and median latency */
  candidates: { layers: number[]; devRetention: number; latencyMs: number }[];
  smallMs: number;
  /** the chosen subset, or undefined when none is as fast as the small model */
  layers?: number[];
  latencyMs?: number;
  parameters?: { layers: number; total: number };
  tasks?: PairTask[];
  weighted?: { score: number; lo: number; hi: number; above: number };
}

/**
 * The small model's own cheapest strong alternative: truncated after each task's best hidden state (chosen on
 * dev in its run), probed the same way. Generous to it: each task gets its own depth, and every such
 * truncation holds at most the small model's parameters, so a pruned model that beats it beats the small model
 * trained from scratch however that one is cut.
 */
export interface PairSmallBest {
  tasks: (Omit<PairTask, 'small'> & { state: number; truncated: { score: number; lo: number; hi: number } })[];
  weighted: { score: number; lo: number; hi: number; above: number };
  /** the deepest of the tasks' best states: what serving every task needs, with its parameters and latency */
  state: number;
  parameters: { layers: number; total: number };
  latencyMs: number;
  /** pruned / truncated small, median batch latency measured in the same rounds */
  ratio: number;
}

/** The law fitted to gain vs the best layer in one variant (k, or k counted up to each task's best layer). */
export interface BestLawVariant {
  fit?: LawFit;
  sizeFree?: LawFit;
  heldOut?: HeldOutError[];
  /** the G_best law fitted on every point, composed with each model's R, against the measured G_final points */
  composed?: { rmse: number; points: number };
  /** the same held out: G_best's law fitted without the model */
  composedHeldOut?: ComposedHeldOut[];
}

/** The law on gain against the best layer, and the decomposition G_final = R * G_best (version 2). */
export interface BestLaw {
  /** ProbeScale's test gain vs the best layer per model and budget (points where it is defined), with the
   * tasks each averages (weight, best layer's depth) */
  points: LawPoint[];
  /** per model: each task's best-layer reference (or why it is degenerate), its depth and R = (best - e) / (final - e) */
  models: ModelDecomposition[];
  /** G_best(k, N), the same form as the final-layer law */
  k: BestLawVariant;
  /** G_best(min(1, k / depth), N) per task: k counted in the layers up to the task's best one */
  depth: BestLawVariant;
  note?: string;
}

export interface ScaleResults {
  /** 2: law.best (gain vs the best layer, the decomposition) and budgets' gainVsBest; absent in version-1 studies */
  version?: number;
  date: string;
  /** the options of the study as given (ScaleOptions of pipeline/scale.ts without the log function) */
  options: Record<string, unknown>;
  tasks: { name: string; weight: number; metric: string }[];
  models: ScaleModel[];
  law: {
    formula: string;
    /** ProbeScale's test gain retention per model and budget (points where it is defined) */
    points: LawPoint[];
    fit?: LawFit;
    sizeFree?: LawFit;
    heldOut?: HeldOutError[];
    /** why the fit or the held-out check is missing */
    note?: string;
    best?: BestLaw;
  };
  pairs: PairResult[];
  seconds: number;
}

