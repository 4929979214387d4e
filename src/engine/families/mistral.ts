/** Mistral: the Llama graph (llama.ts) with sliding-window attention on every layer (sliding_window, default 4096). */
import { optNum } from '../../model/config-fields.js';
import type { FamilySpec } from '../family.js';
import { LLAMA_LIKE, PLAIN, llamaTensors, parseLlamaLike, slidingEverywhere } from './llama.js';

export const mistral: FamilySpec = {
  about: { kind: 'decoder', notes: 'Llama + sliding window', fixture: 'hf-zoo/mistral' },
  ...LLAMA_LIKE,
  modelTypes: ['mistral'],
  parseConfig(raw, path) {
    const window = raw.sliding_window === null ? undefined : optNum(raw, 'sliding_window') ?? 4096;
    return parseLlamaLike(raw, path, 'mistral', { hidden: 4096, heads: 32, layers: 32, intermediate: 14336, vocab: 32000, maxPositions: 4096 * 32, eps: 1e-6, act: 'silu', tie: false }, {
      ...PLAIN, slidingWindow: slidingEverywhere(raw, window),
    });
  },
  tensors: llamaTensors(),
};
