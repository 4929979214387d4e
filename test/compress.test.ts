/** A written subnetwork loads back through our own loader and reproduces the engine's layer-list run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../src/model/checkpoint.js';
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
    assert.ok(existsSync(join(out, 'model.onnx')));
    const batch = readInputs(join(dir, 'inputs.json'));
    const ref = await (await Engine.create(model, { layers, threads: 1 })).run(batch);
    const reloaded = loadModel(out);
    assert.equal(reloaded.arch.layers, layers.length);
    assert.equal(reloaded.weights.parameterCount(), res.parameters);
    const got = await (await Engine.create(reloaded, { threads: 1 })).run(batch);
    const key = got.last_hidden_state ? 'last_hidden_state' : 'encoder_last_hidden_state';
    const mask = batch.decoderInputIds ? batch.decoderAttentionMask : batch.attentionMask;
    const r = compareMasked(got[key].data, ref[key].data, ref[key].dims, mask, 1e-5, 0);
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
  const ids = model.tokenizer().encode('Once upon a time');
  const ref = await (await Engine.create(model, { layers: [0, 1, 2, 4], threads: 1 })).run({ inputIds: [ids] });
  const session = await ort.InferenceSession.create(join(tmp, 'm', 'model.onnx'));
  const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
  const out = await session.run({ input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, t) => t)) });
  const a = out.logits.data as Float32Array;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - ref.logits.data[i]));
  assert.ok(max < 1e-5, `max diff ${max}`);
  rmSync(tmp, { recursive: true });
});
