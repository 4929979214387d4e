import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/load.js';
import { readSafetensors, toFloat32 } from '../../src/model/safetensors.js';
import { Engine } from '../../src/engine/engine.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { CHECKPOINT, makeBatch, pretrain, specByName, SUITE, TEST_BEDS, type PretrainSpec } from '../../src/train/pretrain.js';
import { Trainer } from '../../src/train/trainer.js';
import { gpt2Model } from '../../src/train/models/gpt2.js';
import { robertaModel } from '../../src/train/models/roberta.js';
import { mulberry32 } from '../../src/util/random.js';

const tiny = (name: string, objective: 'clm' | 'mlm'): PretrainSpec => ({
  ...TEST_BEDS[objective === 'clm' ? 'mini-gpt' : 'mini-roberta'],
  name, vocab: 400, hidden: 32, layers: 3, heads: 2, intermediate: 64, batch: 8, seq: 16, steps: 60, lr: 3e-3, warmup: 5, evalEvery: 30, evalBatches: 4, maxDocs: 400,
});

for (const objective of ['clm', 'mlm'] as const) {
  test(`pretrain (${objective}): loss falls, the checkpoint loads in the inference engine with the training graph's numbers`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-pretrain-'));
    try {
      const spec = tiny(`tiny-${objective}`, objective);
      const out = join(dir, spec.name);
      const r = await pretrain(spec, out, { threads: 1 });
      assert.ok(r.evals.at(-1)!.loss < r.evals[0].loss - 0.5, `held-out loss ${r.evals[0].loss} -> ${r.evals.at(-1)!.loss}`);
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'training.json']) assert.ok(existsSync(join(out, f)), f);

      // Same weights through the training graph (eval session) and through the inference engine.
      const file = readSafetensors(join(out, 'model.safetensors'));
      const params = new Map([...file.tensors].map(([n, t]) => [n, toFloat32(t, n, out)]));
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      const B = 2;
      const T = spec.seq;
      const model =
        objective === 'clm'
          ? gpt2Model({ vocab: cfg.vocab_size, positions: T, hidden: 32, layers: 3, heads: 2, intermediate: 64 })
          : robertaModel({ vocab: cfg.vocab_size, seq: T, hidden: 32, layers: 3, heads: 2, intermediate: 64, padTokenId: 1 });
      const trainer = await Trainer.create(model, { batch: B, seq: T, lr: 0, params, threads: 1 });
      const tok = await loadTokenizer(out, loadModel(out).arch);
      const ids = tok.encode('The quick brown fox jumps over the lazy dog near the river bank today.').slice(0, T);
      while (ids.length < T) ids.push(5 + ids.length);
      const stream = Int32Array.from([...ids, ...ids, 0]);
      const batch = makeBatch(stream, [0, T], T, 'clm', cfg.vocab_size, mulberry32(1));
      if (objective === 'mlm') batch.position_ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(2 + (i % T)));
      const ours = await trainer.evaluate(batch);
      const engine = await Engine.create(loadModel(out), { threads: 1 });
      const theirs = await engine.run({ inputIds: [ids, ids] });
      const last = objective === 'clm' ? 3 : 4; // GPT-2's last hidden state has ln_f applied
      for (let l = 0; l < last; l++) {
        const a = ours.hidden[l];
        const b = theirs[`hidden_states.${l}`].data;
        let max = 0;
        for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        assert.ok(max < 1e-4, `hidden state ${l}: max diff ${max}`);
      }
      await engine.release();
      await trainer.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('pretrain --resume: 2 x 50 steps give the same bits as 100 steps (weights, AdamW moments, data and mask RNG, curve)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-resume-'));
  try {
    const spec: PretrainSpec = { ...TEST_BEDS['mini-roberta'], name: 'tiny-resume', vocab: 300, hidden: 16, layers: 2, heads: 2, intermediate: 32, batch: 4, seq: 16, steps: 100, lr: 3e-3, warmup: 5, evalEvery: 40, evalBatches: 2, maxDocs: 150 };
    const straight = join(dir, 'straight');
    const a = await pretrain(spec, straight, { threads: 1, checkpointEvery: 30 });
    assert.ok(a.finished && a.stepsDone === 100);
    assert.ok(!existsSync(join(straight, CHECKPOINT)), 'a finished run removes its own checkpoint');

    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'config.json'), '{}');
    await assert.rejects(pretrain(spec, foreign, { threads: 1 }), /other files that probescale did not write/);
    assert.equal(readFileSync(join(foreign, 'config.json'), 'utf8'), '{}');

    const split = join(dir, 'split');
    const b1 = await pretrain(spec, split, { threads: 1, stopAfter: 50 });
    writeFileSync(join(split, 'NOTES.txt'), 'mine'); // not written by probescale: must survive the resumed run
    assert.equal(b1.finished, false);
    assert.equal(b1.stepsDone, 50);
    assert.ok(existsSync(join(split, CHECKPOINT)) && !existsSync(join(split, 'model.safetensors')));
    await assert.rejects(pretrain(spec, split, { threads: 1 }), /unfinished run.*--resume/);
    await assert.rejects(pretrain({ ...spec, lr: 1e-3 }, split, { threads: 1, resume: true }), /different run \(lr: checkpoint 0.003, asked 0.001\)/);
    const b2 = await pretrain(spec, split, { threads: 1, resume: true });
    assert.ok(b2.finished && b2.stepsDone === 100);
    assert.deepEqual(b2.resumedAt, [50]);

    assert.ok(readFileSync(join(straight, 'model.safetensors')).equals(readFileSync(join(split, 'model.safetensors'))), 'final weights differ');
    assert.deepEqual(b2.curve, a.curve);
    assert.deepEqual(b2.evals, a.evals);
    assert.equal(b2.baselineLoss, a.baselineLoss);
    assert.ok(a.evals.at(-1)!.loss < a.evals[0].loss, 'loss falls');
    assert.equal(readFileSync(join(split, 'NOTES.txt'), 'utf8'), 'mine');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('specByName: a new suite member is defined by its name and --set; bad keys name the fix', () => {
  const s = specByName('gpt-test', 'layers=6,hidden=96,heads=3,vocab=1024,brown=true,dtype=F16');
  assert.equal(s.objective, 'clm');
  assert.equal(s.layers, 6);
  assert.equal(s.brown, true);
  assert.equal(s.dtype, 'F16');
  assert.equal(specByName('roberta-x', 'steps=10').objective, 'mlm');
  assert.throws(() => specByName('nope'), /unknown test bed "nope"/);
  // suite members are names for fixed override lists (what a later session resumes with)
  const m = specByName('gpt-m');
  assert.deepEqual({ ...m, name: 'x' }, { ...specByName('gpt-x', SUITE['gpt-m']), name: 'x' });
  assert.equal(m.name, 'gpt-m');
  assert.equal(m.hidden, 128);
  assert.equal(specByName('roberta-m').sinusoidal, true);
  assert.equal(specByName('roberta-m').objective, 'mlm');
  // roberta-s2 ran with this --set before it had a name; its checkpoint's spec must keep matching the entry
  assert.deepEqual({ ...specByName('roberta-s2'), name: 'x' }, { ...specByName('roberta-x', 'layers=6,hidden=96,heads=4,intermediate=384,vocab=2048,lr=0.002,warmup=300,evalEvery=250,batch=32,steps=4500,sinusoidal=true,qkIdentity=1,splitInit=true,seq=64,brown=true,dtype=F16'), name: 'x' });
  assert.throws(() => specByName('gpt-x', 'depth=3'), /unknown key/);
  assert.throws(() => specByName('gpt-x', 'hidden=100,heads=3'), /not a multiple/);
});
