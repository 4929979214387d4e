/**
 * Llama: pre-norm causal decoder with RMSNorm, rotary positions (HF rotate_half layout), grouped-query
 * attention and a SwiGLU MLP; no biases.
 *   per layer: x = x + o(Attn(rope(q(h)), rope(k(h)), v(h))) with h = rms(x)
 *              x = x + down(silu(gate(h)) * up(h))       with h = rms(x)
 *   final norm; logits = lm_head(x) (or embed_tokens^T when tied)
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import { ProbescaleError } from '../../util/errors.js';
import type { WeightStore } from '../../model/weights.js';
import { GraphBuilder, INT64 } from '../graph.js';
import { attend, causalPaddingBias, linear, mergeHeads, repeatKv, rmsNorm, splitHeads, transposeWeight } from '../ops.js';
import { bridge, publishStack, renumberedSubset, sequentialPositions, type BuiltGraph, type FamilySpec, type GraphOptions } from '../family.js';
import { linearWeights, vector } from './bert.js';

/**
 * cos/sin tables [B, 1, T, D] from position ids, computed in the graph in fp32 exactly as HF does:
 * inv_freq = 1 / theta^(2i/D) (fp32), freqs = pos * inv_freq, emb = cat(freqs, freqs).
 */
function rotaryTables(g: GraphBuilder, pos: string, headDim: number, theta: number): { cos: string; sin: string } {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, Math.fround((2 * i) / headDim));
  const p = g.op('Unsqueeze', [g.op('Cast', [pos], { to: 1 }), g.constI64([-1])]); // [B, T, 1]
  const freqs = g.op('Mul', [p, g.weight('rope.inv_freq', invFreq, [half])]); // [B, T, D/2]
  const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: -1 }), g.constI64([1])]); // [B, 1, T, D]
  return { cos: g.op('Cos', [emb]), sin: g.op('Sin', [emb]) };
}

/** x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1) on the two halves of the head dim. */
function applyRotary(g: GraphBuilder, x: string, cos: string, sin: string, headDim: number): string {
  const [x1, x2] = g.opN('Split', [x, g.constI64([headDim / 2, headDim / 2])], 2, { axis: -1 });
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
  return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
}

export function buildLlama(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['model.', ''], 'embed_tokens.weight');
  const P = w.prefix;
  const C = arch.hidden;
  const H = arch.heads;
  const KV = arch.kvHeads;
  const D = arch.headDim;
  if (H % KV !== 0) throw new Error(`num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);
  const g = new GraphBuilder('llama', external);
  const ids = g.input('input_ids', INT64, ['batch', 'seq']);
  const mask = g.input('attention_mask', INT64, ['batch', 'seq']);
  const pos = g.input('position_ids', INT64, ['batch', 'seq']);

  const embed = w.body('embed_tokens.weight', [arch.vocab, C]);
  let x = g.op('Gather', [g.weight(`${P}embed_tokens.weight`, embed.data, [arch.vocab, C]), ids]);
  const embedded = x;
  const bias = causalPaddingBias(g, mask);
  const { cos, sin } = rotaryTables(g, pos, D, arch.ropeTheta ?? 10000);
  const scale = 1 / Math.sqrt(D);

  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}layers.${l}`;
    const h = rmsNorm(g, x, vector(g, w, `${L}.input_layernorm.weight`, C), arch.eps);
    const q = linearWeights(g, w, `${L}.self_attn.q_proj`, H * D, C, scale, false);
    const k = linearWeights(g, w, `${L}.self_attn.k_proj`, KV * D, C, 1, false);
    const v = linearWeights(g, w, `${L}.self_attn.v_proj`, KV * D, C, 1, false);
    const o = linearWeights(g, w, `${L}.self_attn.o_proj`, C, H * D, 1, false);
    const qh = applyRotary(g, splitHeads(g, linear(g, h, q.w), H, D), cos, sin, D);
    const kh = repeatKv(g, applyRotary(g, splitHeads(g, linear(g, h, k.w), KV, D), cos, sin, D), KV, H / KV, D);
    const vh = repeatKv(g, splitHeads(g, linear(g, h, v.w), KV, D), KV, H / KV, D);
    x = g.op('Add', [x, linear(g, mergeHeads(g, attend(g, qh, kh, vh, bias), H, D), o.w)]);
    const m = rmsNorm(g, x, vector(g, w, `${L}.post_attention_layernorm.weight`, C), arch.eps);
    const gate = linearWeights(g, w, `${L}.mlp.gate_proj`, arch.intermediate, C, 1, false);
    const up = linearWeights(g, w, `${L}.mlp.up_proj`, arch.intermediate, C, 1, false);
    const down = linearWeights(g, w, `${L}.mlp.down_proj`, C, arch.intermediate, 1, false);
    const gateOut = linear(g, m, gate.w);
    const gated = g.op('Mul', [g.op('Mul', [gateOut, g.op('Sigmoid', [gateOut])]), linear(g, m, up.w)]); // silu(gate) * up
    x = g.op('Add', [x, linear(g, gated, down.w)]);
    layerOutputs.push(x);
  }
  x = bridge(g, x, opts, opts.layers.length, C);
  const final = rmsNorm(g, x, vector(g, w, `${P}norm.weight`, C), arch.eps);
  const outputs = publishStack(g, '', embedded, layerOutputs, final, opts.hiddenStates);
  if (opts.logits) {
    const head = arch.tieEmbeddings ? embed : w.get('lm_head.weight', [arch.vocab, C]);
    g.output('logits', g.op('MatMul', [final, g.weight('lm_head.T', transposeWeight(head.data, arch.vocab, C), [C, arch.vocab])]));
    outputs.push('logits');
  }
  return { bytes: g.toBytes(), feeds: ['input_ids', 'attention_mask', 'position_ids'], outputs };
}

export const llama: FamilySpec = {
  modelTypes: ['llama'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'hidden_size', 4096, path);
    const heads = num(raw, 'num_attention_heads', 32, path);
    if (raw.rope_scaling) throw new ProbescaleError('rope_scaling is not supported yet', { file: path, fix: 'remove rope_scaling or use a model without it' });
    if (raw.attention_bias === true || raw.mlp_bias === true) throw new ProbescaleError('Llama with attention_bias/mlp_bias is not supported', { file: path });
    return {
      ...specialIds(raw), family: 'llama', hidden, heads,
      kvHeads: num(raw, 'num_key_value_heads', heads, path),
      headDim: optNum(raw, 'head_dim') ?? hidden / heads,
      layers: num(raw, 'num_hidden_layers', 32, path),
      intermediate: num(raw, 'intermediate_size', 11008, path),
      vocab: num(raw, 'vocab_size', 32000, path),
      maxPositions: num(raw, 'max_position_embeddings', 2048, path),
      eps: num(raw, 'rms_norm_eps', 1e-6, path),
      activation: act(raw, 'hidden_act', 'silu', path),
      ropeTheta: num(raw, 'rope_theta', 10000, path),
      causal: true, tieEmbeddings: raw.tie_word_embeddings === true,
    };
  },
  prefixes: ['model.', ''],
  anchor: 'embed_tokens.weight',
  tensors: [
    /^embed_tokens\.weight$/,
    /^norm\.weight$/,
    /^layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight$/,
    /^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)\.weight$/,
    /^layers\.\d+\.mlp\.(gate_proj|up_proj|down_proj)\.weight$/,
    /^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/, // buffer older checkpoints store; recomputed from rope_theta
    /^lm_head\.weight$/,
  ],
  layerPattern: /^((?:model\.)?layers\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  sharedAcrossLayers: () => false,
  vocabTensors: ['embed_tokens.weight', 'lm_head.weight'],
  positionIds: sequentialPositions,
  maxSequenceTokens: (arch) => arch.maxPositions,
  build: buildLlama,
  writeSubset: renumberedSubset,
};
