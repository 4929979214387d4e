/**
 * Building blocks shared by the model families, written with plain ONNX ops so the math stays visible.
 * Shapes in comments: B batch, T sequence, C model width, H heads, D head size.
 */
import { FLOAT, GraphBuilder } from './graph.js';
import { relativePositionBucket } from '../model/t5-buckets.js';

/** torch.finfo(float32).min: Hugging Face's additive mask value. */
export const FINFO_MIN = -3.4028234663852886e38;

/** Position ids [B, T] from input_ids in the graph (GraphOptions.positionsInGraph): 0..T-1, or RoBERTa's padding-offset count. */
export function positionsFromIds(g: GraphBuilder, ids: string, kind: 'sequential' | 'padding-offset', pad: number): string {
  const axis = g.constI64([1], []);
  if (kind === 'sequential') {
    const ones = g.op('Add', [g.op('Mul', [ids, g.constI64([0], [])]), g.constI64([1], [])]);
    return g.op('Sub', [g.op('CumSum', [ones, axis]), g.constI64([1], [])]);
  }
  const isTok = g.op('Cast', [g.op('Not', [g.op('Equal', [ids, g.constI64([pad], [])])])], { to: 7 });
  return g.op('Add', [g.op('Mul', [g.op('CumSum', [isTok, axis]), isTok]), g.constI64([pad], [])]);
}

/**
 * T5's relative position buckets [Tq, Tk] in the graph, from the sequence lengths of two id tensors [B, T]
 * (relative = key - query), for exported graphs whose runtimes feed only ids and masks. The bucket of a
 * distance is looked up in a table made by relativePositionBucket (HF's float32 log and truncation, exactly)
 * for distances 0..maxDistance; every longer distance has the last bucket, as the table's end does.
 */
export function bucketsInGraph(g: GraphBuilder, queryIds: string, keyIds: string, bidirectional: boolean, numBuckets: number, maxDistance: number): string {
  const positions = (ids: string) => g.op('Range', [g.constI64([0], []), g.op('Squeeze', [g.op('Slice', [g.op('Shape', [ids]), g.constI64([1]), g.constI64([2])]), g.constI64([0])]), g.constI64([1], [])]);
  const rel = g.op('Sub', [g.op('Unsqueeze', [positions(keyIds), g.constI64([0])]), g.op('Unsqueeze', [positions(queryIds), g.constI64([1])])]); // [Tq, Tk]
  // distances the table covers: |rel| (bidirectional) or how far back a key is (causal), capped at maxDistance
  const table = Array.from({ length: maxDistance + 1 }, (_, r) => relativePositionBucket(-r, bidirectional, numBuckets, maxDistance));
  const dist = bidirectional ? g.op('Abs', [rel]) : g.op('Max', [g.op('Neg', [rel]), g.constI64([0], [])]);
  const bucket = g.op('Gather', [g.constI64(table), g.op('Min', [dist, g.constI64([maxDistance], [])])]);
  if (!bidirectional) return bucket;
  // keys after the query use the upper half of the buckets
  const after = g.op('Cast', [g.op('Greater', [rel, g.constI64([0], [])])], { to: 7 });
  return g.op('Add', [bucket, g.op('Mul', [after, g.constI64([Math.floor(numBuckets / 2)], [])])]);
}

/** Transpose an nn.Linear weight [out, in] to the [in, out] layout MatMul wants. */
export function transposeWeight(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    const row = o * inp;
    for (let i = 0; i < inp; i++) t[i * out + o] = w[row + i];
  }
  return t;
}

/**
 * A residual sum a LayerNormalization reads, as one ONNX Sum (terms may broadcast, e.g. a linear layer's bias):
 * onnxruntime fuses Add -> LayerNormalization into SkipLayerNormalization, whose CPU kernel (1.30, a scalar
 * loop) took 2x as long as Sum + LayerNormalization on [32, 128, 768] (bench/RESULTS.md, 2026-11-29); the
 * fusion matches Add only.
 */
export function residual(g: GraphBuilder, ...terms: string[]): string {
  return g.op('Sum', terms);
}

/** y = x @ W + b, with W already in [in, out] layout. */
export function linear(g: GraphBuilder, x: string, w: string, b?: string): string {
  const y = g.op('MatMul', [x, w]);
  return b ? g.op('Add', [y, b]) : y;
}

export function layerNorm(g: GraphBuilder, x: string, weight: string, bias: string, eps: number): string {
  return g.op('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: { float: eps } }, 'ln');
}

/** RMSNorm (Llama, T5): x * rsqrt(mean(x^2) + eps) * weight, no mean subtraction, no bias. */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x]), g.constI64([-1])], { keepdims: 1 });
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.constF(eps)])])]);
  return g.op('Mul', [g.op('Mul', [x, inv]), weight], {}, 'rms');
}

export type Activation = 'gelu' | 'gelu_new' | 'relu' | 'silu';

export function activation(g: GraphBuilder, x: string, act: Activation): string {
  switch (act) {
    case 'gelu': // exact erf GELU
      return g.op('Gelu', [x], { approximate: 'none' });
    case 'gelu_new': // tanh approximation (GPT-2, T5 gated-gelu)
      return g.op('Gelu', [x], { approximate: 'tanh' });
    case 'relu':
      return g.op('Relu', [x]);
    case 'silu':
      return g.op('Mul', [x, g.op('Sigmoid', [x])]);
  }
}

/** [B, T, H*D] -> [B, H, T, D] */
export function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number): string {
  const r = g.op('Reshape', [x, g.constI64([0, 0, heads, headDim])]);
  return g.op('Transpose', [r], { perm: [0, 2, 1, 3] });
}

/** [B, H, T, D] -> [B, T, H*D] */
export function mergeHeads(g: GraphBuilder, x: string, heads: number, headDim: number): string {
  const t = g.op('Transpose', [x], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [t, g.constI64([0, 0, heads * headDim])]);
}

/** Grouped-query attention: each of the kvHeads is shared by `rep` consecutive query heads (repeat_interleave). */
export function repeatKv(g: GraphBuilder, x: string, kvHeads: number, rep: number, headDim: number): string {
  if (rep === 1) return x;
  const u = g.op('Unsqueeze', [x, g.constI64([2])]); // [B, Hkv, 1, T, D]
  const e = g.op('Expand', [u, g.constI64([1, 1, rep, 1, 1])]); // [B, Hkv, rep, T, D]
  return g.op('Reshape', [e, g.constI64([0, kvHeads * rep, -1, headDim])]);
}

/**
 * softmax(q k^T + bias) v for q [B,H,Tq,D], k/v [B,H,Tk,D]; the 1/sqrt(D) scale is folded into q's weights
 * by the caller (T5 has none). `bias` broadcasts to [B,H,Tq,Tk] and carries masks and position biases.
 */
export function attend(g: GraphBuilder, q: string, k: string, v: string, bias: string): string {
  const kT = g.op('Transpose', [k], { perm: [0, 1, 3, 2] });
  const scores = g.op('Add', [g.op('MatMul', [q, kT]), bias]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  return g.op('MatMul', [probs, v]);
}

/** attend() with a transform of the raw scores q k^T before the bias is added (Gemma 2's soft-capping). */
export function attendScores(g: GraphBuilder, q: string, k: string, v: string, bias: string, transform: (scores: string) => string): string {
  const kT = g.op('Transpose', [k], { perm: [0, 1, 3, 2] });
  const scores = g.op('Add', [transform(g.op('MatMul', [q, kT])), bias]);
  return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
}

/** attention_mask [B, T] (1 = token) -> additive bias [B, 1, 1, T]: 0 where allowed, finfo.min where masked. */
export function paddingBias(g: GraphBuilder, mask: string): string {
  const m = g.op('Cast', [mask], { to: 1 });
  return maskToBias(g, g.op('Unsqueeze', [m, g.constI64([1, 2])]));
}

/**
 * Padding + causal: [B, 1, T, T]; a key is visible when it is a token and not in the future, and with a
 * sliding `window`, not `window` or more positions in the past (HF: key j masked when j <= i - window).
 */
export function causalPaddingBias(g: GraphBuilder, mask: string, window?: number): string {
  const m = g.op('Cast', [mask], { to: 1 });
  const shapeT = g.op('Slice', [g.op('Shape', [mask]), g.constI64([1]), g.constI64([2])]); // [T]
  const tt = g.op('Concat', [shapeT, shapeT], { axis: 0 });
  const ones = g.op('ConstantOfShape', [tt], { value: { tensor: { dataType: 1, dims: [1], floatData: [1] } } });
  let lower = g.op('Trilu', [ones], { upper: 0 }); // [T, T], 1 on and below the diagonal
  if (window !== undefined) lower = g.op('Sub', [lower, g.op('Trilu', [ones, g.constI64([-window], [])], { upper: 0 })]); // minus j <= i - window
  const allowed = g.op('Mul', [lower, g.op('Unsqueeze', [m, g.constI64([1, 2])])]); // [B, 1, T, T]
  return maskToBias(g, allowed);
}

/**
 * Padding + causal with a key/value cache: the T queries (input_ids) are the last T of the S positions the
 * mask covers (S = past + T), so query i sees key j when j <= i + S - T (and, with a sliding `window`,
 * j > i + S - T - window) and the mask marks j as a token: [B, 1, T, S].
 */
export function cachedCausalBias(g: GraphBuilder, mask: string, ids: string, window?: number): string {
  const m = g.op('Cast', [mask], { to: 1 });
  const S = g.op('Slice', [g.op('Shape', [mask]), g.constI64([1]), g.constI64([2])]); // [S]
  const T = g.op('Slice', [g.op('Shape', [ids]), g.constI64([1]), g.constI64([2])]); // [T]
  const ones = g.op('ConstantOfShape', [g.op('Concat', [T, S], { axis: 0 })], { value: { tensor: { dataType: 1, dims: [1], floatData: [1] } } });
  const offset = g.op('Squeeze', [g.op('Sub', [S, T]), g.constI64([0])]); // scalar S - T
  let lower = g.op('Trilu', [ones, offset], { upper: 0 });
  if (window !== undefined) lower = g.op('Sub', [lower, g.op('Trilu', [ones, g.op('Sub', [offset, g.constI64([window], [])])], { upper: 0 })]);
  return maskToBias(g, g.op('Mul', [lower, g.op('Unsqueeze', [m, g.constI64([1, 2])])]));
}

/**
 * One layer's key/value cache, in the Hugging Face / Optimum / transformers.js naming and layout:
 * input past_key_values.{j}.key|value and output present.{j}.key|value, [batch, kv_heads, seq, head_dim]
 * (keys after rotary). Returns the keys/values attention reads: past followed by this call's.
 */
export function withCache(g: GraphBuilder, j: number, k: string, v: string, kvHeads: number, headDim: number): { k: string; v: string } {
  const out: Record<'key' | 'value', string> = { key: k, value: v };
  for (const kind of ['key', 'value'] as const) {
    const past = g.input(`past_key_values.${j}.${kind}`, FLOAT, ['batch_size', kvHeads, 'past_sequence_length', headDim]);
    const present = g.op('Concat', [past, out[kind]], { axis: 2 });
    g.output(`present.${j}.${kind}`, present, FLOAT, ['batch_size', kvHeads, 'total_sequence_length', headDim]);
    out[kind] = present;
  }
  return { k: out.key, v: out.value };
}

function maskToBias(g: GraphBuilder, allowed: string): string {
  return g.op('Mul', [g.op('Sub', [g.constF(1), allowed]), g.constF(FINFO_MIN)], {}, 'mask_bias');
}
