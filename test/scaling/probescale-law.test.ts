/** The ProbeScale law (gain retention over model size and kept fraction): planted parameters are recovered,
 * and leave-one-model-out gives one held-out error per model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitProbeScaleLaw, leaveOneModelOut, predictGain, lawExponent, type LawPoint } from '../../src/scaling/probescale-law.js';
import { mulberry32, normal } from '../../src/probe/random.js';

const truth = { a: 0.7, b: 0.4 };
const sizes = { tiny: 2e5, small: 4e5, mid: 1.5e6, big: 6e6 };

function planted(noise: number, seed = 1): LawPoint[] {
  const r = mulberry32(seed);
  const pts: LawPoint[] = [];
  for (const [model, N] of Object.entries(sizes)) for (const k of [0.1, 0.2, 0.3, 0.5, 0.7]) pts.push({ model, N, k, g: predictGain(truth, k, N) + noise * normal(r) });
  return pts;
}

test('law: G(0) = 0, G(1) = 1, larger N keeps more at equal k when b > 0', () => {
  assert.equal(predictGain(truth, 1, 1e6), 1);
  assert.ok(Math.abs(predictGain(truth, 1e-12, 1e6)) < 1e-9);
  assert.ok(predictGain(truth, 0.3, 6e6) > predictGain(truth, 0.3, 2e5));
  assert.ok(Math.abs(lawExponent(truth, 1e6) - Math.exp(0.7)) < 1e-12);
});

test('law: least squares recovers planted a and b (exact and noisy points)', async () => {
  const exact = await fitProbeScaleLaw(planted(0));
  assert.ok(Math.abs(exact.a - truth.a) < 1e-3 && Math.abs(exact.b - truth.b) < 1e-3, `a ${exact.a} b ${exact.b}`);
  assert.ok(exact.rmse < 1e-4);
  const noisy = await fitProbeScaleLaw(planted(0.02, 3));
  assert.ok(Math.abs(noisy.a - truth.a) < 0.15 && Math.abs(noisy.b - truth.b) < 0.1, `a ${noisy.a} b ${noisy.b}`);
  assert.ok(noisy.rmse > 0.01 && noisy.rmse < 0.03, `rmse ${noisy.rmse}`);
  assert.equal(noisy.sizes, 4);
});

test('law: leave-one-model-out gives one error per model; the size-free law is worse held out when size matters', async () => {
  const pts = planted(0.01, 5);
  const lomo = await leaveOneModelOut(pts);
  assert.deepEqual(lomo.map((e) => e.model), Object.keys(sizes));
  for (const e of lomo) {
    assert.equal(e.points, 5);
    assert.ok(e.rmse >= 0 && e.mae >= 0 && e.mae <= e.rmse + 1e-12);
    assert.ok(e.rmse < 0.05, `${e.model}: ${e.rmse}`);
  }
  // extrapolating to the smallest and largest models needs b
  for (const m of ['tiny', 'big']) {
    const e = lomo.find((x) => x.model === m)!;
    assert.ok(e.rmse < e.sizeFreeRmse, `${m}: ${e.rmse} vs size-free ${e.sizeFreeRmse}`);
  }
});

test('law: too few points or models is a clear error', async () => {
  await assert.rejects(fitProbeScaleLaw([{ model: 'x', N: 1e5, k: 0.5, g: 0.5 }]), /need at least 2/);
  await assert.rejects(leaveOneModelOut([{ model: 'x', N: 1e5, k: 0.5, g: 0.5 }, { model: 'x', N: 1e5, k: 0.7, g: 0.8 }]), /need at least 2/);
  await assert.rejects(fitProbeScaleLaw([{ model: 'x', N: 1e5, k: 0, g: 0 }, { model: 'y', N: 2e5, k: 0.5, g: 0.4 }]), /0 < k <= 1/);
});
