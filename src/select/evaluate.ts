/**
 * Scoring a layer subset by running it: the subnetwork (engine layer list, optional healing bridges)
 * produces its final representation for every task split, a probe is trained on train and scored on dev
 * (selection) or test (reporting). Raw retention = score / the full model's, gain retention = the share of
 * what the layers add over the embeddings (retention.ts), aggregated with task weights. Scores and
 * predictions are cached per subset (retention is recomputed from them, so it always uses the current
 * references); features are cached on disk per subnetwork.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { Task } from '../data/types.js';
import { Engine } from '../engine/engine.js';
import type { GraphOptions } from '../engine/family.js';
import { splitFeatures, splitRows, probeOneLayer, predictRows, type SuiteOptions } from '../probe/suite.js';
import { ProbeSessions } from '../probe/sessions.js';
import { LogisticProbe } from '../probe/logistic.js';
import { makeScorer, type Scorer } from '../probe/scoring.js';
import { jointBootstrap, pairedBootstrapDiff, type Interval } from '../probe/bootstrap.js';
import { differenceWeights, gainDegenerate, taskGain, weightedRetention, type RetentionMode, type SplitReference } from './retention.js';

/** Per task and split, the reference points retention is measured against. */
export type References = Record<string, Record<'dev' | 'test', SplitReference>>;

export interface SubsetScore {
  layers: number[];
  /** task -> score (test scores carry a bootstrap CI) and gain retention (absent when degenerate) */
  scores: Record<string, { score: number; lo?: number; hi?: number; gain?: number }>;
  /** raw retention: weighted mean of score / full model's final layer */
  retention: number;
  /** gain retention: weighted mean over tasks with non-degenerate references (absent when there is none) */
  gain?: number;
}

export interface Evaluator {
  evaluate(layers: number[], split: 'dev' | 'test', bridges?: GraphOptions['bridges']): Promise<SubsetScore>;
  /**
   * Test retention of subset `a` minus subset `b` with a paired bootstrap 95% CI (same resampled test units
   * for both, per task); both must have been evaluated on test already. `above`: share of resamples > 0.
   */
  compare(a: number[], b: number[], B?: number, seed?: number, mode?: RetentionMode, task?: string): Interval & { above: number };
  /**
   * Bootstrap 95% CI of subset `a`'s retention on a split, resampling the split's units once for the
   * subset, the full model and the embeddings together (all three evaluated on that split already).
   * `task`: that task alone (compare and retentionCI both), instead of the weighted mean over tasks.
   */
  retentionCI(a: number[], split: 'dev' | 'test', mode: RetentionMode, B?: number, seed?: number, task?: string): Interval | undefined;
  /** Per task: the full model's final-layer score minus the embeddings', paired bootstrap 95% CI on a split. */
  layersAdd(split: 'dev' | 'test', B?: number, seed?: number): Record<string, Interval>;
  /**
   * Score these subsets on a split ahead of evaluate() (which then reads them from the cache): with a remote
   * runner all at once, as scale-out jobs; in-process a no-op (evaluate runs each when asked).
   */
  prefetch(subsets: number[][], split: 'dev' | 'test'): Promise<void>;
  /** how many subsets prefetch runs at once (1 in-process) */
  width(): Promise<number>;
  /** number of distinct subnetworks run so far */
  runs: number;
  /** frees the probe sessions kept for later evaluations */
  release(): Promise<void>;
}

/** Cache key of a subset's scores (and test predictions) for one split. */
const subsetKey = (split: 'dev' | 'test', layers: number[], healed = false) => `${split}:${layers.join(',')}:${healed ? 'healed' : ''}`;

export function makeEvaluator(model: LoadedModel, tok: TextTokenizer, tasks: Task[], weights: number[], opts: SuiteOptions, reference: () => References, remote?: SubsetRunner): Evaluator {
  const cache = new Map<string, SubsetScore['scores']>();
  // predictions per split, subset and task, and the (subset-independent) scorer per split and task, for the
  // paired bootstraps
  const preds = new Map<string, Record<string, Int32Array>>();
  const scorers: Record<'dev' | 'test', Record<string, Scorer>> = { dev: {}, test: {} };
  // the split's rows (and so its scorer) are the same for every subnetwork of this model: built once here,
  // whether the subset was scored in this process or by a worker
  const scorer = (split: 'dev' | 'test', task: Task) => (scorers[split][task.name] ??= makeScorer(task, splitRows(model.arch, tok, task, split, opts)));
  const weighted = tasks.map((t, i) => ({ name: t.name, weight: weights[i] }));
  const L = model.arch.layers;
  const full = Array.from({ length: L }, (_, l) => l);
  const predsOf = (split: 'dev' | 'test', layers: number[]) => {
    const p = preds.get(subsetKey(split, layers));
    if (!p) throw new Error(`evaluate [${layers}] on ${split} first`);
    return p;
  };
  const splitRefs = (split: 'dev' | 'test') => Object.fromEntries(tasks.map((t) => [t.name, reference()[t.name][split]]));
  const withRetention = (layers: number[], split: 'dev' | 'test', scores: SubsetScore['scores']): SubsetScore => {
    const refs = splitRefs(split);
    const plain = Object.fromEntries(tasks.map((t) => [t.name, scores[t.name].score]));
    const perTask = Object.fromEntries(tasks.map((t) => [t.name, { ...scores[t.name], gain: taskGain(scores[t.name].score, refs[t.name]) }]));
    return { layers, scores: perTask, retention: weightedRetention(plain, refs, weighted, 'raw')!, gain: weightedRetention(plain, refs, weighted, 'gain') };
  };
  // one probe session pool per task: every subset gives that task's probes the same matrix shapes (the
  // final representation's width, the task's rows), so the graphs and buffers are built once, not per subset
  const pools = new Map<string, ProbeSessions>();
  const poolFor = (task: Task) => pools.get(task.name) ?? pools.set(task.name, new ProbeSessions(opts.threads)).get(task.name)!;
  const record = (key: string, r: SubsetOutcome) => {
    cache.set(key, r.scores);
    preds.set(key, r.preds);
  };
  const ev: Evaluator = {
    runs: 0,
    async release() {
      for (const p of pools.values()) await p.release();
      pools.clear();
    },
    compare(a, b, B = 1000, seed = 0, mode = 'raw', task) {
      const pa = predsOf('test', a);
      const pb = predsOf('test', b);
      const c = differenceWeights(splitRefs('test'), task ? tasks.map((t) => ({ name: t.name, weight: t.name === task ? 1 : 0 })) : weighted, mode);
      return pairedBootstrapDiff(
        tasks.map((t, i) => {
          const sc = scorer('test', t);
          return { units: sc.units, weight: c[i], scoreA: sc.forPredictions(pa[t.name]), scoreB: sc.forPredictions(pb[t.name]) };
        }),
        { B, seed },
      );
    },
    retentionCI(a, split, mode, B = 1000, seed = 0, task) {
      const refs = splitRefs(split);
      const used = tasks.filter((t) => (!task || t.name === task) && (mode === 'raw' || gainDegenerate(refs[t.name]) === undefined));
      if (used.length === 0) return undefined;
      const [pa, pf, pe] = [predsOf(split, a), predsOf(split, full), predsOf(split, [])];
      const w = task ? [1] : used.map((t) => weights[tasks.indexOf(t)]);
      const wsum = w.reduce((x, y) => x + y, 0);
      return jointBootstrap(
        used.map((t) => {
          const sc = scorer(split, t);
          return { units: sc.units, scorers: [sc.forPredictions(pa[t.name]), sc.forPredictions(pf[t.name]), sc.forPredictions(pe[t.name])] };
        }),
        (s) => s.reduce((acc, [sa, sf, se], i) => acc + (w[i] / wsum) * (mode === 'raw' ? sa / sf : (sa - se) / (sf - se)), 0),
        { B, seed },
      );
    },
    layersAdd(split, B = 1000, seed = 0) {
      const [pf, pe] = [predsOf(split, full), predsOf(split, [])];
      return Object.fromEntries(
        tasks.map((t) => {
          const sc = scorer(split, t);
          return [t.name, pairedBootstrapDiff([{ units: sc.units, weight: 1, scoreA: sc.forPredictions(pf[t.name]), scoreB: sc.forPredictions(pe[t.name]) }], { B, seed })];
        }),
      );
    },
    async evaluate(layers, split, bridges) {
      const key = subsetKey(split, layers, !!bridges);
      const hit = cache.get(key);
      if (hit) return withRetention(layers, split, hit);
      ev.runs++;
      // healing bridges (fitted here, one subset per run) are scored here; every other subset by the runner if there is one
      const r = remote && !bridges ? (await remote.score([layers], split, opts))[0] : await scoreSubset(model, tok, tasks, layers, split, opts, poolFor, bridges);
      record(key, r);
      return withRetention(layers, split, r.scores);
    },
    async prefetch(subsets, split) {
      if (!remote) return;
      const todo: number[][] = [];
      const keys = new Set<string>();
      for (const layers of subsets) {
        const key = subsetKey(split, layers);
        if (cache.has(key) || keys.has(key)) continue;
        keys.add(key);
        todo.push(layers);
      }
      if (todo.length === 0) return;
      const outs = await remote.score(todo, split, opts);
      todo.forEach((layers, i) => {
        ev.runs++;
        record(subsetKey(split, layers), outs[i]);
      });
    },
    width: () => (remote ? remote.width() : Promise.resolve(1)),
  };
  return ev;
}


/** One subset's per-task scores (test: with a bootstrap CI) and predictions on one split. */
export interface SubsetOutcome {
  scores: SubsetScore['scores'];
  preds: Record<string, Int32Array>;
}

/** Where subsets are scored when they are not scored here (scale-out: jobs on workers, src/distribute). */
export interface SubsetRunner {
  /** scoreSubset for each subset (no bridges), in order */
  score(subsets: number[][], split: 'dev' | 'test', opts: SuiteOptions): Promise<SubsetOutcome[]>;
  /** how many subsets are worth scoring at once (the workers connected) */
  width(): Promise<number>;
}

/**
 * Score one subset by running it: the subnetwork's final representation for every task, a probe trained on
 * train and scored on dev (selection: C fixed at 1, test unseen) or on test (reporting: C chosen on dev,
 * bootstrap CI). The one function behind every subset evaluation, in this process or in a scale-out worker.
 */
export async function scoreSubset(model: LoadedModel, tok: TextTokenizer, tasks: Task[], layers: number[], split: 'dev' | 'test', opts: SuiteOptions, poolFor: (task: Task) => ProbeSessions, bridges?: GraphOptions['bridges']): Promise<SubsetOutcome> {
  const engine = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, bridges, threads: opts.threads, precision: opts.precision });
  const scores: SubsetScore['scores'] = {};
  const preds: Record<string, Int32Array> = {};
  try {
    for (const task of tasks) {
      const tr = await splitFeatures(engine, tok, task, 'train', { ...opts, progress: false });
      const dv = await splitFeatures(engine, tok, task, 'dev', { ...opts, progress: false });
      if (split === 'dev') {
        const probe = await new LogisticProbe(task.labels.length, { C: 1 }).fit(tr.features.load(0), tr.rows.labels, { sessions: poolFor(task) });
        const pred = await predictRows(probe, dv.features.load(0), poolFor(task));
        scores[task.name] = { score: makeScorer(task, dv.rows).score(pred) };
        preds[task.name] = pred;
      } else {
        const te = await splitFeatures(engine, tok, task, 'test', { ...opts, progress: false });
        const { ci, pred } = await probeOneLayer(task, { X: tr.features.load(0), y: tr.rows.labels }, { X: dv.features.load(0), y: dv.rows.labels }, { X: te.features.load(0), rows: te.rows }, opts, poolFor(task));
        scores[task.name] = { score: ci.score, lo: ci.lo, hi: ci.hi };
        preds[task.name] = pred;
      }
    }
  } finally {
    await engine.release();
  }
  return { scores, preds };
}
