import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readSafetensors, toFloat32 } from '../../src/model/safetensors.js';
import { robertaModel } from '../../src/train/models/roberta.js';
import { makeBatch, SPECIALS } from '../../src/train/pretrain.js';
import { Trainer } from '../../src/train/trainer.js';
import { cosineSchedule } from '../../src/train/optim.js';
import { mulberry32 } from '../../src/util/random.js';

const MASK = SPECIALS.indexOf('<mask>');

test('roberta MLM: loss and every gradient match an independent PyTorch implementation (HF RobertaForMaskedLM, fp64)', async () => {
  // fixture: `python3 bench/train/mlm/mlm_reference.py golden test/fixtures/roberta-parity/golden.safetensors`
  const path = join(import.meta.dirname, '..', 'fixtures', 'roberta-parity', 'golden.safetensors');
  const file = readSafetensors(path);
  const s = JSON.parse(file.metadata!.shape);
  const get = (k: string) => file.tensors.get(k)!;
  const params = new Map<string, Float32Array>();
  for (const [n, t] of file.tensors) if (n.startsWith('param/')) params.set(n.slice(6), toFloat32(t, n, path));
  const model = robertaModel({ vocab: s.vocab, seq: s.seq, hidden: s.hidden, layers: s.layers, heads: s.heads, intermediate: s.intermediate, padTokenId: 1 });
  const trainer = await Trainer.create(model, { batch: s.batch, seq: s.seq, lr: 0, params, threads: 1 });
  const i64 = (k: string) => new BigInt64Array(Uint8Array.from(get(k).bytes).buffer);
  const batch = { input_ids: i64('batch/input_ids'), position_ids: i64('batch/position_ids'), targets: i64('batch/targets'), loss_weights: toFloat32(get('batch/loss_weights'), 'w', path) };
  const { loss, grads } = await trainer.gradients(batch);
  assert.ok(Math.abs(loss - Number(file.metadata!.loss)) < 1e-5, `loss ${loss} vs PyTorch ${file.metadata!.loss}`);
  assert.equal(grads.size, params.size);
  for (const [n, g] of grads) {
    const ref = toFloat32(get(`grad/${n}`), n, path);
    let max = 0;
    let diff = 0;
    for (let i = 0; i < g.length; i++) {
      max = Math.max(max, Math.abs(ref[i]));
      diff = Math.max(diff, Math.abs(g[i] - ref[i]));
    }
    // key biases have an exactly zero gradient (softmax ignores a per-query constant): an absolute floor
    assert.ok(diff <= 1e-4 * Math.max(max, 1e-2), `${n}: max |ours - PyTorch| ${diff} (max |PyTorch| ${max})`);
  }
  await trainer.release();
});

test('makeBatch (MLM): loss only on selected tokens, 80/10/10 <mask>/random/kept, <s> </s> never selected, RoBERTa positions', () => {
  const V = 500;
  const T = 64;
  const rand = mulberry32(3);
  const stream = Int32Array.from({ length: 40 * T + 1 }, (_, i) => (i % 37 === 0 ? 0 : i % 37 === 36 ? 2 : 5 + Math.floor(rand() * (V - 5))));
  const starts = Array.from({ length: 40 }, (_, b) => b * T);
  const b = makeBatch(stream, starts, T, 'mlm', V, mulberry32(9), 0.3);
  let sel = 0;
  let nonSpecial = 0;
  const kinds = { mask: 0, random: 0, kept: 0 };
  for (let i = 0; i < b.targets.length; i++) {
    const t = Number(b.targets[i]);
    const x = Number(b.input_ids[i]);
    assert.equal(t, stream[starts[Math.floor(i / T)] + (i % T)], 'target is the original token');
    assert.equal(Number(b.position_ids[i]), 2 + (i % T), 'position = padding_idx + 1 + t');
    if (t !== 0 && t !== 2) nonSpecial++;
    if (b.loss_weights[i] === 0) {
      assert.equal(x, t, 'an unselected token is left as it is');
      continue;
    }
    assert.equal(b.loss_weights[i], 1);
    assert.ok(t !== 0 && t !== 2, '<s>/</s> selected');
    sel++;
    if (x === MASK) kinds.mask++;
    else if (x === t) kinds.kept++;
    else {
      assert.ok(x >= SPECIALS.length && x < V, 'random replacement is an ordinary token');
      kinds.random++;
    }
  }
  assert.ok(Math.abs(sel / nonSpecial - 0.3) < 0.03, `selected ${sel / nonSpecial}`);
  assert.ok(Math.abs(kinds.mask / sel - 0.8) < 0.04 && Math.abs(kinds.random / sel - 0.1) < 0.03 && Math.abs(kinds.kept / sel - 0.1) < 0.03, JSON.stringify(kinds));
});

test('roberta MLM uses context: on a copy task (a random span twice) it leaves the unigram plateau within 600 steps', async () => {
  // Every masked token is visible 8 positions away unless its copy is masked too, so a working encoder
  // must go far below the unigram loss ln(59) = 4.08 once one attention head learns the offset.
  const V = 64;
  const T = 16;
  const B = 16;
  const model = robertaModel({ vocab: V, seq: T, hidden: 64, layers: 1, heads: 2, intermediate: 256, padTokenId: 1 });
  const trainer = await Trainer.create(model, { batch: B, seq: T, lr: 3e-3, seed: 1, threads: 1 });
  const rand = mulberry32(5);
  const copies = (r: () => number) => {
    const s = new Int32Array(B * T + 1);
    for (let b = 0; b < B; b++) for (let t = 0; t < T / 2; t++) s[b * T + t] = s[b * T + t + T / 2] = 5 + Math.floor(r() * (V - 5));
    return makeBatch(s, Array.from({ length: B }, (_, b) => b * T), T, 'mlm', V, r, 0.3);
  };
  const er = mulberry32(6);
  const held = Array.from({ length: 4 }, () => copies(er));
  const heldLoss = async () => {
    let l = 0;
    for (const h of held) l += (await trainer.evaluate(h)).loss;
    return l / held.length;
  };
  const before = await heldLoss();
  const steps = 600;
  for (let s = 0; s < steps; s++) await trainer.step(copies(rand), cosineSchedule(s, steps, 3e-3, 50));
  const after = await heldLoss();
  await trainer.release();
  console.log(`copy task: held-out masked loss ${before.toFixed(3)} -> ${after.toFixed(3)} (unigram ${Math.log(V - 5).toFixed(3)})`);
  assert.ok(after < 0.5 * Math.log(V - 5), `held-out masked loss ${before.toFixed(3)} -> ${after.toFixed(3)} (unigram ${Math.log(V - 5).toFixed(3)})`);
});

test('roberta splitInit: words in the first half, sinusoidal positions in the second, query/key identity on the positional half', async () => {
  const C = 8;
  const model = robertaModel({ vocab: 12, seq: 6, hidden: C, layers: 1, heads: 2, intermediate: 16, padTokenId: 1, sinusoidalPositions: true, qkIdentity: 1, splitInit: true });
  const trainer = await Trainer.create(model, { batch: 1, seq: 6, lr: 0, seed: 3, threads: 1 });
  const p = (n: string) => trainer.params.get(n)!;
  const words = p('roberta.embeddings.word_embeddings.weight');
  const pos = p('roberta.embeddings.position_embeddings.weight');
  const q = p('roberta.encoder.layer.0.attention.self.query.weight');
  for (let r = 0; r < 12; r++) for (let c = 0; c < C; c++) assert.equal(words[r * C + c] === 0, c >= C / 2, `word ${r},${c}`);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < C / 2; c++) assert.equal(pos[r * C + c], 0);
    assert.ok(Math.abs(pos[r * C + C / 2 + 1] - Math.cos(r) * 0.04) < 1e-6, 'cos of position r at frequency 1, RMS 0.02 * sqrt(2)');
  }
  for (let i = 0; i < C; i++) assert.equal(Math.abs(q[i * C + i]) > 0.5, i >= C / 2, `query diagonal ${i}`);
  await trainer.release();
});
