/** Scaling-law fitters recover known parameters from noisy synthetic data and reject bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitChinchilla, fitConditional, chinchillaLoss, conditionalLoss, type LossPoint } from '../../src/scaling/chinchilla.js';
import { fitRetention, budgetForRetention, predictRetention, FORMS } from '../../src/scaling/retention.js';
import { mulberry32, normal } from '../../src/probe/random.js';

test('Chinchilla fit recovers E, A, B, alpha, beta from noisy data', async () => {
  const truth = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };
  const r = mulberry32(1);
  const pts: LossPoint[] = [];
  for (const N of [1e6, 3e6, 1e7, 3e7, 1e8, 3e8]) for (const D of [1e8, 3e8, 1e9, 3e9, 1e10]) pts.push({ N, D, loss: chinchillaLoss(truth, N, D) * Math.exp(0.002 * normal(r)) });
  const { params } = await fitChinchilla(pts);
  assert.ok(Math.abs(params.E - truth.E) / truth.E < 0.05, `E ${params.E}`);
  assert.ok(Math.abs(params.alpha - truth.alpha) < 0.05, `alpha ${params.alpha}`);
  assert.ok(Math.abs(params.beta - truth.beta) < 0.05, `beta ${params.beta}`);
  // predictions inside the grid are accurate even where A, B trade off
  assert.ok(Math.abs(chinchillaLoss(params, 5e7, 2e9) / chinchillaLoss(truth, 5e7, 2e9) - 1) < 0.01);
});

test('conditional law recovers the architecture terms', async () => {
  const truth = { E: 1.8, A: 300, B: 300, alpha: 0.33, beta: 0.3, ch: 0.02, h0: 2, rho: 0.3, cr: 0.03, r0: 2.5, cg: 0.01 };
  const r = mulberry32(2);
  const pts: LossPoint[] = [];
  for (const N of [1e6, 1e7, 1e8]) for (const D of [1e8, 1e9, 1e10]) for (const hidden of [64, 256, 1024]) for (const ratio of [1, 2.5, 6]) for (const groups of [1, 4]) {
    const pt = { N, D, hidden, mlpAttnRatio: ratio, groups };
    pts.push({ ...pt, loss: conditionalLoss(truth, pt) * Math.exp(0.001 * normal(r)) });
  }
  const { params } = await fitConditional(pts);
  assert.ok(Math.abs(params.r0 - truth.r0) / truth.r0 < 0.1, `r0 ${params.r0}`);
  assert.ok(Math.abs(params.rho - truth.rho) < 0.05, `rho ${params.rho}`);
  assert.ok(Math.abs(params.cg - truth.cg) < 0.005, `cg ${params.cg}`);
  assert.ok(Math.abs(params.ch - truth.ch) < 0.005, `ch ${params.ch}`);
});

test('retention curve: picks the generating form by held-out error and inverts it', async () => {
  const r = mulberry32(3);
  const truth = Float64Array.from([Math.log(0.05), Math.log(0.8)]); // power form a = 0.05, b = 0.8
  const xs = [0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1];
  const pts = xs.map((x) => ({ x, r: FORMS.power.eval(truth, x) + 0.002 * normal(r) }));
  const fit = await fitRetention(pts, { bootstrap: 40, seed: 1 });
  assert.equal(fit.form, 'power');
  assert.ok(Math.abs(fit.params.b - 0.8) < 0.15, `b ${fit.params.b}`);
  assert.ok(fit.ci && fit.ci.b[0] <= fit.params.b && fit.params.b <= fit.ci.b[1]);
  const x95 = budgetForRetention(fit, 0.95);
  assert.ok(Math.abs(predictRetention(fit, x95) - 0.95) < 1e-6);
  const exact = 1 / Math.pow(1 + 0.05 / 0.05, 1 / 0.8); // 1 - a (x^-b - 1) = 0.95  ->  x = (1 + 0.05/a)^(-1/b)
  assert.ok(Math.abs(x95 - exact) < 0.05, `x95 ${x95} vs ${exact}`);
});

test('bad inputs: too few points, non-positive values', async () => {
  await assert.rejects(fitChinchilla([{ N: 1e6, D: 1e9, loss: 3 }]), /Chinchilla fit: 1 data point\(s\), need at least 6/);
  await assert.rejects(fitChinchilla(Array.from({ length: 6 }, (_, i) => ({ N: 1e6 * (i + 1), D: 1e9, loss: i === 3 ? -1 : 3 }))), /point 4 has a non-positive/);
  await assert.rejects(fitRetention([{ x: 0.5, r: 0.9 }, { x: 1, r: 1 }]), /need at least 3/);
});

test('architecture shapes: analytic parameter count equals the generated checkpoint; budget respected', async () => {
  const { shapeAt, llamaParameters, mlpAttentionRatio, randomLlama } = await import('../../src/scaling/architecture.js');
  for (const [hidden, ratio, groups] of [[128, 2, 1], [128, 4, 2], [192, 1, 3]] as const) {
    const s = shapeAt(2e6, hidden, ratio, groups, 1000)!;
    assert.ok(s, `shape h${hidden} r${ratio} g${groups}`);
    assert.equal(s.heads / s.kvHeads, groups);
    assert.ok(Math.abs(mlpAttentionRatio(s) - ratio) / ratio < 0.1, `ratio ${mlpAttentionRatio(s)}`);
    assert.ok(Math.abs(llamaParameters(s) - 2e6) / 2e6 < 0.25, `params ${llamaParameters(s)}`);
    assert.equal(randomLlama(s).weights.parameterCount(), llamaParameters(s));
  }
  assert.equal(shapeAt(1e4, 512, 2, 1, 1000), undefined, 'no layer fits');
});
