/**
 * stories260K (a real pretrained llama2.c model): our logits must match the original C implementation's
 * to 1e-4 and greedy text must be identical, both from the .bin and from the converted HF directory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type LoadedModel } from '../src/model/checkpoint.js';
import { loadModel } from '../src/engine/load.js';
import { convertLlama2c } from '../src/model/llama2c.js';
import { Llama2cTokenizer } from '../src/model/llama2c-tokenizer.js';
import { Engine } from '../src/engine/engine.js';
import { greedyGenerate } from '../src/engine/generate.js';
import { STORIES } from './helpers.js';

const BIN = join(STORIES, 'stories260K.bin');
let converted: string;

before(async () => {
  converted = join(mkdtempSync(join(tmpdir(), 'ps-stories-')), 'hf');
  await convertLlama2c(BIN, converted);
});
after(() => rmSync(join(converted, '..'), { recursive: true, force: true }));

async function checkModel(model: LoadedModel, label: string) {
  const engine = await Engine.create(model, { threads: 1, hiddenStates: 'last' });
  const tok = (await model.tokenizer()) as Llama2cTokenizer;
  for (const k of [1, 2, 3]) {
    const golden = JSON.parse(readFileSync(join(STORIES, 'golden', `logits_${k}.json`), 'utf8')) as { prompt: string; tokens: number[]; logits: number[][] };
    assert.deepEqual(tok.encode(golden.prompt), golden.tokens, `${label}: tokenization of prompt ${k}`);
    const out = await engine.run({ inputIds: [golden.tokens] });
    const V = out.logits.dims[2];
    let maxAbs = 0;
    golden.logits.forEach((row, t) => row.forEach((g, v) => (maxAbs = Math.max(maxAbs, Math.abs(out.logits.data[t * V + v] - g)))));
    assert.ok(maxAbs <= 1e-4, `${label} prompt ${k}: max |logit diff| ${maxAbs.toExponential(2)} > 1e-4`);

    const ids = await greedyGenerate(engine, golden.tokens, 64, [tok.bosId]);
    const text = tok.decode(ids) + '\n';
    assert.equal(text, readFileSync(join(STORIES, 'golden', `greedy_${k}.txt`), 'utf8'), `${label}: greedy text ${k}`);
  }
  await engine.release();
}

test('stories260K from the llama2.c .bin: logits and greedy text match run.c', async () => {
  await checkModel(loadModel(BIN), '.bin');
});

test('stories260K converted to HF layout: same logits and text; files are canonical', async () => {
  assert.ok(existsSync(join(converted, 'model.safetensors')) && existsSync(join(converted, 'tokenizer.bin')));
  const model = loadModel(converted);
  assert.equal(model.arch.family, 'llama');
  assert.equal(model.arch.kvHeads, 4);
  assert.ok(model.weights.has('model.layers.4.self_attn.q_proj.weight'));
  assert.ok(!model.weights.has('lm_head.weight'), 'tied classifier is not stored twice');
  await checkModel(model, 'converted');
});
