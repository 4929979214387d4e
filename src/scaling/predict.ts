/**
 * `predict`'s answer from a retention curve: the smallest kept fraction predicted to keep a target, never
 * below the smallest feasible model (fixed embedding cost + one layer), with a warning when the curve's floor
 * is already above the target (then the target does not constrain the size at all: with raw retention the
 * embeddings alone often score 85-96% of the full model).
 */
import { budgetForRetention, fitRetention, predictRetention, type RetentionFit } from './retention.js';

export interface Prediction {
  fit: RetentionFit;
  /** where the fitted curve itself reaches the target (may lie below smallestFeasible) */
  curveAnswer: number;
  /** the answer: max(curveAnswer, smallestFeasible) */
  answer: number;
  smallestFeasible: number;
  /** the curve's prediction at smallestFeasible */
  floor: number;
  warnings: string[];
}

export async function predictBudget(points: { x: number; r: number }[], target: number, smallestFeasible: number, opts: { bootstrap?: number; seed?: number } = {}): Promise<Prediction> {
  const fit = await fitRetention(points, { bootstrap: opts.bootstrap ?? 200, seed: opts.seed });
  const curveAnswer = budgetForRetention(fit, target);
  const floor = predictRetention(fit, smallestFeasible);
  const warnings: string[] = [];
  if (floor >= target) {
    warnings.push(`the curve's floor is above the target: the smallest feasible model (one layer, ${smallestFeasible.toFixed(4)} of the parameters) is predicted to keep ${floor.toFixed(3)} >= ${target}, so the target does not constrain the size${curveAnswer < smallestFeasible ? ` (the curve alone would answer ${curveAnswer.toFixed(4)}, below any model that can be built)` : ''}`);
  }
  return { fit, curveAnswer, answer: Math.max(curveAnswer, smallestFeasible), smallestFeasible, floor, warnings };
}
