/** A written subnetwork loads back through our own loader and reproduces the engine's layer-list run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { materialize } from '../src/compress/materialize.js';
import { FIXTURES, STORIES, compareMasked } from './helpers.js';

const cases: [string, number[]][] = [
  ['bert', [1]],
  ['roberta', [0]],
  ['gpt2', [0, 2]],
  ['llama', [1]],
  ['t5-encoder', [1]], // block 0 (owner of the position bias) dropped
  ['t5-gated', [0, 2]],
];

for (const [name, layers] of cases) {
  test(`materialize ${name} keeping layers [${layers}]: reload == layer-list run`, async () => {
    const dir = join(FIXTURES, name);
    const tmp = mkdtempSync(join(tmpdir(), 'ps-mat-'));
    const out = join(tmp, 'model');
    const model = loadModel(dir);
    const res = await materialize(model, layers, out);
    assert.ok(existsSync(join(out, 'onnx', 'model.onnx')) && !existsSync(join(out, 'model.onnx')));
    const batch = readInputs(join(dir, 'inputs.json'));
    const ref = await (await Engine.create(model, { layers, threads: 1 })).run(batch);
    const reloaded = loadModel(out);
    assert.equal(reloaded.arch.layers, layers.length);
    assert.equal(reloaded.weights.parameterCount(), res.parameters);
    const got = await (await Engine.create(reloaded, { threads: 1 })).run(batch);
    // a written T5 is its encoder alone (T5EncoderModel): compare with the original's encoder output
    const refKey = ref.encoder_last_hidden_state ? 'encoder_last_hidden_state' : 'last_hidden_state';
    if (name.startsWith('t5')) assert.ok(!reloaded.weights.names().some((n) => n.startsWith('decoder.')), 'no decoder written');
    const r = compareMasked(got.last_hidden_state.data, ref[refKey].data, ref[refKey].dims, batch.attentionMask, 1e-5, 0);
    assert.ok(r.withinTolerance, `max diff ${r.maxAbs}`);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.probescale.kept_layers, layers);
    rmSync(tmp, { recursive: true });
  });
}

test('the exported ONNX file runs standalone in onnxruntime and gives the same logits', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-onnx-'));
  const model = loadModel(join(STORIES, 'stories260K.bin'));
  await materialize(model, [0, 1, 2, 4], join(tmp, 'm'));
  assert.ok(existsSync(join(tmp, 'm', 'tokenizer.bin')), 'llama2.c tokenizer travels with the model');
  const ids = (await model.tokenizer()).encode('Once upon a time');
  const ref = await (await Engine.create(model, { layers: [0, 1, 2, 4], threads: 1 })).run({ inputIds: [ids] });
  const session = await ort.InferenceSession.create(join(tmp, 'm', 'onnx', 'model.onnx'));
  const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
  // a decoder is exported with its key/value cache: empty past on the first call (as transformers.js feeds it)
  const past = Object.fromEntries(session.inputNames.filter((n) => n.startsWith('past_key_values.')).map((n) => [n, new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 8])]));
  assert.equal(Object.keys(past).length, 8, 'four kept layers, key and value');
  const out = await session.run({ input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, t) => t)), ...past });
  const a = out.logits.data as Float32Array;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - ref.logits.data[i]));
  assert.ok(max < 1e-5, `max diff ${max}`);
  rmSync(tmp, { recursive: true });
});

test('vocabulary trimming: fewer parameters, same hidden states and logits on the kept tokens', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-vocab-'));
  const model = loadModel(join(STORIES, 'stories260K.bin'));
  const tok = await model.tokenizer();
  const texts = ['Once upon a time there was a cat.', 'The cat was happy.'];
  const used = texts.flatMap((t) => tok.encode(t));
  const res = await materialize(model, [0, 1, 2, 3, 4], join(tmp, 'm'), { vocab: { used, specials: [0, 1, 2] } });
  const trimmed = loadModel(join(tmp, 'm'));
  const kept = (JSON.parse(readFileSync(join(tmp, 'm', 'vocab_map.json'), 'utf8')) as { kept: number[] }).kept;
  assert.equal(trimmed.arch.vocab, kept.length);
  // the used pieces plus the pieces BPE passes through to build them (so the renumbered tokenizer.json segments as before)
  assert.ok(kept.length < 80 && kept.length >= new Set(used).size, `kept ${kept.length}`);
  assert.equal(res.parameters, 260032 - (512 - kept.length) * 64, 'tied embedding trimmed once');
  const ids = tok.encode(texts[0]);
  const tids = (await trimmed.tokenizer()).encode(texts[0]);
  assert.deepEqual(tids.map((j) => kept[j]), ids, 'remapped ids point back at the original tokens');
  assert.equal((await trimmed.tokenizer()).decode(tids), texts[0]);
  const a = await (await Engine.create(model, { threads: 1 })).run({ inputIds: [ids] });
  const b = await (await Engine.create(trimmed, { threads: 1 })).run({ inputIds: [tids] });
  assert.ok(compareMasked(b.last_hidden_state.data, a.last_hidden_state.data, a.last_hidden_state.dims, undefined, 1e-5, 0).withinTolerance);
  for (let t = 0; t < ids.length; t++) {
    kept.forEach((orig, j) => assert.ok(Math.abs(b.logits.data[t * kept.length + j] - a.logits.data[t * 512 + orig]) < 1e-4));
  }
  rmSync(tmp, { recursive: true });
});

test('healing: least-squares bridges bring a cut model closer to the full one, and survive materialize', async () => {
  const { fitBridges, fitLinearMap } = await import('../src/compress/heal.js');
  // exact recovery of a known affine map
  const C = 4;
  const rows = 50;
  const X = Float32Array.from({ length: rows * C }, (_, i) => Math.sin(i * 1.7) + (i % 3));
  const Y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) Y[r * C + c] = 2 * X[r * C + ((c + 1) % C)] - 0.5 + c;
  const fit = fitLinearMap(X, Y, rows, C, 1e-9);
  assert.ok(Math.abs(fit.weight[1 * C + 0] - 2) < 1e-3 && Math.abs(fit.bias[2] - 1.5) < 1e-3);

  const tmp = mkdtempSync(join(tmpdir(), 'ps-heal-'));
  const model = loadModel(join(STORIES, 'stories260K.bin'));
  const tok = await model.tokenizer();
  const calib = { inputIds: ['Once upon a time there was a little girl named Lily.', 'She liked to play with her dog in the big green park.', 'One day the sun was hot and they went to the lake.'].map((t) => tok.encode(t)) };
  const layers = [0, 4];
  const bridges = await fitBridges(model, layers, calib, 1);
  assert.deepEqual(Object.keys(bridges), ['1']);
  const full = await (await Engine.create(model, { threads: 1, hiddenStates: 'last', logits: false })).run(calib);
  const cut = await (await Engine.create(model, { layers, threads: 1, hiddenStates: 'last', logits: false })).run(calib);
  const healed = await (await Engine.create(model, { layers, bridges, threads: 1, hiddenStates: 'last', logits: false })).run(calib);
  const err = (o: Float32Array) => o.reduce((s, v, i) => s + (v - full.last_hidden_state.data[i]) ** 2, 0);
  assert.ok(err(healed.last_hidden_state.data) < 0.5 * err(cut.last_hidden_state.data), `healing reduces the error (${err(healed.last_hidden_state.data)} vs ${err(cut.last_hidden_state.data)})`);
  await materialize(model, layers, join(tmp, 'm'), { bridges });
  const reloaded = await (await Engine.create(loadModel(join(tmp, 'm')), { threads: 1, hiddenStates: 'last', logits: false })).run(calib);
  assert.ok(compareMasked(reloaded.last_hidden_state.data, healed.last_hidden_state.data, healed.last_hidden_state.dims, undefined, 1e-5, 0).withinTolerance);
  rmSync(tmp, { recursive: true });
});
