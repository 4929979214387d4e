/**
 * Scoring predictions of feature rows with the task's metric, over any subset of units (for bootstrap):
 * units are examples for sentence tasks and sentences for word-level tasks, whose rows are correlated.
 */
import type { Task } from '../data/types.js';
import { spansFromTags } from '../data/spans.js';
import type { TaskRows } from '../features/task-rows.js';
import { scoreMetric, spanF1 } from './metrics.js';

export interface Scorer {
  units: number;
  /** score of predictions `pred` (one per row) restricted to the given units (repeats allowed) */
  score(pred: Int32Array, units?: Int32Array): number;
}

export function makeScorer(task: Task, tr: TaskRows): Scorer {
  const K = task.labels.length;
  const wordLevel = task.kind === 'token' || task.kind === 'edge';
  const unitRows: number[][] = [];
  if (wordLevel) {
    tr.rowSentence.forEach((s, r) => (unitRows[s] ??= []).push(r));
    for (let s = 0; s < unitRows.length; s++) unitRows[s] ??= [];
  } else for (let r = 0; r < tr.labels.length; r++) unitRows.push([r]);
  const all = Int32Array.from(unitRows.keys());
  return {
    units: unitRows.length,
    score(pred, units = all) {
      if (task.metric === 'span-f1') {
        const gold = [];
        const guess = [];
        for (const u of units) {
          const rows = unitRows[u];
          gold.push(spansFromTags(rows.map((r) => task.labels[tr.labels[r]])));
          guess.push(spansFromTags(rows.map((r) => task.labels[pred[r]])));
        }
        return spanF1(gold, guess).f1;
      }
      let n = 0;
      for (const u of units) n += unitRows[u].length;
      const yt = new Int32Array(n);
      const yp = new Int32Array(n);
      let i = 0;
      for (const u of units) for (const r of unitRows[u]) (yt[i] = tr.labels[r]), (yp[i++] = pred[r]);
      return scoreMetric(task.metric === 'f1' ? 'f1' : task.metric, yt, yp, K);
    },
  };
}
