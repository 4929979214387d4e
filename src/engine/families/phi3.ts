/** Phi-3: the Llama graph (llama.ts) with q|k|v fused in qkv_proj and gate|up fused in gate_up_proj. */
import { optNum } from '../../model/config-fields.js';
import type { FamilySpec } from '../family.js';
import { LLAMA_LIKE, PLAIN, parseLlamaLike, slidingEverywhere } from './llama.js';

export const phi3: FamilySpec = {
  about: { kind: 'decoder', notes: 'Llama with fused qkv and gate_up', fixture: 'hf-zoo/phi3' },
  ...LLAMA_LIKE,
  modelTypes: ['phi3'],
  parseConfig(raw, path) {
    const arch = parseLlamaLike(raw, path, 'phi3', { hidden: 3072, heads: 32, layers: 32, intermediate: 8192, vocab: 32064, maxPositions: 4096, eps: 1e-5, act: 'silu', tie: false }, {
      ...PLAIN, fused: true, slidingWindow: slidingEverywhere(raw, optNum(raw, 'sliding_window')),
    });
    const partial = optNum(raw, 'partial_rotary_factor');
    return partial === undefined || partial === 1 ? arch : { ...arch, rotaryDim: Math.floor(arch.headDim * partial) };
  },
  tensors: [
    /^embed_tokens\.weight$/,
    /^norm\.weight$/,
    /^layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight$/,
    /^layers\.\d+\.self_attn\.(qkv_proj|o_proj)\.weight$/,
    /^layers\.\d+\.mlp\.(gate_up_proj|down_proj)\.weight$/,
    /^lm_head\.weight$/,
  ],
};
