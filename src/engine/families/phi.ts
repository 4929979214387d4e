/**
 * Phi-1 / 1.5 / 2: causal decoder with one LayerNorm per layer feeding attention and MLP in parallel,
 * biases everywhere and rotary positions on the first R = head_dim * partial_rotary_factor dims of a head.
 *   per layer: h = ln(x);  x = x + dense(Attn(rope(q(h)), rope(k(h)), v(h))) + fc2(act(fc1(h)))
 *   final_layernorm; logits = lm_head(x) + lm_head.bias
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import type { WeightStore } from '../../model/weights.js';
import { ProbescaleError } from '../../util/errors.js';
import { activation, linear } from '../ops.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, bridge, type BuiltGraph, type FamilySpec, type GraphOptions } from '../family.js';
import { decoderDims, finishDecoder, startDecoder } from '../decoder.js';
import { linearWeights, vector, storedLayerNorm } from './bert.js';
import { ropeTables, rotaryAttention } from './llama.js';

export function buildPhi(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['model.', ''], 'embed_tokens.weight');
  const P = w.prefix;
  const { C, H, KV, D, F } = decoderDims(arch);
  const d = startDecoder('phi', opts, external);
  const { g, ids, pos, cache } = d;
  const ln = storedLayerNorm(g, w, C, arch.eps);

  const embed = w.body('embed_tokens.weight', [arch.vocab, C]);
  let x = g.op('Gather', [g.weight(`${P}embed_tokens.weight`, embed.data, [arch.vocab, C]), ids]);
  const embedded = x;
  const bias = d.causalBias();
  const rope = ropeTables(g, pos, arch);
  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}layers.${l}`;
    const h = ln(x, `${L}.input_layernorm`);
    const q = linearWeights(g, w, `${L}.self_attn.q_proj`, H * D, C, 1 / Math.sqrt(D));
    const k = linearWeights(g, w, `${L}.self_attn.k_proj`, KV * D, C);
    const v = linearWeights(g, w, `${L}.self_attn.v_proj`, KV * D, C);
    const o = linearWeights(g, w, `${L}.self_attn.dense`, C, H * D);
    const attnOut = linear(g, rotaryAttention(g, h, { q, k, v }, rope, { H, KV, D }, cache ? j : undefined, bias), o.w, o.b);
    const fc1 = linearWeights(g, w, `${L}.mlp.fc1`, F, C);
    const fc2 = linearWeights(g, w, `${L}.mlp.fc2`, C, F);
    const mlp = linear(g, activation(g, linear(g, h, fc1.w, fc1.b), arch.activation), fc2.w, fc2.b);
    x = g.op('Add', [g.op('Add', [attnOut, mlp]), x]);
    layerOutputs.push(x);
  }
  return finishDecoder(d, arch, opts, {
    x, embedded, layerOutputs, kvHeads: KV, headDim: D,
    finalNorm: (y) => ln(y, `${P}final_layernorm`),
    head: () => (arch.tieEmbeddings ? embed : w.get('lm_head.weight', [arch.vocab, C])).data,
    afterHead: (logits) => (w.has('lm_head.bias') ? g.op('Add', [logits, vector(g, w, 'lm_head.bias', arch.vocab)]) : logits),
  });
}

export const phi: FamilySpec = {
  about: { kind: 'decoder', notes: 'parallel block, partial rotary, biases', fixture: 'hf-zoo/phi' },
  modelTypes: ['phi'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'hidden_size', 2048, path);
    const heads = num(raw, 'num_attention_heads', 32, path);
    const headDim = hidden / heads;
    if (raw.qk_layernorm === true) throw new ProbescaleError('Phi with qk_layernorm=true is not supported', { file: path });
    if (raw.rope_scaling) throw new ProbescaleError('Phi rope_scaling is not supported', { file: path, fix: 'use a checkpoint without rope_scaling' });
    return {
      ...specialIds(raw), family: 'phi', hidden, heads, headDim,
      kvHeads: optNum(raw, 'num_key_value_heads') ?? heads,
      layers: num(raw, 'num_hidden_layers', 24, path),
      intermediate: num(raw, 'intermediate_size', 8192, path),
      vocab: num(raw, 'vocab_size', 51200, path),
      maxPositions: num(raw, 'max_position_embeddings', 2048, path),
      eps: num(raw, 'layer_norm_eps', 1e-5, path),
      activation: act(raw, 'hidden_act', 'gelu_new', path),
      ropeTheta: num(raw, 'rope_theta', 10000, path),
      rotaryDim: Math.floor(headDim * num(raw, 'partial_rotary_factor', 0.5, path)),
      causal: true, tieEmbeddings: raw.tie_word_embeddings === true,
    };
  },
  prefixes: ['model.', ''],
  anchor: 'embed_tokens.weight',
  tensors: [
    /^embed_tokens\.weight$/,
    /^final_layernorm\.(weight|bias)$/,
    /^layers\.\d+\.input_layernorm\.(weight|bias)$/,
    /^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|dense)\.(weight|bias)$/,
    /^layers\.\d+\.mlp\.(fc1|fc2)\.(weight|bias)$/,
    /^lm_head\.(weight|bias)$/,
  ],
  layerPattern: /^((?:model\.)?layers\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embed_tokens.weight', 'lm_head.weight', 'lm_head.bias'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: true,
  build: buildPhi,
};
