/**
 * Key/value-cache decoding: for every causal family with a cache graph, greedy output through the cache
 * (one token per step) equals the uncached output (whole prefix rerun) token for token, and each step's
 * logits equal the full recompute's. Windows of Mistral (6) and Gemma 2 (8) are shorter than the runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadedModel } from '../src/model/checkpoint.js';
import { loadModel } from '../src/engine/load.js';
import { FAMILIES } from '../src/engine/families/index.js';
import { Engine } from '../src/engine/engine.js';
import { greedyGenerate, type GenerateStep } from '../src/engine/generate.js';
import { readInputs } from '../src/engine/inputs.js';
import { ProbescaleError } from '../src/util/errors.js';
import { FIXTURES, ZOO_FIXTURES } from './helpers.js';

const fixtureDirs = [FIXTURES, ZOO_FIXTURES].flatMap((root) => (JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { fixtures: string[] }).fixtures.map((f) => join(root, f)));

async function both(model: LoadedModel, prompt: number[], steps: number, layers?: number[]) {
  const run = async (kvCache: boolean) => {
    const engine = await Engine.create(model, { layers, hiddenStates: 'last', kvCache, threads: 1 });
    const seen: GenerateStep[] = [];
    const tokens = await greedyGenerate(engine, prompt, steps, [], (s) => seen.push(s));
    await engine.release();
    return { tokens, seen };
  };
  return { cached: await run(true), full: await run(false) };
}

function assertSameLogits(name: string, a: GenerateStep[], b: GenerateStep[]) {
  assert.equal(a.length, b.length, `${name}: steps`);
  let worst = 0;
  a.forEach((s, i) => {
    assert.equal(s.position, b[i].position);
    s.logits.forEach((v, k) => {
      const g = b[i].logits[k];
      worst = Math.max(worst, Math.abs(v - g));
      assert.ok(Math.abs(v - g) <= 1e-4 + 1e-4 * Math.abs(g), `${name}: step ${i} logit ${k}: cached ${v} vs full ${g}`);
    });
  });
  return worst;
}

for (const dir of fixtureDirs) {
  const name = dir.split('/').slice(-2).join('/');
  const model = loadModel(dir);
  if (!model.arch.causal || !FAMILIES[model.arch.family].kvCache) continue;
  test(`${name}: greedy through the key/value cache equals the uncached output, logits within 1e-4`, async () => {
    const prompt = readInputs(join(dir, 'inputs.json')).inputIds[0].slice(0, 3);
    const { cached, full } = await both(model, prompt, 20);
    assert.deepEqual(cached.tokens, full.tokens);
    assert.equal(cached.tokens.length, 21);
    assertSameLogits(name, cached.seen, full.seen);
  });
}

test('gpt2 / llama with a layer subset: the cache has one entry per kept layer and matches the uncached run', async () => {
  for (const f of ['gpt2', 'llama']) {
    const model = loadModel(join(FIXTURES, f));
    const layers = [0, model.arch.layers - 1];
    const engine = await Engine.create(model, { layers, hiddenStates: 'last', kvCache: true, threads: 1 });
    assert.deepEqual(engine.outputNames.filter((n) => n.startsWith('present.')), ['present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
    const out = await engine.run({ inputIds: [[1, 2, 3]] });
    assert.deepEqual(out['present.1.key'].dims, [1, model.arch.kvHeads, 3, model.arch.headDim]);
    await engine.release();
    const { cached, full } = await both(model, [1, 2, 3], 12, layers);
    assert.deepEqual(cached.tokens, full.tokens);
    assertSameLogits(f, cached.seen, full.seen);
  }
});

test('stories260K: 64 positions through the cache equal the uncached greedy text, logits within 1e-4', async () => {
  const model = loadModel('models/stories260K/stories260K.bin');
  const tok = await model.tokenizer();
  const { cached, full } = await both(model, tok.encode('Once upon a time'), 64);
  assert.deepEqual(cached.tokens, full.tokens);
  assert.ok(cached.tokens.length > 30, `generated ${cached.tokens.length} positions`);
  assertSameLogits('stories260K', cached.seen, full.seen);
});

test('a key/value cache is refused for encoders and for past passed to a plain engine', async () => {
  await assert.rejects(Engine.create(loadModel(join(FIXTURES, 'bert')), { kvCache: true }), (e: unknown) => e instanceof ProbescaleError && /key\/value-cache/.test(e.message));
  const engine = await Engine.create(loadModel(join(FIXTURES, 'gpt2')), { hiddenStates: 'last', threads: 1 });
  await assert.rejects(engine.run({ inputIds: [[1]], past: {} }), ProbescaleError);
  await engine.release();
});
