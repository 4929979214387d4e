/**
 * Probe every layer of a model for each task: one forward pass per split (features cached on disk), then
 * per layer a probe fitted on train with its regularization chosen on dev, scored on test with a bootstrap
 * confidence interval, plus — on request — the control-task selectivity and the MDL online codelength.
 */
import { startProgress } from '../util/progress.js';
import type { Engine } from '../engine/engine.js';
import type { Task } from '../data/types.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { extractFeatures, featurePlan, type FeaturePlan, type FeatureSet } from '../features/extract.js';
import { taskRows, type RowOptions, type TaskRows } from '../features/task-rows.js';
import { maxSequenceTokens } from '../engine/load.js';
import type { Matrix } from '../features/matrix.js';
import { LogisticProbe } from './logistic.js';
import { RidgeProbe } from './ridge.js';
import { MlpProbe } from './mlp.js';
import { makeControlLabels, labelDistribution } from './control.js';
import { mdlOnlineCode, type MdlResult } from './mdl.js';
import { bootstrapCI } from './bootstrap.js';
import { summarizeLayers, type LayerSummary } from './layers.js';
import { makeScorer } from './scoring.js';
import { mulberry32, permutation } from './random.js';
import { accuracy, type Probe } from './types.js';
import { ProbeSessions } from './sessions.js';
import { ProbescaleError } from '../util/errors.js';

import type { Precision } from '../engine/graph.js';

export type ProbeKind = 'logistic' | 'ridge' | 'mlp';

export interface SuiteOptions extends RowOptions {
  probe?: ProbeKind;
  control?: boolean;
  mdl?: boolean;
  bootstrap?: number;
  seed?: number;
  cacheDir: string;
  dtype?: 'f32' | 'f16';
  progress?: boolean;
  /** only these hidden-state indices (default: all) */
  layers?: number[];
  /** onnxruntime threads for forward passes and probe fits (default: every core) */
  threads?: number;
  /** linear-layer precision of the engines built for subsets (select/evaluate) */
  precision?: Precision;
  /** scale-out: feature shards and per-layer fits run as jobs on workers (src/distribute); absent, all in-process */
  distribute?: Distributor;
}

/** Where a probing run's units of work run when they do not run here (implemented by src/distribute). */
export interface Distributor {
  /** a split's features computed by jobs (feature shards) and read from their parts, with no assembled copy */
  features(task: Task, split: 'train' | 'dev' | 'test', plan: FeaturePlan, opts: SuiteOptions): Promise<FeatureSet>;
  /** the per-layer results of probeLayer for these layers, each fitted by a job */
  fitLayers(task: Task, keys: { train: string; dev: string; test: string }, layers: number[], opts: SuiteOptions): Promise<LayerResult[]>;
}

export interface LayerResult {
  layer: number;
  /** dev score of the probe whose C was chosen on dev (used for selection; test is for reporting) */
  dev: number;
  score: number;
  lo: number;
  hi: number;
  control?: number;
  selectivity?: number;
  mdl?: Pick<MdlResult, 'onlineBits' | 'uniformBits' | 'compression'>;
  hyper?: number;
  seconds: number;
}

export interface TaskResult {
  task: string;
  kind: Task['kind'];
  metric: Task['metric'];
  labels: string[];
  rows: { train: number; dev: number; test: number };
  /** examples (sentences, pairs) per split, and what of them did not fit the model's positions (windowed,
   * cut, left out: TaskRows.overflow), so a report can say how many test units were scored */
  examples?: { train: number; dev: number; test: number };
  overflow?: Record<'train' | 'dev' | 'test', TaskRows['overflow']>;
  layers: LayerResult[];
  summary: LayerSummary;
  /** test score of always predicting the most frequent training label (the trivial baseline; chance level) */
  majority: number;
  /** distinct labels among the training rows */
  classes: number;
  featureSeconds: number;
  /** some split's features were read from the cache (featureSeconds then times reads, not only forward passes) */
  featuresFromCache: boolean;
  probeSeconds: number;
}

export function makeProbe(kind: ProbeKind, K: number, seed: number, C?: number, threads?: number): Probe {
  switch (kind) {
    case 'ridge':
      return new RidgeProbe(K);
    case 'mlp':
      return new MlpProbe(K, { seed });
    default:
      return new LogisticProbe(K, C === undefined ? { threads } : { C, threads });
  }
}

const warned = new Set<string>();
/** Say (once per task and split) what did not fit the positions, with counts, instead of dropping it silently. */
function warnOverflow(task: Task, split: string, rows: TaskRows, maxTokens: number): void {
  const o = rows.overflow;
  const key = `${task.name}/${split}/${maxTokens}`;
  if (warned.has(key) || (o.windowed === 0 && o.truncated === 0 && o.droppedEdges === 0 && o.droppedWords === 0)) return;
  warned.add(key);
  const n = task.splits[split as 'train'].length;
  const parts: string[] = [];
  if (o.windowed) parts.push(`${o.windowed} of ${n} sentences are longer than ${maxTokens} tokens and were split into windows (${task.kind === 'edge' ? 'every edge whose two words fit in one window is scored' : 'every word is scored'})`);
  if (o.truncated) parts.push(`${o.truncated} of ${n} texts were cut to ${maxTokens} tokens (scored on the part that fits)`);
  if (o.droppedEdges) parts.push(`${o.droppedEdges} edges span more than one window of ${maxTokens} tokens and could not be scored`);
  if (o.droppedWords) parts.push(`${o.droppedWords} words could not be placed in any window and were left out`);
  console.warn(`probescale: warning: ${task.name} ${split}: ${parts.join('; ')}`);
}

export interface SplitFeatures {
  rows: TaskRows;
  features: FeatureSet;
}

/** A split's feature rows (sequences, pooled ranges, labels) for a model with this position table. */
export function splitRows(arch: Engine['model']['arch'], tok: TextTokenizer, task: Task, split: 'train' | 'dev' | 'test', opts: RowOptions): TaskRows {
  // never longer than the model's position table: longer inputs are truncated (words past the cut dropped)
  const maxTokens = Math.min(opts.maxTokens ?? 256, maxSequenceTokens(arch));
  const rows = taskRows(task, task.splits[split], tok, { ...opts, maxTokens });
  if (rows.rows.length === 0) throw new ProbescaleError(`task ${task.name}: the ${split} split produced no rows`, { file: task.source, fix: 'check that the split has examples the tokenizer can encode' });
  warnOverflow(task, split, rows, maxTokens);
  return rows;
}

export async function splitFeatures(engine: Engine, tok: TextTokenizer, task: Task, split: 'train' | 'dev' | 'test', opts: SuiteOptions): Promise<SplitFeatures> {
  const rows = splitRows(engine.model.arch, tok, task, split, opts);
  if (opts.distribute) return { rows, features: await opts.distribute.features(task, split, featurePlan(engine, rows.seqs, rows.rows, { dtype: opts.dtype }), opts) };
  const features = await extractFeatures(engine, rows.seqs, rows.rows, { cacheDir: opts.cacheDir, label: `${task.name}/${split}`, dtype: opts.dtype, progress: opts.progress });
  return { rows, features };
}

/** Class predictions; a logistic probe runs large inputs on a pooled onnxruntime session. */
export async function predictRows(probe: Probe, X: Matrix, sessions?: ProbeSessions): Promise<Int32Array> {
  return sessions && probe instanceof LogisticProbe ? probe.predictWith(X, sessions) : probe.predict(X);
}

/** Fit on train (C on dev) and score on test for one feature layer. `sessions`: onnxruntime sessions shared
 * with the task's other layers (same shapes). */
export async function probeOneLayer(task: Task, train: { X: Matrix; y: Int32Array }, dev: { X: Matrix; y: Int32Array }, test: { X: Matrix; rows: TaskRows }, opts: Pick<SuiteOptions, 'probe' | 'bootstrap' | 'seed' | 'threads'>, sessions?: ProbeSessions) {
  const K = task.labels.length;
  const probe = await makeProbe(opts.probe ?? 'logistic', K, opts.seed ?? 0, undefined, opts.threads).fit(train.X, train.y, { dev, sessions });
  const pred = await predictRows(probe, test.X, sessions);
  const scorer = makeScorer(task, test.rows);
  const ci = bootstrapCI(scorer.units, scorer.forPredictions(pred), { B: opts.bootstrap ?? 1000, seed: opts.seed ?? 0 });
  const hyper = probe instanceof LogisticProbe ? probe.chosenC : probe instanceof RidgeProbe ? probe.chosenAlpha : undefined;
  return { probe, pred, ci, hyper, scorer };
}

/** What a probing run over these tasks cost: feature seconds, probe seconds, and the whole run over the forward
 * passes it needs (the 1.15x budget), which only means that when no split came from the feature cache. */
export function probingTime(results: TaskResult[]): { featureSeconds: number; probeSeconds: number; overForward?: number } {
  const featureSeconds = results.reduce((a, r) => a + r.featureSeconds, 0);
  const probeSeconds = results.reduce((a, r) => a + r.probeSeconds, 0);
  const overForward = results.some((r) => r.featuresFromCache) ? undefined : (featureSeconds + probeSeconds) / Math.max(featureSeconds, 1e-9);
  return { featureSeconds, probeSeconds, overForward };
}

/** Control-task labels for the train and test rows: one random label per word type, drawn from the training
 * label distribution (Hewitt & Liang), the same map for both splits. */
function controlLabels(train: TaskRows, test: TaskRows, K: number, seed: number): { train: Int32Array; test: Int32Array } {
  const dist = labelDistribution(train.labels, K);
  return { train: makeControlLabels(train.rowWord, dist, seed), test: makeControlLabels(test.rowWord, dist, seed) };
}

/** The task metric of always predicting the most frequent training label on test, and the class count. */
export function majorityBaseline(task: Task, trainLabels: Int32Array, test: TaskRows, K: number): { majority: number; classes: number } {
  const counts = new Int32Array(K);
  for (const y of trainLabels) counts[y]++;
  let top = 0;
  for (let k = 1; k < K; k++) if (counts[k] > counts[top]) top = k;
  return { majority: makeScorer(task, test).score(new Int32Array(test.labels.length).fill(top)), classes: counts.filter((c) => c > 0).length };
}

/** What every layer of a task shares: control labels (a fixed random label per word type) and the MDL row order
 * depend on the task, not the layer, so they are made once. */
export interface LayerContext {
  control?: { train: Int32Array; test: Int32Array };
  mdlOrder?: Int32Array | number[];
  mdlLabels?: Int32Array;
  reuse: { tr?: Float32Array; dv?: Float32Array; te?: Float32Array };
  sessions: ProbeSessions;
}

export function layerContext(task: Task, tr: SplitFeatures, te: SplitFeatures, opts: SuiteOptions, sessions: ProbeSessions): LayerContext {
  const K = task.labels.length;
  const control = opts.control && task.kind === 'token' ? controlLabels(tr.rows, te.rows, K, (opts.seed ?? 0) + 7) : undefined;
  const mdlOrder = opts.mdl ? permutation(tr.rows.labels.length, mulberry32((opts.seed ?? 0) + 11)) : undefined;
  const mdlLabels = mdlOrder && Int32Array.from(mdlOrder, (src) => tr.rows.labels[src]);
  return { control, mdlOrder, mdlLabels, reuse: {}, sessions };
}

/** One representation of one task: the probe fitted on train (C on dev), scored on dev and test, with control
 * selectivity and MDL on request. The unit a scale-out fit job runs, so both give the same numbers. */
export async function probeLayer(task: Task, tr: SplitFeatures, dv: SplitFeatures, te: SplitFeatures, l: number, ctx: LayerContext, opts: SuiteOptions): Promise<LayerResult> {
  const K = task.labels.length;
  const { control, mdlOrder, mdlLabels, reuse, sessions } = ctx;
  const ls = performance.now();
  // one buffer per split, refilled layer after layer (fresh multi-megabyte arrays cost page faults), and one
  // set of onnxruntime sessions: every layer's matrices have the same shapes
  const Xtr = tr.features.load(l, reuse.tr);
  const Xdv = dv.features.load(l, reuse.dv);
  const Xte = te.features.load(l, reuse.te);
  Object.assign(reuse, { tr: Xtr.data, dv: Xdv.data, te: Xte.data });
  const { ci, hyper, probe, pred } = await probeOneLayer(task, { X: Xtr, y: tr.rows.labels }, { X: Xdv, y: dv.rows.labels }, { X: Xte, rows: te.rows }, opts, sessions);
  const dev = makeScorer(task, dv.rows).score(await predictRows(probe, Xdv, sessions));
  const res: LayerResult = { layer: l, dev, score: ci.score, lo: ci.lo, hi: ci.hi, hyper, seconds: 0 };
  if (control) {
    // same probe, same hyperparameters, labels replaced by a fixed random label per word type
    const p = await makeProbe(opts.probe ?? 'logistic', K, opts.seed ?? 0, hyper, opts.threads).fit(Xtr, control.train, { sessions });
    res.control = accuracy(control.test, await predictRows(p, Xte, sessions));
    // the task probe above was fitted at the same C (the problem is convex, so warm starts do not matter)
    res.selectivity = accuracy(te.rows.labels, pred) - res.control;
  }
  if (mdlOrder && mdlLabels) {
    const Xs = sessions.scratch('mdl-rows', Xtr.data.length);
    mdlOrder.forEach((src, dst) => Xs.set(Xtr.data.subarray(src * Xtr.cols, (src + 1) * Xtr.cols), dst * Xtr.cols));
    const m = await mdlOnlineCode({ data: Xs, rows: Xtr.rows, cols: Xtr.cols }, mdlLabels, K, (k) => makeProbe(opts.probe ?? 'logistic', k, opts.seed ?? 0, hyper ?? 1, opts.threads), undefined, { sessions });
    res.mdl = { onlineBits: m.onlineBits, uniformBits: m.uniformBits, compression: m.compression };
  }
  res.seconds = (performance.now() - ls) / 1000;
  return res;
}

export async function probeTask(engine: Engine, tok: TextTokenizer, task: Task, opts: SuiteOptions): Promise<TaskResult> {
  const t0 = performance.now();
  const split = (s: 'train' | 'dev' | 'test') => splitFeatures(engine, tok, task, s, opts);
  // scale-out: the three splits' shards are queued at once, so workers are not idle behind a split barrier
  const [tr, dv, te] = opts.distribute ? await Promise.all([split('train'), split('dev'), split('test')]) : [await split('train'), await split('dev'), await split('test')];
  const featureSeconds = (performance.now() - t0) / 1000;
  const K = task.labels.length;
  const layers = opts.layers ?? Array.from({ length: tr.features.layers }, (_, l) => l);
  let results: LayerResult[] = [];
  const t1 = performance.now();
  if (opts.distribute) {
    results = await opts.distribute.fitLayers(task, { train: tr.features.key, dev: dv.features.key, test: te.features.key }, layers, opts);
  } else {
    const bar = startProgress(`probing ${task.name}`, layers.length, { unit: 'layers', enabled: !!opts.progress });
    const sessions = new ProbeSessions(opts.threads);
    try {
      const ctx = layerContext(task, tr, te, opts, sessions);
      for (const l of layers) {
        results.push(await probeLayer(task, tr, dv, te, l, ctx, opts));
        bar.increment();
      }
    } finally {
      await sessions.release();
    }
    bar.stop();
  }
  const { majority, classes } = majorityBaseline(task, tr.rows.labels, te.rows, K);
  return {
    task: task.name,
    kind: task.kind,
    metric: task.metric,
    labels: task.labels,
    rows: { train: tr.rows.rows.length, dev: dv.rows.rows.length, test: te.rows.rows.length },
    examples: { train: task.splits.train.length, dev: task.splits.dev.length, test: task.splits.test.length },
    overflow: { train: tr.rows.overflow, dev: dv.rows.overflow, test: te.rows.overflow },
    layers: results,
    summary: summarizeLayers(results),
    majority,
    classes,
    featureSeconds,
    featuresFromCache: [tr, dv, te].some((s) => s.features.fromCache),
    probeSeconds: (performance.now() - t1) / 1000,
  };
}
