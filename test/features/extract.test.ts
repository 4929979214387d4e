/** Feature extraction: pooling matches the engine's hidden states, the cache is reused bit-for-bit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../../src/engine/load.js';
import { Engine } from '../../src/engine/engine.js';
import { alignWords, specialTokenFrame } from '../../src/features/align.js';
import { extractFeatures, type RowSpec } from '../../src/features/extract.js';
import { floatToHalf, halfToFloat } from '../../src/util/half.js';
import { STORIES } from '../helpers.js';

const model = loadModel(join(STORIES, 'stories260K.bin'));

test('word alignment: BOS first, every word owns a non-empty sub-token range, text round-trips', async () => {
  const tok = await model.tokenizer();
  assert.deepEqual(specialTokenFrame(tok), { prefix: [1], suffix: [] });
  const words = ['The', 'little', 'bird', 'was', 'sad', '.'];
  const a = alignWords(tok, words);
  assert.equal(a.ids[0], 1);
  assert.equal(a.wordSpans.length, words.length);
  a.wordSpans.forEach(([s, e], i) => {
    assert.ok(e > s, `word ${i} has tokens`);
    assert.equal(tok.decode(a.ids.slice(s, e)).trim(), words[i]);
  });
});

test('pooled rows equal hand-pooled engine outputs, for every layer; cache hit is identical', async () => {
  const tok = await model.tokenizer();
  const engine = await Engine.create(model, { threads: 1, logits: false });
  const texts = ['Once upon a time there was a cat.', 'Tom ran.', 'The sun was warm and the sky was blue.'];
  const seqs = texts.map((t) => tok.encode(t));
  const rows: RowSpec[] = seqs.map((s, i) => ({ seq: i, ranges: [[0, s.length]] }));
  rows.push({ seq: 2, ranges: [[1, 2]] }); // first-token pooling of word 1
  rows.push({ seq: 0, ranges: [[2, 4]] }); // a row of sequence 0 away from its other row: two writes in one batch
  const cacheDir = mkdtempSync(join(tmpdir(), 'ps-feat-'));
  const set = await extractFeatures(engine, seqs, rows, { cacheDir, label: 'test', batchSize: 2 });
  assert.equal(set.fromCache, false);
  assert.equal(set.layers, model.arch.layers + 1);
  // reference: run each sequence alone (no padding) and pool by hand
  for (let l = 0; l < set.layers; l++) {
    const m = set.load(l);
    for (let r = 0; r < rows.length; r++) {
      const { seq, ranges } = rows[r];
      const out = await engine.run({ inputIds: [seqs[seq]] });
      const hs = out[`hidden_states.${l}`].data;
      const [s, e] = ranges[0];
      for (let c = 0; c < 64; c += 7) {
        let ref = 0;
        for (let t = s; t < e; t++) ref += hs[t * 64 + c] / (e - s);
        assert.ok(Math.abs(m.data[r * m.cols + c] - ref) < 1e-4, `layer ${l} row ${r} col ${c}: ${m.data[r * m.cols + c]} vs ${ref}`);
      }
    }
  }
  const again = await extractFeatures(engine, seqs, rows, { cacheDir, label: 'test', batchSize: 3 });
  assert.equal(again.fromCache, true);
  for (let l = 0; l < set.layers; l++) assert.deepEqual(again.load(l).data, set.load(l).data);
  // a reused buffer (bigger than needed, holding another layer) is overwritten with exactly this layer
  const buf = new Float32Array(set.rows * set.cols + 7).fill(Number.NaN);
  for (let l = set.layers - 1; l >= 0; l--) assert.deepEqual(again.load(l, buf).data, set.load(l).data);
  // float16 storage: the same rows within half precision
  const half = await extractFeatures(engine, seqs, rows, { cacheDir, label: 'test', batchSize: 2, dtype: 'f16' });
  assert.equal(half.fromCache, false, 'f16 is its own cache entry');
  for (let l = 0; l < set.layers; l++) {
    const a = set.load(l).data;
    const b = half.load(l).data;
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-3 * Math.max(1, Math.abs(v)), `f16 layer ${l} [${i}]: ${b[i]} vs ${v}`));
  }
  const other = await extractFeatures(engine, seqs.slice(0, 2), rows.slice(0, 2), { cacheDir, label: 'test' });
  assert.equal(other.fromCache, false, 'different inputs, different cache entry');
  rmSync(cacheDir, { recursive: true });
});

test('f16 round trip keeps 3 significant digits', () => {
  for (const v of [0, 1, -2.5, 0.1234, 65504, 1e-5, -3.14159]) {
    const back = halfToFloat(floatToHalf(v));
    assert.ok(Math.abs(back - v) <= Math.abs(v) * 1e-3 + 1e-7, `${v} -> ${back}`);
  }
});
