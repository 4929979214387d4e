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
import type { HfCompatibility } from '../compress/hf-files.js';
import type { SizeReport } from '../compress/size.js';
import type { RetentionFit } from '../scaling/retention.js';
import type { Interval } from '../probe/bootstrap.js';
import type { RetentionMode } from '../select/retention.js';

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

/** The reference points of one task: what retention is measured against, and what it starts from. */
export interface TaskReferences {
  /** test score of always predicting the most frequent training label (chance level for the metric) */
  majority: number;
  /** distinct labels in the training rows */
  classes: number;
  /** the subnetwork that keeps no layer (embeddings, and the final norm where there is one): gain's 0 */
  embeddings: { dev: number; test: number; lo: number; hi: number };
  /** the per-layer probe of hidden_states.0 (no final norm), for comparison with the probe table */
  embeddingsProbe: number;
  /** the full model's final representation: raw retention's denominator, gain's 1 */
  final: { dev: number; test: number; lo: number; hi: number };
  /** the best probed hidden state of the full model, chosen on dev (0 = embeddings, i = output of block i - 1),
   * with its test score and CI */
  best: { state: number; test: number; lo: number; hi: number };
  /** final minus embeddings, paired bootstrap 95% CI over the split's units */
  layersAdd: { dev: Interval; test: Interval };
  /** why gain retention is not a number for this task (one class; layers add nothing beyond noise), per split */
  gainUndefined: { dev?: string; test?: string };
}

export interface MethodResult {
  method: string;
  /** kept layers (block indices 0..L-1); empty for the random baseline, which is a mean over seeds */
  layers: number[];
  parameters: number;
  /** raw test retention (weighted score / final layer) with its bootstrap 95% CI (same resamples for the
   * subset and the references); per-task test scores with CIs and per-task gain */
  retention: number;
  retentionCI?: [number, number];
  /** gain test retention (weighted over tasks whose references are not degenerate) and its 95% CI */
  gain?: number;
  gainCI?: [number, number];
  scores: SubsetScore['scores'];
  /** dev retention in the run's retentionMode (ProbeScale only: what selection saw) */
  devRetention?: number;
  /** random subsets: standard deviation over seeds */
  sd?: number;
  gainSd?: number;
  /** ProbeScale's test retention minus this method's, paired bootstrap 95% CI; above = share of resamples > 0 */
  probescaleMinus?: { diff: number; lo: number; hi: number; above: number };
  /** the same in gain retention (floor cancels: the raw difference rescaled per task by final / (final - embeddings)) */
  probescaleMinusGain?: { diff: number; lo: number; hi: number; above: number };
  /** per task: raw and gain test retention with bootstrap 95% CIs, and ProbeScale minus this method on that task
   * alone (paired); absent for the random mean and in results written before it existed */
  perTask?: Record<string, TaskRetention>;
}

export interface TaskRetention {
  raw: number;
  rawCI: [number, number];
  /** absent when the task's gain is degenerate on test (references.gainUndefined.test says why) */
  gain?: number;
  gainCI?: [number, number];
  probescaleMinus?: { diff: number; lo: number; hi: number; above: number };
  probescaleMinusGain?: { diff: number; lo: number; hi: number; above: number };
}

export interface BudgetResult {
  budget: string;
  kind: Budget['kind'];
  allowed: number;
  /** the most layers the budget holds (ProbeScale may keep fewer: a budget is a ceiling) */
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
  /** the retention the curve is fitted on (the run's retentionMode) */
  mode: RetentionMode;
  fit: RetentionFitRecord;
  /** smallest kept fraction the curve predicts keeps 95% / 98%, never below smallestFeasible (absent when never) */
  for95?: number;
  for98?: number;
  /** fixed cost + the cheapest layer, as a fraction of the full model */
  smallestFeasible: number;
  /** the curve's prediction at smallestFeasible: a target below it is met by any model */
  floor: number;
}

export interface CompressedResult {
  dir: string;
  /** Which tools load the written folder (compress/hf-files.ts). */
  compat?: HfCompatibility;
  layers: number[];
  healed: boolean;
  healing?: { devRetentionHealed: number; devRetentionUnhealed: number; used: boolean };
  vocabTrimmed: boolean;
  parameters: number;
  verification: Record<string, VerifiedTask>;
  measured: { full: Measurement; compressed: Measurement };
  /** the written model's FLOPs per token over the full model's, next to its measured batch-32 latency ratio */
  compute: { flopRatio: number; latencyRatioBatch32: number };
  /** bytes on disk next to parameters, and each written file's size against the original checkpoint factor by factor (compress/size.ts) */
  size: SizeReport;
  /** with --quantize int8: model_quantized.onnx verified the same way */
  quantized?: { file: string; verification: Record<string, VerifiedTask>; measured: Measurement };
}

export interface RunResults {
  model: string;
  modelHash: string;
  date: string;
  tasks: TaskEntry[];
  /** what selection, the curve and its answers used */
  retentionMode: RetentionMode;
  reference: Reference;
  references: Record<string, TaskReferences>;
  /** test retention of the subnetwork with no layers */
  embeddingsOnly: { retention: number; gain?: number };
  probes: TaskResult[];
  relevance: Relevance;
  blockInfluence: number[];
  parameters: { full: number; perLayer: number[]; fixed: number };
  budgets: BudgetResult[];
  scaling?: Scaling;
  compressed: CompressedResult;
  seconds: number;
}
