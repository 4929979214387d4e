/**
 * ELECTRA: BERT's graph (bert.ts) with embeddings of their own width E = embedding_size, projected to the
 * hidden size by embeddings_project (hidden_states.0 is after it) when E != hidden_size. The generator's MLM
 * head maps back to E: generator_predictions (dense C -> E, gelu, LayerNorm) -> generator_lm_head (tied).
 */
import { optNum } from '../../model/config-fields.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, type FamilySpec } from '../family.js';
import { BERT_BODY_TENSORS, BERT_LAYOUT, buildBertEncoder, parseBertLike } from './bert.js';

export const electra: FamilySpec = {
  about: { kind: 'encoder', notes: 'embedding projection, generator MLM head', fixture: 'hf-zoo/electra' },
  modelTypes: ['electra'],
  parseConfig(raw, path) {
    const arch = parseBertLike(raw, path, 'electra', { vocab: 30522, pad: 0, hidden: 256, heads: 4, intermediate: 1024 });
    return { ...arch, embeddingSize: optNum(raw, 'embedding_size') ?? 128 };
  },
  prefixes: ['electra.', ''],
  anchor: 'embeddings.word_embeddings.weight',
  tensors: [
    ...BERT_BODY_TENSORS,
    /^embeddings_project\.(weight|bias)$/,
    /^generator_predictions\.(dense|LayerNorm)\.(weight|bias)$/,
    /^generator_lm_head\.(weight|bias)$/,
    /^discriminator_predictions\.(dense|dense_prediction)\.(weight|bias)$/, // replaced-token head: stored, not used
  ],
  layerPattern: /^((?:electra\.)?encoder\.layer\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embeddings.word_embeddings.weight', 'generator_lm_head.weight', 'generator_lm_head.bias'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: false,
  build: buildBertEncoder({
    ...BERT_LAYOUT,
    prefixes: ['electra.', ''],
    project: 'embeddings_project',
    head: { dense: 'generator_predictions.dense', norm: 'generator_predictions.LayerNorm', decoder: 'generator_lm_head.weight', bias: 'generator_lm_head.bias', act: 'gelu' },
  }),
};
