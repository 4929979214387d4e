import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tape, type V } from '../../src/train/autodiff.js';
import { CompiledStep } from '../../src/train/backend.js';
import { Initializer } from '../../src/train/init.js';
import { buildGpt2, gpt2ParamShapes, type Gpt2Shape } from '../../src/train/models/gpt2.js';

type Build = (t: Tape) => { loss: V; inputs: V[] };

/** Central differences of the loss along random directions must match grad . direction. */
async function directionalCheck(build: Build, batch: Record<string, Float32Array | BigInt64Array>, seed: number, checks = 4) {
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
  const eps = 1e-2;
  for (let c = 0; c < checks; c++) {
    const dir = new Map([...params].map(([n, p]) => [n, init.normalArray(p.length, 1)]));
    const shifted = (sign: number) => new Map([...params].map(([n, p]) => [n, p.map((x, i) => x + sign * eps * dir.get(n)![i])]));
    const plus = (await evaluate.run(shifted(1), batch)).loss;
    const minus = (await evaluate.run(shifted(-1), batch)).loss;
    const numeric = (plus - minus) / (2 * eps);
    let analytic = 0;
    for (const [n, g] of grads) g.forEach((gi, i) => (analytic += gi * dir.get(n)![i]));
    const rel = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(numeric), Math.abs(analytic));
    assert.ok(rel < 2e-2, `direction ${c}: numeric ${numeric} vs analytic ${analytic} (rel ${rel})`);
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
