/**
 * BERT: post-LN encoder.
 *   x = LN(word[ids] + pos[position_ids] + type[token_type_ids])      (ELECTRA: then a projection E -> C)
 *   per layer: x = LN(x + Attn(x)); x = LN(x + W2 gelu(W1 x))
 *   MLM head: logits = LN(act(dense(x))) @ word^T + bias
 * RoBERTa, DistilBERT and ELECTRA use the same graph with their own names (a BertLayout) and position ids.
 */
import type { ArchConfig, Family } from '../../model/config.js';
import { act, num, optNum, specialIds, type Raw } from '../../model/config-fields.js';
import { ProbescaleError } from '../../util/errors.js';
import type { WeightStore } from '../../model/weights.js';
import { FLOAT, GraphBuilder, INT64 } from '../graph.js';
import { activation, attend, layerNorm, linear, mergeHeads, paddingBias, residual, splitHeads, transposeWeight, positionsFromIds } from '../ops.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, bridge, publishStack, type BuiltGraph, type FamilySpec, type FeedName, type GraphOptions } from '../family.js';

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

/** LayerNorm over the stored `${name}.weight` and `${name}.bias` (width n, default C): the BERT-, GPT- and OPT-shaped families' norm. */
export function storedLayerNorm(g: GraphBuilder, w: WeightStore, C: number, eps: number): (x: string, name: string, n?: number) => string {
  return (x, name, n = C) => layerNorm(g, x, vector(g, w, `${name}.weight`, n), vector(g, w, `${name}.bias`, n), eps);
}

/**
 * Where a BERT-shaped encoder keeps its tensors (names after the base-model prefix; head names are full).
 * BERT, RoBERTa, DistilBERT and ELECTRA share the graph below and differ only here.
 */
export interface BertLayout {
  prefixes: string[];
  word: string;
  position: string;
  /** absent: no token types (DistilBERT) */
  tokenType?: string;
  embedNorm: string;
  /** MPNet: one relative position bias table [buckets, heads] (after the prefix) added to every layer's scores. */
  relativeBias?: string;
  /** ELECTRA: embedding_size -> hidden_size projection after the embedding LayerNorm (when E != C). */
  project?: string;
  /** Per-layer names under `${layerRoot}.${l}.`, or under layerName(l) when layers share weights (ALBERT) */
  layerRoot: string;
  layerName?: (l: number) => string;
  q: string; k: string; v: string; o: string; attnNorm: string; ffIn: string; ffOut: string; outNorm: string;
  /** MLM head: dense (C -> E) -> act -> LayerNorm -> decoder (tied to `word` when absent) + bias */
  head?: { dense: string; norm: string; decoder: string; bias: string; act?: 'gelu' };
}

export const BERT_LAYOUT: BertLayout = {
  prefixes: ['bert.', ''], word: 'embeddings.word_embeddings.weight', position: 'embeddings.position_embeddings.weight',
  tokenType: 'embeddings.token_type_embeddings.weight', embedNorm: 'embeddings.LayerNorm', layerRoot: 'encoder.layer',
  q: 'attention.self.query', k: 'attention.self.key', v: 'attention.self.value', o: 'attention.output.dense',
  attnNorm: 'attention.output.LayerNorm', ffIn: 'intermediate.dense', ffOut: 'output.dense', outNorm: 'output.LayerNorm',
  head: { dense: 'cls.predictions.transform.dense', norm: 'cls.predictions.transform.LayerNorm', decoder: 'cls.predictions.decoder.weight', bias: 'cls.predictions.bias' },
};

export function buildBertEncoder(layout: BertLayout) {
  return (arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph => {
    w.choosePrefix(layout.prefixes, layout.word);
    const P = w.prefix;
    const C = arch.hidden;
    const E = arch.embeddingSize ?? C;
    const g = new GraphBuilder(arch.family, external, opts.precision);
    const ids = g.input('input_ids', INT64, ['batch', 'seq']);
    const mask = g.input('attention_mask', INT64, ['batch', 'seq']);
    const pos = opts.positionsInGraph ? positionsFromIds(g, ids, opts.positionsInGraph, arch.padTokenId ?? 1) : g.input('position_ids', INT64, ['batch', 'seq']);
    const feeds: FeedName[] = opts.positionsInGraph ? ['input_ids', 'attention_mask'] : ['input_ids', 'attention_mask', 'position_ids'];
    const ln = storedLayerNorm(g, w, C, arch.eps);

    const emb = (name: string, rows: number) => g.weight(P + name, w.body(name, [rows, E]).data, [rows, E]);
    const word = emb(layout.word, arch.vocab);
    let x = g.op('Gather', [word, ids]);
    x = g.op('Add', [x, g.op('Gather', [emb(layout.position, arch.maxPositions), pos])]);
    if (layout.tokenType) {
      const types = g.input('token_type_ids', INT64, ['batch', 'seq']);
      feeds.push('token_type_ids');
      x = g.op('Add', [x, g.op('Gather', [emb(layout.tokenType, arch.typeVocab ?? 2), types])]);
    }
    x = ln(x, P + layout.embedNorm, E);
    if (layout.project && w.has(`${P}${layout.project}.weight`)) {
      const pr = linearWeights(g, w, P + layout.project, C, E);
      x = linear(g, x, pr.w, pr.b);
    }
    const embedded = x;

    let bias = paddingBias(g, mask);
    if (layout.relativeBias) {
      const nb = arch.positionBuckets!.buckets;
      const buckets = g.input('position_buckets', INT64, ['seq', 'seq']);
      feeds.push('position_buckets');
      const table = g.weight(P + layout.relativeBias, w.body(layout.relativeBias, [nb, arch.heads]).data, [nb, arch.heads]);
      const rel = g.op('Unsqueeze', [g.op('Transpose', [g.op('Gather', [table, buckets])], { perm: [2, 0, 1] }), g.constI64([0])]); // [1, H, T, T]
      bias = g.op('Add', [rel, bias]);
    }
    const scale = 1 / Math.sqrt(arch.headDim);
    const layerOutputs: string[] = [];
    let mask32: string | undefined;
    for (const [j, l] of opts.layers.entries()) {
      x = bridge(g, x, opts, j, C);
      const L = P + (layout.layerName ? layout.layerName(l) : `${layout.layerRoot}.${l}`);
      // int8 without a position bias: one QAttention node (q/k/v in one int8 GEMM, no head transposes); it
      // applies 1/sqrt(head size) itself, so q is not pre-scaled there
      const fused = g.precision === 'int8' && !layout.relativeBias;
      const q = linearWeights(g, w, `${L}.${layout.q}`, C, C, fused ? 1 : scale);
      const k = linearWeights(g, w, `${L}.${layout.k}`, C, C);
      const v = linearWeights(g, w, `${L}.${layout.v}`, C, C);
      const o = linearWeights(g, w, `${L}.${layout.o}`, C, C);
      const merged = fused
        ? g.qAttention(x, [q.w, k.w, v.w], [q.b!, k.b!, v.b!], (mask32 ??= g.op('Cast', [mask], { to: 6 })), arch.heads)
        : mergeHeads(g, attend(
          g,
          splitHeads(g, linear(g, x, q.w, q.b), arch.heads, arch.headDim),
          splitHeads(g, linear(g, x, k.w, k.b), arch.heads, arch.headDim),
          splitHeads(g, linear(g, x, v.w, v.b), arch.heads, arch.headDim),
          bias,
        ), arch.heads, arch.headDim);
      // the output projections' biases join the residual sums (one pass over [B, T, C] each)
      x = ln(residual(g, g.op('MatMul', [merged, o.w]), o.b!, x), `${L}.${layout.attnNorm}`);
      const f1 = linearWeights(g, w, `${L}.${layout.ffIn}`, arch.intermediate, C);
      const f2 = linearWeights(g, w, `${L}.${layout.ffOut}`, C, arch.intermediate);
      const ff = g.op('MatMul', [activation(g, linear(g, x, f1.w, f1.b), arch.activation), f2.w]);
      x = ln(residual(g, ff, f2.b!, x), `${L}.${layout.outNorm}`);
      layerOutputs.push(x);
    }
    x = bridge(g, x, opts, opts.layers.length, C);
    const outputs = publishStack(g, '', embedded, layerOutputs, x, opts.hiddenStates);

    // Masked-LM head: dense -> act -> LayerNorm -> decoder (tied to the word embeddings) + bias.
    const head = layout.head;
    if (opts.logits && head && w.has(head.bias)) {
      const d = linearWeights(g, w, head.dense, E, C);
      let h = activation(g, linear(g, x, d.w, d.b), head.act ?? arch.activation);
      h = ln(h, head.norm, E);
      const dec = w.has(head.decoder) ? w.get(head.decoder, [arch.vocab, E]) : w.body(layout.word, [arch.vocab, E]);
      const decT = g.weight('lm_decoder.T', transposeWeight(dec.data, arch.vocab, E), [E, arch.vocab]);
      g.output('logits', g.op('Add', [g.op('MatMul', [h, decT]), vector(g, w, head.bias, arch.vocab)]), FLOAT, ['batch_size', 'sequence_length', 'vocab_size']);
      outputs.push('logits');
    }
    return { bytes: g.toBytes(), feeds, outputs };
  };
}

export const buildBert = buildBertEncoder(BERT_LAYOUT);

/** BERT config (BertConfig defaults); RoBERTa and its relatives reuse it with their own defaults. */
export function parseBertLike(raw: Raw, path: string, family: Family, dflt: { vocab: number; pad: number; hidden?: number; heads?: number; intermediate?: number }): ArchConfig {
  const hidden = num(raw, 'hidden_size', dflt.hidden ?? 768, path);
  const heads = num(raw, 'num_attention_heads', dflt.heads ?? 12, path);
  if (raw.position_embedding_type && raw.position_embedding_type !== 'absolute') {
    throw new ProbescaleError(`position_embedding_type "${raw.position_embedding_type}" is not supported (only "absolute")`, { file: path });
  }
  return {
    ...specialIds(raw), family, hidden, heads, kvHeads: heads, headDim: hidden / heads,
    layers: num(raw, 'num_hidden_layers', 12, path),
    intermediate: num(raw, 'intermediate_size', dflt.intermediate ?? 3072, path),
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
  about: { kind: 'encoder', notes: 'post-LN, MLM head', fixture: 'hf-tiny/bert' },
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
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embeddings.word_embeddings.weight', 'cls.predictions.bias', 'cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: false,
  build: buildBert,
};
