/**
 * OPT: causal decoder with LayerNorm (pre-LN when do_layer_norm_before, as in every size but 350m),
 * biases, ReLU, and learned positions offset by 2: position = cumsum(mask) * mask - 1 + 2 (pads get 1).
 *   x = project_in(embed_tokens[ids]) + embed_positions[pos]     (project_in only when word_embed_proj_dim != C)
 *   pre-LN:  x = x + out_proj(Attn(ln1(x)));  x = x + fc2(relu(fc1(ln2(x))))
 *   post-LN: x = ln1(x + out_proj(Attn(x)));  x = ln2(x + fc2(relu(fc1(x))))
 *   final_layer_norm (pre-LN), project_out; logits = x @ embed_tokens^T (tied)
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import type { WeightStore } from '../../model/weights.js';
import { ProbescaleError } from '../../util/errors.js';
import { GraphBuilder } from '../graph.js';
import { activation, attend, withCache, linear, mergeHeads, splitHeads } from '../ops.js';
import { OWN_LAYER_WEIGHTS, bridge, type BuiltGraph, type FamilySpec, type GraphOptions, type PositionRule } from '../family.js';
import { decoderDims, finishDecoder, startDecoder } from '../decoder.js';
import { linearWeights, storedLayerNorm } from './bert.js';

/** OPTLearnedPositionalEmbedding: cumsum of the mask, minus 1, plus the offset 2. */
export const optPositions: PositionRule = (_ids, mask, B, T) => {
  const out = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    let count = 0n;
    for (let t = 0; t < T; t++) {
      const m = mask[b * T + t];
      count += m;
      out[b * T + t] = count * m - 1n + 2n;
    }
  }
  return out;
};

export function buildOpt(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['model.', ''], 'decoder.embed_tokens.weight');
  const P = `${w.prefix}decoder.`;
  const o = arch.opt!;
  const { C, H, D, F } = decoderDims(arch);
  const E = o.embedDim;
  // with a cache the positions come from the whole mask, in the graph (so every runtime gets OPT's rule)
  const d = startDecoder('opt', opts, external, opts.kvCache === true ? cachedOptPositions : undefined);
  const { g, ids, pos, cache } = d;
  const ln = storedLayerNorm(g, w, C, arch.eps);

  const embed = w.get(`${P}embed_tokens.weight`, [arch.vocab, E]);
  let x = g.op('Gather', [g.weight(`${P}embed_tokens.weight`, embed.data, [arch.vocab, E]), ids]);
  if (E !== C) x = linear(g, x, linearWeights(g, w, `${P}project_in`, C, E, 1, false).w);
  const posTable = g.weight(`${P}embed_positions.weight`, w.get(`${P}embed_positions.weight`, [arch.maxPositions + 2, C]).data, [arch.maxPositions + 2, C]);
  x = g.op('Add', [x, g.op('Gather', [posTable, pos])]);
  const embedded = x;
  const bias = d.causalBias();
  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}layers.${l}`;
    const q = linearWeights(g, w, `${L}.self_attn.q_proj`, C, C, 1 / Math.sqrt(D), o.bias);
    const k = linearWeights(g, w, `${L}.self_attn.k_proj`, C, C, 1, o.bias);
    const v = linearWeights(g, w, `${L}.self_attn.v_proj`, C, C, 1, o.bias);
    const out = linearWeights(g, w, `${L}.self_attn.out_proj`, C, C, 1, o.bias);
    const fc1 = linearWeights(g, w, `${L}.fc1`, F, C, 1, o.bias);
    const fc2 = linearWeights(g, w, `${L}.fc2`, C, F, 1, o.bias);
    const attn = (h: string) => {
      let kv = { k: splitHeads(g, linear(g, h, k.w, k.b), H, D), v: splitHeads(g, linear(g, h, v.w, v.b), H, D) };
      if (cache) kv = withCache(g, j, kv.k, kv.v, H, D);
      return linear(g, mergeHeads(g, attend(g, splitHeads(g, linear(g, h, q.w, q.b), H, D), kv.k, kv.v, bias), H, D), out.w, out.b);
    };
    const mlp = (h: string) => linear(g, activation(g, linear(g, h, fc1.w, fc1.b), arch.activation), fc2.w, fc2.b);
    if (o.preNorm) {
      x = g.op('Add', [x, attn(ln(x, `${L}.self_attn_layer_norm`))]);
      x = g.op('Add', [x, mlp(ln(x, `${L}.final_layer_norm`))]);
    } else {
      x = ln(g.op('Add', [x, attn(x)]), `${L}.self_attn_layer_norm`);
      x = ln(g.op('Add', [x, mlp(x)]), `${L}.final_layer_norm`);
    }
    layerOutputs.push(x);
  }
  return finishDecoder(d, arch, opts, {
    x, embedded, layerOutputs, kvHeads: H, headDim: D, width: E,
    finalNorm: (y) => {
      const n = o.finalNorm ? ln(y, `${P}final_layer_norm`) : y;
      return E !== C ? linear(g, n, linearWeights(g, w, `${P}project_out`, E, C, 1, false).w) : n;
    },
    head: () => (arch.tieEmbeddings ? embed : w.get('lm_head.weight', [arch.vocab, E])).data,
  });
}

/** optPositions in the graph over the whole mask [B, S], keeping the last T (new) columns: cumsum(mask) * mask + 1. */
function cachedOptPositions(g: GraphBuilder, ids: string, mask: string): string {
  const full = g.op('Add', [g.op('Mul', [g.op('CumSum', [mask, g.constI64([1], [])]), mask]), g.constI64([1], [])]);
  const S = g.op('Slice', [g.op('Shape', [mask]), g.constI64([1]), g.constI64([2])]);
  const T = g.op('Slice', [g.op('Shape', [ids]), g.constI64([1]), g.constI64([2])]);
  return g.op('Slice', [full, g.op('Sub', [S, T]), S, g.constI64([1])]);
}

export const opt: FamilySpec = {
  about: { kind: 'decoder', notes: 'learned positions offset 2, pre-LN (the post-LN / projection path of 350m has no fixture)', fixture: 'hf-zoo/opt' },
  modelTypes: ['opt'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'hidden_size', 768, path);
    const heads = num(raw, 'num_attention_heads', 12, path);
    const preNorm = raw.do_layer_norm_before !== false;
    if (raw.layer_norm_elementwise_affine === false) throw new ProbescaleError('OPT with layer_norm_elementwise_affine=false is not supported', { file: path });
    return {
      ...specialIds(raw), family: 'opt', hidden, heads, kvHeads: heads, headDim: hidden / heads,
      layers: num(raw, 'num_hidden_layers', 12, path),
      intermediate: num(raw, 'ffn_dim', 3072, path),
      vocab: num(raw, 'vocab_size', 50272, path),
      maxPositions: num(raw, 'max_position_embeddings', 2048, path),
      eps: 1e-5, // nn.LayerNorm's default: OPT has no eps field
      activation: act(raw, 'activation_function', 'relu', path),
      padTokenId: optNum(raw, 'pad_token_id') ?? 1,
      causal: true, tieEmbeddings: raw.tie_word_embeddings !== false,
      opt: { preNorm, finalNorm: preNorm && raw._remove_final_layer_norm !== true, embedDim: optNum(raw, 'word_embed_proj_dim') ?? hidden, bias: raw.enable_bias !== false },
    };
  },
  prefixes: ['model.', ''],
  anchor: 'decoder.embed_tokens.weight',
  tensors: [
    /^decoder\.(embed_tokens|embed_positions)\.weight$/,
    /^decoder\.(project_in|project_out)\.weight$/,
    /^decoder\.final_layer_norm\.(weight|bias)$/,
    /^decoder\.layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|out_proj)\.(weight|bias)$/,
    /^decoder\.layers\.\d+\.(fc1|fc2|self_attn_layer_norm|final_layer_norm)\.(weight|bias)$/,
    /^lm_head\.weight$/,
  ],
  layerPattern: /^((?:model\.)?decoder\.layers\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['decoder.embed_tokens.weight', 'lm_head.weight'],
  positionIds: optPositions,
  maxSequenceTokens: (arch) => arch.maxPositions,
  kvCache: true,
  build: buildOpt,
};
