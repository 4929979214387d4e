/**
 * What each transformer layer costs, and what is always paid (embeddings, final norm, head).
 * Parameters are counted from the checkpoint itself (every tensor under a layer's prefix, and the rest that a
 * written subset carries: the family spec's writeSubset), so the count is exact for any family; FLOPs per token follow from the same matrices plus attention over a reference length.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { numel } from '../model/safetensors.js';
import { FAMILIES } from '../engine/families/index.js';
import { specLayerOf } from '../engine/family.js';

export interface LayerCosts {
  /** Cost of each layer 0..L-1, in the budget's unit. */
  perLayer: number[];
  /** Cost paid whatever layers are kept. */
  fixed: number;
  unit: 'parameters' | 'flops/token' | 'ms/batch';
}

export function parameterCosts(model: LoadedModel): LayerCosts {
  const L = model.arch.layers;
  const perLayer = new Array<number>(L).fill(0);
  let fixed = 0;
  const spec = FAMILIES[model.arch.family];
  // counted as written: what a written subset carries besides its layers (T5 writes its encoder alone)
  const written = new Set(Object.keys(spec.writeSubset(spec, model.arch, model.weights, L > 0 ? [0] : []).tensors));
  for (const name of model.weights.names()) {
    const n = numel(model.weights.get(name).shape);
    const l = spec.sharedAcrossLayers(name) ? -1 : specLayerOf(spec, name);
    if (l >= 0) perLayer[l] += n;
    else if (written.has(name)) fixed += n;
  }
  // A tied LM head is stored once (as the embedding); count it once.
  return { perLayer, fixed, unit: 'parameters' };
}

/**
 * FLOPs per token: 2 per matrix weight (multiply-add) plus attention scores and mixing, 4 * T * H * D,
 * at a reference sequence length T. The fixed part is the head (LM head or a task head of `headOutputs`).
 */
export function flopCosts(model: LoadedModel, refLength: number, headOutputs?: number): LayerCosts {
  const a = model.arch;
  const spec = FAMILIES[a.family];
  const attn = 4 * refLength * a.heads * a.headDim;
  // the weights a layer applies, which for shared layers (ALBERT) are not the ones stored under it
  const perLayer = spec.appliedParameters(spec, a, model.weights).map((n) => 2 * n + attn);
  const fixed = 2 * a.hidden * (headOutputs ?? a.vocab);
  return { perLayer, fixed, unit: 'flops/token' };
}

/** Total cost of a kept layer subset. */
export function subsetCost(costs: LayerCosts, layers: number[]): number {
  return costs.fixed + layers.reduce((s, l) => s + costs.perLayer[l], 0);
}
