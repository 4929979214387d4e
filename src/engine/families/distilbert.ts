/**
 * DistilBERT: BERT's post-LN block (graph in bert.ts) without token types or pooler, with its own names
 * (q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm) and MLM head
 * (vocab_transform -> act -> vocab_layer_norm -> vocab_projector tied to the word embeddings).
 * Sinusoidal position tables (sinusoidal_pos_embds) are stored like learned ones, so both load the same way.
 */
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, type FamilySpec } from '../family.js';
import { buildBertEncoder } from './bert.js';

export const distilbert: FamilySpec = {
  about: { kind: 'encoder', notes: 'BERT block, own names, no token types', fixture: 'hf-zoo/distilbert' },
  modelTypes: ['distilbert'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'dim', 768, path);
    const heads = num(raw, 'n_heads', 12, path);
    return {
      ...specialIds(raw), family: 'distilbert', hidden, heads, kvHeads: heads, headDim: hidden / heads,
      layers: num(raw, 'n_layers', 6, path),
      intermediate: num(raw, 'hidden_dim', 4 * 768, path),
      vocab: num(raw, 'vocab_size', 30522, path),
      maxPositions: num(raw, 'max_position_embeddings', 512, path),
      eps: 1e-12, // DistilBERT's LayerNorms are built with eps=1e-12 (no config field)
      activation: act(raw, 'activation', 'gelu', path),
      padTokenId: optNum(raw, 'pad_token_id') ?? 0,
      causal: false, tieEmbeddings: raw.tie_word_embeddings !== false,
    };
  },
  prefixes: ['distilbert.', ''],
  anchor: 'embeddings.word_embeddings.weight',
  tensors: [
    /^embeddings\.(word_embeddings|position_embeddings)\.weight$/,
    /^embeddings\.LayerNorm\.(weight|bias)$/,
    /^embeddings\.position_ids$/,
    /^transformer\.layer\.\d+\.attention\.(q_lin|k_lin|v_lin|out_lin)\.(weight|bias)$/,
    /^transformer\.layer\.\d+\.(sa_layer_norm|output_layer_norm|ffn\.lin1|ffn\.lin2)\.(weight|bias)$/,
    /^(vocab_transform|vocab_layer_norm)\.(weight|bias)$/,
    /^vocab_projector\.(weight|bias)$/,
  ],
  layerPattern: /^((?:distilbert\.)?transformer\.layer\.)(\d+)(\..*)$/,
  layerCountKey: 'n_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embeddings.word_embeddings.weight', 'vocab_projector.weight', 'vocab_projector.bias'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: false,
  build: buildBertEncoder({
    prefixes: ['distilbert.', ''], word: 'embeddings.word_embeddings.weight', position: 'embeddings.position_embeddings.weight',
    embedNorm: 'embeddings.LayerNorm', layerRoot: 'transformer.layer',
    q: 'attention.q_lin', k: 'attention.k_lin', v: 'attention.v_lin', o: 'attention.out_lin',
    attnNorm: 'sa_layer_norm', ffIn: 'ffn.lin1', ffOut: 'ffn.lin2', outNorm: 'output_layer_norm',
    head: { dense: 'vocab_transform', norm: 'vocab_layer_norm', decoder: 'vocab_projector.weight', bias: 'vocab_projector.bias' },
  }),
};
