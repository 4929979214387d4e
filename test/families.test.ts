/**
 * The family registry: every spec's knowledge is consistent with the checkpoints it loads (layer pattern,
 * parameter costs, subset writing), and a stored tensor no spec claims fails the load by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../src/engine/load.js';
import { FAMILIES } from '../src/engine/families/index.js';
import { specLayerOf } from '../src/engine/family.js';
import { parameterCosts } from '../src/select/costs.js';
import { materialize, subnetwork } from '../src/compress/materialize.js';
import { familiesTable } from '../src/cli/commands/info.js';
import { readSafetensors, toFloat32, writeSafetensors, type TensorToWrite } from '../src/model/safetensors.js';
import { ProbescaleError } from '../src/util/errors.js';
import { FIXTURES, ZOO_FIXTURES, compareMasked, readGolden } from './helpers.js';
import { readInputs } from '../src/engine/inputs.js';
import { Engine } from '../src/engine/engine.js';
import { argmax, greedyGenerate } from '../src/engine/generate.js';

const fixtureDirs = [FIXTURES, ZOO_FIXTURES].flatMap((root) => (JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { fixtures: string[] }).fixtures.map((f) => join(root, f)));

test('model_type values belong to exactly one family', () => {
  const seen = new Map<string, string>();
  for (const [family, spec] of Object.entries(FAMILIES)) {
    assert.ok(spec.modelTypes.length > 0, `${family} accepts no model_type`);
    for (const t of spec.modelTypes) {
      assert.ok(!seen.has(t), `model_type ${t} claimed by ${seen.get(t)} and ${family}`);
      seen.set(t, family);
    }
  }
});

for (const dir of fixtureDirs) {
  const name = dir.split('/').slice(-2).join('/');
  test(`${name}: every layer has parameters, costs add up, a renumbered subset keeps the right tensors`, () => {
    const model = loadModel(dir);
    const spec = FAMILIES[model.arch.family];
    const costs = parameterCosts(model);
    assert.equal(costs.perLayer.length, model.arch.layers);
    const applied = spec.appliedParameters(spec, model.arch, model.weights);
    for (const [l, c] of applied.entries()) assert.ok(c > 0, `layer ${l} applies no parameters`);
    const shared = costs.perLayer.every((c) => c === 0); // ALBERT: one stored layer applied at every depth
    if (!shared) for (const [l, c] of costs.perLayer.entries()) assert.equal(c, applied[l], `layer ${l}: stored = applied`);
    // keep the last layer only: it is written as layer 0, and nothing of the other layers survives
    const last = model.arch.layers - 1;
    const sub = subnetwork(model, [last]);
    assert.equal(sub.config[spec.layerCountKey], 1);
    const layersWritten = new Set(Object.keys(sub.tensors).map((n) => specLayerOf(spec, n)).filter((l) => l >= 0));
    assert.deepEqual([...layersWritten], shared ? [] : [0]);
    const perLayerWritten = Object.entries(sub.tensors).filter(([n]) => specLayerOf(spec, n) === 0 && !spec.sharedAcrossLayers(n)).reduce((s, [, t]) => s + t.data.length, 0);
    assert.equal(perLayerWritten, costs.perLayer[last]);
    // parameters counted as written
    assert.equal(Object.values(sub.tensors).reduce((n, t) => n + t.data.length, 0), costs.fixed + costs.perLayer[last]);
  });
}

test('a stored tensor the family spec does not claim fails the load, naming it and the file', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ps-stray-')), 'llama');
  cpSync(join(FIXTURES, 'llama'), dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, t] of readSafetensors(path).tensors) tensors[n] = { dtype: 'F32', shape: t.shape, data: toFloat32(t, n, path) };
  tensors['model.layers.0.mlp.extra_proj.weight'] = { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) };
  writeSafetensors(path, tensors);
  assert.throws(() => loadModel(dir), (err: unknown) => err instanceof ProbescaleError && /model\.layers\.0\.mlp\.extra_proj\.weight/.test(err.message) && /model\.safetensors/.test(err.message));
  rmSync(join(dir, '..'), { recursive: true });
});

for (const dir of fixtureDirs) {
  const name = dir.split('/').slice(-2).join('/');
  if (!loadModel(dir).arch.causal) continue;
  test(`${name}: greedy generation's first token is the argmax of Hugging Face's logits for that prefix`, async () => {
    const model = loadModel(dir);
    const batch = readInputs(join(dir, 'inputs.json'));
    const logits = readGolden(join(dir, 'golden.safetensors')).get('logits')!;
    const V = logits.shape[2];
    const T = logits.shape[1];
    const prefix = batch.inputIds[0].slice(0, 4);
    const want = argmax(logits.data, 3 * V, V); // row 0, position 3: causal, so it saw only the prefix
    const engine = await Engine.create(model, { hiddenStates: 'last', threads: 1 });
    const out = await greedyGenerate(engine, prefix, 6);
    await engine.release();
    assert.equal(out[4], want, `${name}: first generated token`);
    assert.ok(out.length === 7 && T >= 4);
  });
}

test('gemma2: a written subset keeps each layer sliding or global as it was (layer_types), though renumbering changes parity', async () => {
  const dir = join(ZOO_FIXTURES, 'gemma2');
  const model = loadModel(dir);
  const batch = readInputs(join(dir, 'inputs.json'));
  assert.ok(Math.max(...batch.inputIds.map((r) => r.length)) > (model.arch.llama!.slidingWindow!.window), 'inputs longer than the window');
  const tmp = mkdtempSync(join(tmpdir(), 'ps-gemma2-'));
  const kept = [1, 2]; // global then sliding; written as layers 0 (even) and 1 (odd)
  await materialize(model, kept, join(tmp, 'm'));
  const written = loadModel(join(tmp, 'm'));
  assert.deepEqual(written.arch.llama!.slidingWindow!.sliding, [false, true]);
  const ref = await Engine.create(model, { layers: kept, hiddenStates: 'last', logits: false, threads: 1 });
  const want = (await ref.run(batch)).last_hidden_state;
  await ref.release();
  const eng = await Engine.create(written, { hiddenStates: 'last', logits: false, threads: 1 });
  const got = (await eng.run(batch)).last_hidden_state;
  await eng.release();
  assert.ok(compareMasked(got.data, want.data, want.dims, batch.attentionMask, 1e-5, 1e-5).withinTolerance);
  rmSync(tmp, { recursive: true });
});

test('info --families lists every family with its model_type values', () => {
  const table = familiesTable();
  for (const [family, spec] of Object.entries(FAMILIES)) {
    const line = table.split('\n').find((l) => l.startsWith(`${family} `));
    assert.ok(line, `${family} listed`);
    for (const t of spec.modelTypes) assert.ok(line.includes(t), `${family}: ${t}`);
  }
});

/** Hugging Face's own state-dict keys, as each fixture's README lists them (what save_pretrained wrote). */
function hfKeys(dir: string): string[] {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const at = readme.indexOf('Parameter names in model.safetensors');
  const block = readme.slice(at).split('```')[1] ?? '';
  return block.split('\n').map((l) => l.trim()).filter(Boolean);
}

for (const dir of fixtureDirs) {
  const name = dir.split('/').slice(-2).join('/');
  test(`${name}: a written one-layer subset has exactly Hugging Face's keys for one layer (no missing, no unexpected)`, () => {
    const model = loadModel(dir);
    const spec = FAMILIES[model.arch.family];
    const keys = hfKeys(dir);
    assert.ok(keys.length > 0, 'README lists the keys');
    // HF's keys of the same model with one layer: layer 0's keys and every non-layer key (T5: its encoder, T5EncoderModel)
    const layered = new RegExp(spec.layerPattern.source);
    const idx = (k: string) => (layered.test(k) ? Number(layered.exec(k)![2]) : -1);
    let want = keys.filter((k) => idx(k) <= 0);
    if (model.arch.family === 't5') want = want.filter((k) => !k.startsWith('decoder.') && k !== 'lm_head.weight');
    const last = model.arch.layers - 1;
    const got = Object.keys(subnetwork(model, [last]).tensors);
    assert.deepEqual(got.sort(), want.sort());
  });
}
