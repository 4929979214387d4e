/** Qwen2 / Qwen2.5: the Llama graph (llama.ts) with biases on q/k/v (not o); sliding window off unless asked. */
import { ProbescaleError } from '../../util/errors.js';
import type { FamilySpec } from '../family.js';
import { LLAMA_LIKE, PLAIN, llamaTensors, parseLlamaLike } from './llama.js';

export const qwen2: FamilySpec = {
  about: { kind: 'decoder', notes: 'Llama + q/k/v biases', fixture: 'hf-zoo/qwen2' },
  ...LLAMA_LIKE,
  modelTypes: ['qwen2'],
  parseConfig(raw, path) {
    if (raw.use_sliding_window === true) throw new ProbescaleError('Qwen2 with use_sliding_window=true is not supported', { file: path, fix: 'set use_sliding_window to false (the released Qwen2/2.5 checkpoints have it off)' });
    return parseLlamaLike(raw, path, 'qwen2', { hidden: 4096, heads: 32, layers: 32, intermediate: 22016, vocab: 151936, maxPositions: 32768, eps: 1e-6, act: 'silu', tie: false }, {
      ...PLAIN, qkvBias: true,
    });
  },
  tensors: llamaTensors([/^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj)\.bias$/]),
};
