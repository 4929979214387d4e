/**
 * The results contract: what `probescale run` returns and writes to results.json, read back by the report
 * and by `probescale predict`. One definition, so writer and readers cannot drift apart. It lives with the
 * report (the last stage of the flow) so every stage's types can feed it and the pipeline above can use it.
 */
import type { Metric, TaskKind } from '../data/types.js';
import type { TaskResult } from '../probe/suite.js';
import type { Relevance } from '../select/relevance.js';
import type { Budget } from '../select/budget.js';
import type { SubsetScore } from '../select/evaluate.js';
import type { VerifiedTask } from '../verify/heads.js';
import type { Measurement } from '../verify/measure.js';
import type { RetentionFit } from '../scaling/retention.js';

export interface TaskEntry {
  name: string;
  kind: TaskKind;
  metric: Metric;
  weight: number;
  description: string;
  source: string;
}

/** Per task and split, the score of the same probe type on the full model's final representation. */
export type Reference = Record<string, Record<'dev' | 'test', number>>;

export interface MethodResult {
  method: string;
  /** kept layers (block indices 0..L-1); empty for the random baseline, which is a mean over seeds */
  layers: number[];
  parameters: number;
  /** test retention (weighted) and per-task test scores */
  retention: number;
  scores: SubsetScore['scores'];
  devRetention?: number;
  sd?: number;
  /** ProbeScale's test retention minus this method's, paired bootstrap 95% CI; above = share of resamples > 0 */
  probescaleMinus?: { diff: number; lo: number; hi: number; above: number };
}

export interface BudgetResult {
  budget: string;
  kind: Budget['kind'];
  allowed: number;
  keptLayers: number;
  additive: { layers: number[]; devRetention: number; exact: boolean };
  search: { layers: number[]; devRetention: number; method: string; evaluated: number };
  winner: 'additive' | 'search';
  /** ProbeScale first, then every baseline of select/registry.ts, then the random mean */
  methods: MethodResult[];
}

/** A fitted retention curve as stored: `raw` holds the optimizer's parameters as a plain array. */
export type RetentionFitRecord = Omit<RetentionFit, 'raw'> & { raw: number[] };

export interface Scaling {
  fit: RetentionFitRecord;
  /** smallest kept fraction the curve predicts keeps 95% (absent when it never does) */
  for95?: number;
}

export interface CompressedResult {
  dir: string;
  layers: number[];
  healed: boolean;
  healing?: { devRetentionHealed: number; devRetentionUnhealed: number; used: boolean };
  vocabTrimmed: boolean;
  parameters: number;
  verification: Record<string, VerifiedTask>;
  measured: { full: Measurement; compressed: Measurement };
}

export interface RunResults {
  model: string;
  modelHash: string;
  date: string;
  tasks: TaskEntry[];
  reference: Reference;
  probes: TaskResult[];
  relevance: Relevance;
  blockInfluence: number[];
  parameters: { full: number; perLayer: number[]; fixed: number };
  budgets: BudgetResult[];
  scaling?: Scaling;
  compressed: CompressedResult;
  seconds: number;
}
