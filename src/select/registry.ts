/**
 * The heuristic baselines ProbeScale is compared with, declared once (like data/builtin.ts for tasks): each
 * entry names a rule, where it comes from, and how it picks k of L layers from what a run already has.
 * The pipeline scores every entry at every budget; adding a baseline means adding an entry here.
 */
import * as rules from './baselines.js';
import type { Geometry } from './calibration.js';

/** What a baseline may read to choose its layers (all computed once per run, before selection). */
export interface BaselineContext {
  /** layers in the full model */
  L: number;
  /** layers kept at this budget */
  k: number;
  /** Block Influence and angular distance on calibration text */
  geometry: Geometry;
  /** task-weighted dev probe score of hidden_states.0 .. hidden_states.L */
  devScores: number[];
  /** SLEB's subset of k layers (iterative removal by calibration loss; computed on demand, cached by k) */
  sleb(k: number): Promise<number[]>;
}

export interface BaselineDef {
  name: string;
  description: string;
  /** layers kept, ascending; may be shorter than k only when the rule keeps fewer (truncation) */
  subset(ctx: BaselineContext): number[] | Promise<number[]>;
}

export const BASELINES: readonly BaselineDef[] = [
  { name: 'drop-top', description: 'keep the bottom k layers (Sajjad et al.)', subset: ({ L, k }) => rules.dropTop(L, k) },
  { name: 'drop-bottom', description: 'keep the top k layers', subset: ({ L, k }) => rules.dropBottom(L, k) },
  { name: 'alternate', description: 'k evenly spaced layers, first and last included', subset: ({ L, k }) => rules.alternate(L, k) },
  { name: 'keep-ends', description: 'keep both ends, drop the middle (Sajjad et al.)', subset: ({ L, k }) => rules.keepEnds(L, k) },
  { name: 'block-influence', description: 'the k layers with the largest Block Influence (ShortGPT)', subset: ({ geometry, k }) => rules.blockInfluence(geometry.blockInfluence, k) },
  { name: 'angular', description: 'drop the block of L - k layers with the smallest angular distance (Gromov et al.)', subset: ({ geometry, L, k }) => rules.angularDrop(geometry.angular, L, k).layers },
  { name: 'truncate-best', description: 'keep every layer up to the best-probed one (LEC-style)', subset: ({ devScores, k }) => rules.truncateAtBest(devScores, k) },
  { name: 'sleb', description: 'iterative removal by calibration loss (SLEB)', subset: ({ k, sleb }) => sleb(k) },
];

/** Random subsets: reported as mean ± sd over seeds, not as one subset, so they sit outside the list above. */
export const RANDOM_BASELINE = {
  name: 'random',
  description: 'k layers drawn at random (mean ± sd over seeds)',
  subset: (L: number, k: number, seed: number) => rules.randomSubset(L, k, seed),
};

/** Every baseline's subset at this budget, in registry order. */
export async function baselineSubsets(ctx: BaselineContext): Promise<{ method: string; layers: number[] }[]> {
  const out: { method: string; layers: number[] }[] = [];
  for (const b of BASELINES) out.push({ method: b.name, layers: await b.subset(ctx) });
  return out;
}
