/**
 * BERT and RoBERTa: post-LN encoder.
 *   x = LN(word[ids] + pos[position_ids] + type[token_type_ids])
 *   per layer: x = LN(x + Attn(x)); x = LN(x + W2 gelu(W1 x))
 * RoBERTa differs only in names, position ids and the MLM head's names (its spec: roberta.ts).
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds, type Raw } from '../../model/config-fields.js';
import { ProbescaleError } from '../../util/errors.js';
import type { WeightStore } from '../../model/weights.js';
import { GraphBuilder, INT64 } from '../graph.js';
import { activation, attend, layerNorm, linear, mergeHeads, paddingBias, splitHeads, transposeWeight } from '../ops.js';
import { bridge, publishStack, renumberedSubset, sequentialPositions, type BuiltGraph, type FamilySpec, type GraphOptions } from '../family.js';

/** nn.Linear [out, in] -> MatMul [in, out], optionally scaled (folds attention's 1/sqrt(D) into the query). */
export function linearWeights(g: GraphBuilder, w: WeightStore, name: string, out: number, inp: number, scale = 1, withBias = true) {
  const W = w.get(`${name}.weight`, [out, inp]);
  let t = transposeWeight(W.data, out, inp);
  if (scale !== 1) t = t.map((v) => v * scale);
  const wName = g.weight(`${name}.weight.T${scale !== 1 ? '.scaled' : ''}`, t, [inp, out]);
  if (!withBias) return { w: wName };
  let b = w.get(`${name}.bias`, [out]).data;
  if (scale !== 1) b = b.map((v) => v * scale);
  return { w: wName, b: g.weight(`${name}.bias${scale !== 1 ? '.scaled' : ''}`, b, [out]) };
}

export function vector(g: GraphBuilder, w: WeightStore, name: string, n: number): string {
  return g.weight(name, w.get(name, [n]).data, [n]);
}

export function buildBert(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  const roberta = arch.family === 'roberta';
  w.choosePrefix(roberta ? ['roberta.', ''] : ['bert.', ''], 'embeddings.word_embeddings.weight');
  const P = w.prefix;
  const C = arch.hidden;
  const g = new GraphBuilder(arch.family, external);
  const ids = g.input('input_ids', INT64, ['batch', 'seq']);
  const mask = g.input('attention_mask', INT64, ['batch', 'seq']);
  const pos = g.input('position_ids', INT64, ['batch', 'seq']);
  const types = g.input('token_type_ids', INT64, ['batch', 'seq']);

  const emb = (name: string, rows: number) => g.weight(`${P}embeddings.${name}.weight`, w.body(`embeddings.${name}.weight`, [rows, C]).data, [rows, C]);
  let x = g.op('Gather', [emb('word_embeddings', arch.vocab), ids]);
  x = g.op('Add', [x, g.op('Gather', [emb('position_embeddings', arch.maxPositions), pos])]);
  x = g.op('Add', [x, g.op('Gather', [emb('token_type_embeddings', arch.typeVocab ?? 2), types])]);
  x = layerNorm(g, x, vector(g, w, `${P}embeddings.LayerNorm.weight`, C), vector(g, w, `${P}embeddings.LayerNorm.bias`, C), arch.eps);
  const embedded = x;

  const bias = paddingBias(g, mask);
  const scale = 1 / Math.sqrt(arch.headDim);
  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}encoder.layer.${l}`;
    const q = linearWeights(g, w, `${L}.attention.self.query`, C, C, scale);
    const k = linearWeights(g, w, `${L}.attention.self.key`, C, C);
    const v = linearWeights(g, w, `${L}.attention.self.value`, C, C);
    const o = linearWeights(g, w, `${L}.attention.output.dense`, C, C);
    const ctx = attend(
      g,
      splitHeads(g, linear(g, x, q.w, q.b), arch.heads, arch.headDim),
      splitHeads(g, linear(g, x, k.w, k.b), arch.heads, arch.headDim),
      splitHeads(g, linear(g, x, v.w, v.b), arch.heads, arch.headDim),
      bias,
    );
    const attnOut = linear(g, mergeHeads(g, ctx, arch.heads, arch.headDim), o.w, o.b);
    x = layerNorm(g, g.op('Add', [attnOut, x]), vector(g, w, `${L}.attention.output.LayerNorm.weight`, C), vector(g, w, `${L}.attention.output.LayerNorm.bias`, C), arch.eps);
    const f1 = linearWeights(g, w, `${L}.intermediate.dense`, arch.intermediate, C);
    const f2 = linearWeights(g, w, `${L}.output.dense`, C, arch.intermediate);
    const ff = linear(g, activation(g, linear(g, x, f1.w, f1.b), arch.activation), f2.w, f2.b);
    x = layerNorm(g, g.op('Add', [ff, x]), vector(g, w, `${L}.output.LayerNorm.weight`, C), vector(g, w, `${L}.output.LayerNorm.bias`, C), arch.eps);
    layerOutputs.push(x);
  }
  x = bridge(g, x, opts, opts.layers.length, C);
  const outputs = publishStack(g, '', embedded, layerOutputs, x, opts.hiddenStates);

  // Masked-LM head: dense -> gelu -> LayerNorm -> decoder (tied to word embeddings) + bias.
  const head = roberta ? 'lm_head' : 'cls.predictions';
  const hasHead = w.has(`${head}.bias`);
  if (opts.logits && hasHead) {
    const names = roberta
      ? { dense: 'lm_head.dense', ln: 'lm_head.layer_norm', bias: 'lm_head.bias', decoder: 'lm_head.decoder.weight' }
      : { dense: 'cls.predictions.transform.dense', ln: 'cls.predictions.transform.LayerNorm', bias: 'cls.predictions.bias', decoder: 'cls.predictions.decoder.weight' };
    const d = linearWeights(g, w, names.dense, C, C);
    let h = activation(g, linear(g, x, d.w, d.b), arch.activation);
    h = layerNorm(g, h, vector(g, w, `${names.ln}.weight`, C), vector(g, w, `${names.ln}.bias`, C), arch.eps);
    const dec = w.has(names.decoder) ? w.get(names.decoder, [arch.vocab, C]) : w.body('embeddings.word_embeddings.weight', [arch.vocab, C]);
    const decT = g.weight('lm_decoder.T', transposeWeight(dec.data, arch.vocab, C), [C, arch.vocab]);
    const logits = g.op('Add', [g.op('MatMul', [h, decT]), vector(g, w, names.bias, arch.vocab)]);
    g.output('logits', logits);
    outputs.push('logits');
  }
  return { bytes: g.toBytes(), feeds: ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids'], outputs };
}

/** BERT config (BertConfig defaults); RoBERTa and its relatives reuse it with their own defaults. */
export function parseBertLike(raw: Raw, path: string, family: 'bert' | 'roberta', dflt: { vocab: number; pad: number }): ArchConfig {
  const hidden = num(raw, 'hidden_size', 768, path);
  const heads = num(raw, 'num_attention_heads', 12, path);
  if (raw.position_embedding_type && raw.position_embedding_type !== 'absolute') {
    throw new ProbescaleError(`position_embedding_type "${raw.position_embedding_type}" is not supported (only "absolute")`, { file: path });
  }
  return {
    ...specialIds(raw), family, hidden, heads, kvHeads: heads, headDim: hidden / heads,
    layers: num(raw, 'num_hidden_layers', 12, path),
    intermediate: num(raw, 'intermediate_size', 3072, path),
    vocab: num(raw, 'vocab_size', dflt.vocab, path),
    maxPositions: num(raw, 'max_position_embeddings', 512, path),
    eps: num(raw, 'layer_norm_eps', 1e-12, path),
    activation: act(raw, 'hidden_act', 'gelu', path),
    typeVocab: num(raw, 'type_vocab_size', 2, path),
    padTokenId: optNum(raw, 'pad_token_id') ?? dflt.pad,
    causal: false, tieEmbeddings: raw.tie_word_embeddings !== false,
  };
}

/** Tensors of the BERT-style encoder body (after the "bert."/"roberta." prefix). */
export const BERT_BODY_TENSORS: readonly RegExp[] = [
  /^embeddings\.(word_embeddings|position_embeddings|token_type_embeddings)\.weight$/,
  /^embeddings\.LayerNorm\.(weight|bias)$/,
  /^embeddings\.position_ids$/, // a buffer some checkpoints store
  /^encoder\.layer\.\d+\.attention\.self\.(query|key|value)\.(weight|bias)$/,
  /^encoder\.layer\.\d+\.(attention\.output|output)\.(dense|LayerNorm)\.(weight|bias)$/,
  /^encoder\.layer\.\d+\.intermediate\.dense\.(weight|bias)$/,
  /^pooler\.dense\.(weight|bias)$/, // NSP/classification pooler: stored, not used
];

export const bert: FamilySpec = {
  modelTypes: ['bert'],
  parseConfig: (raw, path) => parseBertLike(raw, path, 'bert', { vocab: 30522, pad: 0 }),
  prefixes: ['bert.', ''],
  anchor: 'embeddings.word_embeddings.weight',
  tensors: [
    ...BERT_BODY_TENSORS,
    /^cls\.predictions\.(bias|decoder\.weight|decoder\.bias)$/,
    /^cls\.predictions\.transform\.(dense|LayerNorm)\.(weight|bias)$/,
    /^cls\.seq_relationship\.(weight|bias)$/, // next-sentence head: stored, not used
  ],
  layerPattern: /^((?:bert\.)?encoder\.layer\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  sharedAcrossLayers: () => false,
  vocabTensors: ['embeddings.word_embeddings.weight', 'cls.predictions.bias', 'cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'],
  positionIds: sequentialPositions,
  maxSequenceTokens: (arch) => arch.maxPositions,
  build: buildBert,
  writeSubset: renumberedSubset,
};
