/**
 * GPT-NeoX / Pythia: pre-LN causal decoder with LayerNorm (with bias), rotary positions on the first
 * R = head_dim * rotary_pct dims of each head, a fused per-head qkv and, by default, a parallel residual.
 *   qkv = query_key_value(h): rows laid out (heads, 3, head_dim), i.e. head n's q, k, v are rows
 *         [3nD, 3nD + D), [3nD + D, 3nD + 2D), [3nD + 2D, 3nD + 3D)
 *   use_parallel_residual: x = x + dense(Attn(ln1(x))) + mlp(ln2(x))
 *   otherwise:             x = x + dense(Attn(ln1(x)));  x = x + mlp(ln2(x))
 *   mlp(h) = dense_4h_to_h(act(dense_h_to_4h(h)));  final_layer_norm; logits = embed_out(x)
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import type { WeightStore } from '../../model/weights.js';
import { ProbescaleError } from '../../util/errors.js';
import { GraphBuilder } from '../graph.js';
import { activation, linear, transposeWeight } from '../ops.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, bridge, type BuiltGraph, type FamilySpec, type GraphOptions } from '../family.js';
import { decoderDims, finishDecoder, startDecoder } from '../decoder.js';
import { linearWeights, storedLayerNorm } from './bert.js';
import { ropeTables, rotaryAttention } from './llama.js';

/** The fused [3C, C] weight split per head into q, k, v MatMul weights [C, C] (q scaled), with biases. */
function splitQkv(g: GraphBuilder, w: WeightStore, name: string, C: number, H: number, D: number, scale: number, withBias: boolean) {
  const W = w.get(`${name}.weight`, [3 * C, C]).data;
  const B = withBias ? w.get(`${name}.bias`, [3 * C]).data : undefined;
  return (['q', 'k', 'v'] as const).map((part, which) => {
    const rows = new Float32Array(C * C);
    const bias = new Float32Array(C);
    const s = which === 0 ? scale : 1;
    for (let n = 0; n < H; n++) {
      for (let d = 0; d < D; d++) {
        const src = n * 3 * D + which * D + d;
        const dst = n * D + d;
        for (let i = 0; i < C; i++) rows[dst * C + i] = W[src * C + i] * s;
        if (B) bias[dst] = B[src] * s;
      }
    }
    return { w: g.weight(`${name}.${part}.T`, transposeWeight(rows, C, C), [C, C]), b: B ? g.weight(`${name}.${part}.bias`, bias, [C]) : undefined };
  });
}

export function buildGptNeox(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['gpt_neox.', ''], 'embed_in.weight');
  const P = w.prefix;
  const { C, H, D, F } = decoderDims(arch);
  const neox = arch.gptNeox!;
  const d = startDecoder('gpt-neox', opts, external);
  const { g, ids, pos, cache } = d;
  const ln = storedLayerNorm(g, w, C, arch.eps);

  let x = g.op('Gather', [g.weight(`${P}embed_in.weight`, w.body('embed_in.weight', [arch.vocab, C]).data, [arch.vocab, C]), ids]);
  const embedded = x;
  const bias = d.causalBias();
  const rope = ropeTables(g, pos, arch);
  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}layers.${l}`;
    const h = ln(x, `${L}.input_layernorm`);
    const [q, k, v] = splitQkv(g, w, `${L}.attention.query_key_value`, C, H, D, 1 / Math.sqrt(D), neox.attentionBias);
    const o = linearWeights(g, w, `${L}.attention.dense`, C, C, 1, neox.attentionBias);
    const attnOut = linear(g, rotaryAttention(g, h, { q, k, v }, rope, { H, KV: H, D }, cache ? j : undefined, bias), o.w, o.b);
    const up = linearWeights(g, w, `${L}.mlp.dense_h_to_4h`, F, C);
    const down = linearWeights(g, w, `${L}.mlp.dense_4h_to_h`, C, F);
    const mlp = (m: string) => linear(g, activation(g, linear(g, m, up.w, up.b), arch.activation), down.w, down.b);
    if (neox.parallelResidual) {
      x = g.op('Add', [g.op('Add', [x, attnOut]), mlp(ln(x, `${L}.post_attention_layernorm`))]);
    } else {
      x = g.op('Add', [x, attnOut]);
      x = g.op('Add', [x, mlp(ln(x, `${L}.post_attention_layernorm`))]);
    }
    layerOutputs.push(x);
  }
  return finishDecoder(d, arch, opts, {
    x, embedded, layerOutputs, kvHeads: H, headDim: D,
    finalNorm: (y) => ln(y, `${P}final_layer_norm`),
    head: () => (arch.tieEmbeddings ? w.body('embed_in.weight', [arch.vocab, C]) : w.get('embed_out.weight', [arch.vocab, C])).data,
  });
}

export const gptNeox: FamilySpec = {
  about: { kind: 'decoder', notes: 'Pythia: fused per-head qkv, partial rotary, parallel residual', fixture: 'hf-zoo/pythia' },
  modelTypes: ['gpt_neox'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'hidden_size', 6144, path);
    const heads = num(raw, 'num_attention_heads', 64, path);
    const headDim = hidden / heads;
    const pct = optNum(raw, 'rotary_pct') ?? optNum(raw, 'partial_rotary_factor') ?? 0.25;
    if (raw.rope_scaling) throw new ProbescaleError('GPT-NeoX rope_scaling is not supported', { file: path, fix: 'use a checkpoint without rope_scaling' });
    return {
      ...specialIds(raw), family: 'gpt-neox', hidden, heads, kvHeads: heads, headDim,
      layers: num(raw, 'num_hidden_layers', 44, path),
      intermediate: num(raw, 'intermediate_size', 24576, path),
      vocab: num(raw, 'vocab_size', 50432, path),
      maxPositions: num(raw, 'max_position_embeddings', 2048, path),
      eps: num(raw, 'layer_norm_eps', 1e-5, path),
      activation: act(raw, 'hidden_act', 'gelu', path),
      ropeTheta: optNum(raw, 'rope_theta') ?? num(raw, 'rotary_emb_base', 10000, path),
      rotaryDim: Math.floor(headDim * pct),
      causal: true, tieEmbeddings: raw.tie_word_embeddings === true,
      gptNeox: { parallelResidual: raw.use_parallel_residual !== false, attentionBias: raw.attention_bias !== false },
    };
  },
  prefixes: ['gpt_neox.', ''],
  anchor: 'embed_in.weight',
  tensors: [
    /^embed_in\.weight$/,
    /^final_layer_norm\.(weight|bias)$/,
    /^layers\.\d+\.(input_layernorm|post_attention_layernorm)\.(weight|bias)$/,
    /^layers\.\d+\.attention\.(query_key_value|dense)\.(weight|bias)$/,
    /^layers\.\d+\.mlp\.(dense_h_to_4h|dense_4h_to_h)\.(weight|bias)$/,
    /^layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/, // buffers the Pythia checkpoints store
    /^embed_out\.weight$/,
  ],
  layerPattern: /^((?:gpt_neox\.)?layers\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embed_in.weight', 'embed_out.weight'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: true,
  build: buildGptNeox,
};
