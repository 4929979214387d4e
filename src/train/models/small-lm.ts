/**
 * The small language models of the compute-constrained study, from simplest to a real transformer,
 * all predicting the next token at every position of a [B, T] window so their NLLs compare directly:
 *   linear       logits = W · concat(E[x_{t-k+1..t}]) + b           (low-rank linear in the context)
 *   mlp          logits = W2 · relu(W1 · concat(E[...]) + b1) + b2   (Bengio et al. 2003)
 *   attention    one causal self-attention layer (residual), LayerNorm, head
 *   transformer  L pre-LN blocks (attention + GELU MLP 4x), LayerNorm, head
 * Position information for attention models: none, learned absolute, or RoPE (rotary on q and k).
 */
import type { Tape, V } from '../autodiff.js';
import { attention, causalMask } from './gpt2.js';
import { rotaryMap } from './llama.js';

export type SmallLmFamily = 'linear' | 'mlp' | 'attention' | 'transformer';
export type PositionEncoding = 'none' | 'learned' | 'rope';

export interface SmallLmShape {
  family: SmallLmFamily;
  vocab: number;
  /** embedding / model width */
  width: number;
  /** context tokens for linear / mlp */
  context: number;
  /** hidden units of the mlp family */
  hiddenUnits: number;
  layers: number;
  heads: number;
  positions: PositionEncoding;
  seq: number;
  /** Options for the paper's shapes (Bhatti 2025); unset = this study's own models above. */
  /** FFN width after attention (default 4 x width for transformer, none for attention) */
  ffHidden?: number;
  /** 'pre' (x + f(LN(x)), default) or 'post' (LN(x + f(x)), the paper's baseline blocks) */
  norm?: 'pre' | 'post';
  /** FFN activation: gelu (default) or relu (the paper's) */
  activation?: 'gelu' | 'relu';
  /** hidden layers of the mlp family, each `hiddenUnits` wide (default 1; the paper's MLP has 2) */
  mlpLayers?: number;
}

/** FFN width of one attention block (0 = attention only). */
export function ffWidth(s: SmallLmShape): number {
  if (s.family === 'transformer') return s.ffHidden ?? 4 * s.width;
  if (s.family === 'attention') return s.ffHidden ?? 0;
  return 0;
}

export function smallLmParamShapes(s: SmallLmShape): [string, number[]][] {
  const C = s.width;
  const out: [string, number[]][] = [['embed.weight', [s.vocab, C]]];
  if (s.family === 'linear') return [...out, ['head.weight', [s.context * C, s.vocab]], ['head.bias', [s.vocab]]];
  if (s.family === 'mlp') {
    const deeper: [string, number[]][] = [];
    for (let i = 2; i <= (s.mlpLayers ?? 1); i++) deeper.push([`fc${i}.weight`, [s.hiddenUnits, s.hiddenUnits]], [`fc${i}.bias`, [s.hiddenUnits]]);
    return [...out, ['fc.weight', [s.context * C, s.hiddenUnits]], ['fc.bias', [s.hiddenUnits]], ...deeper, ['head.weight', [s.hiddenUnits, s.vocab]], ['head.bias', [s.vocab]]];
  }
  if (s.positions === 'learned') out.push(['pos.weight', [s.seq, C]]);
  const layers = s.family === 'attention' ? 1 : s.layers;
  for (let l = 0; l < layers; l++) {
    out.push([`h.${l}.ln_1.weight`, [C]], [`h.${l}.ln_1.bias`, [C]], [`h.${l}.qkv.weight`, [C, 3 * C]], [`h.${l}.qkv.bias`, [3 * C]], [`h.${l}.proj.weight`, [C, C]], [`h.${l}.proj.bias`, [C]]);
    const F = ffWidth(s);
    if (F > 0) {
      out.push([`h.${l}.ln_2.weight`, [C]], [`h.${l}.ln_2.bias`, [C]], [`h.${l}.fc.weight`, [C, F]], [`h.${l}.fc.bias`, [F]], [`h.${l}.out.weight`, [F, C]], [`h.${l}.out.bias`, [C]]);
    }
  }
  return [...out, ['ln_f.weight', [C]], ['ln_f.bias', [C]], ['head.weight', [C, s.vocab]], ['head.bias', [s.vocab]]];
}

/** Rotary embedding with angles p / 10000^(2i/D). */
function ropeFn(t: Tape, T: number, D: number): (x: V) => V {
  return rotaryMap(t, T, D, (p, i) => p / 10000 ** ((2 * i) / D));
}

export function buildSmallLm(t: Tape, s: SmallLmShape, B: number, T: number) {
  const C = s.width;
  const p = new Map(smallLmParamShapes(s).map(([n, shape]) => [n, t.param(n, shape)]));
  const P = (n: string) => p.get(n)!;
  const lin = (x: V, n: string) => t.add(t.matmul(x, P(`${n}.weight`)), P(`${n}.bias`));
  const targets = t.input('targets', [B * T], 'int64');
  const weights = t.input('loss_weights', [B * T]);
  let logits: V;
  const inputs: V[] = [];
  if (s.family === 'linear' || s.family === 'mlp') {
    const ctx = t.input('context_ids', [B, T, s.context], 'int64');
    inputs.push(ctx);
    const e = t.reshape(t.gather(P('embed.weight'), ctx), [B * T, s.context * C]);
    let h = e;
    if (s.family === 'mlp') {
      h = t.relu(lin(e, 'fc'));
      for (let i = 2; i <= (s.mlpLayers ?? 1); i++) h = t.relu(lin(h, `fc${i}`));
    }
    logits = lin(h, 'head');
  } else {
    const ids = t.input('input_ids', [B, T], 'int64');
    inputs.push(ids);
    let x = t.gather(P('embed.weight'), ids);
    if (s.positions === 'learned') x = t.add(x, P('pos.weight'));
    const rope = s.positions === 'rope' ? ropeFn(t, T, C / s.heads) : undefined;
    const mask = causalMask(t, T);
    const layers = s.family === 'attention' ? 1 : s.layers;
    const post = s.norm === 'post';
    const act = (v: V) => (s.activation === 'relu' ? t.relu(v) : t.gelu(v));
    const ln = (v: V, n: string) => t.layerNorm(v, P(`${n}.weight`), P(`${n}.bias`), 1e-5);
    for (let l = 0; l < layers; l++) {
      // pre-LN: x + f(LN(x)); post-LN (the paper's baseline blocks): LN(x + f(x))
      const [q, k, v] = t.split(lin(post ? x : ln(x, `h.${l}.ln_1`), `h.${l}.qkv`), 3);
      x = t.add(x, lin(attention(t, q, k, v, s.heads, mask, rope), `h.${l}.proj`));
      if (post) x = ln(x, `h.${l}.ln_1`);
      if (ffWidth(s) > 0) {
        x = t.add(x, lin(act(lin(post ? x : ln(x, `h.${l}.ln_2`), `h.${l}.fc`)), `h.${l}.out`));
        if (post) x = ln(x, `h.${l}.ln_2`);
      }
    }
    logits = lin(t.reshape(t.layerNorm(x, P('ln_f.weight'), P('ln_f.bias'), 1e-5), [B * T, C]), 'head');
  }
  return { loss: t.crossEntropy(logits, targets, weights), logits, hidden: [] as V[], inputs: [...inputs, targets, weights] };
}

export function smallLmModel(s: SmallLmShape) {
  return {
    paramShapes: () => smallLmParamShapes(s),
    initStd: (name: string) => (name.endsWith('proj.weight') || name.endsWith('out.weight') ? 0.02 / Math.sqrt(2 * Math.max(1, s.layers)) : 0.02),
    build: (t: Tape, B: number, T: number) => buildSmallLm(t, s, B, T),
  };
}

/** Parameters: all, and without the input embedding / position table (lookups cost no FLOPs). */
export function smallLmParameters(s: SmallLmShape): { total: number; nonEmbedding: number } {
  let total = 0;
  let nonEmbedding = 0;
  for (const [name, shape] of smallLmParamShapes(s)) {
    const n = shape.reduce((a, b) => a * b, 1);
    total += n;
    if (name !== 'embed.weight' && name !== 'pos.weight') nonEmbedding += n;
  }
  return { total, nonEmbedding };
}

/**
 * Approximate training FLOPs per token: 6 x (multiply-accumulate weights touched per token) for the
 * matmuls (2 forward + 4 backward), plus attention's scores and mixing, 2 x 2 x T x C forward per layer
 * (full T x T, as computed), x3 for training. Norms, softmax and activations are ignored.
 */
export function smallLmTrainFlopsPerToken(s: SmallLmShape): number {
  const { nonEmbedding } = smallLmParameters(s);
  const layers = s.family === 'attention' ? 1 : s.family === 'transformer' ? s.layers : 0;
  return 6 * nonEmbedding + 3 * layers * 4 * s.seq * s.width;
}
