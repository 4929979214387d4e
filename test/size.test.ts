/**
 * Issue 21: an f16 checkpoint is written back in f16 (not fp32 at twice its bytes), and each written file's size
 * against the original is the product of the factors the report prints (selection x vocabulary x precision x
 * file layout x int8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../src/engine/load.js';
import { readSafetensors, toFloat32, writeSafetensors, type TensorToWrite } from '../src/model/safetensors.js';
import { materialize } from '../src/compress/materialize.js';
import { sizeFactorLines, sizeReport } from '../src/compress/size.js';
import { floatToHalf } from '../src/util/half.js';
import { FIXTURES } from './helpers.js';

/** The fixture with its weights rounded to f16 / bf16 (its config and tokenizer files as they are). */
function converted(src: string, dtype: 'F16' | 'BF16' | 'F32', dir: string): string {
  mkdirSync(dir);
  for (const f of readdirSync(src)) if (f !== 'model.safetensors' && f.endsWith('.json')) copyFileSync(join(src, f), join(dir, f));
  const path = join(src, 'model.safetensors');
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, t] of readSafetensors(path).tensors) {
    const f = toFloat32(t, n, path);
    tensors[n] = dtype === 'F32' ? { dtype, shape: t.shape, data: f } : { dtype, shape: t.shape, data: dtype === 'F16' ? Uint16Array.from(f, floatToHalf) : Uint16Array.from(new Uint32Array(Float32Array.from(f).buffer), (u) => u >>> 16) };
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

// product of floats: well inside 1e-9; the safetensors file's layout factor is its header against the original's
const PRODUCT_TOLERANCE = 1e-9;
const HEADER_TOLERANCE = 0.02;

for (const dtype of ['F16', 'BF16', 'F32'] as const) {
  test(`roberta fixture in ${dtype}, 1 of 2 layers kept: model.safetensors stays ${dtype}; the size factors multiply to each file's total`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ps-size-'));
    try {
      const model = loadModel(converted(join(FIXTURES, 'roberta'), dtype, join(tmp, 'src')));
      assert.equal(model.weights.floatDtype(), dtype);
      const out = join(tmp, 'out');
      // vocabulary trimmed to the first 40 ids, so every factor is below 100% or explained
      const written = await materialize(model, [0], out, { quantize: 'int8', vocab: { used: Array.from({ length: 40 }, (_, i) => i), specials: [0, 1, 2, 3] } });
      assert.deepEqual(written.dtype, { source: dtype, safetensors: dtype });
      assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype]);
      const file = readSafetensors(join(out, 'model.safetensors'));
      for (const [n, t] of file.tensors) assert.equal(t.dtype, dtype, n);
      // written back exactly: the reloaded values are the source's
      const back = loadModel(out);
      for (const n of ['roberta.embeddings.position_embeddings.weight', 'roberta.encoder.layer.0.attention.self.query.weight']) {
        const name = back.weights.has(n) ? n : n.replace(/^roberta\./, '');
        assert.deepEqual(back.weights.get(name).data, model.weights.get(model.weights.has(n) ? n : n.replace(/^roberta\./, '')).data, n);
      }
      const s = sizeReport(model, written);
      const width = dtype === 'F32' ? 4 : 2;
      assert.equal(s.original.bytesPerParameter, width);
      const st = s.files.safetensors, onnx = s.files.onnx, q = s.files.onnxQuantized!;
      for (const f of [st, onnx, q]) {
        const product = s.selection * s.vocabulary * f.precision * f.layout * (f.int8 ?? 1);
        assert.ok(Math.abs(product - f.total) < PRODUCT_TOLERANCE, `${f.file}: ${product} vs ${f.total}`);
        assert.ok(Math.abs(f.total - f.bytes / s.originalBytes) < 1e-12);
      }
      // safetensors: same precision as the source, so selection x vocabulary explain its bytes up to the header
      assert.equal(st.precision, 1);
      assert.ok(Math.abs(st.layout - 1) < HEADER_TOLERANCE, String(st.layout));
      assert.ok(Math.abs(st.total / (s.selection * s.vocabulary) - 1) < HEADER_TOLERANCE, JSON.stringify(s));
      // the ONNX graphs are fp32: twice the bytes per parameter of an f16/bf16 source
      assert.equal(onnx.precision, 4 / width);
      assert.ok(q.int8! < 1 && s.vocabulary < 1 && s.selection < 1, JSON.stringify(s));
      const lines = sizeFactorLines(s);
      assert.equal(lines.length, 3);
      assert.match(lines[1], new RegExp(`precision ${(400 / width).toFixed(1)}% \\(fp32 from ${dtype === 'F32' ? 'fp32' : dtype.toLowerCase()}\\)`));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}
