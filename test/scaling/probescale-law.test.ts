/** The ProbeScale law (gain retention over model size and kept fraction): planted parameters are recovered,
 * and leave-one-model-out gives one held-out error per model; the best-layer reference, R and the composed
 * prediction G_final = R * G_best on planted data with R > 1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestReference, composedLeaveOneModelOut, composedRmse, decomposeModel, fitProbeScaleLaw, gainVsBest, leaveOneModelOut, predictGain, lawExponent, type LawPoint } from '../../src/scaling/probescale-law.js';
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

// --- the best-layer reference and the decomposition G_final = R * G_best ---

const ref = (over: Partial<Parameters<typeof bestReference>[0]> = {}) => ({ classes: 5, embeddings: 0.6, embeddingsHi: 0.61, final: 0.65, layers: 6, best: { state: 2, test: 0.7, lo: 0.69, hi: 0.71 }, ...over });

test('best reference: the dev-chosen layer, the final one when dev chose the last state, and why not when degenerate', () => {
  assert.deepEqual(bestReference(ref()), { value: 0.7, state: 2 });
  // state L is the final representation: its value is the final reference itself (R exactly 1), defined with it
  assert.deepEqual(bestReference(ref({ best: { state: 6, test: 0.651, lo: 0.64, hi: 0.66 } })), { value: 0.65, state: 6 });
  const why = (r: ReturnType<typeof bestReference>) => ('why' in r ? r.why : '');
  assert.match(why(bestReference(ref({ finalUndefined: 'within sampling noise', best: { state: 6, test: 0.651, lo: 0.64, hi: 0.66 } }))), /is the final layer: within sampling noise/);
  assert.match(why(bestReference(ref({ best: { state: 0, test: 0.61, lo: 0.6, hi: 0.62 } }))), /embeddings themselves/);
  // above the embeddings' score but not above their CI: degenerate (gain vs best would divide by noise)
  assert.match(why(bestReference(ref({ best: { state: 3, test: 0.63, lo: 0.605, hi: 0.655 } }))), /not wholly above the embeddings' \(0\.600, upper end 0\.610\)/);
  assert.match(why(bestReference(ref({ classes: 1 }))), /only 1 class/);
  assert.match(why(bestReference(ref({ best: undefined }))), /no best-layer reference/);
});

test("decomposition: R and depth per task, R's weighted mean; a degenerate best falls back to the final layer (R = 1)", () => {
  const d = decomposeModel('m', 1e6, [
    { task: 'word', weight: 1, ref: ref() }, // R = (0.7 - 0.6) / (0.65 - 0.6) = 2, depth 2/6
    { task: 'sent', weight: 3, ref: ref({ embeddings: 0.5, embeddingsHi: 0.52, final: 0.7, best: { state: 1, test: 0.55, lo: 0.53, hi: 0.57 } }) }, // R = 0.25
    { task: 'flat', weight: 1, ref: ref({ finalUndefined: 'within noise', best: { state: 4, test: 0.62, lo: 0.58, hi: 0.66 } }) },
    { task: 'early0', weight: 2, ref: ref({ best: { state: 0, test: 0.6, lo: 0.59, hi: 0.61 } }) },
  ]);
  const t = Object.fromEntries(d.tasks.map((x) => [x.task, x]));
  assert.ok(Math.abs(t.word.R! - 2) < 1e-12 && Math.abs(t.sent.R! - 0.25) < 1e-12);
  assert.ok(Math.abs(t.word.depth! - 2 / 6) < 1e-12 && Math.abs(t.sent.depth! - 1 / 6) < 1e-12);
  // no final-layer gain and a degenerate best: no reference at all, said why
  assert.equal(t.flat.R, undefined);
  assert.equal(t.flat.best, undefined);
  assert.match(t.flat.bestUndefined!, /not wholly above/);
  // best degenerate, final defined: the final layer stands in
  assert.equal(t.early0.R, 1);
  assert.equal(t.early0.best, 0.65);
  assert.equal(t.early0.depth, 1);
  assert.match(t.early0.bestUndefined!, /final layer stands in/);
  // weighted over the tasks with a defined final-layer gain: (1*2 + 3*0.25 + 2*1) / 6
  assert.ok(Math.abs(d.R! - (2 + 0.75 + 2) / 6) < 1e-12, `R ${d.R}`);
  // gain vs best over the tasks with a best reference; and per task gain vs final = R * gain vs best
  const scores = { word: 0.68, sent: 0.6, flat: 0.61, early0: 0.63 };
  const gb = gainVsBest(d, scores)!;
  const perBest = { word: (0.68 - 0.6) / 0.1, sent: (0.6 - 0.5) / 0.05, early0: (0.63 - 0.6) / 0.05 };
  assert.ok(Math.abs(gb - (perBest.word + 3 * perBest.sent + 2 * perBest.early0) / 6) < 1e-12, `gain vs best ${gb}`);
  const gFinal = ((0.68 - 0.6) / 0.05 + (3 * (0.6 - 0.5)) / 0.2 + (2 * (0.63 - 0.6)) / 0.05) / 6;
  const composed = (1 * 2 * perBest.word + 3 * 0.25 * perBest.sent + 2 * 1 * perBest.early0) / 6;
  assert.ok(Math.abs(composed - gFinal) < 1e-12);
});

/** Points of a planted law: per model a best-layer depth d and an R; G_best = G(min(1, k / d)) + noise, G_final = R * G_best. */
function plantedWithReferences(R: Record<string, number>, depth: Record<string, number>, seed: number) {
  const r = mulberry32(seed);
  const best: LawPoint[] = [];
  const final: LawPoint[] = [];
  for (const [model, N] of Object.entries(sizes)) {
    for (const k of [0.1, 0.2, 0.3, 0.5, 0.7]) {
      const g = predictGain(truth, Math.min(1, k / depth[model]), N) + 0.01 * normal(r);
      best.push({ model, N, k, g, tasks: [{ weight: 1, depth: depth[model] }] });
      final.push({ model, N, k, g: R[model] * g, tasks: [{ weight: 1, depth: depth[model], R: R[model] }] });
    }
  }
  return { best, final };
}

test('decomposition: a planted law with R > 1 is recovered on G_best, and R * G_best predicts G_final held out where the capped law cannot', async () => {
  const R: Record<string, number> = { tiny: 1, small: 2.5, mid: 1.2, big: 3 };
  const { best, final } = plantedWithReferences(R, { tiny: 1, small: 1, mid: 1, big: 1 }, 11);
  const fit = await fitProbeScaleLaw(best);
  assert.ok(Math.abs(fit.a - truth.a) < 0.15 && Math.abs(fit.b - truth.b) < 0.1, `a ${fit.a} b ${fit.b}`);
  const inSample = composedRmse(fit, final)!;
  assert.equal(inSample.points, 20);
  assert.ok(inSample.rmse < 0.05, `composed in-sample rmse ${inSample.rmse}`);
  const composed = await composedLeaveOneModelOut(best, final);
  const direct = await leaveOneModelOut(final);
  assert.deepEqual(composed.map((e) => e.model), Object.keys(sizes));
  for (const e of composed) {
    assert.equal(e.R, R[e.model]);
    assert.ok(e.rmse < 0.08 * R[e.model], `${e.model}: composed held-out rmse ${e.rmse}`);
    const d = direct.find((x) => x.model === e.model)!;
    // G_final up to 3 is out of reach of a law capped at 1
    if (R[e.model] >= 2.5) assert.ok(d.rmse > 0.5 && e.rmse < d.rmse / 5, `${e.model}: direct ${d.rmse} vs composed ${e.rmse}`);
  }
  // a final-layer point without R is not checked; a model without G_best points is still predicted
  const noR = final.map((p) => (p.model === 'tiny' ? { ...p, tasks: [{ weight: 1, depth: 1 }] } : p));
  const partial = await composedLeaveOneModelOut(best.filter((p) => p.model !== 'mid'), noR);
  assert.deepEqual(partial.map((e) => e.model).sort(), ['big', 'mid', 'small']);
});

test('decomposition, depth: early best layers planted; k counted up to the best layer recovers the law, plain k does not', async () => {
  const R: Record<string, number> = { tiny: 1, small: 2, mid: 1.2, big: 3 };
  const depth: Record<string, number> = { tiny: 1, small: 1 / 3, mid: 1, big: 1 / 6 };
  const { best, final } = plantedWithReferences(R, depth, 13);
  const fit = await fitProbeScaleLaw(best, { depth: true });
  assert.ok(Math.abs(fit.a - truth.a) < 0.15 && Math.abs(fit.b - truth.b) < 0.1, `depth: a ${fit.a} b ${fit.b}`);
  assert.ok(fit.rmse < 0.02, `depth rmse ${fit.rmse}`);
  const plain = await fitProbeScaleLaw(best);
  assert.ok(plain.rmse > 3 * fit.rmse, `plain k: rmse ${plain.rmse} vs depth ${fit.rmse}`);
  const withDepth = await composedLeaveOneModelOut(best, final, { depth: true });
  const withK = await composedLeaveOneModelOut(best, final);
  for (const e of withDepth) assert.ok(e.rmse < 0.1 * R[e.model], `${e.model}: depth, composed held out ${e.rmse}`);
  const big = (xs: typeof withK) => xs.find((e) => e.model === 'big')!.rmse;
  assert.ok(big(withDepth) < big(withK) / 3, `big: depth ${big(withDepth)} vs k ${big(withK)}`);
});
