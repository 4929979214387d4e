/**
 * MPNet: BERT's post-LN block (graph in bert.ts) with RoBERTa's positions (from padding_idx + 1) and MLM head
 * (the spec fields it shares with roberta.ts come from ROBERTA_LIKE), no token
 * types, and one relative position bias table (encoder.relative_attention_bias, T5's bidirectional log
 * buckets over key - query) computed once and added to the scores of every layer.
 *   scores_l = q k^T / sqrt(D) + table[bucket(j - i)] + mask
 * The table is outside the layers, so any kept subset keeps it (fixed cost).
 */
import { num } from '../../model/config-fields.js';
import type { FamilySpec } from '../family.js';
import { BERT_LAYOUT, buildBertEncoder, parseBertLike } from './bert.js';
import { ROBERTA_HEAD, ROBERTA_HEAD_TENSORS, ROBERTA_LIKE } from './roberta.js';

export const mpnet: FamilySpec = {
  about: { kind: 'encoder', notes: 'one relative position bias for all layers', fixture: 'hf-zoo/mpnet' },
  ...ROBERTA_LIKE,
  modelTypes: ['mpnet'],
  parseConfig(raw, path) {
    const arch = parseBertLike(raw, path, 'mpnet', { vocab: 30527, pad: 1 });
    return { ...arch, eps: num(raw, 'layer_norm_eps', 1e-12, path), positionBuckets: { buckets: num(raw, 'relative_attention_num_buckets', 32, path), maxDistance: 128 } };
  },
  prefixes: ['mpnet.', ''],
  tensors: [
    /^embeddings\.(word_embeddings|position_embeddings)\.weight$/,
    /^embeddings\.LayerNorm\.(weight|bias)$/,
    /^embeddings\.position_ids$/,
    /^encoder\.relative_attention_bias\.weight$/,
    /^encoder\.layer\.\d+\.attention\.attn\.(q|k|v|o)\.(weight|bias)$/,
    /^encoder\.layer\.\d+\.(attention\.LayerNorm|intermediate\.dense|output\.dense|output\.LayerNorm)\.(weight|bias)$/,
    /^pooler\.dense\.(weight|bias)$/,
    ...ROBERTA_HEAD_TENSORS,
  ],
  layerPattern: /^((?:mpnet\.)?encoder\.layer\.)(\d+)(\..*)$/,
  build: buildBertEncoder({
    ...BERT_LAYOUT,
    prefixes: ['mpnet.', ''],
    tokenType: undefined,
    relativeBias: 'encoder.relative_attention_bias.weight',
    q: 'attention.attn.q', k: 'attention.attn.k', v: 'attention.attn.v', o: 'attention.attn.o', attnNorm: 'attention.LayerNorm',
    head: ROBERTA_HEAD,
  }),
};
