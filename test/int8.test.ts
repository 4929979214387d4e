/**
 * --precision int8: every family's linear layers run as int8 MatMulIntegerToFloat, and hidden states stay close to fp32.
 *
 * Tolerance: relative Frobenius error ||h_int8 - h_fp32|| / ||h_fp32|| over valid positions. Each int8 linear layer
 * adds rounding noise of about 1% of its output (weights: half a step of max|column|/127; activations: half a step
 * of their row's range/255), and the noise adds up over layers. Measured: 0.3-1.0% on the trained 12-layer
 * mini-gpt and mini-roberta, up to 7.5% on the 2-4-layer random fixtures (random weights of width 32-64 give wide,
 * outlier-heavy activation ranges for their rms). Bounds: 10% on the fixtures, 2% on mini-gpt; and the error must
 * be above 0, or int8 did not happen. gpt-m on real UD sentences: 1.1-1.7% per state with activations quantized
 * per row, 1.8-2.9% with one scale per batch (bench/RESULTS.md, 2026-11-29); bound 2%.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { FAMILIES } from '../src/engine/families/index.js';
import { FLOAT, GraphBuilder, quantizeColumns, zeroPointRows } from '../src/engine/graph.js';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { FIXTURES, ZOO_FIXTURES, ROOT } from './helpers.js';

const fixtures = [FIXTURES, ZOO_FIXTURES].flatMap((root) => (JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { fixtures: string[] }).fixtures.map((f) => join(root, f)));

/** Relative Frobenius error over valid positions of [B, T, C] (or all of a 2-D tensor). */
function relError(a: Float32Array, b: Float32Array, dims: number[], mask?: number[][]): number {
  const [B, T] = dims;
  const C = dims.length === 3 ? dims[2] : 1;
  let d = 0, s = 0;
  for (let bi = 0; bi < B; bi++) for (let t = 0; t < T; t++) {
    if (mask && !mask[bi]?.[t]) continue;
    for (let c = 0; c < C; c++) {
      const i = (bi * T + t) * C + c;
      d += (a[i] - b[i]) ** 2;
      s += b[i] ** 2;
    }
  }
  return Math.sqrt(d / s);
}

test('quantizeColumns: codes in -127..127, per-column error at most half a step, zero columns stay zero', () => {
  const K = 5, N = 3;
  const w = new Float32Array([0.5, 0, -3, -1, 0, 2, 0.25, 0, 1, 0.75, 0, -0.1, -0.3, 0, 0.4]);
  const { q, scale } = quantizeColumns(w, K, N);
  assert.deepEqual(Array.from(scale).map((s) => +s.toFixed(6)), [1 / 127, 1, 3 / 127].map((s) => +s.toFixed(6)));
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
    assert.ok(Math.abs(q[k * N + n]) <= 127);
    assert.ok(Math.abs(q[k * N + n] * scale[n] - w[k * N + n]) <= scale[n] / 2 + 1e-7, `w[${k},${n}]`);
  }
  assert.equal(q[1 * N + 0], -127); // the column's largest magnitude maps to the end of the range
  assert.ok([1, 4, 7, 10, 13].every((i) => q[i] === 0));
});

test('zeroPointRows: m rows of int8 whose column sums cancel the weight columns\' sums', () => {
  const K = 40, N = 5;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) q[k * N + n] = n === 0 ? 127 : n === 1 ? -127 : n === 2 ? 0 : ((k * 7 + n * 13) % 255) - 127;
  const { rows, extra } = zeroPointRows(q, K, N);
  assert.equal(extra, 40); // column 0 sums to 40 * 127: 40 rows of 127 cancel it
  for (let n = 0; n < N; n++) {
    let sum = 0, back = 0;
    for (let k = 0; k < K; k++) sum += q[k * N + n];
    for (let j = 0; j < extra; j++) back += rows[j * N + n];
    assert.equal(back + sum, 0, `column ${n}`);
  }
  assert.deepEqual(zeroPointRows(new Int8Array(6), 3, 2), { rows: new Int8Array(0), extra: 0 });
});

test('int8: activations are quantized per row, so one wide row does not coarsen the others', async () => {
  // x [1, 4, K] @ W [K, N]: row 0 spans 1000x the range of the others, row 2 is all positive (a GELU output), row 3 is 0
  const K = 64, N = 16;
  const rnd = (i: number) => Math.sin(i * 12.9898) * 0.5;
  const W = Float32Array.from({ length: K * N }, (_, i) => rnd(i + 1) * 0.2);
  const x = Float32Array.from({ length: 4 * K }, (_, i) => {
    const r = Math.floor(i / K);
    return r === 0 ? 1000 * rnd(i + 7) : r === 1 ? rnd(i + 7) : r === 2 ? Math.abs(rnd(i + 7)) : 0;
  });
  const g = new GraphBuilder('t', undefined, 'int8');
  const input = g.input('x', FLOAT, [1, 4, K]);
  g.output('y', g.op('MatMul', [input, g.weight('w', W, [K, N])]));
  const s = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: 1 });
  const y = (await s.run({ x: new ort.Tensor('float32', x, [1, 4, K]) })).y.data as Float32Array;
  await s.release();
  for (let r = 0; r < 4; r++) {
    let d = 0, n2 = 0;
    for (let c = 0; c < N; c++) {
      let ref = 0;
      for (let k = 0; k < K; k++) ref += x[r * K + k] * W[k * N + c];
      d += (y[r * N + c] - ref) ** 2;
      n2 += ref ** 2;
    }
    if (r === 3) assert.equal(d, 0, 'an all-zero row gives exactly 0');
    else assert.ok(Math.sqrt(d / n2) < 0.02, `row ${r}: relative error ${Math.sqrt(d / n2).toFixed(4)}`); // one scale per batch: ~100% on rows 1, 2
  }
});

test('int8: gpt-m stays within 2% of fp32 at every state on real UD sentences', async () => {
  const model = loadModel(join(ROOT, 'models', 'gpt-m'));
  const tok = await model.tokenizer();
  const conllu = gunzipSync(readFileSync(join(ROOT, 'data', 'ud-en-ewt', 'en_ewt-ud-test.conllu.gz'))).toString('utf8');
  const texts = conllu.split('\n').filter((l) => l.startsWith('# text = ')).slice(0, 64).map((l) => l.slice(9));
  const ids = texts.map((t) => tok.encode(t).slice(0, 64));
  const fp32 = await Engine.create(model, { threads: 1 });
  const int8 = await Engine.create(model, { threads: 1, precision: 'int8' });
  let worst = 0;
  for (let b = 0; b < 64; b += 32) { // batches of 32, as feature extraction runs them
    const batch = { inputIds: ids.slice(b, b + 32) };
    const mask = batch.inputIds.map((r) => r.map(() => 1));
    const a = await fp32.run(batch);
    const q = await int8.run(batch);
    for (let l = 1; l <= model.arch.layers; l++) {
      const n = `hidden_states.${l}`;
      const e = relError(q[n].data, a[n].data, a[n].dims, mask);
      assert.ok(e > 0 && e <= 0.02, `${n}, sentences ${b}-${b + 31}: relative error ${e.toFixed(4)}`);
      worst = Math.max(worst, e);
    }
  }
  assert.ok(worst > 0.005, `largest error ${worst}: int8 did not run`);
  await fp32.release();
  await int8.release();
});

for (const dir of fixtures) {
  const name = dir.split('/').slice(-2).join('/');
  test(`int8: ${name} builds with every 2-D-weight MatMul quantized, hidden states within 10% of fp32`, async () => {
    const model = loadModel(dir);
    const batch = readInputs(join(dir, 'inputs.json'));
    const fp32 = await Engine.create(model, { threads: 1 });
    const int8 = await Engine.create(model, { threads: 1, precision: 'int8' });
    // the graph: no MatMul by a float 2-D initializer is left, and there is at least one quantized one
    const built = FAMILIES[model.arch.family].build(model.arch, model.weights, int8.options);
    const graph = onnxProto.onnx.ModelProto.decode(built.bytes).graph!;
    const floats2d = new Set(graph.initializer!.filter((t) => t.dataType === onnxProto.onnx.TensorProto.DataType.FLOAT && t.dims!.length === 2).map((t) => t.name));
    const left = graph.node!.filter((n) => n.opType === 'MatMul' && floats2d.has(n.input![1]));
    assert.deepEqual(left.map((n) => n.input![1]), [], `${name}: fp32 MatMuls left`);
    assert.ok(graph.node!.filter((n) => n.opType === 'MatMulIntegerToFloat').length >= 4, `${name}: too few quantized MatMuls`);
    // plain encoders (no position bias) run q/k/v and attention as one QAttention node per layer
    const fused = graph.node!.filter((n) => n.opType === 'QAttention').length;
    const plainEncoder = ['bert', 'roberta', 'electra', 'distilbert', 'albert'].includes(model.arch.family);
    assert.equal(fused, plainEncoder ? model.arch.layers : 0, `${name}: QAttention nodes`);
    // every MatMulIntegerToFloat reads activations quantized per row (QuantizeLinear with one block per row)
    const perRow = new Set(graph.node!.filter((n) => n.opType === 'QuantizeLinear' && n.attribute!.some((a) => a.name === 'block_size')).map((n) => n.output![0]));
    for (const n of graph.node!.filter((x) => x.opType === 'MatMulIntegerToFloat')) {
      const src = graph.node!.find((x) => x.output!.includes(n.input![0]))!;
      assert.ok(perRow.has(n.input![0]) || (src.opType === 'Concat' && perRow.has(src.input![0])), `${name}: ${n.name} reads ${src.opType}`);
    }
    const a = await fp32.run(batch);
    const b = await int8.run(batch);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
    let compared = 0;
    for (const n of Object.keys(a)) {
      if (!n.includes('hidden_states')) continue;
      const mask = n.startsWith('decoder_') ? batch.decoderAttentionMask : batch.attentionMask;
      const e = relError(b[n].data, a[n].data, a[n].dims, mask);
      assert.ok(e <= 0.1, `${name}/${n}: relative error ${e.toFixed(4)} > 0.1`);
      if (!n.endsWith('hidden_states.0')) assert.ok(e > 0, `${name}/${n}: identical to fp32, int8 did not run`);
      compared++;
    }
    assert.ok(compared >= 2);
    await fp32.release();
    await int8.release();
  });
}

test('int8: the trained mini-gpt stays within 2% of fp32 at every layer on task text', async () => {
  const model = loadModel(join(ROOT, 'models', 'mini-gpt'));
  const tok = await model.tokenizer();
  const texts = ['The children walked to the old school near the river.', 'She did not know what he had said, and nobody asked.', 'A small dog was sleeping under the table.'];
  const batch = { inputIds: texts.map((t) => tok.encode(t)) };
  const mask = batch.inputIds.map((r) => r.map(() => 1));
  const a = await (await Engine.create(model, { threads: 1 })).run(batch);
  const b = await (await Engine.create(model, { threads: 1, precision: 'int8' })).run(batch);
  for (let l = 1; l <= model.arch.layers; l++) {
    const n = `hidden_states.${l}`;
    const e = relError(b[n].data, a[n].data, a[n].dims, mask);
    assert.ok(e > 0 && e <= 0.02, `${n}: relative error ${e.toFixed(4)}`);
  }
});

test('int8: a graph built with external data (large models) gives the same outputs as one built in memory', async () => {
  const dir = join(FIXTURES, 'bert');
  const model = loadModel(dir);
  const batch = readInputs(join(dir, 'inputs.json'));
  const mem = await (await Engine.create(model, { threads: 1, precision: 'int8', externalData: false })).run(batch);
  const ext = await (await Engine.create(model, { threads: 1, precision: 'int8', externalData: true })).run(batch);
  for (const n of Object.keys(mem)) assert.deepEqual(Array.from(ext[n].data), Array.from(mem[n].data), n);
});

test('materialize with quantize: onnx/model_quantized.onnx beside onnx/model.onnx, smaller, and its logits close to the fp32 graph', async () => {
  const { mkdtempSync, rmSync, statSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const ort = await import('onnxruntime-node');
  const { materialize } = await import('../src/compress/materialize.js');
  const dir = join(FIXTURES, 'gpt2');
  const model = loadModel(dir);
  const root = mkdtempSync(join(tmpdir(), 'int8-export-'));
  try {
    const out = join(root, 'model');
    const r = await materialize(model, [0, 2], out, { quantize: 'int8' });
    assert.equal(r.bytes.onnxQuantized, statSync(join(out, 'onnx', 'model_quantized.onnx')).size);
    assert.ok(r.bytes.onnxQuantized! < 0.6 * r.bytes.onnx, `int8 ${r.bytes.onnxQuantized} vs fp32 ${r.bytes.onnx} bytes`);
    const batch = readInputs(join(dir, 'inputs.json'));
    const ids = new ort.Tensor('int64', BigInt64Array.from(batch.inputIds.flat().map(BigInt)), [batch.inputIds.length, batch.inputIds[0].length]);
    const mask = new ort.Tensor('int64', BigInt64Array.from(batch.attentionMask!.flat().map(BigInt)), ids.dims);
    const logits: Float32Array[] = [];
    for (const f of ['model.onnx', 'model_quantized.onnx']) {
      const s = await ort.InferenceSession.create(join(out, 'onnx', f), { intraOpNumThreads: 1 });
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = { input_ids: ids, attention_mask: mask };
      // right-padded rows: positions 0..T-1 on every row (pads get positions nothing reads)
      if (s.inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(batch.inputIds.flatMap((r) => r.map((_, t) => BigInt(t)))), ids.dims);
      // the decoder's key/value cache: empty on a first call
      for (const n of s.inputNames) if (n.startsWith('past_key_values.')) feeds[n] = new ort.Tensor('float32', new Float32Array(0), [ids.dims[0], model.arch.kvHeads, 0, model.arch.headDim]);
      for (const n of s.inputNames) if (!feeds[n]) throw new Error(`unexpected input ${n}`);
      logits.push((await s.run(feeds)).logits.data as Float32Array);
      await s.release();
    }
    const e = relError(logits[1], logits[0], [batch.inputIds.length, batch.inputIds[0].length, logits[0].length / batch.inputIds.flat().length], batch.attentionMask);
    assert.ok(e > 0 && e <= 0.1, `logits relative error ${e}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
