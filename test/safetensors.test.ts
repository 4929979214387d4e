/** safetensors reading/writing, half-precision conversion and sharded checkpoints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, cpSync, unlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { encodeSafetensors, parseSafetensors, readSafetensors, toFloat32, writeSafetensors } from '../src/model/safetensors.js';
import { WeightStore } from '../src/model/weights.js';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { FIXTURES } from './helpers.js';

test('round trip keeps names, shapes, values and an 8-byte aligned header', () => {
  const data = Float32Array.from([1, -2.5, 3.25, 0, 1e-8, -7]);
  const bytes = Buffer.concat(encodeSafetensors({ 'a.weight': { dtype: 'F32', shape: [2, 3], data } }, { format: 'pt' }));
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  const f = parseSafetensors(new Uint8Array(bytes));
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.deepEqual(f.tensors.get('a.weight')!.shape, [2, 3]);
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('a.weight')!)), Array.from(data));
});

test('F16 and BF16 convert to the exact float values', () => {
  // 0x3C00 = 1.0, 0xC000 = -2.0, 0x3555 ~ 0.33325, 0x0001 = 2^-24 (subnormal), 0x7C00 = inf
  const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]);
  const t16 = parseSafetensors(new Uint8Array(Buffer.concat(encodeSafetensors({ x: { dtype: 'F16', shape: [5], data: f16 } })))).tensors.get('x')!;
  assert.deepEqual(Array.from(toFloat32(t16)), [1, -2, 0.333251953125, 2 ** -24, Infinity]);
  // BF16 is the top half of a float32: 0x3F80 = 1.0, 0xC0A0 = -5.0
  const bf = Uint16Array.from([0x3f80, 0xc0a0]);
  const raw = new Uint8Array(Buffer.concat(encodeSafetensors({ x: { dtype: 'BF16', shape: [2], data: bf } })));
  assert.deepEqual(Array.from(toFloat32(parseSafetensors(raw).tensors.get('x')!)), [1, -5]);
});

test('sharded checkpoint (index.json) in BF16 runs and stays close to fp32', async () => {
  const src = join(FIXTURES, 'llama');
  const dir = join(mkdtempSync(join(tmpdir(), 'ps-shard-')), 'llama');
  cpSync(src, dir, { recursive: true });
  unlinkSync(join(dir, 'model.safetensors'));
  const file = readSafetensors(join(src, 'model.safetensors'));
  const names = [...file.tensors.keys()];
  const weightMap: Record<string, string> = {};
  const shards: Record<string, Record<string, { dtype: 'BF16'; shape: number[]; data: Uint16Array }>> = { 'model-00001-of-00002.safetensors': {}, 'model-00002-of-00002.safetensors': {} };
  names.forEach((name, i) => {
    const shard = i % 2 ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    const f = toFloat32(file.tensors.get(name)!);
    const bf = new Uint16Array(f.length);
    const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
    for (let j = 0; j < f.length; j++) bf[j] = (u[j] + 0x8000) >>> 16; // round to nearest bf16
    shards[shard][name] = { dtype: 'BF16', shape: file.tensors.get(name)!.shape, data: bf };
    weightMap[name] = shard;
  });
  for (const [shard, tensors] of Object.entries(shards)) {
    writeFileSync(join(dir, shard), Buffer.concat(encodeSafetensors(tensors)));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const store = WeightStore.fromDir(dir);
  assert.equal(store.names().length, names.length);
  const batch = readInputs(join(dir, 'inputs.json'));
  const ref = await (await Engine.create(loadModel(src), { threads: 1 })).run(batch);
  const bf = await (await Engine.create(loadModel(dir), { threads: 1 })).run(batch);
  let maxRel = 0;
  const a = ref.last_hidden_state.data;
  const b = bf.last_hidden_state.data;
  for (let i = 0; i < a.length; i++) maxRel = Math.max(maxRel, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
  assert.ok(maxRel > 0 && maxRel < 0.1, `bf16 weights should change outputs slightly (got ${maxRel})`);
  rmSync(join(dir, '..'), { recursive: true });
});

test('writeSafetensors is atomic: a failed write leaves no file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-atomic-'));
  const path = join(dir, 'x.safetensors');
  assert.throws(() => writeSafetensors(path, { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }));
  assert.throws(() => readSafetensors(path), /file not found/);
  rmSync(dir, { recursive: true });
});

test('release() drops the bytes, the next get() rereads the same values, and a changed file is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'probescale-release-'));
  try {
    const path = join(dir, 'model.safetensors');
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    writeSafetensors(path, { 'a.weight': { dtype: 'F32', shape: [2, 3], data }, 'b.bias': { dtype: 'F32', shape: [2], data: Float32Array.from([7, 8]) } });
    const store = WeightStore.fromDir(dir);
    const before = Array.from(store.get('a.weight').data);
    store.release();
    assert.deepEqual(store.names(), ['a.weight', 'b.bias']);
    assert.equal(store.parameterCount(), 8);
    assert.deepEqual(Array.from(store.get('a.weight', [2, 3]).data), before);
    assert.deepEqual(Array.from(store.get('b.bias').data), [7, 8]);
    store.release();
    writeSafetensors(path, { 'a.weight': { dtype: 'F32', shape: [2, 3], data: data.map((v) => -v) }, 'b.bias': { dtype: 'F32', shape: [2], data: Float32Array.from([7, 8, 9]).subarray(0, 2) }, 'c': { dtype: 'F32', shape: [1], data: Float32Array.from([0]) } });
    assert.throws(() => store.get('a.weight'), /changed on disk/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an engine built with external data releases the weights, and a second engine on the same model still matches', async () => {
  const model = loadModel(join(FIXTURES, 'llama'));
  const batch = readInputs(join(FIXTURES, 'llama', 'inputs.json'));
  const first = await Engine.create(model, { threads: 1, externalData: true });
  const a = await first.run(batch);
  await first.release();
  const second = await Engine.create(model, { threads: 1 }); // rereads the checkpoint
  const b = await second.run(batch);
  await second.release();
  assert.ok(Object.keys(a).includes('layer_outputs.0'));
  for (const name of Object.keys(a)) assert.deepEqual(Array.from(b[name].data), Array.from(a[name].data), name);
});
