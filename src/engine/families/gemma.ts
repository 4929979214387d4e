/**
 * Gemma: the Llama graph (llama.ts) with (1 + w) RMSNorm, embeddings times sqrt(hidden_size) (in fp32),
 * a gelu-tanh gate, head_dim of its own (default 256) and tied embeddings.
 */
import type { ArchConfig, Family } from '../../model/config.js';
import { act, type Raw } from '../../model/config-fields.js';
import type { FamilySpec } from '../family.js';
import { LLAMA_LIKE, llamaTensors, parseLlamaLike } from './llama.js';

/**
 * The config head Gemma and Gemma 2 share: LlamaConfig names with Gemma's defaults and head_dim, the
 * activation under `actKeys` (first present wins), (1 + w) norms and the sqrt(hidden_size) embedding scale.
 */
export function parseGemmaLike(raw: Raw, path: string, family: Family, d: { hidden: number; heads: number; layers: number; intermediate: number }, actKeys: string[]): ArchConfig {
  const arch = parseLlamaLike(raw, path, family, { ...d, vocab: 256000, maxPositions: 8192, eps: 1e-6, act: 'gelu_pytorch_tanh', tie: true, headDim: 256 });
  const bias = raw.attention_bias === true;
  return {
    ...arch,
    activation: act(raw, actKeys.find((k) => raw[k]) ?? actKeys[0], 'gelu_pytorch_tanh', path),
    llama: { qkvBias: bias, oBias: bias, mlpBias: false, fused: false, gemmaNorm: true, embedScale: Math.fround(Math.sqrt(arch.hidden)) },
  };
}

export const gemma: FamilySpec = {
  about: { kind: 'decoder', notes: '(1+w) RMSNorm, sqrt(d) embedding scale, own head_dim', fixture: 'hf-zoo/gemma' },
  ...LLAMA_LIKE,
  modelTypes: ['gemma'],
  // GemmaConfig: hidden_activation when set, else hidden_act
  parseConfig: (raw, path) => parseGemmaLike(raw, path, 'gemma', { hidden: 3072, heads: 16, layers: 28, intermediate: 24576 }, ['hidden_activation', 'hidden_act']),
  tensors: llamaTensors([/^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)\.bias$/]),
};
