/**
 * RoBERTa for masked-language-model training, with Hugging Face's parameter names (RobertaForMaskedLM):
 *   x = LN(word[ids] + position[2 + t] + type[0]);  per layer (post-LN):
 *   x = LN(x + dense(attn(x)));  x = LN(x + dense(gelu(intermediate(x))))
 *   MLM head: logits = LN(gelu(dense(x))) word^T + bias   (decoder tied to the word embeddings)
 * Linear weights are [out, in] as nn.Linear stores them. Training chunks are full length (no padding),
 * so position ids are padding_idx + 1 + t as RoBERTa computes them.
 */
import type { Tape, V } from '../autodiff.js';
import { attention } from './gpt2.js';

export interface RobertaShape {
  vocab: number;
  /** Longest sequence; max_position_embeddings = this + 2 (RoBERTa's padding offset). */
  seq: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  padTokenId: number;
  eps?: number;
  /**
   * Start the position embeddings as sinusoids (Vaswani et al.) at the word embeddings' scale instead of
   * N(0, 0.02). A bidirectional encoder's attention is blind to order except through these vectors; random
   * ones carry no notion of "neighbour", which is one reason small masked LMs sit on the unigram plateau.
   */
  sinusoidalPositions?: boolean;
  /**
   * Init std of the query/key weights (default 0.02, BERT's for every weight). At hidden 64, 0.02 makes
   * the attention logits ~0.03 at the start: attention is uniform and its gradient is tiny, a saddle.
   */
  qkStd?: number;
  /**
   * Add this multiple of the identity to the query and key weights' random init (0: off). Attention
   * logits then start as scaled dot products of the layer inputs, so with sinusoidal positions each head
   * starts as a local window (neighbours score high) instead of uniform; see bench/RESULTS.md, "The
   * masked-LM plateau, diagnosed".
   */
  qkIdentity?: number;
  /**
   * With sinusoidalPositions and qkIdentity: words start in the first half of the hidden dimensions, the
   * sinusoidal positions in the second, and the query/key identity covers only the positional half, so
   * every head that reads the positional half starts as a content-blind local window (a masked token
   * averages its neighbours) instead of attending to itself and to the other <mask> tokens.
   */
  splitInit?: boolean;
}

/** Row r = sin/cos of position r at geometric frequencies, scaled so each row's RMS is `rms`. */
export function sinusoidTable(rows: number, C: number, rms: number): Float32Array {
  const out = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < C / 2; i++) {
      const f = r / 10000 ** ((2 * i) / C);
      out[r * C + 2 * i] = Math.sin(f) * rms * Math.SQRT2;
      out[r * C + 2 * i + 1] = Math.cos(f) * rms * Math.SQRT2;
    }
  }
  return out;
}

const E = 'roberta.embeddings';

export function robertaParamShapes(s: RobertaShape): [string, number[]][] {
  const C = s.hidden;
  const F = s.intermediate;
  const out: [string, number[]][] = [
    [`${E}.word_embeddings.weight`, [s.vocab, C]],
    [`${E}.position_embeddings.weight`, [s.seq + 2, C]],
    [`${E}.token_type_embeddings.weight`, [1, C]],
    [`${E}.LayerNorm.weight`, [C]], [`${E}.LayerNorm.bias`, [C]],
  ];
  for (let l = 0; l < s.layers; l++) {
    const L = `roberta.encoder.layer.${l}`;
    for (const n of ['query', 'key', 'value']) out.push([`${L}.attention.self.${n}.weight`, [C, C]], [`${L}.attention.self.${n}.bias`, [C]]);
    out.push(
      [`${L}.attention.output.dense.weight`, [C, C]], [`${L}.attention.output.dense.bias`, [C]],
      [`${L}.attention.output.LayerNorm.weight`, [C]], [`${L}.attention.output.LayerNorm.bias`, [C]],
      [`${L}.intermediate.dense.weight`, [F, C]], [`${L}.intermediate.dense.bias`, [F]],
      [`${L}.output.dense.weight`, [C, F]], [`${L}.output.dense.bias`, [C]],
      [`${L}.output.LayerNorm.weight`, [C]], [`${L}.output.LayerNorm.bias`, [C]],
    );
  }
  out.push(
    ['lm_head.dense.weight', [C, C]], ['lm_head.dense.bias', [C]],
    ['lm_head.layer_norm.weight', [C]], ['lm_head.layer_norm.bias', [C]],
    ['lm_head.bias', [s.vocab]],
  );
  return out;
}

export function buildRoberta(t: Tape, s: RobertaShape, B: number, T: number) {
  const eps = s.eps ?? 1e-5;
  const C = s.hidden;
  const p = new Map(robertaParamShapes(s).map(([n, shape]) => [n, t.param(n, shape)]));
  const P = (n: string) => p.get(n)!;
  const dense = (x: V, name: string) => t.add(t.linearT(x, P(`${name}.weight`)), P(`${name}.bias`));
  const ids = t.input('input_ids', [B, T], 'int64');
  const pos = t.input('position_ids', [B, T], 'int64');
  const targets = t.input('targets', [B * T], 'int64');
  const weights = t.input('loss_weights', [B * T]);

  let x = t.add(t.add(t.gather(P(`${E}.word_embeddings.weight`), ids), t.gather(P(`${E}.position_embeddings.weight`), pos)), P(`${E}.token_type_embeddings.weight`));
  x = t.layerNorm(x, P(`${E}.LayerNorm.weight`), P(`${E}.LayerNorm.bias`), eps);
  const hidden = [x];
  for (let l = 0; l < s.layers; l++) {
    const L = `roberta.encoder.layer.${l}`;
    const a = attention(t, dense(x, `${L}.attention.self.query`), dense(x, `${L}.attention.self.key`), dense(x, `${L}.attention.self.value`), s.heads, null);
    x = t.layerNorm(t.add(x, dense(a, `${L}.attention.output.dense`)), P(`${L}.attention.output.LayerNorm.weight`), P(`${L}.attention.output.LayerNorm.bias`), eps);
    const f = dense(t.gelu(dense(x, `${L}.intermediate.dense`)), `${L}.output.dense`);
    x = t.layerNorm(t.add(x, f), P(`${L}.output.LayerNorm.weight`), P(`${L}.output.LayerNorm.bias`), eps);
    hidden.push(x);
  }
  const h = t.layerNorm(t.gelu(dense(t.reshape(x, [B * T, C]), 'lm_head.dense')), P('lm_head.layer_norm.weight'), P('lm_head.layer_norm.bias'), eps);
  const logits = t.add(t.linearT(h, P(`${E}.word_embeddings.weight`)), P('lm_head.bias'));
  const loss = t.crossEntropy(logits, targets, weights);
  return { loss, logits, hidden, inputs: [ids, pos, targets, weights] };
}

export function robertaModel(s: RobertaShape) {
  return {
    paramShapes: () => robertaParamShapes(s),
    initStd: (name: string) => (s.qkStd !== undefined && /attention\.self\.(query|key)\.weight$/.test(name) ? s.qkStd : 0.02),
    initValue: (name: string, drawn: Float32Array) => {
      const C = s.hidden;
      const h = C / 2;
      if (s.sinusoidalPositions && name === `${E}.position_embeddings.weight`) {
        if (!s.splitInit) return sinusoidTable(s.seq + 2, C, 0.02);
        const half = sinusoidTable(s.seq + 2, h, 0.02 * Math.SQRT2);
        const out = new Float32Array((s.seq + 2) * C);
        for (let r = 0; r < s.seq + 2; r++) out.set(half.subarray(r * h, (r + 1) * h), r * C + h);
        return out;
      }
      if (s.splitInit && name === `${E}.word_embeddings.weight`) return drawn.map((x, i) => (i % C < h ? x * Math.SQRT2 : 0));
      if (s.qkIdentity && /attention\.self\.(query|key)\.weight$/.test(name)) {
        const out = Float32Array.from(drawn);
        for (let i = s.splitInit ? h : 0; i < C; i++) out[i * C + i] += s.qkIdentity;
        return out;
      }
      return undefined;
    },
    build: (t: Tape, B: number, T: number) => buildRoberta(t, s, B, T),
  };
}

export function robertaConfig(s: RobertaShape, special: { bos: number; eos: number }): Record<string, unknown> {
  return {
    architectures: ['RobertaForMaskedLM'],
    model_type: 'roberta',
    vocab_size: s.vocab,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: s.seq + 2,
    type_vocab_size: 1,
    layer_norm_eps: s.eps ?? 1e-5,
    pad_token_id: s.padTokenId,
    bos_token_id: special.bos,
    eos_token_id: special.eos,
    position_embedding_type: 'absolute',
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}
