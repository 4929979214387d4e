/**
 * T5 parameter accounting on a real checkpoint's shapes without its weights (`node --import tsx bench/t5-accounting.ts`):
 * the full checkpoint, and each prefix of encoder blocks written alone (T5EncoderModel), counted as written,
 * with the most encoder blocks a few fractional budgets hold. test/t5-select.test.ts checks the T5-Base figures.
 */
import { pathToFileURL } from 'node:url';
import type { LoadedModel } from '../src/model/checkpoint.js';
import { parseConfig } from '../src/engine/load.js';
import { WeightStore } from '../src/model/weights.js';
import { FAMILIES } from '../src/engine/families/index.js';
import { fullCost, parameterCosts, subsetCost } from '../src/select/costs.js';
import { capacity, parseBudget } from '../src/select/budget.js';

/** t5-base's config.json fields that set its shapes. */
export const T5_BASE = { d_model: 768, d_ff: 3072, d_kv: 64, num_heads: 12, num_layers: 12, num_decoder_layers: 12, vocab_size: 32128, feed_forward_proj: 'relu' };

/** A T5 checkpoint of `config`'s shapes whose tensors hold no data: parameter accounting reads shapes only. */
export function shapeOnlyT5(config: Record<string, unknown>): LoadedModel {
  const arch = parseConfig({ model_type: 't5', architectures: ['T5ForConditionalGeneration'], ...config }, 'shape-only/config.json');
  const d = arch.hidden;
  const inner = arch.heads * arch.headDim;
  const f = arch.intermediate;
  const shapes: Record<string, number[]> = { 'shared.weight': [arch.vocab, d], 'encoder.final_layer_norm.weight': [d], 'decoder.final_layer_norm.weight': [d] };
  const attn = (p: string) => {
    for (const x of ['q', 'k', 'v']) shapes[`${p}.${x}.weight`] = [inner, d];
    shapes[`${p}.o.weight`] = [d, inner];
  };
  const ff = (p: string) => {
    shapes[`${p}.wi.weight`] = [f, d];
    shapes[`${p}.wo.weight`] = [d, f];
  };
  for (const stack of ['encoder', 'decoder']) {
    const n = stack === 'encoder' ? arch.layers : arch.t5!.decoderLayers;
    shapes[`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`] = [arch.t5!.buckets, arch.heads];
    for (let i = 0; i < n; i++) {
      const b = `${stack}.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`);
      shapes[`${b}.0.layer_norm.weight`] = [d];
      if (stack === 'decoder') {
        attn(`${b}.1.EncDecAttention`);
        shapes[`${b}.1.layer_norm.weight`] = [d];
      }
      const l = stack === 'encoder' ? 1 : 2;
      ff(`${b}.${l}.DenseReluDense`);
      shapes[`${b}.${l}.layer_norm.weight`] = [d];
    }
  }
  const empty = new Float32Array(0);
  const weights = WeightStore.fromTensors(Object.fromEntries(Object.entries(shapes).map(([n, shape]) => [n, { data: empty, shape }])), 'shape-only');
  return { source: 'shape-only', arch, weights, tokenizer: () => Promise.reject(new Error('no tokenizer')), contentHash: () => 'shape-only' };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const model = shapeOnlyT5(T5_BASE);
  const costs = parameterCosts(model);
  const full = fullCost(costs);
  const spec = FAMILIES.t5;
  console.log(`T5-Base shapes: full checkpoint ${full.toLocaleString()} parameters (embeddings, encoder position table and final norm ${costs.fixed.toLocaleString()}, encoder block ${costs.perLayer[1].toLocaleString()}, decoder ${costs.outside!.toLocaleString()})`);
  console.log('| encoder blocks kept | written parameters (T5EncoderModel) | of the checkpoint | smaller by |');
  console.log('| --- | --- | --- | --- |');
  for (const k of [1, 2, 3, 6, 12]) {
    const units = Array.from({ length: k }, (_, i) => i);
    const n = subsetCost(costs, units);
    const written = Object.values(spec.writeSubset(spec, model.arch, model.weights, units).tensors).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    if (written !== n) throw new Error(`counted ${n} but writeSubset writes ${written}`);
    console.log(`| ${k} | ${n.toLocaleString()} | ${((100 * n) / full).toFixed(1)}% | ${(full / n).toFixed(2)}x |`);
  }
  for (const b of ['0.15', '0.2', '0.25', '0.5']) console.log(`budget ${b}: at most ${capacity(parseBudget(b), costs).maxLayers} encoder blocks`);
}
