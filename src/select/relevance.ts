/**
 * From per-layer probe scores to per-layer relevance. A layer's relevance for a task is the score it adds
 * over the layer below (Tenney et al.'s differential score, negative gains clipped to 0), normalized so
 * each task's relevances sum to 1; tasks then combine with the user's weights.
 */
export interface TaskScores {
  task: string;
  /** Probe score on hidden_states.0 (embeddings) .. hidden_states.L. */
  scores: number[];
  weight: number;
}

export interface Relevance {
  /** perTask[t][l] for transformer layer l = 0..L-1 */
  perTask: number[][];
  aggregate: number[];
}

export function layerRelevance(tasks: TaskScores[]): Relevance {
  if (tasks.length === 0) throw new Error('no task scores to aggregate');
  const L = tasks[0].scores.length - 1;
  if (tasks.some((t) => t.scores.length !== L + 1)) throw new Error('every task needs a score for each of the same layers');
  const totalWeight = tasks.reduce((s, t) => s + t.weight, 0);
  if (!(totalWeight > 0)) throw new Error('task weights must sum to a positive number');
  const perTask = tasks.map((t) => {
    const gains = Array.from({ length: L }, (_, l) => Math.max(0, t.scores[l + 1] - t.scores[l]));
    const sum = gains.reduce((a, b) => a + b, 0);
    return sum > 0 ? gains.map((g) => g / sum) : gains.map(() => 1 / L);
  });
  const aggregate = Array.from({ length: L }, (_, l) => tasks.reduce((s, t, i) => s + (t.weight / totalWeight) * perTask[i][l], 0));
  return { perTask, aggregate };
}
