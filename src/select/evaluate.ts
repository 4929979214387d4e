/**
 * Scoring a layer subset by running it: the subnetwork (engine layer list, optional healing bridges)
 * produces its final representation for every task split, a probe is trained on train and scored on dev
 * (selection) or test (reporting). Retention = score / reference score, aggregated with task weights.
 * Results are cached per subset; features are cached on disk per subnetwork.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { Task } from '../data/types.js';
import { Engine } from '../engine/engine.js';
import type { GraphOptions } from '../engine/family.js';
import { splitFeatures, probeOneLayer, predictRows, type SuiteOptions } from '../probe/suite.js';
import { ProbeSessions } from '../probe/sessions.js';
import { LogisticProbe } from '../probe/logistic.js';
import { makeScorer, type Scorer } from '../probe/scoring.js';
import { pairedBootstrapDiff, type Interval } from '../probe/bootstrap.js';

export interface SubsetScore {
  layers: number[];
  /** task -> score (test scores carry a bootstrap CI) */
  scores: Record<string, { score: number; lo?: number; hi?: number }>;
  /** weighted mean of score / reference */
  retention: number;
}

export interface Evaluator {
  evaluate(layers: number[], split: 'dev' | 'test', bridges?: GraphOptions['bridges']): Promise<SubsetScore>;
  /**
   * Test retention of subset `a` minus subset `b` with a paired bootstrap 95% CI (same resampled test units
   * for both, per task); both must have been evaluated on test already. `above`: share of resamples > 0.
   */
  compare(a: number[], b: number[], B?: number, seed?: number): Interval & { above: number };
  /** number of distinct subnetworks run so far */
  runs: number;
  /** frees the probe sessions kept for later evaluations */
  release(): Promise<void>;
}

/** Cache key of a subset's scores (and test predictions) for one split. */
const subsetKey = (split: 'dev' | 'test', layers: number[], healed = false) => `${split}:${layers.join(',')}:${healed ? 'healed' : ''}`;

export function makeEvaluator(model: LoadedModel, tok: TextTokenizer, tasks: Task[], weights: number[], opts: SuiteOptions, reference: () => Record<string, Record<'dev' | 'test', number>>): Evaluator {
  const cache = new Map<string, SubsetScore>();
  // test predictions per subset and task, and the (subset-independent) test scorer per task, for compare()
  const testPreds = new Map<string, Record<string, Int32Array>>();
  const testScorers: Record<string, Scorer> = {};
  const wsum = weights.reduce((a, b) => a + b, 0);
  // one probe session pool per task: every subset gives that task's probes the same matrix shapes (the
  // final representation's width, the task's rows), so the graphs and buffers are built once, not per subset
  const pools = new Map<string, ProbeSessions>();
  const poolFor = (task: Task) => pools.get(task.name) ?? pools.set(task.name, new ProbeSessions(opts.threads)).get(task.name)!;
  const ev: Evaluator = {
    runs: 0,
    async release() {
      for (const p of pools.values()) await p.release();
      pools.clear();
    },
    compare(a, b, B = 1000, seed = 0) {
      const pa = testPreds.get(subsetKey('test', a));
      const pb = testPreds.get(subsetKey('test', b));
      if (!pa || !pb) throw new Error(`compare: evaluate [${a}] and [${b}] on test first`);
      const ref = reference();
      return pairedBootstrapDiff(
        tasks.map((t, i) => {
          const sc = testScorers[t.name];
          const fa = sc.forPredictions(pa[t.name]);
          const fb = sc.forPredictions(pb[t.name]);
          return { units: sc.units, weight: weights[i] / wsum / ref[t.name].test, scoreA: fa, scoreB: fb };
        }),
        { B, seed },
      );
    },
    async evaluate(layers, split, bridges) {
      const key = subsetKey(split, layers, !!bridges);
      const hit = cache.get(key);
      if (hit) return hit;
      ev.runs++;
      const engine = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, bridges, threads: opts.threads, precision: opts.precision });
      const scores: SubsetScore['scores'] = {};
      for (const task of tasks) {
        const tr = await splitFeatures(engine, tok, task, 'train', { ...opts, progress: false });
        const dv = await splitFeatures(engine, tok, task, 'dev', { ...opts, progress: false });
        if (split === 'dev') {
          // selection: fixed regularization, scored on dev (test stays unseen until reporting)
          const probe = await new LogisticProbe(task.labels.length, { C: 1 }).fit(tr.features.load(0), tr.rows.labels, { sessions: poolFor(task) });
          scores[task.name] = { score: makeScorer(task, dv.rows).score(await predictRows(probe, dv.features.load(0), poolFor(task))) };
        } else {
          const te = await splitFeatures(engine, tok, task, 'test', { ...opts, progress: false });
          const { ci, pred, scorer } = await probeOneLayer(task, { X: tr.features.load(0), y: tr.rows.labels }, { X: dv.features.load(0), y: dv.rows.labels }, { X: te.features.load(0), rows: te.rows }, opts, poolFor(task));
          scores[task.name] = { score: ci.score, lo: ci.lo, hi: ci.hi };
          testScorers[task.name] ??= scorer;
          testPreds.set(key, { ...testPreds.get(key), [task.name]: pred });
        }
      }
      await engine.release();
      const ref = reference();
      const retention = tasks.reduce((s, t, i) => s + (weights[i] / wsum) * (scores[t.name].score / ref[t.name][split]), 0);
      const result = { layers, scores, retention };
      cache.set(key, result);
      return result;
    },
  };
  return ev;
}

