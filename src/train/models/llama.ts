/**
 * Llama for training (the conditional-scaling-law grid), with Hugging Face's names so checkpoints run in
 * the inference engine:  x = embed[ids];  per layer: x += o(attn(rope(q(rms(x))), rope(k(.)), v(.)));
 * x += down(silu(gate(rms(x))) * up(rms(x)));  logits = rms(x) embed^T (tied). No biases; grouped-query
 * attention shares each key/value head among `heads / kvHeads` query heads.
 */
import type { Tape, V } from '../autodiff.js';
import { causalMask } from './gpt2.js';

export interface LlamaShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  seq: number;
  eps?: number;
  ropeTheta?: number;
}

export function llamaParamShapes(s: LlamaShape): [string, number[]][] {
  const C = s.hidden;
  const D = C / s.heads;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [s.vocab, C]]];
  for (let l = 0; l < s.layers; l++) {
    const L = `model.layers.${l}`;
    out.push(
      [`${L}.input_layernorm.weight`, [C]],
      [`${L}.self_attn.q_proj.weight`, [s.heads * D, C]],
      [`${L}.self_attn.k_proj.weight`, [s.kvHeads * D, C]],
      [`${L}.self_attn.v_proj.weight`, [s.kvHeads * D, C]],
      [`${L}.self_attn.o_proj.weight`, [C, s.heads * D]],
      [`${L}.post_attention_layernorm.weight`, [C]],
      [`${L}.mlp.gate_proj.weight`, [s.intermediate, C]],
      [`${L}.mlp.up_proj.weight`, [s.intermediate, C]],
      [`${L}.mlp.down_proj.weight`, [C, s.intermediate]],
    );
  }
  out.push(['model.norm.weight', [C]]);
  return out;
}

/**
 * Rotary embedding as a fixed linear map on [.., T, D]: x cos + rotate_half(x) sin, with rotate_half = x @ R and
 * the tables emb = cat(freqs, freqs), freqs[p][i] = angle(p, i) for i < D / 2 (each model keeps its own formula
 * for the angle, to the last bit).
 */
export function rotaryMap(t: Tape, T: number, D: number, angle: (p: number, i: number) => number): (x: V) => V {
  const half = D / 2;
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < half; i++) {
      const f = angle(p, i);
      cos[p * D + i] = cos[p * D + i + half] = Math.cos(f);
      sin[p * D + i] = sin[p * D + i + half] = Math.sin(f);
    }
  }
  const R = new Float32Array(D * D); // (x @ R)[i] = -x[i + half] for i < half, x[i - half] otherwise
  for (let i = 0; i < half; i++) {
    R[(i + half) * D + i] = -1;
    R[i * D + i + half] = 1;
  }
  const c = t.constant(cos, [T, D]);
  const sn = t.constant(sin, [T, D]);
  const r = t.constant(R, [D, D]);
  return (x) => t.add(t.mul(x, c), t.mul(t.matmul(x, r), sn));
}

/** HF's rotary angles: p * inv_freq_i, inv_freq_i = theta^(-2i/D) (computed as 1 / theta^fround(2i/D), as HF does in fp32). */
function rotary(t: Tape, T: number, D: number, theta: number): (x: V) => V {
  return rotaryMap(t, T, D, (p, i) => p * (1 / Math.pow(theta, Math.fround((2 * i) / D))));
}

export function buildLlama(t: Tape, s: LlamaShape, B: number, T: number) {
  const C = s.hidden;
  const D = C / s.heads;
  const eps = s.eps ?? 1e-5;
  const p = new Map(llamaParamShapes(s).map(([n, shape]) => [n, t.param(n, shape)]));
  const P = (n: string) => p.get(n)!;
  const ids = t.input('input_ids', [B, T], 'int64');
  const targets = t.input('targets', [B * T], 'int64');
  const weights = t.input('loss_weights', [B * T]);
  const rope = rotary(t, T, D, s.ropeTheta ?? 10000);
  const mask = causalMask(t, T);
  const heads = (x: V, n: number) => t.transpose(t.reshape(x, [B, T, n, D]), [0, 2, 1, 3]);

  let x = t.gather(P('model.embed_tokens.weight'), ids);
  const hidden = [x];
  for (let l = 0; l < s.layers; l++) {
    const L = `model.layers.${l}`;
    const h = t.rmsNorm(x, P(`${L}.input_layernorm.weight`), eps);
    const q = rope(heads(t.linearT(h, P(`${L}.self_attn.q_proj.weight`)), s.heads));
    const k = t.repeatHeads(rope(heads(t.linearT(h, P(`${L}.self_attn.k_proj.weight`)), s.kvHeads)), s.heads / s.kvHeads);
    const v = t.repeatHeads(heads(t.linearT(h, P(`${L}.self_attn.v_proj.weight`)), s.kvHeads), s.heads / s.kvHeads);
    const scores = t.add(t.scale(t.matmul(q, t.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(D)), mask);
    const ctx = t.reshape(t.transpose(t.matmul(t.softmax(scores), v), [0, 2, 1, 3]), [B, T, C]);
    x = t.add(x, t.linearT(ctx, P(`${L}.self_attn.o_proj.weight`)));
    const m = t.rmsNorm(x, P(`${L}.post_attention_layernorm.weight`), eps);
    const f = t.mul(t.silu(t.linearT(m, P(`${L}.mlp.gate_proj.weight`))), t.linearT(m, P(`${L}.mlp.up_proj.weight`)));
    x = t.add(x, t.linearT(f, P(`${L}.mlp.down_proj.weight`)));
    hidden.push(x);
  }
  const final = t.rmsNorm(x, P('model.norm.weight'), eps);
  const logits = t.linearT(t.reshape(final, [B * T, C]), P('model.embed_tokens.weight'));
  return { loss: t.crossEntropy(logits, targets, weights), logits, hidden, inputs: [ids, targets, weights] };
}

export function llamaModel(s: LlamaShape) {
  return {
    paramShapes: () => llamaParamShapes(s),
    initStd: (name: string) => (name.endsWith('o_proj.weight') || name.endsWith('down_proj.weight') ? 0.02 / Math.sqrt(2 * s.layers) : 0.02),
    build: (t: Tape, B: number, T: number) => buildLlama(t, s, B, T),
  };
}

export function llamaConfig(s: LlamaShape): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: s.vocab,
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    max_position_embeddings: s.seq,
    rms_norm_eps: s.eps ?? 1e-5,
    rope_theta: s.ropeTheta ?? 10000,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}
