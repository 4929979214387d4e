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
import { splitFeatures, probeOneLayer, type SuiteOptions } from '../probe/suite.js';
import { LogisticProbe } from '../probe/logistic.js';
import { makeScorer } from '../probe/scoring.js';

export interface SubsetScore {
  layers: number[];
  /** task -> score (test scores carry a bootstrap CI) */
  scores: Record<string, { score: number; lo?: number; hi?: number }>;
  /** weighted mean of score / reference */
  retention: number;
}

export interface Evaluator {
  evaluate(layers: number[], split: 'dev' | 'test', bridges?: GraphOptions['bridges']): Promise<SubsetScore>;
  /** number of distinct subnetworks run so far */
  runs: number;
}

export function makeEvaluator(model: LoadedModel, tok: TextTokenizer, tasks: Task[], weights: number[], opts: SuiteOptions, reference: () => Record<string, Record<'dev' | 'test', number>>): Evaluator {
  const cache = new Map<string, SubsetScore>();
  const wsum = weights.reduce((a, b) => a + b, 0);
  const ev: Evaluator = {
    runs: 0,
    async evaluate(layers, split, bridges) {
      const key = `${split}:${layers.join(',')}:${bridges ? 'healed' : ''}`;
      const hit = cache.get(key);
      if (hit) return hit;
      ev.runs++;
      const engine = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, bridges, threads: opts.threads });
      const scores: SubsetScore['scores'] = {};
      for (const task of tasks) {
        const tr = await splitFeatures(engine, tok, task, 'train', { ...opts, progress: false });
        const dv = await splitFeatures(engine, tok, task, 'dev', { ...opts, progress: false });
        if (split === 'dev') {
          // selection: fixed regularization, scored on dev (test stays unseen until reporting)
          const probe = await new LogisticProbe(task.labels.length, { C: 1 }).fit(tr.features.load(0), tr.rows.labels);
          scores[task.name] = { score: makeScorer(task, dv.rows).score(probe.predict(dv.features.load(0))) };
        } else {
          const te = await splitFeatures(engine, tok, task, 'test', { ...opts, progress: false });
          const { ci } = await probeOneLayer(task, { X: tr.features.load(0), y: tr.rows.labels }, { X: dv.features.load(0), y: dv.rows.labels }, { X: te.features.load(0), rows: te.rows }, opts);
          scores[task.name] = { score: ci.score, lo: ci.lo, hi: ci.hi };
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

