/**
 * Gemma 2: Gemma (gemma.ts) plus four norms per layer, soft-capped attention scores and logits, scores
 * scaled by query_pre_attn_scalar^-0.5, and sliding-window attention on the even layers (layer_types, when
 * present, says which: a written subset records its layers' kinds there, since renumbering changes parity).
 */
import { num, optNum } from '../../model/config-fields.js';
import { renumberedSubset, type FamilySpec } from '../family.js';
import { LLAMA_LIKE, llamaTensors } from './llama.js';
import { parseGemmaLike } from './gemma.js';

export const gemma2: FamilySpec = {
  about: { kind: 'decoder', notes: 'Gemma + 4 norms/layer, soft-capping, sliding window on even layers', fixture: 'hf-zoo/gemma2' },
  ...LLAMA_LIKE,
  modelTypes: ['gemma2'],
  parseConfig(raw, path) {
    const arch = parseGemmaLike(raw, path, 'gemma2', { hidden: 2304, heads: 8, layers: 26, intermediate: 9216 }, ['hidden_activation']);
    const types = Array.isArray(raw.layer_types) ? (raw.layer_types as unknown[]) : undefined;
    const sliding = Array.from({ length: arch.layers }, (_, l) => (types ? types[l] === 'sliding_attention' : l % 2 === 0));
    const window = raw.sliding_window === null ? undefined : optNum(raw, 'sliding_window') ?? 4096;
    const capOf = (key: string, dflt: number) => (raw[key] === null ? undefined : num(raw, key, dflt, path));
    return {
      ...arch,
      llama: {
        ...arch.llama!,
        slidingWindow: window === undefined ? undefined : { window, sliding },
        gemma2: { attnSoftcap: capOf('attn_logit_softcapping', 50), finalSoftcap: capOf('final_logit_softcapping', 30), queryScale: Math.pow(num(raw, 'query_pre_attn_scalar', 256, path), -0.5) },
      },
    };
  },
  tensors: llamaTensors([/^layers\.\d+\.(pre_feedforward_layernorm|post_feedforward_layernorm)\.weight$/, /^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)\.bias$/]),
  writeSubset(spec, arch, w, layers) {
    const out = renumberedSubset(spec, arch, w, layers);
    const sliding = arch.llama?.slidingWindow?.sliding;
    if (sliding) out.config.layer_types = layers.map((l) => (sliding[l] ? 'sliding_attention' : 'full_attention'));
    return out;
  },
};
