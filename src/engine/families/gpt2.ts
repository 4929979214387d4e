/**
 * GPT-2: pre-LN causal decoder.
 *   x = wte[ids] + wpe[position_ids]
 *   per layer: x = x + Attn(ln_1(x)); x = x + MLP(ln_2(x));   final ln_f; logits = ln_f(x) @ wte^T
 * Conv1D weights are stored [in, out] already (y = x W + b); c_attn packs q|k|v along the output axis.
 */
import type { ArchConfig } from '../../model/config.js';
import { act, num, optNum, specialIds } from '../../model/config-fields.js';
import { ProbescaleError } from '../../util/errors.js';
import type { WeightStore } from '../../model/weights.js';
import { GraphBuilder } from '../graph.js';
import { activation, attend, withCache, linear, mergeHeads, residual, splitHeads } from '../ops.js';
import { SEQUENTIAL_POSITIONS, OWN_LAYER_WEIGHTS, bridge, type BuiltGraph, type FamilySpec, type GraphOptions } from '../family.js';
import { finishDecoder, startDecoder } from '../decoder.js';
import { storedLayerNorm } from './bert.js';

function conv1d(g: GraphBuilder, w: WeightStore, name: string, inp: number, out: number) {
  return {
    w: g.weight(`${name}.weight`, w.get(`${name}.weight`, [inp, out]).data, [inp, out]),
    b: g.weight(`${name}.bias`, w.get(`${name}.bias`, [out]).data, [out]),
  };
}

/** c_attn with the query third scaled by 1/sqrt(D), so scores need no separate scaling. */
function qkvWeights(g: GraphBuilder, w: WeightStore, name: string, C: number, scale: number) {
  const W = w.get(`${name}.weight`, [C, 3 * C]).data.slice();
  const b = w.get(`${name}.bias`, [3 * C]).data.slice();
  for (let r = 0; r < C; r++) for (let c = 0; c < C; c++) W[r * 3 * C + c] *= scale;
  for (let c = 0; c < C; c++) b[c] *= scale;
  return { w: g.weight(`${name}.weight.qscaled`, W, [C, 3 * C]), b: g.weight(`${name}.bias.qscaled`, b, [3 * C]) };
}

export function buildGpt2(arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string): BuiltGraph {
  w.choosePrefix(['transformer.', ''], 'wte.weight');
  const P = w.prefix;
  const C = arch.hidden;
  const d = startDecoder('gpt2', opts, external);
  const { g, ids, pos, cache } = d;
  const ln = storedLayerNorm(g, w, C, arch.eps);

  const wte = w.body('wte.weight', [arch.vocab, C]);
  let x = g.op('Gather', [g.weight(`${P}wte.weight`, wte.data, [arch.vocab, C]), ids]);
  x = g.op('Add', [x, g.op('Gather', [g.weight(`${P}wpe.weight`, w.body('wpe.weight', [arch.maxPositions, C]).data, [arch.maxPositions, C]), pos])]);
  const embedded = x;

  const bias = d.causalBias();
  const scale = 1 / Math.sqrt(arch.headDim);
  const layerOutputs: string[] = [];
  for (const [j, l] of opts.layers.entries()) {
    x = bridge(g, x, opts, j, C);
    const L = `${P}h.${l}`;
    const h = ln(x, `${L}.ln_1`);
    const qkv = qkvWeights(g, w, `${L}.attn.c_attn`, C, scale);
    const [q, k, v] = g.opN('Split', [linear(g, h, qkv.w, qkv.b), g.constI64([C, C, C])], 3, { axis: -1 });
    let kv = { k: splitHeads(g, k, arch.heads, arch.headDim), v: splitHeads(g, v, arch.heads, arch.headDim) };
    if (cache) kv = withCache(g, j, kv.k, kv.v, arch.heads, arch.headDim);
    const ctx = attend(g, splitHeads(g, q, arch.heads, arch.headDim), kv.k, kv.v, bias);
    const proj = conv1d(g, w, `${L}.attn.c_proj`, C, C);
    x = residual(g, x, g.op('MatMul', [mergeHeads(g, ctx, arch.heads, arch.headDim), proj.w]), proj.b);
    const m = ln(x, `${L}.ln_2`);
    const fc = conv1d(g, w, `${L}.mlp.c_fc`, C, arch.intermediate);
    const out = conv1d(g, w, `${L}.mlp.c_proj`, arch.intermediate, C);
    x = residual(g, x, g.op('MatMul', [activation(g, linear(g, m, fc.w, fc.b), arch.activation), out.w]), out.b);
    layerOutputs.push(x);
  }
  return finishDecoder(d, arch, opts, {
    x, embedded, layerOutputs, kvHeads: arch.heads, headDim: arch.headDim,
    finalNorm: (y) => ln(y, `${P}ln_f`),
    head: () => (w.has('lm_head.weight') && !arch.tieEmbeddings ? w.get('lm_head.weight', [arch.vocab, C]) : wte).data,
  });
}

export const gpt2: FamilySpec = {
  about: { kind: 'decoder', notes: 'Conv1D weights, tied head', fixture: 'hf-tiny/gpt2' },
  modelTypes: ['gpt2'],
  parseConfig(raw, path) {
    const hidden = num(raw, 'n_embd', 768, path);
    const heads = num(raw, 'n_head', 12, path);
    if (raw.scale_attn_by_inverse_layer_idx === true || raw.reorder_and_upcast_attn === true) {
      throw new ProbescaleError('GPT-2 options scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported', { file: path });
    }
    return {
      ...specialIds(raw), family: 'gpt2', hidden, heads, kvHeads: heads, headDim: hidden / heads,
      layers: num(raw, 'n_layer', 12, path),
      intermediate: optNum(raw, 'n_inner') ?? 4 * hidden,
      vocab: num(raw, 'vocab_size', 50257, path),
      maxPositions: num(raw, 'n_positions', 1024, path),
      eps: num(raw, 'layer_norm_epsilon', 1e-5, path),
      activation: act(raw, 'activation_function', 'gelu_new', path),
      causal: true, tieEmbeddings: raw.tie_word_embeddings !== false,
    };
  },
  prefixes: ['transformer.', ''],
  anchor: 'wte.weight',
  tensors: [
    /^(wte|wpe)\.weight$/,
    /^ln_f\.(weight|bias)$/,
    /^h\.\d+\.(ln_1|ln_2|attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias)$/,
    /^h\.\d+\.attn\.(bias|masked_bias)$/, // causal-mask buffers older checkpoints store
    /^lm_head\.weight$/,
  ],
  layerPattern: /^((?:transformer\.)?h\.)(\d+)(\..*)$/,
  layerCountKey: 'n_layer',
  ...OWN_LAYER_WEIGHTS,
  vocabTensors: ['wte.weight', 'lm_head.weight'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: true,
  build: buildGpt2,
};
