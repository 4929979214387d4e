/**
 * RoBERTa: BERT's post-LN encoder (graph in bert.ts) with its own names ("roberta.", "lm_head.") and
 * positions: non-pad tokens count from padding_idx + 1, pads get padding_idx
 * (create_position_ids_from_input_ids), so the table serves max_position_embeddings - padding_idx - 1 tokens.
 */
import type { ArchConfig } from '../../model/config.js';
import { BERT_BODY_TENSORS, BERT_LAYOUT, buildBertEncoder, parseBertLike, type BertLayout } from './bert.js';
import { OWN_LAYER_WEIGHTS, type FamilySpec, type PositionRule } from '../family.js';

export const robertaPositions: PositionRule = (ids, _mask, B, T, arch) => {
  const pad = BigInt(arch.padTokenId ?? 1);
  const out = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    let count = 0n;
    for (let t = 0; t < T; t++) {
      const isTok = ids[b * T + t] !== pad;
      if (isTok) count++;
      out[b * T + t] = isTok ? count + pad : pad;
    }
  }
  return out;
};

/** RoBERTa's MLM head (lm_head.*), which MPNet shares. */
export const ROBERTA_HEAD: NonNullable<BertLayout['head']> = { dense: 'lm_head.dense', norm: 'lm_head.layer_norm', decoder: 'lm_head.decoder.weight', bias: 'lm_head.bias' };
export const ROBERTA_HEAD_TENSORS: readonly RegExp[] = [/^lm_head\.(bias|decoder\.weight|decoder\.bias)$/, /^lm_head\.(dense|layer_norm)\.(weight|bias)$/];

/** Spec fields RoBERTa and MPNet share: padding-offset positions, the lm_head vocabulary tensors, renumbered subsets. */
export const ROBERTA_LIKE = {
  anchor: 'embeddings.word_embeddings.weight',
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embeddings.word_embeddings.weight', 'lm_head.bias', 'lm_head.decoder.weight', 'lm_head.decoder.bias'],
  positionIds: robertaPositions,
  maxSequenceTokens: (arch: ArchConfig) => arch.maxPositions - ((arch.padTokenId ?? 1) + 1),
  kvCache: false,
} satisfies Partial<FamilySpec>;

export const roberta: FamilySpec = {
  about: { kind: 'encoder', notes: 'positions from padding_idx + 1; xlm-roberta is the same', fixture: 'hf-tiny/roberta, hf-zoo/xlm-roberta' },
  ...ROBERTA_LIKE,
  modelTypes: ['roberta', 'xlm-roberta'], // XLM-RoBERTa: the same math and names
  parseConfig: (raw, path) => parseBertLike(raw, path, 'roberta', { vocab: 50265, pad: 1 }),
  prefixes: ['roberta.', ''],
  tensors: [...BERT_BODY_TENSORS, ...ROBERTA_HEAD_TENSORS],
  layerPattern: /^((?:roberta\.)?encoder\.layer\.)(\d+)(\..*)$/,
  build: buildBertEncoder({ ...BERT_LAYOUT, prefixes: ['roberta.', ''], head: ROBERTA_HEAD }),
};
