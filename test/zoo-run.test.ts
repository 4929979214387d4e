/**
 * Every family end to end: a small `run` (probe -> select with every baseline -> write the renumbered
 * checkpoint + ONNX -> trim the vocabulary -> verify by reloading) on each fixture with a character-level
 * tokenizer, then the written checkpoint reloads under its family's spec (every tensor claimed, layers
 * renumbered 0..k-1) and its stored ONNX graph gives the same hidden states as the engine running the kept
 * layers of the original model. T5 with a decoder is probed on its encoder and written as the encoder alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { runPipeline } from '../src/pipeline/run.js';
import { loadModel } from '../src/engine/load.js';
import { FAMILIES } from '../src/engine/families/index.js';
import { specLayerOf } from '../src/engine/family.js';
import { Engine } from '../src/engine/engine.js';
import { FIXTURES, ZOO_FIXTURES, compareMasked, writeCharTokenizer } from './helpers.js';

const only = process.env.PROBESCALE_ZOO_RUN?.split(',');
const dirs = [FIXTURES, ZOO_FIXTURES]
  .flatMap((root) => (JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { fixtures: string[] }).fixtures.map((f) => join(root, f)))
  .filter((d) => !only || only.some((o) => d.endsWith(`/${o}`)));

for (const src of dirs) {
  const name = src.split('/').slice(-2).join('/');
  test(`run end to end: ${name}`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ps-zoo-run-'));
    const modelDir = join(tmp, 'model-in');
    cpSync(src, modelDir, { recursive: true });
    writeCharTokenizer(modelDir);
    const out = join(tmp, 'out');
    const full = loadModel(modelDir);
    const r = await runPipeline({
      // ALBERT's layers share one set of weights: dropping applications saves FLOPs, not parameters
      model: modelDir, tasks: 'sst2', budgets: full.arch.family === 'albert' ? 'flops:0.9' : '0.99', out, maxTrain: 40, maxEval: 20, seed: 0, trimVocab: true,
      searchEvals: 4, randomSeeds: 1, bootstrap: 20, threads: 1, log: () => {},
    });
    const b = r.budgets[0];
    const names = b.methods.map((m) => m.method);
    for (const m of ['probescale', 'drop-top', 'drop-bottom', 'keep-ends', 'block-influence', 'angular', 'sleb']) assert.ok(names.includes(m), `${m} ran`);
    const kept = b.methods.find((m) => m.method === 'probescale')!.layers;
    assert.ok(kept.length >= 1 && kept.length < full.arch.layers, `kept ${kept} of ${full.arch.layers}`);
    assert.ok(r.compressed.verification.sst2.score > 0, 'the written model was verified');

    // the written checkpoint: loads under the same spec, layers renumbered, parameters as written, vocabulary trimmed
    const written = loadModel(join(out, 'model'));
    const spec = FAMILIES[written.arch.family];
    assert.equal(written.arch.family, full.arch.family);
    assert.equal(written.arch.layers, kept.length);
    const layerIds = new Set(written.weights.names().map((n) => specLayerOf(spec, n)).filter((l) => l >= 0));
    if (full.arch.family !== 'albert') assert.deepEqual([...layerIds].sort((a, c) => a - c), kept.map((_, j) => j));
    assert.equal(written.weights.parameterCount(), r.compressed.parameters);
    assert.equal(written.arch.raw[spec.layerCountKey], kept.length);
    assert.ok(existsSync(join(out, 'model', 'vocab_map.json')) && written.arch.vocab < full.arch.vocab, 'vocabulary trimmed');

    // the exported ONNX graph of the written model = the original engine on the kept layers (trimmed ids mapped back)
    const map = JSON.parse(readFileSync(join(out, 'model', 'vocab_map.json'), 'utf8')) as { kept: number[] };
    const newIds = [[5, 6, 7, 8, 9].map((_, i) => Math.min(i + 5, map.kept.length - 1)), [5, 7, 9].map((i) => Math.min(i, map.kept.length - 1))];
    const origIds = newIds.map((row) => row.map((j) => map.kept[j]));
    const ref = await Engine.create(full, { layers: kept, hiddenStates: 'last', logits: false, threads: 1 });
    const want = (await ref.run({ inputIds: origIds })).last_hidden_state;
    await ref.release();
    const eng = await Engine.create(written, { hiddenStates: 'last', logits: false, threads: 1 });
    const got = (await eng.run({ inputIds: newIds })).last_hidden_state;
    await eng.release();
    const mask = origIds.map((row) => Array.from({ length: 5 }, (_, t) => (t < row.length ? 1 : 0)));
    assert.ok(compareMasked(got.data, want.data, want.dims, mask, 1e-5, 1e-5).withinTolerance, 'written model = kept layers of the original');
    const session = await ort.InferenceSession.create(join(out, 'model', 'onnx', 'model.onnx'));
    assert.ok(session.outputNames.includes('last_hidden_state'), 'standalone ONNX graph loads');
    await session.release();
    rmSync(tmp, { recursive: true });
  });
}
