/**
 * The points a retention curve is fitted on, in raw or gain retention: ProbeScale's test retention at each
 * budget, the subnetwork with no layers (embeddings only, measured; gain 0 by definition) and the full model
 * (x = 1, r = 1). Used by the pipeline and by `probescale predict` on a results.json.
 */
import { ProbescaleError } from '../util/errors.js';
import type { RetentionMode } from '../select/retention.js';
import type { BudgetResult } from '../report/results.js';

export interface CurveSource {
  budgets: Pick<BudgetResult, 'methods'>[];
  parameters: { full: number; fixed: number };
  /** the embeddings-only subnetwork's test retention (absent in results written before it was measured) */
  embeddingsOnly?: { retention: number; gain?: number };
}

/** Points (x = kept parameters / full, r) in the given retention, or undefined when gain is not defined. */
export function curvePoints(src: CurveSource, mode: RetentionMode): { x: number; r: number }[] | undefined {
  const pts: { x: number; r: number }[] = [];
  for (const b of src.budgets) {
    const m = b.methods[0];
    const r = mode === 'raw' ? m.retention : m.gain;
    if (r === undefined) return undefined;
    pts.push({ x: m.parameters / src.parameters.full, r });
  }
  const floor = src.embeddingsOnly && (mode === 'raw' ? src.embeddingsOnly.retention : src.embeddingsOnly.gain);
  if (floor !== undefined && src.parameters.fixed > 0) pts.push({ x: src.parameters.fixed / src.parameters.full, r: floor });
  pts.push({ x: 1, r: 1 });
  return pts;
}

/** The smallest model a budget can give: the fixed cost (embeddings, norms, head) plus the cheapest layer,
 * as a fraction of the full model's parameters. No answer may be below it. */
export function smallestFeasible(fixed: number, perLayer: number[], full = fixed + perLayer.reduce((a, b) => a + b, 0)): number {
  if (perLayer.length === 0) throw new ProbescaleError('the model has no layers to keep');
  return (fixed + Math.min(...perLayer)) / full;
}
