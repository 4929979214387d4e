/**
 * Gemma: the Llama graph (llama.ts) with (1 + w) RMSNorm, embeddings times sqrt(hidden_size) (in fp32),
 * a gelu-tanh gate, head_dim of its own (default 256) and tied embeddings.
 */
import { act } from '../../model/config-fields.js';
import type { FamilySpec } from '../family.js';
import { LLAMA_LIKE, llamaTensors, parseLlamaLike } from './llama.js';

export const gemma: FamilySpec = {
  about: { kind: 'decoder', notes: '(1+w) RMSNorm, sqrt(d) embedding scale, own head_dim', fixture: 'hf-zoo/gemma' },
  ...LLAMA_LIKE,
  modelTypes: ['gemma'],
  parseConfig(raw, path) {
    const arch = parseLlamaLike(raw, path, 'gemma', { hidden: 3072, heads: 16, layers: 28, intermediate: 24576, vocab: 256000, maxPositions: 8192, eps: 1e-6, act: 'gelu_pytorch_tanh', tie: true, headDim: 256 });
    return {
      ...arch,
      activation: act(raw, raw.hidden_activation ? 'hidden_activation' : 'hidden_act', 'gelu_pytorch_tanh', path),
      llama: { qkvBias: raw.attention_bias === true, oBias: raw.attention_bias === true, mlpBias: false, fused: false, gemmaNorm: true, embedScale: Math.fround(Math.sqrt(arch.hidden)) },
    };
  },
  tensors: llamaTensors([/^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)\.bias$/]),
};
