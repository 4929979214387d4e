import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tape, type V } from '../../src/train/autodiff.js';
import { CompiledStep } from '../../src/train/backend.js';
import { Initializer } from '../../src/train/init.js';
import { buildGpt2, gpt2ParamShapes, type Gpt2Shape } from '../../src/train/models/gpt2.js';

type Build = (t: Tape) => { loss: V; inputs: V[] };

/** Central differences of the loss along random directions must match grad . direction. */
async function directionalCheck(build: Build, batch: Record<string, Float32Array | BigInt64Array>, seed: number, checks = 4, label = '', eps = 1e-3) {
  const t1 = new Tape('train');
  const b1 = build(t1);
  const train = await CompiledStep.compile(t1, b1.loss, b1.inputs);
  const t2 = new Tape('eval');
  const b2 = build(t2);
  const evaluate = await CompiledStep.compile(t2, b2.loss, b2.inputs, { gradients: false });
  const init = new Initializer(seed);
  const params = new Map(t1.params.map((p) => [p.name, init.normalArray(p.shape.reduce((a, b) => a * b, 1), 0.3)]));
  const { loss, grads } = await train.run(params, batch);
  assert.ok(Number.isFinite(loss));
  const total = [...params.values()].reduce((a, p) => a + p.length, 0);
  for (let c = 0; c < checks; c++) {
    // A unit direction mixing the gradient's with a random one: the directional derivative is then
    // large next to fp32 rounding of the loss, and steps of eps keep truncation error and ReLU kinks small.
    const gnorm = Math.sqrt([...grads.values()].reduce((a, g) => a + g.reduce((x, y) => x + y * y, 0), 0));
    const dir = new Map([...params].map(([n, p]) => {
      const r = init.normalArray(p.length, 1 / Math.sqrt(total));
      const g = grads.get(n)!;
      return [n, r.map((x, i) => x + g[i] / gnorm)];
    }));
    const norm = Math.sqrt([...dir.values()].reduce((a, d) => a + d.reduce((x, y) => x + y * y, 0), 0));
    for (const d of dir.values()) d.forEach((x, i) => (d[i] = x / norm));
    const shifted = (sign: number) => new Map([...params].map(([n, p]) => [n, p.map((x, i) => x + sign * eps * dir.get(n)![i])]));
    const plus = (await evaluate.run(shifted(1), batch)).loss;
    const minus = (await evaluate.run(shifted(-1), batch)).loss;
    const numeric = (plus - minus) / (2 * eps);
    let analytic = 0;
    for (const [n, g] of grads) g.forEach((gi, i) => (analytic += gi * dir.get(n)![i]));
    const rel = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(numeric), Math.abs(analytic));
    assert.ok(rel < 2e-2, `${label} direction ${c}: numeric ${numeric} vs analytic ${analytic} (rel ${rel})`);
  }
  // every parameter receives a gradient that is not all zeros
  for (const [n, g] of grads) assert.ok(g.some((x) => x !== 0), `zero gradient for ${n}`);
}

const ids = (vals: number[]) => BigInt64Array.from(vals.map(BigInt));

test('autodiff: elementwise ops, relu, matmul, softmax, layernorm match finite differences', async () => {
  const build: Build = (t) => {
    const x = t.input('x', [3, 4]);
    const w = t.param('w', [4, 5]);
    const b = t.param('b', [5]);
    const s = t.param('s', [3, 1]);
    const ln = t.param('ln.weight', [5]);
    const lb = t.param('ln.bias', [5]);
    let h = t.relu(t.add(t.matmul(x, w), b));
    h = t.sub(t.mul(h, s), t.scale(h, 0.5));
    h = t.layerNorm(t.gelu(h), ln, lb, 1e-5);
    const y = t.softmax(h);
    const tg = t.input('targets', [3], 'int64');
    const wt = t.input('loss_weights', [3]);
    return { loss: t.crossEntropy(t.add(y, h), tg, wt), inputs: [x, tg, wt] };
  };
  const batch = { x: Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1)), targets: ids([1, 4, 0]), loss_weights: new Float32Array([1, 0.5, 1]) };
  await directionalCheck(build, batch, 3);
});

test('autodiff: a 2-layer GPT-2 (gather, split, attention, tied head) matches finite differences', async () => {
  const shape: Gpt2Shape = { vocab: 11, positions: 8, hidden: 8, layers: 2, heads: 2, intermediate: 16 };
  const B = 2;
  const T = 5;
  const build: Build = (t) => buildGpt2(t, shape, B, T);
  const batch = {
    input_ids: ids([1, 2, 3, 4, 5, 6, 7, 8, 9, 1]),
    position_ids: ids([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]),
    targets: ids([2, 3, 4, 5, 6, 7, 8, 9, 1, 0]),
    loss_weights: new Float32Array([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]),
  };
  await directionalCheck(build, batch, 7);
  assert.equal(gpt2ParamShapes(shape).length, 2 + 12 * 2 + 2);
});

test('autodiff: small-LM families (mlp context window, attention with RoPE, transformer) match finite differences', async () => {
  const { buildSmallLm } = await import('../../src/train/models/small-lm.js');
  const B = 2;
  const T = 4;
  const targets = ids([1, 2, 3, 4, 5, 6, 0, 1]);
  const loss_weights = new Float32Array(8).fill(1);
  const base = { vocab: 7, width: 8, context: 3, hiddenUnits: 6, layers: 2, heads: 2, seq: T };
  await directionalCheck((t) => buildSmallLm(t, { ...base, family: 'mlp', positions: 'none' }, B, T), { context_ids: ids(Array.from({ length: 24 }, (_, i) => i % 7)), targets, loss_weights }, 11, 4, 'mlp', 1e-4); // small steps: 144 ReLU kinks nearby
  for (const positions of ['rope', 'learned'] as const) {
    await directionalCheck((t) => buildSmallLm(t, { ...base, family: 'transformer', positions }, B, T), { input_ids: ids([3, 1, 4, 1, 5, 2, 6, 5]), targets, loss_weights }, 13, 4, positions);
  }
  // the paper's shapes: post-LN attention block with a ReLU FFN (loss at the last position only), two-hidden-layer MLP
  const last = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1]);
  await directionalCheck((t) => buildSmallLm(t, { ...base, family: 'attention', positions: 'learned', ffHidden: 12, norm: 'post', activation: 'relu' }, B, T), { input_ids: ids([3, 1, 4, 1, 5, 2, 6, 5]), targets, loss_weights: last }, 17, 4, 'post-LN attention', 1e-4);
  await directionalCheck((t) => buildSmallLm(t, { ...base, family: 'mlp', positions: 'none', mlpLayers: 2 }, B, T), { context_ids: ids(Array.from({ length: 24 }, (_, i) => (i * 3) % 7)), targets, loss_weights }, 19, 4, 'mlp 2 layers', 1e-4);
});

test('autodiff: Llama with grouped-query attention (RMSNorm, SwiGLU, RoPE, repeated kv heads) matches finite differences', async () => {
  const { buildLlama } = await import('../../src/train/models/llama.js');
  const shape = { vocab: 9, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 12, seq: 4 };
  await directionalCheck((t) => buildLlama(t, shape, 2, 4), { input_ids: ids([1, 2, 3, 4, 5, 6, 7, 8]), targets: ids([2, 3, 4, 5, 6, 7, 8, 0]), loss_weights: new Float32Array(8).fill(1) }, 17, 4, 'llama');
});
