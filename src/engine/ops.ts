/**
 * Building blocks shared by the model families, written with plain ONNX ops so the math stays visible.
 * Shapes in comments: B batch, T sequence, C model width, H heads, D head size.
 */
import { GraphBuilder } from './graph.js';

/** torch.finfo(float32).min: Hugging Face's additive mask value. */
export const FINFO_MIN = -3.4028234663852886e38;

/** Transpose an nn.Linear weight [out, in] to the [in, out] layout MatMul wants. */
export function transposeWeight(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    const row = o * inp;
    for (let i = 0; i < inp; i++) t[i * out + o] = w[row + i];
  }
  return t;
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

function maskToBias(g: GraphBuilder, allowed: string): string {
  return g.op('Mul', [g.op('Sub', [g.constF(1), allowed]), g.constF(FINFO_MIN)], {}, 'mask_bias');
}
