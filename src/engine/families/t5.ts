/**
 * T5 (encoder-only or encoder-decoder): pre-norm with RMS "LayerNorm", no biases, unscaled attention,
 * relative position buckets (computed by the runner, see model/t5-buckets.ts) looked up in the bias table
 * owned by block 0 of each stack and shared by every later block.
 *   encoder layer: x = x + SelfAttn(rms(x)) ; x = x + FF(rms(x))
 *   decoder layer: x = x + CausalSelfAttn(rms(x)) ; x = x + CrossAttn(rms(x), enc) ; x = x + FF(rms(x))
 *   FF: relu: wo(relu(wi x)); gated: wo(act(wi_0 x) * wi_1 x)
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import type { WeightStore } from '../../model/weights.js';
import { FLOAT, GraphBuilder, INT64 } from '../graph.js';
import { activation, attend, bucketsInGraph, causalPaddingBias, linear, mergeHeads, paddingBias, rmsNorm, splitHeads, transposeWeight } from '../ops.js';
import { bridge, publishStack, renumberedSubset, storedPerLayer, sequentialPositions, type BuiltGraph, type FamilySpec, type FeedName, type GraphOptions, type SubsetWrite } from '../family.js';
import { ProbescaleError } from '../../util/errors.js';
import { linearWeights, vector } from './bert.js';

export function t5HasDecoder(arch: ArchConfig, w: WeightStore): boolean {
  return !arch.t5!.encoderOnly && w.has('decoder.block.0.layer.0.SelfAttention.q.weight');
}

/** Position bias [1, H, Tq, Tk] from bucket ids [Tq, Tk] and the stack's table [buckets, H]. */
function positionBias(g: GraphBuilder, w: WeightStore, stack: string, buckets: string, arch: ArchConfig): string {
  const name = `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`;
  const table = g.weight(name, w.get(name, [arch.t5!.buckets, arch.heads]).data, [arch.t5!.buckets, arch.heads]);
  const b = g.op('Transpose', [g.op('Gather', [table, buckets])], { perm: [2, 0, 1] }); // [H, Tq, Tk]
  return g.op('Unsqueeze', [b, g.constI64([0])]);
}

function attention(g: GraphBuilder, w: WeightStore, name: string, arch: ArchConfig, x: string, kv: string, bias: string): string {
  const C = arch.hidden;
  const inner = arch.heads * arch.headDim;
  const q = linearWeights(g, w, `${name}.q`, inner, C, 1, false);
  const k = linearWeights(g, w, `${name}.k`, inner, C, 1, false);
  const v = linearWeights(g, w, `${name}.v`, inner, C, 1, false);
  const o = linearWeights(g, w, `${name}.o`, C, inner, 1, false);
  const ctx = attend(
    g,
    splitHeads(g, linear(g, x, q.w), arch.heads, arch.headDim),
    splitHeads(g, linear(g, kv, k.w), arch.heads, arch.headDim),
    splitHeads(g, linear(g, kv, v.w), arch.heads, arch.headDim),
    bias,
  );
  return linear(g, mergeHeads(g, ctx, arch.heads, arch.headDim), o.w);
}

function feedForward(g: GraphBuilder, w: WeightStore, name: string, arch: ArchConfig, x: string): string {
  const C = arch.hidden;
  const F = arch.intermediate;
  const wo = linearWeights(g, w, `${name}.wo`, C, F, 1, false);
  if (arch.t5!.gated) {
    const wi0 = linearWeights(g, w, `${name}.wi_0`, F, C, 1, false);
    const wi1 = linearWeights(g, w, `${name}.wi_1`, F, C, 1, false);
    return linear(g, g.op('Mul', [activation(g, linear(g, x, wi0.w), arch.activation), linear(g, x, wi1.w)]), wo.w);
  }
  const wi = linearWeights(g, w, `${name}.wi`, F, C, 1, false);
  return linear(g, activation(g, linear(g, x, wi.w), arch.activation), wo.w);
}

export function buildT5(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  const C = arch.hidden;
  const withDecoder = t5HasDecoder(arch, w) && opts.decoderLayers.length > 0;
  const g = new GraphBuilder(withDecoder ? 't5' : 't5-encoder', external, opts.precision);
  const shared = w.get('shared.weight', [arch.vocab, C]);
  const embed = g.weight('shared.weight', shared.data, [arch.vocab, C]);
  const ids = g.input('input_ids', INT64, ['batch', 'seq']);
  const mask = g.input('attention_mask', INT64, ['batch', 'seq']);
  // exported graphs (positionsInGraph) compute the buckets themselves: runtimes feed only ids and masks
  const inGraph = opts.positionsInGraph !== undefined;
  const t5 = arch.t5!;
  const buckets = inGraph ? bucketsInGraph(g, ids, ids, true, t5.buckets, t5.maxDistance) : g.input('position_buckets', INT64, ['seq', 'seq']);
  const feeds: FeedName[] = inGraph ? ['input_ids', 'attention_mask'] : ['input_ids', 'attention_mask', 'position_buckets'];

  // Encoder
  let x = g.op('Gather', [embed, ids]);
  const encEmbedded = x;
  const encPad = paddingBias(g, mask);
  const encBias = g.op('Add', [positionBias(g, w, 'encoder', buckets, arch), encPad]);
  const encOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const B = `encoder.block.${l}.layer`;
    const h = rmsNorm(g, x, vector(g, w, `${B}.0.layer_norm.weight`, C), arch.eps);
    x = g.op('Add', [x, attention(g, w, `${B}.0.SelfAttention`, arch, h, h, encBias)]);
    x = g.op('Add', [x, feedForward(g, w, `${B}.1.DenseReluDense`, arch, rmsNorm(g, x, vector(g, w, `${B}.1.layer_norm.weight`, C), arch.eps))]);
    encOutputs.push(x);
  }
  x = bridge(g, x, opts, opts.layers.length, C);
  const enc = rmsNorm(g, x, vector(g, w, 'encoder.final_layer_norm.weight', C), arch.eps);
  if (!withDecoder) {
    const outputs = publishStack(g, '', encEmbedded, encOutputs, enc, opts.hiddenStates);
    return { bytes: g.toBytes(), feeds, outputs };
  }
  const outputs = publishStack(g, 'encoder_', encEmbedded, encOutputs, enc, opts.hiddenStates);

  // Decoder
  const dids = g.input('decoder_input_ids', INT64, ['batch', 'dseq']);
  const dmask = g.input('decoder_attention_mask', INT64, ['batch', 'dseq']);
  const dbuckets = inGraph ? bucketsInGraph(g, dids, dids, false, t5.buckets, t5.maxDistance) : g.input('decoder_position_buckets', INT64, ['dseq', 'dseq']);
  feeds.push('decoder_input_ids', 'decoder_attention_mask', ...(inGraph ? [] : ['decoder_position_buckets' as const]));
  let y = g.op('Gather', [embed, dids]);
  const decEmbedded = y;
  const selfBias = g.op('Add', [positionBias(g, w, 'decoder', dbuckets, arch), causalPaddingBias(g, dmask)]);
  const decOutputs: string[] = [];
  for (const l of opts.decoderLayers) {
    const B = `decoder.block.${l}.layer`;
    const h0 = rmsNorm(g, y, vector(g, w, `${B}.0.layer_norm.weight`, C), arch.eps);
    y = g.op('Add', [y, attention(g, w, `${B}.0.SelfAttention`, arch, h0, h0, selfBias)]);
    const h1 = rmsNorm(g, y, vector(g, w, `${B}.1.layer_norm.weight`, C), arch.eps);
    y = g.op('Add', [y, attention(g, w, `${B}.1.EncDecAttention`, arch, h1, enc, encPad)]);
    y = g.op('Add', [y, feedForward(g, w, `${B}.2.DenseReluDense`, arch, rmsNorm(g, y, vector(g, w, `${B}.2.layer_norm.weight`, C), arch.eps))]);
    decOutputs.push(y);
  }
  const dec = rmsNorm(g, y, vector(g, w, 'decoder.final_layer_norm.weight', C), arch.eps);
  outputs.push(...publishStack(g, 'decoder_', decEmbedded, decOutputs, dec, opts.hiddenStates, 'last_hidden_state'));
  if (opts.logits) {
    // Tied embeddings: the decoder output is rescaled by d_model^-0.5 before the shared projection.
    const head = arch.tieEmbeddings ? shared : w.get('lm_head.weight', [arch.vocab, C]);
    const hIn = arch.tieEmbeddings ? g.op('Mul', [dec, g.constF(Math.pow(C, -0.5))]) : dec;
    g.output('logits', g.op('MatMul', [hIn, g.weight('lm_head.T', transposeWeight(head.data, arch.vocab, C), [C, arch.vocab])]), FLOAT, ['batch_size', 'decoder_sequence_length', 'vocab_size']);
    outputs.push('logits');
  }
  return { bytes: g.toBytes(), feeds, outputs };
}

/** The selectable units of a T5 checkpoint: its encoder blocks, then its decoder blocks (none for T5EncoderModel). */
export function t5Units(arch: ArchConfig, w: WeightStore): { encoder: number; decoder: number } {
  return { encoder: arch.layers, decoder: t5HasDecoder(arch, w) ? arch.t5!.decoderLayers : 0 };
}

/** Units (t5Units numbering) -> the encoder and decoder block indices they name, each in the given order. */
export function splitT5Units(arch: ArchConfig, w: WeightStore, units: number[]): { layers: number[]; decoderLayers: number[] } {
  const n = t5Units(arch, w);
  const bad = units.find((u) => !Number.isInteger(u) || u < 0 || u >= n.encoder + n.decoder);
  if (bad !== undefined) throw new ProbescaleError(`T5 unit ${bad} does not exist: units 0-${n.encoder - 1} are encoder blocks${n.decoder ? `, ${n.encoder}-${n.encoder + n.decoder - 1} decoder blocks` : ' (no decoder stored)'}`, { fix: 'pass unit indices within that range' });
  return { layers: units.filter((u) => u < n.encoder), decoderLayers: units.filter((u) => u >= n.encoder).map((u) => u - n.encoder) };
}

const DECODER_BLOCK = /^(decoder\.block\.)(\d+)(\..*)$/;

/** The decoder block a tensor belongs to, or -1. */
export function t5DecoderBlockOf(name: string): number {
  const m = DECODER_BLOCK.exec(name);
  return m ? Number(m[2]) : -1;
}

/**
 * A kept subset of units (t5Units numbering). Encoder blocks alone: the encoder alone (T5EncoderModel, the
 * layout HF loads with no missing or unexpected keys: shared, encoder.*). With decoder blocks: both stacks
 * renumbered (T5ForConditionalGeneration), num_layers / num_decoder_layers the kept counts. Each stack's
 * position table lives in its block 0 (has_relative_attention_bias = i == 0 in HF's T5Stack), so when block 0
 * is dropped it moves to the new block 0.
 */
function writeT5Subset(spec: FamilySpec, arch: ArchConfig, w: WeightStore, units: number[]): SubsetWrite {
  const { layers, decoderLayers } = splitT5Units(arch, w, units);
  const out = renumberedSubset(spec, arch, w, layers);
  for (const name of Object.keys(out.tensors)) if (name.startsWith('decoder.') || name.startsWith('lm_head.')) delete out.tensors[name];
  if (decoderLayers.length > 0 && layers.length === 0) throw new ProbescaleError('a T5 subset with decoder blocks needs at least one encoder block', { fix: 'keep an encoder block too (units 0-' + (arch.layers - 1) + ')' });
  if (decoderLayers.length === 0) {
    out.config.architectures = ['T5EncoderModel'];
    return out;
  }
  const newIndex = new Map(decoderLayers.map((l, j) => [l, j]));
  for (const name of w.names()) {
    if (!name.startsWith('decoder.') && !name.startsWith('lm_head.')) continue;
    const t = w.get(name);
    const entry = { dtype: 'F32' as const, shape: t.shape, data: t.data };
    const m = DECODER_BLOCK.exec(name);
    if (!m) out.tensors[name] = entry;
    else if (newIndex.has(Number(m[2]))) out.tensors[`${m[1]}${newIndex.get(Number(m[2]))}${m[3]}`] = entry;
  }
  const table = 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';
  if (!newIndex.has(0)) out.tensors[table] = { dtype: 'F32', shape: w.get(table).shape, data: w.get(table).data };
  out.config.num_decoder_layers = decoderLayers.length;
  out.config.architectures = ['T5ForConditionalGeneration'];
  return out;
}

export const t5: FamilySpec = {
  about: { kind: 'encoder-decoder', notes: 'encoder and decoder blocks selectable; tasks probe the encoder and a subset of encoder blocks is written as the encoder alone (T5EncoderModel); relative buckets', fixture: 'hf-tiny/t5, t5-encoder, t5-gated' },
  modelTypes: ['t5'],
  parseConfig(raw, path) {
    const ffProj = (raw.feed_forward_proj as string | undefined) ?? 'relu';
    const gated = ffProj.startsWith('gated-');
    const actName = gated ? ffProj.slice('gated-'.length) : ffProj;
    const heads = num(raw, 'num_heads', 8, path);
    const layers = num(raw, 'num_layers', 6, path);
    const archs = (raw.architectures as string[] | undefined) ?? [];
    return {
      ...specialIds(raw), family: 't5', heads, kvHeads: heads,
      hidden: num(raw, 'd_model', 512, path),
      headDim: num(raw, 'd_kv', 64, path),
      layers,
      intermediate: num(raw, 'd_ff', 2048, path),
      vocab: num(raw, 'vocab_size', 32128, path),
      maxPositions: Number.POSITIVE_INFINITY,
      eps: num(raw, 'layer_norm_epsilon', 1e-6, path),
      // as in T5Config: 'gated-gelu' means the tanh approximation (gelu_new); plain 'gelu' is exact
      activation: act({ a: ffProj === 'gated-gelu' ? 'gelu_new' : actName }, 'a', 'relu', path),
      causal: false, tieEmbeddings: raw.tie_word_embeddings !== false,
      padTokenId: optNum(raw, 'pad_token_id') ?? 0,
      t5: {
        decoderLayers: optNum(raw, 'num_decoder_layers') ?? layers,
        gated,
        buckets: num(raw, 'relative_attention_num_buckets', 32, path),
        maxDistance: num(raw, 'relative_attention_max_distance', 128, path),
        encoderOnly: archs.length > 0 && archs.every((a) => a === 'T5EncoderModel'),
      },
    };
  },
  prefixes: [''],
  anchor: 'shared.weight',
  tensors: [
    /^(shared|encoder\.embed_tokens|decoder\.embed_tokens|lm_head)\.weight$/,
    /^(encoder|decoder)\.final_layer_norm\.weight$/,
    /^(encoder|decoder)\.block\.\d+\.layer\.\d\.layer_norm\.weight$/,
    /^(encoder|decoder)\.block\.\d+\.layer\.\d\.(SelfAttention|EncDecAttention)\.(q|k|v|o)\.weight$/,
    /^(encoder|decoder)\.block\.0\.layer\.0\.SelfAttention\.relative_attention_bias\.weight$/,
    /^(encoder|decoder)\.block\.\d+\.layer\.\d\.DenseReluDense\.(wi|wi_0|wi_1|wo)\.weight$/,
  ],
  // the probed (encoder) stack's blocks; decoder blocks are units L.. of t5Units (select/costs.ts parameterCosts 'all')
  layerPattern: /^(encoder\.block\.)(\d+)(\..*)$/,
  layerCountKey: 'num_layers',
  // every stack reads its position table from its block 0: a subset without block 0 moves it to the new block 0
  sharedAcrossLayers: (name) => name.includes('relative_attention_bias'),
  vocabTensors: ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', 'lm_head.weight'],
  positionIds: sequentialPositions, // unused: T5 reads relative buckets (position_buckets)
  maxSequenceTokens: () => Number.POSITIVE_INFINITY,
  kvCache: false,
  build: buildT5,
  // Units 0..L-1 are encoder blocks, L..L+Ld-1 decoder blocks (t5Units). Tasks are probed on the encoder, so
  // a subset of encoder blocks is written as that encoder alone (T5EncoderModel: no decoder, no LM head); a
  // subset with decoder blocks as T5ForConditionalGeneration with both stacks renumbered.
  writeSubset: writeT5Subset,
  appliedParameters: storedPerLayer,
};
