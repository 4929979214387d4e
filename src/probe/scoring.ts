/**
 * Scoring predictions of feature rows with the task's metric, over any subset of units (for bootstrap):
 * units are examples for sentence tasks and sentences for word-level tasks, whose rows are correlated.
 */
import type { Task } from '../data/types.js';
import { spansFromTags } from '../data/spans.js';
import type { TaskRows } from '../features/task-rows.js';
import { scoreConfusion, spanF1 } from './metrics.js';

export interface Scorer {
  units: number;
  /** score of predictions `pred` (one per row) restricted to the given units (repeats allowed) */
  score(pred: Int32Array, units?: Int32Array): number;
  /**
   * The same, for many unit subsets of one prediction vector (the bootstrap). For accuracy and span F1 each
   * unit's sufficient statistics (correct/total, span counts) are tallied once, so a resample costs
   * O(units); for macro-F1, F1 and MCC a resample sums its units' confusion cells (O(rows), no copies).
   */
  forPredictions(pred: Int32Array): (units?: Int32Array) => number;
}

export function makeScorer(task: Task, tr: TaskRows): Scorer {
  const K = task.labels.length;
  const wordLevel = task.kind === 'token' || task.kind === 'edge';
  const unitRows: number[][] = [];
  if (wordLevel) {
    tr.rowSentence.forEach((s, r) => (unitRows[s] ??= []).push(r));
    for (let s = 0; s < unitRows.length; s++) unitRows[s] ??= [];
  } else for (let r = 0; r < tr.labels.length; r++) unitRows.push([r]);
  const U = unitRows.length;
  const all = Int32Array.from(unitRows.keys());
  const forPredictions = (pred: Int32Array): ((units?: Int32Array) => number) => {
    if (task.metric === 'span-f1') {
      // per sentence: true positives, gold spans, predicted spans (conlleval's micro F1 sums these)
      const stats = new Float64Array(3 * U);
      unitRows.forEach((rows, u) => {
        const gold = spansFromTags(rows.map((r) => task.labels[tr.labels[r]]));
        const guess = spansFromTags(rows.map((r) => task.labels[pred[r]]));
        stats[3 * u] = Math.round(spanF1([gold], [guess]).precision * guess.length); // true positives
        stats[3 * u + 1] = gold.length;
        stats[3 * u + 2] = guess.length;
      });
      return (units = all) => {
        let tp = 0;
        let ng = 0;
        let np = 0;
        for (const u of units) (tp += stats[3 * u]), (ng += stats[3 * u + 1]), (np += stats[3 * u + 2]);
        const p = np ? tp / np : 0;
        const r = ng ? tp / ng : 0;
        return p + r ? (2 * p * r) / (p + r) : 0;
      };
    }
    if (task.metric === 'accuracy') {
      const correct = new Float64Array(U);
      const total = new Float64Array(U);
      unitRows.forEach((rows, u) => {
        for (const r of rows) if (tr.labels[r] === pred[r]) correct[u]++;
        total[u] = rows.length;
      });
      return (units = all) => {
        let c = 0;
        let n = 0;
        for (const u of units) (c += correct[u]), (n += total[u]);
        return n ? c / n : 0;
      };
    }
    // macro-F1, F1, MCC: each unit's confusion cells (true * K + predicted, one per row) are listed once; a
    // resample adds its units' cells into one K x K matrix
    const cells = unitRows.map((rows) => Int32Array.from(rows, (r) => tr.labels[r] * K + pred[r]));
    const m = new Float64Array(K * K);
    const metric = task.metric as Exclude<Task['metric'], 'span-f1'>;
    return (units = all) => {
      m.fill(0);
      for (const u of units) for (const c of cells[u]) m[c]++;
      return scoreConfusion(metric, m, K);
    };
  };
  return {
    units: U,
    score: (pred, units) => forPredictions(pred)(units),
    forPredictions,
  };
}
