import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/checkpoint.js';
import { readSafetensors, toFloat32 } from '../../src/model/safetensors.js';
import { Engine } from '../../src/engine/engine.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { makeBatch, pretrain, TEST_BEDS, type PretrainSpec } from '../../src/train/pretrain.js';
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
