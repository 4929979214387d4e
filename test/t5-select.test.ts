/**
 * T5 selectable where its parameters are: units = encoder blocks then decoder blocks, each counted with its own
 * cost (a decoder block carries cross-attention too), parameters counted as written; a subset of encoder blocks
 * is written as the encoder alone (T5EncoderModel), one with decoder blocks as T5ForConditionalGeneration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { FAMILIES } from '../src/engine/families/index.js';
import { splitT5Units } from '../src/engine/families/t5.js';
import { materialize } from '../src/compress/materialize.js';
import { fullCost, parameterCosts, subsetCost } from '../src/select/costs.js';
import { capacity, parseBudget } from '../src/select/budget.js';
import { searchSubset } from '../src/select/search.js';
import type { SubsetScore } from '../src/select/evaluate.js';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, INT64 } from '../src/engine/graph.js';
import { bucketsInGraph } from '../src/engine/ops.js';
import { bucketMatrix } from '../src/model/t5-buckets.js';
import { FIXTURES, compareMasked, readGolden, tempDir } from './helpers.js';
import { T5_BASE, shapeOnlyT5 } from '../bench/t5-accounting.js';

const T5 = join(FIXTURES, 't5');

/** Bytes of tensor data in a safetensors file (file size minus the 8-byte length and the JSON header). */
function dataBytes(path: string): number {
  const head = readFileSync(path).subarray(0, 8);
  return statSync(path).size - 8 - Number(head.readBigUInt64LE(0));
}

/** Hugging Face's keys of the fixture (its README lists what save_pretrained wrote). */
function hfKeys(dir: string): string[] {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  return (readme.slice(readme.indexOf('Parameter names in model.safetensors')).split('```')[1] ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
}

/** HF's keys of the same model keeping encoder blocks `enc` and decoder blocks `dec`, renumbered (block 0 owns each stack's position table). */
function keptKeys(keys: string[], enc: number[], dec: number[]): string[] {
  const out: string[] = [];
  for (const k of keys) {
    const m = /^(encoder|decoder)\.block\.(\d+)\.(.*)$/.exec(k);
    if (!m) {
      if ((k.startsWith('decoder.') || k.startsWith('lm_head.')) && dec.length === 0) continue;
      out.push(k);
      continue;
    }
    const kept = m[1] === 'encoder' ? enc : dec;
    if (m[3].includes('relative_attention_bias')) {
      if (kept.length) out.push(`${m[1]}.block.0.${m[3]}`);
      continue;
    }
    const j = kept.indexOf(Number(m[2]));
    if (j >= 0) out.push(`${m[1]}.block.${j}.${m[3]}`);
  }
  return out.sort();
}

test('T5 units: encoder + decoder blocks each with its own cost, adding up to the checkpoint; the probed scope puts the decoder outside', () => {
  const model = loadModel(T5);
  const all = parameterCosts(model, 'all');
  const a = model.arch;
  assert.equal(all.perLayer.length, a.layers + a.t5!.decoderLayers);
  const total = model.weights.parameterCount();
  assert.equal(subsetCost(all, all.perLayer.map((_, i) => i)), total);
  assert.equal(fullCost(all), total);
  // a decoder block = an encoder block + cross-attention (q, k, v, o) + its layer norm
  const inner = a.heads * a.headDim;
  assert.equal(all.perLayer[a.layers + 1] - all.perLayer[1], 4 * a.hidden * inner + a.hidden);
  // the decoder's final norm and position table come with the first decoder block kept, once
  assert.equal(subsetCost(all, [0, 2]) - subsetCost(all, [0]), all.perLayer[2] + all.groups![0].cost);
  assert.equal(subsetCost(all, [0, 2, 3]) - subsetCost(all, [0, 2]), all.perLayer[3]);
  const probed = parameterCosts(model);
  assert.equal(probed.perLayer.length, a.layers);
  assert.equal(fullCost(probed), total, 'fractions are of the whole checkpoint');
  assert.deepEqual(probed.perLayer, all.perLayer.slice(0, a.layers));
  assert.equal(probed.fixed, all.fixed);
});

test('selection over decoder blocks: the search over units chooses among decoder blocks; the written T5 reloads with HF keys and parameters = bytes / 4', async () => {
  const model = loadModel(T5);
  const batch = readInputs(join(T5, 'inputs.json'));
  const all = parameterCosts(model, 'all');
  const full = await Engine.create(model, { hiddenStates: 'last', logits: false, threads: 1 });
  const want = (await full.run(batch)).last_hidden_state; // the decoder's output
  await full.release();
  const runUnits = async (units: number[]) => {
    const eng = await Engine.create(model, { ...splitT5Units(model.arch, model.weights, units), hiddenStates: 'last', logits: true, threads: 1 });
    const out = await eng.run(batch);
    await eng.release();
    return out;
  };
  // objective: how close the subnetwork's decoder output stays to the full model's (1 - relative L2 error)
  const scored = new Map<string, number>();
  const ev = {
    evaluate: async (units: number[]): Promise<SubsetScore> => {
      const got = (await runUnits(units)).last_hidden_state.data;
      let num = 0;
      let den = 0;
      for (let i = 0; i < got.length; i++) {
        num += (got[i] - want.data[i]) ** 2;
        den += want.data[i] ** 2;
      }
      const retention = 1 - Math.sqrt(num / den);
      scored.set(units.join(), retention);
      return { layers: units, scores: {}, retention };
    },
  };
  // three units within the cost of two encoder blocks + one decoder block: the search chooses which decoder
  // block to keep (two decoder blocks, with their once-paid final norm and table, are over the budget)
  const budget = subsetCost(all, [0, 1, 2]);
  // a sequence-to-sequence model: at least one decoder block, and (T5's rule) an encoder block with it
  const seq2seq = (s: number[]) => s.some((u) => u >= 2) && s.some((u) => u < 2);
  const result = await searchSubset(ev, all, budget, 3, [[0, 1, 2]], 40, seq2seq);
  assert.equal(result.method, 'exhaustive');
  // a budget is a ceiling: every affordable sequence-to-sequence subset of 1-3 units, and no other, was scored (none with both
  // decoder blocks: their once-paid final norm and table put two over the budget)
  const affordable: string[] = [];
  for (let m = 1; m < 16; m++) {
    const s = [0, 1, 2, 3].filter((i) => m & (1 << i));
    if (s.length <= 3 && subsetCost(all, s) <= budget + 1e-9 && seq2seq(s)) affordable.push(s.join());
  }
  assert.ok(!affordable.includes('0,2,3') && affordable.includes('0,1,2'));
  assert.deepEqual([...scored.keys()].sort(), affordable.sort(), 'exactly the affordable subsets were scored');
  const best = [...scored.entries()].reduce((x, y) => (y[1] > x[1] ? y : x));
  assert.equal(result.best.layers.join(), best[0], 'the search returns the best subset it scored');
  const { layers, decoderLayers } = splitT5Units(model.arch, model.weights, result.best.layers);
  assert.deepEqual(layers, [0, 1]);
  assert.equal(decoderLayers.length, 1, `chosen [${result.best.layers}] keeps one decoder block`);
  assert.ok(subsetCost(all, result.best.layers) <= budget);

  // the chosen subset, and one that drops block 0 of both stacks (each position table moves to its new block 0)
  for (const units of [result.best.layers, [1, 3]]) {
    const split = splitT5Units(model.arch, model.weights, units);
    const tmp = tempDir('t5-sel');
    const out = join(tmp, 'model');
    const res = await materialize(model, units, out);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['T5ForConditionalGeneration']);
    assert.equal(cfg.num_layers, split.layers.length);
    assert.equal(cfg.num_decoder_layers, split.decoderLayers.length);
    const written = loadModel(out);
    assert.deepEqual(written.weights.names().sort(), keptKeys(hfKeys(T5), split.layers, split.decoderLayers), `[${units}]: HF T5ForConditionalGeneration keys, none missing, none unexpected`);
    assert.equal(res.parameters, subsetCost(all, units), 'parameters counted as written');
    assert.equal(dataBytes(join(out, 'model.safetensors')) / 4, subsetCost(all, units), 'fp32: bytes / 4');
    // the written model computes what the unit subset computed in the original
    const ref = await runUnits(units);
    const eng = await Engine.create(written, { hiddenStates: 'last', logits: true, threads: 1 });
    const got = await eng.run(batch);
    await eng.release();
    for (const name of ['encoder_last_hidden_state', 'last_hidden_state', 'logits']) {
      const mask = name.startsWith('encoder') ? batch.attentionMask : batch.decoderAttentionMask;
      const r = compareMasked(got[name].data, ref[name].data, ref[name].dims, mask, 1e-5, 1e-5);
      assert.ok(r.withinTolerance, `[${units}] ${name}: max diff ${r.maxAbs}`);
    }
    rmSync(tmp, { recursive: true });
  }
});

test('encoder-only write: T5EncoderModel keys, reload matches the original encoder at the kept layers, parameters = bytes / 4', async () => {
  const model = loadModel(T5);
  const batch = readInputs(join(T5, 'inputs.json'));
  const golden = readGolden(join(T5, 'golden.safetensors'));
  const costs = parameterCosts(model);
  for (const units of [[0], [0, 1], [1]]) {
    const tmp = tempDir('t5-enc');
    const out = join(tmp, 'model');
    const res = await materialize(model, units, out);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['T5EncoderModel']);
    const written = loadModel(out);
    assert.deepEqual(written.weights.names().sort(), keptKeys(hfKeys(T5), units, []), `[${units}]: HF T5EncoderModel keys`);
    assert.equal(res.parameters, subsetCost(costs, units));
    assert.equal(dataBytes(join(out, 'model.safetensors')) / 4, subsetCost(costs, units), 'fp32: bytes / 4');
    const eng = await Engine.create(written, { hiddenStates: 'all', threads: 1 });
    const got = await eng.run(batch);
    await eng.release();
    if (units[0] === 0) {
      // a prefix of the encoder: its states are the original model's, checked against Hugging Face's golden file
      units.forEach((_, j) => {
        const g = golden.get(`encoder_layer_outputs.${j}`)!;
        assert.ok(compareMasked(got[`layer_outputs.${j}`].data, g.data, g.shape, batch.attentionMask, 1e-4, 1e-4).withinTolerance, `[${units}] layer ${j} vs HF`);
      });
      if (units.length === model.arch.layers) {
        const g = golden.get('encoder_last_hidden_state')!;
        assert.ok(compareMasked(got.last_hidden_state.data, g.data, g.shape, batch.attentionMask, 1e-4, 1e-4).withinTolerance);
      }
    }
    // any subset: the original run on the same encoder blocks
    const ref = await Engine.create(model, { layers: units, hiddenStates: 'all', logits: false, threads: 1 });
    const want = await ref.run(batch);
    await ref.release();
    const r = compareMasked(got.last_hidden_state.data, want.last_hidden_state.data, want.last_hidden_state.dims, batch.attentionMask, 1e-5, 0);
    assert.ok(r.withinTolerance, `[${units}]: max diff ${r.maxAbs}`);
    rmSync(tmp, { recursive: true });
  }
});

test('T5-Base shapes: the full checkpoint is 222,903,552 parameters; two encoder blocks written alone are 5.7x smaller, and a 0.2 budget now fits them', () => {
  const model = shapeOnlyT5(T5_BASE);
  const costs = parameterCosts(model);
  assert.equal(fullCost(costs), 222_903_552, "t5-base's parameter count");
  const spec = FAMILIES.t5;
  const numel = (units: number[]) => Object.values(spec.writeSubset(spec, model.arch, model.weights, units).tensors).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  for (const k of [1, 2, 3, 12]) {
    const units = Array.from({ length: k }, (_, i) => i);
    assert.equal(numel(units), subsetCost(costs, units), `${k} encoder blocks: counted as written`);
  }
  assert.equal(subsetCost(costs, [0, 1]), 38_834_304);
  assert.ok(fullCost(costs) / subsetCost(costs, [0, 1]) > 5.7);
  assert.ok(capacity(parseBudget('0.2'), costs).maxLayers >= 2, 'a fifth of the checkpoint holds the embeddings and two encoder blocks');
  // with decoder blocks: each one costs its self-attention, cross-attention, FF and 3 norms
  const all = parameterCosts(model, 'all');
  assert.equal(all.perLayer[12], 4 * 768 * 768 * 2 + 2 * 768 * 3072 + 3 * 768);
  assert.equal(numel([0, 12]), subsetCost(all, [0, 12]));
});

test('position buckets computed in the graph equal the runner\'s (HF\'s float32 rule), past max_distance too', async () => {
  for (const [nb, md] of [[32, 128], [8, 20]]) {
    for (const bidirectional of [true, false]) {
      const g = new GraphBuilder('buckets');
      const q = g.input('q', INT64, ['batch', 'tq']);
      const k = g.input('k', INT64, ['batch', 'tk']);
      g.output('buckets', bucketsInGraph(g, q, k, bidirectional, nb, md), INT64);
      const session = await ort.InferenceSession.create(g.toBytes());
      for (const [tq, tk] of [[1, 1], [5, 9], [300, 300]]) {
        const out = await session.run({ q: new ort.Tensor('int64', new BigInt64Array(tq), [1, tq]), k: new ort.Tensor('int64', new BigInt64Array(tk), [1, tk]) });
        assert.deepEqual(out.buckets.dims, [tq, tk]);
        assert.deepEqual([...(out.buckets.data as BigInt64Array)], [...bucketMatrix(tq, tk, bidirectional, nb, md)], `${nb}/${md} ${bidirectional ? 'bidirectional' : 'causal'} ${tq}x${tk}`);
      }
      await session.release();
    }
  }
});

test('a written T5 (encoder alone, and with decoder blocks) runs from onnx/model.onnx in onnxruntime with ids and masks only', async () => {
  const model = loadModel(T5);
  const batch = readInputs(join(T5, 'inputs.json'));
  const i64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
  for (const units of [[1], [0, 3]]) {
    const tmp = tempDir('t5-onnx');
    const out = join(tmp, 'model');
    await materialize(model, units, out);
    const session = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'));
    const decoder = units.some((u) => u >= model.arch.layers);
    assert.deepEqual([...session.inputNames].sort(), (decoder ? ['attention_mask', 'decoder_attention_mask', 'decoder_input_ids', 'input_ids'] : ['attention_mask', 'input_ids']));
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(batch.inputIds), attention_mask: i64(batch.attentionMask!) };
    if (decoder) Object.assign(feeds, { decoder_input_ids: i64(batch.decoderInputIds!), decoder_attention_mask: i64(batch.decoderAttentionMask!) });
    const got = await session.run(feeds);
    await session.release();
    const eng = await Engine.create(loadModel(out), { hiddenStates: 'last', threads: 1 });
    const want = await eng.run(batch);
    await eng.release();
    for (const name of Object.keys(want)) {
      const mask = name.startsWith('encoder') || !decoder ? batch.attentionMask : batch.decoderAttentionMask;
      const r = compareMasked(got[name].data as Float32Array, want[name].data, want[name].dims, mask, 1e-5, 1e-5);
      assert.ok(r.withinTolerance, `[${units}] ${name}: max diff ${r.maxAbs}`);
    }
    rmSync(tmp, { recursive: true });
  }
});
