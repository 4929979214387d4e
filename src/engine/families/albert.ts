/**
 * ALBERT: BERT's post-LN block (graph in bert.ts) stored once and applied num_hidden_layers times, with
 * factorized embeddings: x0 = embedding_hidden_mapping_in(LN(word + pos + type)) (E -> C), and an MLM head
 * mapping back to E (predictions.dense C -> E, act, LayerNorm, decoder tied to the word embeddings).
 *   layer i: x = LN(x + dense(Attn(x))); x = LN(x + ffn_output(act(ffn(x))))   (the same weights for every i)
 * Layer selection keeps applications: a kept subset of k applications is written as the same tensors with
 * num_hidden_layers = k, so dropping applications saves compute (FLOPs, latency budgets), never parameters.
 * Only the released layout (num_hidden_groups = inner_group_num = 1) is accepted.
 */
import { act, num } from '../../model/config-fields.js';
import { ProbescaleError } from '../../util/errors.js';
import { SEQUENTIAL_POSITIONS, type FamilySpec } from '../family.js';
import { BERT_LAYOUT, buildBertEncoder, parseBertLike } from './bert.js';

const SHARED = 'encoder.albert_layer_groups.0.albert_layers.0';

export const albert: FamilySpec = {
  about: { kind: 'encoder', notes: 'one shared layer applied N times: selection keeps applications (compute, not parameters)', fixture: 'hf-zoo/albert' },
  modelTypes: ['albert'],
  parseConfig(raw, path) {
    for (const key of ['num_hidden_groups', 'inner_group_num']) {
      if (num(raw, key, 1, path) !== 1) throw new ProbescaleError(`ALBERT with ${key} != 1 is not supported`, { file: path, fix: 'use a checkpoint with one shared layer (every released ALBERT)' });
    }
    const arch = parseBertLike(raw, path, 'albert', { vocab: 30000, pad: 0, hidden: 4096, heads: 64, intermediate: 16384 });
    return { ...arch, activation: act(raw, 'hidden_act', 'gelu_new', path), embeddingSize: num(raw, 'embedding_size', 128, path) };
  },
  prefixes: ['albert.', ''],
  anchor: 'embeddings.word_embeddings.weight',
  tensors: [
    /^embeddings\.(word_embeddings|position_embeddings|token_type_embeddings)\.weight$/,
    /^embeddings\.LayerNorm\.(weight|bias)$/,
    /^embeddings\.position_ids$/,
    /^encoder\.embedding_hidden_mapping_in\.(weight|bias)$/,
    /^encoder\.albert_layer_groups\.0\.albert_layers\.0\.attention\.(query|key|value|dense|LayerNorm)\.(weight|bias)$/,
    /^encoder\.albert_layer_groups\.0\.albert_layers\.0\.(ffn|ffn_output|full_layer_layer_norm)\.(weight|bias)$/,
    /^pooler\.(weight|bias)$/, // sentence-order pooler: stored, not used
    /^predictions\.(bias|decoder\.weight|decoder\.bias)$/,
    /^predictions\.(dense|LayerNorm)\.(weight|bias)$/,
    /^sop_classifier\.classifier\.(weight|bias)$/, // sentence-order head: stored, not used
  ],
  // no tensor belongs to one application: every kept subset keeps the shared layer (fixed parameters)
  layerPattern: /^(?!)()()$/,
  layerCountKey: 'num_hidden_layers',
  sharedAcrossLayers: () => false,
  appliedParameters(_spec, arch, w) {
    const shared = w.names().filter((n) => n.includes(`${SHARED}.`)).reduce((s, n) => s + w.get(n).data.length, 0);
    return new Array<number>(arch.layers).fill(shared);
  },
  vocabTensors: ['embeddings.word_embeddings.weight', 'predictions.bias', 'predictions.decoder.weight', 'predictions.decoder.bias'],
  ...SEQUENTIAL_POSITIONS,
  kvCache: false,
  build: buildBertEncoder({
    ...BERT_LAYOUT,
    prefixes: ['albert.', ''],
    project: 'encoder.embedding_hidden_mapping_in',
    layerName: () => SHARED,
    q: 'attention.query', k: 'attention.key', v: 'attention.value', o: 'attention.dense', attnNorm: 'attention.LayerNorm',
    ffIn: 'ffn', ffOut: 'ffn_output', outNorm: 'full_layer_layer_norm',
    head: { dense: 'predictions.dense', norm: 'predictions.LayerNorm', decoder: 'predictions.decoder.weight', bias: 'predictions.bias' },
  }),
  writeSubset(_spec, arch, w, layers) {
    const tensors: ReturnType<FamilySpec['writeSubset']>['tensors'] = {};
    for (const name of w.names()) {
      const t = w.get(name);
      tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    }
    const config: Record<string, unknown> = { ...arch.raw, num_hidden_layers: layers.length };
    delete config.converted_from;
    return { config, tensors };
  },
};
