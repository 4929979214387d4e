import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/load.js';
import { writeSafetensors } from '../../src/model/safetensors.js';
import { Engine } from '../../src/engine/engine.js';
import { Trainer } from '../../src/train/trainer.js';
import { llamaConfig, llamaModel, llamaParamShapes, type LlamaShape } from '../../src/train/models/llama.js';

test('Llama training graph (GQA) = the inference engine on the same Hugging Face checkpoint', async () => {
  const s: LlamaShape = { vocab: 50, hidden: 32, layers: 3, heads: 4, kvHeads: 2, intermediate: 48, seq: 8 };
  const trainer = await Trainer.create(llamaModel(s), { batch: 2, seq: 8, lr: 0, seed: 3, threads: 1 });
  // Weights at std 0.3 (not 0.02) so attention and MLP visibly move the residual stream, and norm
  // weights off 1, so a wrong rotary sign, head grouping or norm cannot hide below the tolerance.
  for (const [n, p] of trainer.params) p.forEach((x, i) => (p[i] = n.endsWith('norm.weight') ? 1 + 0.3 * Math.sin(i + n.length) : x * 15));
  const dir = mkdtempSync(join(tmpdir(), 'ps-llama-'));
  try {
    const shapes = new Map(llamaParamShapes(s));
    writeSafetensors(join(dir, 'model.safetensors'), Object.fromEntries([...trainer.params].map(([n, d]) => [n, { dtype: 'F32' as const, shape: shapes.get(n)!, data: d }])));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfig(s)));
    const rows = [
      [1, 5, 9, 13, 17, 21, 25, 29],
      [49, 3, 3, 7, 0, 11, 40, 2],
    ];
    const ours = await trainer.evaluate({
      input_ids: BigInt64Array.from(rows.flat().map(BigInt)),
      targets: new BigInt64Array(16),
      loss_weights: new Float32Array(16).fill(1),
    });
    const engine = await Engine.create(loadModel(dir), { threads: 1 });
    const theirs = await engine.run({ inputIds: rows });
    for (let l = 0; l < s.layers; l++) {
      const a = ours.hidden[l];
      const b = theirs[`hidden_states.${l}`].data;
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      assert.ok(max < 1e-4 * (1 + Math.max(...b.map(Math.abs))), `hidden state ${l}: max diff ${max}`);
    }
    await engine.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await trainer.release();
  }
});
