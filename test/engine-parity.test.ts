/**
 * Every layer of every family must reproduce the hidden states that Hugging Face's own modeling code
 * computed for the same padded batch (test/fixtures/hf-tiny, see its README).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { FIXTURES, ZOO_FIXTURES, compareMasked, readGolden } from './helpers.js';

// hf-tiny: the first five families; hf-zoo: the families added with FamilySpec (index.json lists those supported)
const fixtures = [FIXTURES, ZOO_FIXTURES].flatMap((root) => (JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { fixtures: string[] }).fixtures.map((f) => join(root, f)));

for (const dir of fixtures) {
  const name = dir.split('/').slice(-2).join('/');
  test(`HF parity: ${name} (every golden tensor, valid positions)`, async () => {
    const model = loadModel(dir);
    const batch = readInputs(join(dir, 'inputs.json'));
    const engine = await Engine.create(model, { threads: 1 });
    const ours = await engine.run(batch);
    const golden = readGolden(join(dir, 'golden.safetensors'));
    let compared = 0;
    for (const [tname, g] of golden) {
      if (tname === 'pooler_output' || tname === 'nsp_logits') continue; // BERT pretraining heads: not part of the engine
      const o = ours[tname];
      assert.ok(o, `${name}: engine did not produce "${tname}" (has ${Object.keys(ours).join(', ')})`);
      assert.deepEqual(o.dims, g.shape, `${name}/${tname} shape`);
      const mask = tname.startsWith('decoder_') || (tname === 'last_hidden_state' && batch.decoderInputIds) || (tname === 'logits' && batch.decoderInputIds)
        ? batch.decoderAttentionMask
        : batch.attentionMask;
      const isLogits = tname.includes('logits');
      const r = compareMasked(o.data, g.data, g.shape, mask, isLogits ? 1e-3 : 1e-4, 1e-4);
      assert.ok(r.withinTolerance, `${name}/${tname}: max abs diff ${r.maxAbs.toExponential(2)} exceeds tolerance`);
      if (!isLogits) assert.ok(r.maxAbs <= 1e-4, `${name}/${tname}: max abs diff ${r.maxAbs.toExponential(2)} > 1e-4`);
      compared++;
    }
    assert.ok(compared >= 5, `${name}: compared only ${compared} tensors`);
    await engine.release();
  });
}
