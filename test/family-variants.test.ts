/**
 * Config switches the fixtures do not exercise, checked against the same golden files: each variant adds
 * tensors that make it compute exactly what the fixture computes (a zero position or token-type table, separate
 * position projections equal to the shared ones), so any path that reads them wrongly shows up as a mismatch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { readInputs } from '../src/engine/inputs.js';
import { readSafetensors, toFloat32, writeSafetensors, type TensorToWrite } from '../src/model/safetensors.js';
import { ZOO_FIXTURES, compareMasked, readGolden } from './helpers.js';

async function variant(fixture: string, configPatch: Record<string, unknown>, addTensors: (t: Record<string, TensorToWrite>, config: Record<string, unknown>) => void) {
  const dir = join(mkdtempSync(join(tmpdir(), 'ps-variant-')), fixture);
  cpSync(join(ZOO_FIXTURES, fixture), dir, { recursive: true });
  const config = { ...(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>), ...configPatch };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const path = join(dir, 'model.safetensors');
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, t] of readSafetensors(path).tensors) tensors[n] = { dtype: 'F32', shape: t.shape, data: toFloat32(t, n, path) };
  addTensors(tensors, config);
  writeSafetensors(path, tensors);
  const model = loadModel(dir);
  const batch = readInputs(join(dir, 'inputs.json'));
  const engine = await Engine.create(model, { threads: 1 });
  const ours = await engine.run(batch);
  await engine.release();
  let compared = 0;
  for (const [name, g] of readGolden(join(dir, 'golden.safetensors'))) {
    const r = compareMasked(ours[name].data, g.data, g.shape, batch.attentionMask, name === 'logits' ? 1e-3 : 1e-4, 1e-4);
    assert.ok(r.withinTolerance, `${fixture} ${JSON.stringify(configPatch)}: ${name} max diff ${r.maxAbs}`);
    compared++;
  }
  assert.ok(compared >= 4);
  rmSync(join(dir, '..'), { recursive: true });
}

const zeros = (shape: number[]): TensorToWrite => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

test('deberta-v2: separate pos_key_proj / pos_query_proj (share_att_key false) equal to the shared ones', async () => {
  await variant('deberta-v3', { share_att_key: false }, (t) => {
    for (const name of Object.keys(t)) {
      const m = /^(.*attention\.self\.)(key|query)_proj\.(weight|bias)$/.exec(name);
      if (m) t[`${m[1]}pos_${m[2]}_proj.${m[3]}`] = { ...t[name] };
    }
  });
});

test('deberta-v2: absolute positions (position_biased_input) and token types, both zero tables', async () => {
  await variant('deberta-v3', { position_biased_input: true, type_vocab_size: 2 }, (t, c) => {
    const E = (c.embedding_size as number | undefined) ?? (c.hidden_size as number);
    t['deberta.embeddings.position_embeddings.weight'] = zeros([c.max_position_embeddings as number, E]);
    t['deberta.embeddings.token_type_embeddings.weight'] = zeros([2, E]);
  });
});

test('llama: attention_bias and mlp_bias with zero biases', async () => {
  await variant('llama3-rope', { attention_bias: true, mlp_bias: true }, (t, c) => {
    const C = c.hidden_size as number;
    const D = c.head_dim as number;
    const H = c.num_attention_heads as number;
    const KV = c.num_key_value_heads as number;
    const F = c.intermediate_size as number;
    for (let l = 0; l < (c.num_hidden_layers as number); l++) {
      const p = `model.layers.${l}`;
      t[`${p}.self_attn.q_proj.bias`] = zeros([H * D]);
      t[`${p}.self_attn.k_proj.bias`] = zeros([KV * D]);
      t[`${p}.self_attn.v_proj.bias`] = zeros([KV * D]);
      t[`${p}.self_attn.o_proj.bias`] = zeros([C]);
      t[`${p}.mlp.gate_proj.bias`] = zeros([F]);
      t[`${p}.mlp.up_proj.bias`] = zeros([F]);
      t[`${p}.mlp.down_proj.bias`] = zeros([C]);
    }
  });
});
