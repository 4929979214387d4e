/**
 * GPT-2 for training, written with the autodiff Tape and Hugging Face's parameter names, so the saved
 * safetensors load in the inference engine (and in transformers) unchanged:
 *   x = wte[ids] + wpe[pos];  per layer: x += c_proj(attn(ln_1(x))); x += mlp(ln_2(x));  logits = ln_f(x) wte^T
 * Conv1D weights are [in, out] (y = x W + b); c_attn packs q|k|v. Exact-erf GELU ("gelu").
 */
import type { Tape, V } from '../autodiff.js';

export interface Gpt2Shape {
  vocab: number;
  positions: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  eps?: number;
}

export interface LmGraph {
  loss: V;
  logits: V;
  /** Embedding output then every block's output (pre ln_f), for parity checks. */
  hidden: V[];
  inputs: V[];
}

export function gpt2ParamShapes(s: Gpt2Shape): [string, number[]][] {
  const C = s.hidden;
  const out: [string, number[]][] = [
    ['transformer.wte.weight', [s.vocab, C]],
    ['transformer.wpe.weight', [s.positions, C]],
  ];
  for (let l = 0; l < s.layers; l++) {
    const L = `transformer.h.${l}`;
    out.push(
      [`${L}.ln_1.weight`, [C]], [`${L}.ln_1.bias`, [C]],
      [`${L}.attn.c_attn.weight`, [C, 3 * C]], [`${L}.attn.c_attn.bias`, [3 * C]],
      [`${L}.attn.c_proj.weight`, [C, C]], [`${L}.attn.c_proj.bias`, [C]],
      [`${L}.ln_2.weight`, [C]], [`${L}.ln_2.bias`, [C]],
      [`${L}.mlp.c_fc.weight`, [C, s.intermediate]], [`${L}.mlp.c_fc.bias`, [s.intermediate]],
      [`${L}.mlp.c_proj.weight`, [s.intermediate, C]], [`${L}.mlp.c_proj.bias`, [C]],
    );
  }
  out.push(['transformer.ln_f.weight', [C]], ['transformer.ln_f.bias', [C]]);
  return out;
}

/** GPT-2's init: N(0, 0.02), residual projections scaled by 1/sqrt(2 * layers). */
export function gpt2InitStd(s: Gpt2Shape, name: string): number {
  return name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * s.layers) : 0.02;
}

/** Causal additive mask [T, T]: 0 on and below the diagonal, -1e9 above. */
export function causalMask(t: Tape, T: number): V {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return t.constant(m, [T, T]);
}

/** Multi-head attention on [B, T, C] q/k/v with an additive mask broadcast to [B, H, T, T]. */
export function attention(t: Tape, q: V, k: V, v: V, heads: number, mask: V | null, rope?: (x: V) => V): V {
  const [B, T, C] = q.shape;
  const D = C / heads;
  const split = (x: V) => t.transpose(t.reshape(x, [B, T, heads, D]), [0, 2, 1, 3]);
  let qh = split(q);
  let kh = split(k);
  if (rope) {
    qh = rope(qh);
    kh = rope(kh);
  }
  let scores = t.scale(t.matmul(qh, t.transpose(kh, [0, 1, 3, 2])), 1 / Math.sqrt(D));
  if (mask) scores = t.add(scores, mask);
  const ctx = t.matmul(t.softmax(scores), split(v));
  return t.reshape(t.transpose(ctx, [0, 2, 1, 3]), [B, T, C]);
}

export function buildGpt2(t: Tape, s: Gpt2Shape, B: number, T: number): LmGraph {
  const C = s.hidden;
  const eps = s.eps ?? 1e-5;
  const p = new Map(gpt2ParamShapes(s).map(([n, shape]) => [n, t.param(n, shape)]));
  const P = (n: string) => p.get(n)!;
  const ids = t.input('input_ids', [B, T], 'int64');
  const pos = t.input('position_ids', [B, T], 'int64');
  const targets = t.input('targets', [B * T], 'int64');
  const weights = t.input('loss_weights', [B * T]);

  let x = t.add(t.gather(P('transformer.wte.weight'), ids), t.gather(P('transformer.wpe.weight'), pos));
  const hidden = [x];
  const mask = causalMask(t, T);
  for (let l = 0; l < s.layers; l++) {
    const L = `transformer.h.${l}`;
    const h = t.layerNorm(x, P(`${L}.ln_1.weight`), P(`${L}.ln_1.bias`), eps);
    const qkv = t.add(t.matmul(h, P(`${L}.attn.c_attn.weight`)), P(`${L}.attn.c_attn.bias`));
    const [q, k, v] = t.split(qkv, 3);
    const a = attention(t, q, k, v, s.heads, mask);
    x = t.add(x, t.add(t.matmul(a, P(`${L}.attn.c_proj.weight`)), P(`${L}.attn.c_proj.bias`)));
    const m = t.layerNorm(x, P(`${L}.ln_2.weight`), P(`${L}.ln_2.bias`), eps);
    const f = t.gelu(t.add(t.matmul(m, P(`${L}.mlp.c_fc.weight`)), P(`${L}.mlp.c_fc.bias`)));
    x = t.add(x, t.add(t.matmul(f, P(`${L}.mlp.c_proj.weight`)), P(`${L}.mlp.c_proj.bias`)));
    hidden.push(x);
  }
  const final = t.layerNorm(x, P('transformer.ln_f.weight'), P('transformer.ln_f.bias'), eps);
  const logits = t.linearT(t.reshape(final, [B * T, C]), P('transformer.wte.weight')); // tied head
  const loss = t.crossEntropy(logits, targets, weights);
  return { loss, logits, hidden, inputs: [ids, pos, targets, weights] };
}

export function gpt2Config(s: Gpt2Shape): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: s.vocab,
    n_positions: s.positions,
    n_embd: s.hidden,
    n_layer: s.layers,
    n_head: s.heads,
    n_inner: s.intermediate,
    activation_function: 'gelu',
    layer_norm_epsilon: s.eps ?? 1e-5,
    tie_word_embeddings: true,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    bos_token_id: 0,
    eos_token_id: 0,
    torch_dtype: 'float32',
  };
}

export function gpt2Model(s: Gpt2Shape) {
  return {
    paramShapes: () => gpt2ParamShapes(s),
    initStd: (name: string) => gpt2InitStd(s, name),
    build: (t: Tape, B: number, T: number) => buildGpt2(t, s, B, T),
  };
}
