/**
 * Llama: pre-norm causal decoder with RMSNorm, rotary positions (HF rotate_half layout), grouped-query
 * attention and a SwiGLU MLP; no biases.
 *   per layer: x = x + o(Attn(rope(q(h)), rope(k(h)), v(h))) with h = rms(x)
 *              x = x + down(act(gate(h)) * up(h))        with h = rms(x)
 *   final norm; logits = lm_head(x) (or embed_tokens^T when tied)
 * rope: inv_freq_i = theta^(-2i/R); Llama 3.x rope_scaling rescales the low frequencies (inverseFrequencies).
 * The Llama-shaped families use this graph with an ArchConfig.llama variant (their specs are their own files):
 *   Qwen2: q/k/v biases.  Mistral: sliding window (a query sees keys i - window < j <= i).
 *   Gemma: rms(x) * (1 + w), x0 = embed * sqrt(C) (fp32), gelu-tanh gate, head_dim of its own.
 *   Gemma 2: Gemma plus x = x + post_attn_norm(attn(...)), x = x + post_ff_norm(mlp(pre_ff_norm(x))),
 *            scores = cap * tanh(q k^T * query_pre_attn_scalar^-0.5 / cap), sliding window on even layers,
 *            logits = final_cap * tanh(logits / final_cap).
 *   Phi-3: q|k|v fused in qkv_proj (rows H D, KV D, KV D), gate|up fused in gate_up_proj (rows F, F).
 */
import type { ArchConfig, Family, LlamaVariant } from '../../model/config.js';
import { act, num, optNum, specialIds, type Raw } from '../../model/config-fields.js';
import { ProbescaleError } from '../../util/errors.js';
import type { WeightStore } from '../../model/weights.js';
import { GraphBuilder } from '../graph.js';
import { activation, attend, attendScores, withCache, linear, mergeHeads, repeatKv, rmsNorm, splitHeads, transposeWeight } from '../ops.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, bridge, type BuiltGraph, type FamilySpec, type GraphOptions } from '../family.js';
import { decoderDims, finishDecoder, startDecoder } from '../decoder.js';
import { linearWeights } from './bert.js';

/**
 * inv_freq = 1 / theta^(2i/R) for the R rotary dims, as HF computes it in fp32; with Llama 3 rope scaling,
 * low frequencies (wavelength > original_max / low_freq_factor) are divided by factor, high ones
 * (wavelength < original_max / high_freq_factor) kept, and those between interpolated smoothly.
 */
export function inverseFrequencies(rotaryDim: number, theta: number, scaling?: ArchConfig['ropeScaling']): Float32Array {
  const half = rotaryDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / rotaryDim)));
  if (!scaling) return inv;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions: old } = scaling;
  const lowWavelen = old / lowFreqFactor;
  const highWavelen = old / highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/** cos/sin tables [B, 1, T, R] from position ids, computed in the graph in fp32 as HF does: emb = cat(freqs, freqs). */
export function rotaryTables(g: GraphBuilder, pos: string, invFreq: Float32Array): { cos: string; sin: string } {
  const p = g.op('Unsqueeze', [g.op('Cast', [pos], { to: 1 }), g.constI64([-1])]); // [B, T, 1]
  const freqs = g.op('Mul', [p, g.weight('rope.inv_freq', invFreq, [invFreq.length])]); // [B, T, R/2]
  const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: -1 }), g.constI64([1])]); // [B, 1, T, R]
  return { cos: g.op('Cos', [emb]), sin: g.op('Sin', [emb]) };
}

/** The tables for the config's rotary dims R (rotaryDim, default head_dim), rope_theta and rope_scaling. */
export function ropeTables(g: GraphBuilder, pos: string, arch: ArchConfig): { cos: string; sin: string; R: number } {
  const R = arch.rotaryDim ?? arch.headDim;
  return { ...rotaryTables(g, pos, inverseFrequencies(R, arch.ropeTheta ?? 10000, arch.ropeScaling)), R };
}

/**
 * x*cos + rotate_half(x)*sin on the first R of the D head dims (the rest pass through: partial rotary),
 * rotate_half(x) = cat(-x2, x1) on the two halves of the rotary dims.
 */
export function applyRotary(g: GraphBuilder, x: string, cos: string, sin: string, headDim: number, rotaryDim = headDim): string {
  let rot = x;
  let pass: string | undefined;
  if (rotaryDim < headDim) [rot, pass] = g.opN('Split', [x, g.constI64([rotaryDim, headDim - rotaryDim])], 2, { axis: -1 });
  const [x1, x2] = g.opN('Split', [rot, g.constI64([rotaryDim / 2, rotaryDim / 2])], 2, { axis: -1 });
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
  const out = g.op('Add', [g.op('Mul', [rot, cos]), g.op('Mul', [rotated, sin])]);
  return pass ? g.op('Concat', [out, pass], { axis: -1 }) : out;
}

type Projection = { w: string; b?: string };

/**
 * Rotary self-attention of the causal decoders (Llama-shaped, Phi, GPT-NeoX) on the normed input h: rope on
 * q and k (their first R dims), the key/value cache when built with one (`cacheLayer`: the kept-layer
 * position j), key/value heads repeated to H, softmax attention (`scores` transforms q k^T first: Gemma 2's
 * soft-capping). Returns the merged heads [B, T, H D], before the output projection.
 */
export function rotaryAttention(
  g: GraphBuilder, h: string, p: { q: Projection; k: Projection; v: Projection }, rope: { cos: string; sin: string; R: number },
  dims: { H: number; KV: number; D: number }, cacheLayer: number | undefined, bias: string, scores?: (s: string) => string,
): string {
  const { H, KV, D } = dims;
  const { cos, sin, R } = rope;
  const qh = applyRotary(g, splitHeads(g, linear(g, h, p.q.w, p.q.b), H, D), cos, sin, D, R);
  let kv = { k: applyRotary(g, splitHeads(g, linear(g, h, p.k.w, p.k.b), KV, D), cos, sin, D, R), v: splitHeads(g, linear(g, h, p.v.w, p.v.b), KV, D) };
  if (cacheLayer !== undefined) kv = withCache(g, cacheLayer, kv.k, kv.v, KV, D);
  const kh = repeatKv(g, kv.k, KV, H / KV, D);
  const vh = repeatKv(g, kv.v, KV, H / KV, D);
  return mergeHeads(g, scores ? attendScores(g, qh, kh, vh, bias, scores) : attend(g, qh, kh, vh, bias), H, D);
}

/** tanh(x / cap) * cap (Gemma 2's soft-capping of attention scores and logits). */
function softcap(g: GraphBuilder, x: string, cap: number): string {
  return g.op('Mul', [g.op('Tanh', [g.op('Mul', [x, g.constF(1 / cap)])]), g.constF(cap)]);
}

/** The plain Llama variant, which the Llama-shaped families (qwen2.ts, mistral.ts, phi3.ts) change a field or two of. */
export const PLAIN: LlamaVariant = { qkvBias: false, oBias: false, mlpBias: false, fused: false, gemmaNorm: false, embedScale: 1 };

/** Sliding-window attention on every layer (Mistral; Phi-3 when sliding_window is set), or none without a window. */
export function slidingEverywhere(raw: Raw, window: number | undefined): LlamaVariant['slidingWindow'] {
  return window === undefined ? undefined : { window, sliding: new Array<boolean>(optNum(raw, 'num_hidden_layers') ?? 32).fill(true) };
}

/** nn.Linear rows [r0, r0 + n) of a fused weight [rows, inp] as a MatMul weight [inp, n] (+ bias), optionally scaled. */
function linearRows(g: GraphBuilder, w: WeightStore, name: string, rows: number, inp: number, r0: number, n: number, scale: number, withBias: boolean, tag: string) {
  const W = w.get(`${name}.weight`, [rows, inp]).data.subarray(r0 * inp, (r0 + n) * inp);
  let t = transposeWeight(W, n, inp);
  if (scale !== 1) t = t.map((v) => v * scale);
  const out: { w: string; b?: string } = { w: g.weight(`${name}.weight.${tag}`, t, [inp, n]) };
  if (withBias) {
    let b = w.get(`${name}.bias`, [rows]).data.slice(r0, r0 + n);
    if (scale !== 1) b = b.map((v) => v * scale);
    out.b = g.weight(`${name}.bias.${tag}`, b, [n]);
  }
  return out;
}

export function buildLlama(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['model.', ''], 'embed_tokens.weight');
  const P = w.prefix;
  const V = arch.llama ?? PLAIN;
  const { C, H, KV, D, F } = decoderDims(arch);
  const d = startDecoder(arch.family, opts, external);
  const { g, ids, pos, cache } = d;
  // Gemma's (1 + w) RMSNorm: the offset is added to the stored weight once, here
  const norm = (x: string, name: string) => {
    const wt = w.get(name, [C]).data;
    return rmsNorm(g, x, g.weight(name + (V.gemmaNorm ? '.plus1' : ''), V.gemmaNorm ? wt.map((v) => v + 1) : wt, [C]), arch.eps);
  };

  const embed = w.body('embed_tokens.weight', [arch.vocab, C]);
  let x = g.op('Gather', [g.weight(`${P}embed_tokens.weight`, embed.data, [arch.vocab, C]), ids]);
  if (V.embedScale !== 1) x = g.op('Mul', [x, g.constF(V.embedScale)]);
  const embedded = x;
  const bias = d.causalBias();
  const slidingBias = V.slidingWindow ? d.causalBias(V.slidingWindow.window) : bias;
  const rope = ropeTables(g, pos, arch);
  const scale = V.gemma2 ? V.gemma2.queryScale : 1 / Math.sqrt(D);

  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}layers.${l}`;
    const h = norm(x, `${L}.input_layernorm.weight`);
    const qkv = V.fused
      ? [
          linearRows(g, w, `${L}.self_attn.qkv_proj`, (H + 2 * KV) * D, C, 0, H * D, scale, false, 'q'),
          linearRows(g, w, `${L}.self_attn.qkv_proj`, (H + 2 * KV) * D, C, H * D, KV * D, 1, false, 'k'),
          linearRows(g, w, `${L}.self_attn.qkv_proj`, (H + 2 * KV) * D, C, (H + KV) * D, KV * D, 1, false, 'v'),
        ]
      : [
          linearWeights(g, w, `${L}.self_attn.q_proj`, H * D, C, scale, V.qkvBias),
          linearWeights(g, w, `${L}.self_attn.k_proj`, KV * D, C, 1, V.qkvBias),
          linearWeights(g, w, `${L}.self_attn.v_proj`, KV * D, C, 1, V.qkvBias),
        ];
    const [q, k, v] = qkv;
    const o = linearWeights(g, w, `${L}.self_attn.o_proj`, C, H * D, 1, V.oBias);
    const layerBias = V.slidingWindow?.sliding[l] ? slidingBias : bias;
    const cap = V.gemma2?.attnSoftcap;
    const ctx = rotaryAttention(g, h, { q, k, v }, rope, { H, KV, D }, cache ? j : undefined, layerBias, cap ? (s) => softcap(g, s, cap) : undefined);
    let attnOut = linear(g, ctx, o.w, o.b);
    if (V.gemma2) attnOut = norm(attnOut, `${L}.post_attention_layernorm.weight`);
    x = g.op('Add', [x, attnOut]);
    const m = norm(x, V.gemma2 ? `${L}.pre_feedforward_layernorm.weight` : `${L}.post_attention_layernorm.weight`);
    const [gate, up] = V.fused
      ? [linearRows(g, w, `${L}.mlp.gate_up_proj`, 2 * F, C, 0, F, 1, false, 'gate'), linearRows(g, w, `${L}.mlp.gate_up_proj`, 2 * F, C, F, F, 1, false, 'up')]
      : [linearWeights(g, w, `${L}.mlp.gate_proj`, F, C, 1, V.mlpBias), linearWeights(g, w, `${L}.mlp.up_proj`, F, C, 1, V.mlpBias)];
    const down = linearWeights(g, w, `${L}.mlp.down_proj`, C, F, 1, V.mlpBias);
    const gated = g.op('Mul', [activation(g, linear(g, m, gate.w, gate.b), arch.activation), linear(g, m, up.w, up.b)]); // act(gate) * up
    let mlpOut = linear(g, gated, down.w, down.b);
    if (V.gemma2) mlpOut = norm(mlpOut, `${L}.post_feedforward_layernorm.weight`);
    x = g.op('Add', [x, mlpOut]);
    layerOutputs.push(x);
  }
  return finishDecoder(d, arch, opts, {
    x, embedded, layerOutputs, kvHeads: KV, headDim: D,
    finalNorm: (y) => norm(y, `${P}norm.weight`),
    head: () => (arch.tieEmbeddings ? embed : w.get('lm_head.weight', [arch.vocab, C])).data,
    afterHead: (logits) => (V.gemma2?.finalSoftcap ? softcap(g, logits, V.gemma2.finalSoftcap) : logits),
  });
}

/** Tensors of a Llama-shaped decoder (after "model."), with the extra names a variant stores. */
export function llamaTensors(extra: RegExp[] = []): RegExp[] {
  return [
    /^embed_tokens\.weight$/,
    /^norm\.weight$/,
    /^layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight$/,
    /^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)\.weight$/,
    /^layers\.\d+\.mlp\.(gate_proj|up_proj|down_proj)\.weight$/,
    /^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/, // buffer older checkpoints store; recomputed from rope_theta
    /^lm_head\.weight$/,
    ...extra,
  ];
}

/** The config fields every Llama-shaped decoder shares (LlamaConfig names), with the family's defaults. */
export function parseLlamaLike(raw: Raw, path: string, family: Family, d: { hidden: number; heads: number; layers: number; intermediate: number; vocab: number; maxPositions: number; eps: number; act: string; tie: boolean; headDim?: number }, variant: LlamaVariant = PLAIN): ArchConfig {
  const hidden = num(raw, 'hidden_size', d.hidden, path);
  const heads = num(raw, 'num_attention_heads', d.heads, path);
  const headDim = optNum(raw, 'head_dim') ?? d.headDim ?? hidden / heads;
  return {
    ...specialIds(raw), family, hidden, heads,
    kvHeads: num(raw, 'num_key_value_heads', heads, path),
    headDim,
    layers: num(raw, 'num_hidden_layers', d.layers, path),
    intermediate: num(raw, 'intermediate_size', d.intermediate, path),
    vocab: num(raw, 'vocab_size', d.vocab, path),
    maxPositions: num(raw, 'max_position_embeddings', d.maxPositions, path),
    eps: num(raw, 'rms_norm_eps', d.eps, path),
    activation: act(raw, 'hidden_act', d.act, path),
    ropeTheta: num(raw, 'rope_theta', 10000, path),
    ropeScaling: parseRopeScaling(raw, path, headDim),
    causal: true, tieEmbeddings: typeof raw.tie_word_embeddings === 'boolean' ? raw.tie_word_embeddings : d.tie,
    llama: variant,
  };
}

/** rope_scaling: none, or Llama 3's; every other rope_type is refused by name. */
function parseRopeScaling(raw: Raw, path: string, _headDim: number): ArchConfig['ropeScaling'] {
  const rs = raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (!rs) return undefined;
  const type = rs.rope_type ?? rs.type;
  if (type === 'default') return undefined;
  if (type !== 'llama3') throw new ProbescaleError(`rope_scaling type ${JSON.stringify(type)} is not supported (supported: llama3)`, { file: path, fix: 'use a checkpoint without rope_scaling or with rope_type "llama3"' });
  return {
    factor: num(rs, 'factor', undefined, path),
    lowFreqFactor: num(rs, 'low_freq_factor', undefined, path),
    highFreqFactor: num(rs, 'high_freq_factor', undefined, path),
    originalMaxPositions: num(rs, 'original_max_position_embeddings', undefined, path),
  };
}

/** Spec fields every Llama-shaped decoder shares: names under "model.", sequential positions, renumbered subsets. */
export const LLAMA_LIKE = {
  prefixes: ['model.', ''],
  anchor: 'embed_tokens.weight',
  layerPattern: /^((?:model\.)?layers\.)(\d+)(\..*)$/,
  layerCountKey: 'num_hidden_layers',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['embed_tokens.weight', 'lm_head.weight'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: true,
  build: buildLlama,
} satisfies Partial<FamilySpec>;

export const llama: FamilySpec = {
  about: { kind: 'decoder', notes: 'RMSNorm, RoPE (+ Llama 3 rope_scaling), GQA, SwiGLU', fixture: 'hf-tiny/llama, hf-zoo/llama3-rope' },
  ...LLAMA_LIKE,
  modelTypes: ['llama'],
  parseConfig(raw, path) {
    const bias = raw.attention_bias === true;
    return parseLlamaLike(raw, path, 'llama', { hidden: 4096, heads: 32, layers: 32, intermediate: 11008, vocab: 32000, maxPositions: 2048, eps: 1e-6, act: 'silu', tie: false }, {
      ...PLAIN, qkvBias: bias, oBias: bias, mlpBias: raw.mlp_bias === true,
    });
  },
  tensors: llamaTensors([/^layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)\.bias$/, /^layers\.\d+\.mlp\.(gate_proj|up_proj|down_proj)\.bias$/]),
};
