/** Bad checkpoints fail at load/build time with a message that names the file and the problem. */
import { test } from 'node:test';
import { readFileSync, writeFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { encodeSafetensors, readSafetensors, toFloat32 } from '../src/model/safetensors.js';
import { FIXTURES, expectProbescaleError, tempModelCopy } from './helpers.js';

const copyFixture = (name: string) => tempModelCopy(join(FIXTURES, name), 'bad');

test('truncated safetensors: names the file and the tensor beyond the end', async () => {
  const dir = copyFixture('bert');
  const path = join(dir, 'model.safetensors');
  const buf = readFileSync(path);
  writeFileSync(path, buf.subarray(0, buf.byteLength - 1000));
  await expectProbescaleError(() => loadModel(dir), /model\.safetensors/, /beyond the end of the file/, /truncated/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('header length beyond the file', async () => {
  const dir = copyFixture('bert');
  const path = join(dir, 'model.safetensors');
  const buf = Buffer.from(readFileSync(path));
  buf.writeBigUInt64LE(BigInt(buf.byteLength * 2), 0);
  writeFileSync(path, buf);
  await expectProbescaleError(() => loadModel(dir), /model\.safetensors/, /header length \d+ runs beyond the file/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('tensor shape differing from config: names tensor, both shapes and the file', async () => {
  const dir = copyFixture('gpt2');
  const cfgPath = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.n_inner = 128; // weights were saved with 4 * n_embd = 256
  writeFileSync(cfgPath, JSON.stringify(cfg));
  await expectProbescaleError(() => Engine.create(loadModel(dir)), /model\.safetensors/, /h\.0\.mlp\.c_fc\.weight" has shape \[64,256\] but config\.json implies \[64,128\]/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('missing tensor: names it', async () => {
  const dir = copyFixture('llama');
  const path = join(dir, 'model.safetensors');
  const file = readSafetensors(path);
  const keep = Object.fromEntries(
    [...file.tensors].filter(([n]) => n !== 'model.layers.1.mlp.up_proj.weight').map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: toFloat32(t) }]),
  );
  writeFileSync(path, Buffer.concat(encodeSafetensors(keep)));
  await expectProbescaleError(() => Engine.create(loadModel(dir)), /model\.safetensors/, /missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('unknown model_type lists the supported ones', async () => {
  const dir = copyFixture('bert');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'mamba', hidden_size: 64 }));
  await expectProbescaleError(() => loadModel(dir), /config\.json/, /unknown model_type "mamba"/, /supports: bert, roberta, xlm-roberta, gpt2, llama, t5, qwen2/, /gpt_neox/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('tokenizer missing: clear error only when text must be tokenized', async () => {
  const dir = copyFixture('gpt2');
  const model = loadModel(dir); // ids-only use works without a tokenizer
  await expectProbescaleError(() => model.tokenizer(), /no tokenizer found/, /tokenizer\.json/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('no config.json / not a model', async () => {
  const dir = copyFixture('bert');
  unlinkSync(join(dir, 'config.json'));
  await expectProbescaleError(() => loadModel(dir), /config\.json not found/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('layer list out of range or out of order', async () => {
  const model = loadModel(join(FIXTURES, 'bert'));
  await expectProbescaleError(() => Engine.create(model, { layers: [0, 2] }), /layers index 2 is out of range: the model has 2/);
  await expectProbescaleError(() => Engine.create(model, { layers: [1, 0] }), /strictly increasing/);
});
