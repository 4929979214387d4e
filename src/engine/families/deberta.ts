/**
 * DeBERTa-v2 / v3: post-LN encoder with disentangled relative attention and no absolute positions
 * (position_biased_input = false in v3).
 *   x0 = LN(embed_proj(word[ids] (+ pos[ids] + type[ids]))) * mask
 *   rel = LN(rel_embeddings[0 : 2 span])   (norm_rel_ebd = layer_norm), span = position_buckets (or max_relative_positions)
 *   r[i, j] = logbucket(i - j);  Kr = key_proj(rel), Qr = query_proj(rel)  (share_att_key; else pos_*_proj)
 *   scores[i, j] = ( q_i.k_j + q_i.Kr[clamp(r[i, j] + span)]              (c2p)
 *                          + k_j.Qr[clamp(-r[j, i] + span)] ) / sqrt(D s) (p2c),   s = 1 + #terms
 *   per layer: x = LN(x + dense(Attn(x)));  x = LN(x + W2 act(W1 x));  MLM head as BERT's (cls.predictions)
 * The 1/sqrt(D s) scale is folded into the query weights (and so into Qr, which is computed with them).
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import type { WeightStore } from '../../model/weights.js';
import { ProbescaleError } from '../../util/errors.js';
import { FLOAT, GraphBuilder, INT64 } from '../graph.js';
import { activation, linear, mergeHeads, paddingBias, splitHeads, transposeWeight } from '../ops.js';
import { OWN_LAYER_WEIGHTS, bridge, publishStack, sequentialPositions, type BuiltGraph, type FamilySpec, type FeedName, type GraphOptions } from '../family.js';
import { linearWeights, vector, storedLayerNorm } from './bert.js';

export function buildDeberta(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['deberta.', ''], 'embeddings.word_embeddings.weight');
  const P = w.prefix;
  const d = arch.deberta!;
  const C = arch.hidden;
  const E = arch.embeddingSize ?? C;
  const H = arch.heads;
  const D = arch.headDim;
  const g = new GraphBuilder('deberta-v2', external, opts.precision);
  const ids = g.input('input_ids', INT64, ['batch', 'seq']);
  const mask = g.input('attention_mask', INT64, ['batch', 'seq']);
  const feeds: FeedName[] = ['input_ids', 'attention_mask'];
  const ln = storedLayerNorm(g, w, C, arch.eps);
  const emb = (name: string, rows: number) => g.weight(P + name, w.body(name, [rows, E]).data, [rows, E]);

  let x = g.op('Gather', [emb('embeddings.word_embeddings.weight', arch.vocab), ids]);
  if (d.positionBiasedInput) {
    const pos = g.input('position_ids', INT64, ['batch', 'seq']);
    feeds.push('position_ids');
    x = g.op('Add', [x, g.op('Gather', [emb('embeddings.position_embeddings.weight', arch.maxPositions), pos])]);
  }
  if ((arch.typeVocab ?? 0) > 0) {
    const types = g.input('token_type_ids', INT64, ['batch', 'seq']);
    feeds.push('token_type_ids');
    x = g.op('Add', [x, g.op('Gather', [emb('embeddings.token_type_embeddings.weight', arch.typeVocab!), types])]);
  }
  if (E !== C) x = linear(g, x, linearWeights(g, w, `${P}embeddings.embed_proj`, C, E, 1, false).w);
  const maskF = g.op('Unsqueeze', [g.op('Cast', [mask], { to: 1 }), g.constI64([-1])]);
  x = g.op('Mul', [ln(x, `${P}embeddings.LayerNorm`), maskF]);
  const embedded = x;

  const bias = paddingBias(g, mask);
  const terms = Number(d.c2p) + Number(d.p2c);
  const scale = 1 / Math.sqrt(D * (1 + terms));
  let relE: string | undefined;
  let c2pIdx: string | undefined;
  let p2cIdx: string | undefined;
  if (terms > 0) {
    const span = d.span;
    const table = w.body('encoder.rel_embeddings.weight');
    if (table.shape[0] < 2 * span || table.shape[1] !== C) throw new ProbescaleError(`encoder.rel_embeddings.weight has shape [${table.shape}], needs at least [${2 * span}, ${C}]`, { file: w.source });
    relE = g.weight(`${P}encoder.rel_embeddings.weight`, table.data.subarray(0, 2 * span * C), [2 * span, C]);
    if (w.has(`${P}encoder.LayerNorm.weight`)) relE = ln(relE, `${P}encoder.LayerNorm`);
    const rel = g.input('relative_positions', INT64, ['seq', 'seq']);
    feeds.push('relative_positions');
    const clip = (t: string) => g.op('Clip', [t, g.constI64([0], []), g.constI64([2 * span - 1], [])]);
    c2pIdx = clip(g.op('Add', [rel, g.constI64([span], [])])); // [T, T]
    p2cIdx = clip(g.op('Sub', [g.constI64([span], []), rel]));
  }
  /** [T, T] index -> [B, H, T, T] (GatherElements wants the data's rank and sizes) */
  const expandTo = (idx: string, like: string) => g.op('Expand', [idx, g.op('Shape', [like])]);
  /** relative table through a projection -> [1, H, 2 span, D] */
  const relHeads = (lw: { w: string; b?: string }) => splitHeads(g, g.op('Unsqueeze', [linear(g, relE!, lw.w, lw.b), g.constI64([0])]), H, D);

  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}encoder.layer.${l}`;
    const qW = linearWeights(g, w, `${L}.attention.self.query_proj`, H * D, C, scale);
    const kW = linearWeights(g, w, `${L}.attention.self.key_proj`, H * D, C);
    const vW = linearWeights(g, w, `${L}.attention.self.value_proj`, H * D, C);
    const q = splitHeads(g, linear(g, x, qW.w, qW.b), H, D);
    const k = splitHeads(g, linear(g, x, kW.w, kW.b), H, D);
    const v = splitHeads(g, linear(g, x, vW.w, vW.b), H, D);
    let scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]); // [B, H, T, T]
    if (d.c2p) {
      const kr = relHeads(d.shareAttKey ? kW : linearWeights(g, w, `${L}.attention.self.pos_key_proj`, H * D, C));
      const full = g.op('MatMul', [q, g.op('Transpose', [kr], { perm: [0, 1, 3, 2] })]); // [B, H, T, 2 span]
      const like = scores;
      scores = g.op('Add', [scores, g.op('GatherElements', [full, expandTo(c2pIdx!, like)], { axis: -1 })]);
    }
    if (d.p2c) {
      const qr = relHeads(d.shareAttKey ? qW : linearWeights(g, w, `${L}.attention.self.pos_query_proj`, H * D, C, scale));
      const full = g.op('MatMul', [k, g.op('Transpose', [qr], { perm: [0, 1, 3, 2] })]); // [B, H, Tk, 2 span]
      const gathered = g.op('GatherElements', [full, expandTo(p2cIdx!, scores)], { axis: -1 }); // [b, h, j, i]
      scores = g.op('Add', [scores, g.op('Transpose', [gathered], { perm: [0, 1, 3, 2] })]);
    }
    const probs = g.op('Softmax', [g.op('Add', [scores, bias])], { axis: -1 });
    const ctx = mergeHeads(g, g.op('MatMul', [probs, v]), H, D);
    const o = linearWeights(g, w, `${L}.attention.output.dense`, C, H * D);
    x = ln(g.op('Add', [linear(g, ctx, o.w, o.b), x]), `${L}.attention.output.LayerNorm`);
    const f1 = linearWeights(g, w, `${L}.intermediate.dense`, arch.intermediate, C);
    const f2 = linearWeights(g, w, `${L}.output.dense`, C, arch.intermediate);
    x = ln(g.op('Add', [linear(g, activation(g, linear(g, x, f1.w, f1.b), arch.activation), f2.w, f2.b), x]), `${L}.output.LayerNorm`);
    layerOutputs.push(x);
  }
  x = bridge(g, x, opts, opts.layers.length, C);
  const outputs = publishStack(g, '', embedded, layerOutputs, x, opts.hiddenStates);
  if (opts.logits && w.has('cls.predictions.bias')) {
    const dn = linearWeights(g, w, 'cls.predictions.transform.dense', E, C);
    const h = ln(activation(g, linear(g, x, dn.w, dn.b), arch.activation), 'cls.predictions.transform.LayerNorm', E);
    const dec = w.has('cls.predictions.decoder.weight') ? w.get('cls.predictions.decoder.weight', [arch.vocab, E]) : w.body('embeddings.word_embeddings.weight', [arch.vocab, E]);
    g.output('logits', g.op('Add', [g.op('MatMul', [h, g.weight('lm_decoder.T', transposeWeight(dec.data, arch.vocab, E), [E, arch.vocab])]), vector(g, w, 'cls.predictions.bias', arch.vocab)]), FLOAT, ['batch_size', 'sequence_length', 'vocab_size']);
    outputs.push('logits');
  }
  return { bytes: g.toBytes(), feeds, outputs };
}

export const deberta: FamilySpec = {
  about: { kind: 'encoder', notes: 'DeBERTa-v3: disentangled c2p/p2c attention over log-bucketed relative positions', fixture: 'hf-zoo/deberta-v3' },
  modelTypes: ['deberta-v2'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'hidden_size', 1536, path);
    const heads = num(raw, 'num_attention_heads', 24, path);
    const maxPositions = num(raw, 'max_position_embeddings', 512, path);
    if (num(raw, 'conv_kernel_size', 0, path) > 0) throw new ProbescaleError('DeBERTa-v2 with conv_kernel_size > 0 (the v2-xlarge convolution) is not supported', { file: path });
    const norm = (raw.norm_rel_ebd as string | undefined) ?? 'none';
    if (norm !== 'none' && norm !== 'layer_norm') throw new ProbescaleError(`norm_rel_ebd "${norm}" is not supported (none, layer_norm)`, { file: path });
    const attType = raw.pos_att_type;
    const types = Array.isArray(attType) ? (attType as string[]) : typeof attType === 'string' ? attType.toLowerCase().split('|').map((t) => t.trim()) : [];
    const relative = raw.relative_attention === true;
    const maxRelative = (optNum(raw, 'max_relative_positions') ?? -1) < 1 ? maxPositions : num(raw, 'max_relative_positions', -1, path);
    const buckets = optNum(raw, 'position_buckets') ?? -1;
    const headDim = optNum(raw, 'attention_head_size') ?? hidden / heads;
    return {
      ...specialIds(raw), family: 'deberta-v2', hidden, heads, kvHeads: heads, headDim,
      layers: num(raw, 'num_hidden_layers', 24, path),
      intermediate: num(raw, 'intermediate_size', 6144, path),
      vocab: num(raw, 'vocab_size', 128100, path),
      maxPositions,
      eps: num(raw, 'layer_norm_eps', 1e-7, path),
      activation: act(raw, 'hidden_act', 'gelu', path),
      typeVocab: num(raw, 'type_vocab_size', 0, path),
      padTokenId: optNum(raw, 'pad_token_id') ?? 0,
      embeddingSize: optNum(raw, 'embedding_size') ?? hidden,
      causal: false, tieEmbeddings: raw.tie_word_embeddings !== false,
      deberta: {
        buckets, maxRelative, span: buckets > 0 ? buckets : maxRelative,
        c2p: relative && types.includes('c2p'), p2c: relative && types.includes('p2c'),
        shareAttKey: raw.share_att_key === true, positionBiasedInput: raw.position_biased_input !== false,
      },
    };
  },
  prefixes: ['deberta.', ''],
  anchor: 'embeddings.word_embeddings.weight',
  tensors: [
    /^embeddings\.(word_embeddings|position_embeddings|token_type_embeddings)\.weight$/,
    /^embeddings\.embed_proj\.weight$/,
    /^embeddings\.LayerNorm\.(weight|bias)$/,
    /^embeddings\.position_ids$/,
    /^encoder\.rel_embeddings\.weight$/,
    /^encoder\.LayerNorm\.(weight|bias)$/,
    /^encoder\.layer\.\d+\.attention\.self\.(query_proj|key_proj|value_proj|pos_key_proj|pos_query_proj)\.(weight|bias)$/,
    /^encoder\.layer\.\d+\.(attention\.output|output)\.(dense|LayerNorm)\.(weight|bias)$/,
    /^encoder\.layer\.\d+\.intermediate\.dense\.(weight|bias)$/,
    /^cls\.predictions\.(bias|decoder\.weight|decoder\.bias)$/,
    /^cls\.predictions\.transform\.(dense|LayerNorm)\.(weight|bias)$/,
  ],
  layerPattern: /^((?:deberta\.)?encoder\.layer\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embeddings.word_embeddings.weight', 'cls.predictions.bias', 'cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'],
  positionIds: sequentialPositions,
  maxSequenceTokens: (arch) => (arch.deberta!.positionBiasedInput ? arch.maxPositions : Number.POSITIVE_INFINITY),
  kvCache: false,
  build: buildDeberta,
};
