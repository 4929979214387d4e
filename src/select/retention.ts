/**
 * Raw and gain retention of a subset's task scores against two reference points per task: the full model's
 * final layer (f) and the embeddings alone, i.e. the subnetwork that keeps no layer (e).
 *   raw  = score / f                      (what the 95-98% targets were stated in)
 *   gain = (score - e) / (f - e)          (the share of what the layers add that the subset keeps)
 * Raw retention is inflated by the floor: when the embeddings alone reach 86% of f, any subset starts at
 * ~86%. Gain retention is 0 for the embeddings and 1 for the full model. It is only a number when the layers
 * add something measurable, so a task whose references are degenerate (one class; final layer not above the
 * embeddings beyond test noise) is left out of the gain average with a message saying why.
 */
import type { Interval } from '../probe/bootstrap.js';

export type RetentionMode = 'raw' | 'gain';
export const RETENTION_MODES: readonly RetentionMode[] = ['raw', 'gain'];

/** The references of one task on one split. */
export interface SplitReference {
  /** the full model's final layer (same probe type, trained on train) */
  final: number;
  /** the subnetwork with no layers: embeddings (and final norm) only */
  embeddings: number;
  /** final - embeddings with a paired bootstrap 95% CI over the split's units (absent before it is measured) */
  layersAdd?: Interval;
  /** distinct classes in the training labels */
  classes: number;
}

/** Why gain retention is not a number for this task on this split, or undefined when it is. */
export function gainDegenerate(ref: SplitReference): string | undefined {
  if (ref.classes < 2) return `only ${ref.classes} class in the training labels: every score is trivial`;
  const d = ref.layersAdd ?? { score: ref.final - ref.embeddings, lo: ref.final - ref.embeddings, hi: ref.final - ref.embeddings };
  const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
  if (!(d.score > 0)) return `the final layer (${ref.final.toFixed(3)}) is not above the embeddings alone (${ref.embeddings.toFixed(3)}): the layers add nothing to keep`;
  if (!(d.lo > 0)) return `the final layer is above the embeddings alone by ${pts(d.score)} points, within sampling noise (paired 95% CI ${pts(d.lo)} to ${pts(d.hi)})`;
  return undefined;
}

/** Per-task gain retention, or undefined when the references are degenerate. */
export function taskGain(score: number, ref: SplitReference): number | undefined {
  return gainDegenerate(ref) === undefined ? (score - ref.embeddings) / (ref.final - ref.embeddings) : undefined;
}

/**
 * Weighted retention over tasks. Raw: every task. Gain: the tasks whose references are not degenerate,
 * weights renormalized over them; undefined when there is none.
 */
export function weightedRetention(scores: Record<string, number>, refs: Record<string, SplitReference>, tasks: { name: string; weight: number }[], mode: RetentionMode): number | undefined {
  let sum = 0;
  let wsum = 0;
  for (const t of tasks) {
    const ref = refs[t.name];
    const r = mode === 'raw' ? scores[t.name] / ref.final : taskGain(scores[t.name], ref);
    if (r === undefined) continue;
    sum += t.weight * r;
    wsum += t.weight;
  }
  return wsum > 0 ? sum / wsum : undefined;
}

/**
 * Per-task factor c_t so that retention = sum_t c_t * score_t + const: the weight of a task's score
 * difference in a paired comparison of two subsets (the floor cancels in a difference). 0 for tasks left
 * out of the gain average.
 */
export function differenceWeights(refs: Record<string, SplitReference>, tasks: { name: string; weight: number }[], mode: RetentionMode): number[] {
  const used = tasks.map((t) => (mode === 'raw' || gainDegenerate(refs[t.name]) === undefined ? t.weight : 0));
  const wsum = used.reduce((a, b) => a + b, 0);
  if (!(wsum > 0)) return tasks.map(() => 0);
  return tasks.map((t, i) => {
    const ref = refs[t.name];
    return used[i] === 0 ? 0 : used[i] / wsum / (mode === 'raw' ? ref.final : ref.final - ref.embeddings);
  });
}
