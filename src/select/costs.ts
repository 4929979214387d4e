/**
 * What each transformer layer costs, and what is always paid (embeddings, final norm, head).
 * Parameters are counted from the checkpoint itself (every tensor under a layer's prefix, and the rest that a
 * written subset carries: the family spec's writeSubset), so the count is exact for any family; FLOPs per token follow from the same matrices plus attention over a reference length.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { numel } from '../model/safetensors.js';
import { FAMILIES } from '../engine/families/index.js';
import { specLayerOf } from '../engine/family.js';
import { t5DecoderBlockOf, t5Units } from '../engine/families/t5.js';

export interface LayerCosts {
  /** Cost of each layer 0..L-1, in the budget's unit. */
  perLayer: number[];
  /** Cost paid whatever layers are kept. */
  fixed: number;
  unit: 'parameters' | 'flops/token' | 'ms/batch';
  /** Costs paid once when any of `layers` is kept (T5: the decoder's final norm, position table, untied LM head). */
  groups?: { layers: number[]; cost: number }[];
  /**
   * Stored but outside these layers and never written by a subset of them (T5's decoder when the selection
   * ranges over the probed encoder): part of the full model only.
   */
  outside?: number;
}

/**
 * Parameters counted as written: each layer's tensors, and `fixed` = what a written subset always carries.
 * scope 'probed' (what the pipeline selects over): the probed stack's layers; for T5 the encoder's blocks,
 * with the decoder counted in the full model (`outside`) but never written. scope 'all': every selectable
 * unit; for T5 encoder blocks then decoder blocks (t5Units), each decoder block with its self-attention,
 * cross-attention and FF, and the decoder's non-block tensors paid once with any decoder block.
 */
export function parameterCosts(model: LoadedModel, scope: 'probed' | 'all' = 'probed'): LayerCosts {
  const L = model.arch.layers;
  const spec = FAMILIES[model.arch.family];
  const dec = model.arch.t5 ? t5Units(model.arch, model.weights).decoder : 0;
  const perLayer = new Array<number>(L + (scope === 'all' ? dec : 0)).fill(0);
  let fixed = 0;
  let decoderOnce = 0;
  let decoderBlocks = 0;
  // counted as written: what a written subset carries besides its layers (T5 writes its encoder alone)
  const written = new Set(Object.keys(spec.writeSubset(spec, model.arch, model.weights, L > 0 ? [0] : []).tensors));
  for (const name of model.weights.names()) {
    const n = numel(model.weights.get(name).shape);
    const l = spec.sharedAcrossLayers(name) ? -1 : specLayerOf(spec, name);
    if (l >= 0) perLayer[l] += n;
    else if (written.has(name)) fixed += n;
    else if (dec > 0 && (name.startsWith('decoder.') || name.startsWith('lm_head.'))) {
      // T5's decoder: a block's own tensors, or (final norm, position table, lm_head) what any decoder block brings
      const d = name.includes('relative_attention_bias') ? -1 : t5DecoderBlockOf(name);
      if (d >= 0 && scope === 'all') perLayer[L + d] += n;
      else if (d >= 0) decoderBlocks += n;
      else decoderOnce += n;
    }
  }
  if (dec === 0) return { perLayer, fixed, unit: 'parameters' };
  if (scope === 'all') return { perLayer, fixed, unit: 'parameters', groups: [{ layers: Array.from({ length: dec }, (_, i) => L + i), cost: decoderOnce }] };
  return { perLayer, fixed, unit: 'parameters', outside: decoderBlocks + decoderOnce };
}

/** The full model's cost: every layer, every group, and what lies outside the layers (fractional budgets are of this). */
export function fullCost(costs: LayerCosts): number {
  return costs.fixed + costs.perLayer.reduce((a, b) => a + b, 0) + (costs.groups ?? []).reduce((a, g) => a + g.cost, 0) + (costs.outside ?? 0);
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

/** Total cost of a kept layer subset (as written: groups only when one of their layers is kept). */
export function subsetCost(costs: LayerCosts, layers: number[]): number {
  const groups = (costs.groups ?? []).filter((g) => g.layers.some((l) => layers.includes(l))).reduce((a, g) => a + g.cost, 0);
  return costs.fixed + groups + layers.reduce((s, l) => s + costs.perLayer[l], 0);
}
