/** The engine's layer list: dropping layers needs no weight rewrite and behaves like the smaller model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { FIXTURES, compareMasked, readGolden } from './helpers.js';

test('keeping only layer 0 of BERT reproduces HF layer 0 and ends there', async () => {
  const dir = join(FIXTURES, 'bert');
  const batch = readInputs(join(dir, 'inputs.json'));
  const golden = readGolden(join(dir, 'golden.safetensors'));
  const out = await (await Engine.create(loadModel(dir), { layers: [0], threads: 1 })).run(batch);
  assert.deepEqual(Object.keys(out).filter((k) => k.startsWith('layer_outputs')), ['layer_outputs.0']);
  const g = golden.get('layer_outputs.0')!;
  assert.ok(compareMasked(out.last_hidden_state.data, g.data, g.shape, batch.attentionMask, 1e-4, 1e-4).withinTolerance);
});

test('skipping layer 0 of Llama feeds the embeddings straight into layer 1 (differs from the full model)', async () => {
  const dir = join(FIXTURES, 'llama');
  const batch = readInputs(join(dir, 'inputs.json'));
  const golden = readGolden(join(dir, 'golden.safetensors'));
  const model = loadModel(dir);
  const skip = await (await Engine.create(model, { layers: [1], threads: 1 })).run(batch);
  const full = golden.get('last_hidden_state')!;
  const r = compareMasked(skip.last_hidden_state.data, full.data, full.shape, batch.attentionMask, 1e-4, 1e-4);
  assert.ok(r.maxAbs > 1e-2, `dropping a layer must change the output (max diff ${r.maxAbs})`);
  assert.deepEqual(skip['hidden_states.0'].data, (await (await Engine.create(model, { threads: 1 })).run(batch))['hidden_states.0'].data);
});

test('T5 encoder-decoder with a subset of encoder layers still uses block 0 position bias', async () => {
  const dir = join(FIXTURES, 't5-gated');
  const batch = readInputs(join(dir, 'inputs.json'));
  const out = await (await Engine.create(loadModel(dir), { layers: [1, 2], decoderLayers: [0, 2], threads: 1 })).run(batch);
  assert.deepEqual(out['encoder_last_hidden_state'].dims, [3, batch.inputIds[0].length, 48]);
  assert.ok(out['decoder_layer_outputs.1'] && !out['decoder_layer_outputs.2']);
  assert.ok(out.logits.data.every(Number.isFinite));
});

test('large-model path (weights streamed to external data) gives the same outputs as the in-memory graph', async () => {
  const dir = join(FIXTURES, 'gpt2');
  const batch = readInputs(join(dir, 'inputs.json'));
  const model = loadModel(dir);
  const inMemory = await (await Engine.create(model, { threads: 1 })).run(batch);
  const external = await (await Engine.create(model, { threads: 1, externalData: true })).run(batch);
  for (const name of Object.keys(inMemory)) assert.deepEqual(external[name].data, inMemory[name].data, name);
});
