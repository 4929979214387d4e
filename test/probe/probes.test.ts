/** Probes recover planted signal, sit at chance on noise, and the statistics around them are right. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogisticProbe } from '../../src/probe/logistic.js';
import { RidgeProbe } from '../../src/probe/ridge.js';
import { MlpProbe } from '../../src/probe/mlp.js';
import { lbfgs } from '../../src/probe/lbfgs.js';
import { jsObjective, ortObjective, transposeWithOnes } from '../../src/probe/softmax-objective.js';
import { ProbeSessions } from '../../src/probe/sessions.js';
import { inverseCholesky } from '../../src/probe/precondition.js';
import { binaryF1, macroF1, mcc, spanF1, accuracyScore } from '../../src/probe/metrics.js';
import { bootstrapCI } from '../../src/probe/bootstrap.js';
import { makeControlLabels, labelDistribution } from '../../src/probe/control.js';
import { mdlOnlineCode } from '../../src/probe/mdl.js';
import { summarizeLayers, layersAddLine } from '../../src/probe/layers.js';
import { mulberry32, normal } from '../../src/probe/random.js';
import { Standardizer, type Matrix } from '../../src/probe/types.js';

/** n points in d dims, K classes from a planted linear map (+ label noise rate). */
function planted(n: number, d: number, K: number, seed: number, noise = 0) {
  const r = mulberry32(seed);
  const W = Float64Array.from({ length: d * K }, () => normal(r));
  const X = Float32Array.from({ length: n * d }, () => normal(r));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestV = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += X[i * d + c] * W[c * K + k];
      if (s > bestV) (bestV = s), (best = k);
    }
    y[i] = r() < noise ? Math.floor(r() * K) : best;
  }
  return { X: { data: X, rows: n, cols: d } as Matrix, y, W };
}

const split = (m: Matrix, y: Int32Array, a: number, b: number) => ({ X: { data: m.data.subarray(a * m.cols, b * m.cols), rows: b - a, cols: m.cols }, y: y.subarray(a, b) });

test('L-BFGS minimizes Rosenbrock and a quadratic', async () => {
  const rosen = await lbfgs((x, g) => {
    const [a, b] = x;
    g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
    g[1] = 200 * (b - a * a);
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
  }, Float64Array.from([-1.2, 1]), { maxIter: 500, gtol: 1e-10, ftol: 0 });
  assert.ok(Math.abs(rosen.x[0] - 1) < 1e-4 && Math.abs(rosen.x[1] - 1) < 1e-4, `rosenbrock at ${rosen.x}`);
  const quad = await lbfgs((x, g) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      g[i] = (i + 1) * (x[i] - i);
      f += 0.5 * (i + 1) * (x[i] - i) ** 2;
    }
    return f;
  }, new Float64Array(20), { gtol: 1e-10, ftol: 0 });
  quad.x.forEach((v, i) => assert.ok(Math.abs(v - i) < 1e-6));
});

test('softmax objective: gradient matches finite differences; onnxruntime backend agrees with loops', async () => {
  const { X, y } = planted(60, 5, 3, 1);
  const obj = jsObjective(X, y, 3);
  const r = mulberry32(9);
  const p = Float64Array.from({ length: 18 }, () => normal(r) * 0.3);
  const g = new Float64Array(18);
  const f0 = await obj.evaluate(p, g, 0.7);
  for (let i = 0; i < 18; i++) {
    const q = Float64Array.from(p);
    q[i] += 1e-6;
    const num = ((await obj.evaluate(q, new Float64Array(18), 0.7)) - f0) / 1e-6;
    assert.ok(Math.abs(num - g[i]) < 1e-4, `d/dp${i}: ${num} vs ${g[i]}`);
  }
  // one pooled session per graph variant serves both onnxruntime objectives below (same shape, different
  // standardization); X read transposed in place, or through a copy of X^T kept in the pool
  const pool = new ProbeSessions(1);
  const raw = { ...X, data: X.data.map((v, i) => 30 * ((i % 5) - 2) + 5 * v) };
  const std = new Standardizer().fit(raw);
  const g3 = new Float64Array(18);
  const f3 = await jsObjective(std.transform(raw), y, 3).evaluate(p, g3, 0.7);
  for (const transposeInto of [undefined, 'xt']) {
    const ortObj = await ortObjective(X, y, 3, pool, undefined, undefined, transposeInto);
    const g2 = new Float64Array(18);
    const f1 = await ortObj.evaluate(p, g2, 0.7);
    assert.ok(Math.abs(f1 - f0) < 1e-5);
    g.forEach((v, i) => assert.ok(Math.abs(v - g2[i]) < 1e-5, `${transposeInto}: d/dp${i}: ${v} vs ${g2[i]}`));
    // standardization folded into the onnxruntime objective = the loops on a standardized copy, even for raw
    // features far from zero mean and unit scale (as hidden states with large-offset dimensions are)
    const g4 = new Float64Array(18);
    const folded = await ortObjective(raw, y, 3, pool, std, undefined, transposeInto);
    const f4 = await folded.evaluate(p, g4, 0.7);
    assert.ok(Math.abs(f3 - f4) < 1e-5, `${f3} vs ${f4}`);
    g3.forEach((v, i) => assert.ok(Math.abs(v - g4[i]) < 1e-4, `${transposeInto}: d/dp${i}: ${v} vs ${g4[i]}`));
  }
  await pool.release();
});

test('transposeWithOnes: X^T over a row of ones, across tile edges and leftover rows', () => {
  for (const [n, d] of [[1, 1], [7, 3], [131, 130], [260, 5]]) {
    const X = { data: Float32Array.from({ length: n * d }, (_, i) => i + 1), rows: n, cols: d };
    const out = transposeWithOnes(X, new Float32Array((d + 1) * n).fill(-1));
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < d; c++) assert.equal(out[c * n + r], X.data[r * d + c], `${n}x${d} at (${r}, ${c})`);
      assert.equal(out[d * n + r], 1);
    }
  }
});

test('onnxruntime objective in changed variables W = M V: loss equals the loops at W, gradient is M^T dF/dW', async () => {
  const { X, y } = planted(80, 6, 3, 3);
  const d = 6;
  const K = 3;
  const r = mulberry32(17);
  const raw = { ...X, data: X.data.map((v, i) => 4 * (i % d) + 2 * v) };
  const std = new Standardizer().fit(raw);
  const M = Float32Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0) + 0.3 * normal(r));
  const MT = Float32Array.from({ length: d * d }, (_, i) => M[(i % d) * d + Math.floor(i / d)]);
  const v = Float64Array.from({ length: (d + 1) * K }, () => normal(r) * 0.3);
  // W = M V (weights), bias as is
  const w = Float64Array.from(v);
  for (let i = 0; i < d; i++) for (let k = 0; k < K; k++) w[i * K + k] = M.subarray(i * d, (i + 1) * d).reduce((s, m, j) => s + m * v[j * K + k], 0);
  const gw = new Float64Array(v.length);
  const fw = await jsObjective(std.transform(raw), y, K).evaluate(w, gw, 0.7);
  const pool = new ProbeSessions(1);
  for (const transposeInto of [undefined, 'xt']) {
    const obj = await ortObjective(raw, y, K, pool, std, { M, MT }, transposeInto);
    const gv = new Float64Array(v.length);
    const fv = await obj.evaluate(v, gv, 0.7);
    assert.ok(Math.abs(fw - fv) < 1e-5, `${fw} vs ${fv}`);
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < K; k++) {
        const expected = Array.from({ length: d }, (_, i) => M[i * d + j] * gw[i * K + k]).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(gv[j * K + k] - expected) < 1e-4, `${transposeInto}: dF/dV[${j},${k}]: ${gv[j * K + k]} vs ${expected}`);
      }
    }
    for (let k = 0; k < K; k++) assert.ok(Math.abs(gv[d * K + k] - gw[d * K + k]) < 1e-5);
    // the stopping test sees the gradient in W
    assert.ok(Math.abs(obj.gradMax!(gv) - Math.max(...gw.map(Math.abs))) < 1e-5);
  }
  await pool.release();
});

test('logistic probe recovers a planted linear signal (both backends)', async () => {
  const { X, y, W } = planted(3000, 20, 3, 2);
  const tr = split(X, y, 0, 2000);
  const dv = split(X, y, 2000, 2500);
  const te = split(X, y, 2500, 3000);
  for (const backend of ['js', 'ort'] as const) {
    const probe = await new LogisticProbe(3, { backend }).fit(tr.X, tr.y, { dev: dv });
    const acc = probe.score(te.X, te.y);
    assert.ok(acc > 0.95, `${backend}: accuracy ${acc}`);
    // the learned class-0-minus-class-1 direction points along the planted one
    const { weight } = probe.exportLinear();
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let c = 0; c < 20; c++) {
      const a = weight[c * 3] - weight[c * 3 + 1];
      const b = W[c * 3] - W[c * 3 + 1];
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    assert.ok(dot / Math.sqrt(na * nb) > 0.9, `${backend}: cosine ${dot / Math.sqrt(na * nb)}`);
  }
});

test('on random features with random labels probes score at chance; selectivity ~ 0', async () => {
  const r = mulberry32(3);
  const n = 2000;
  const K = 4;
  const X: Matrix = { data: Float32Array.from({ length: n * 16 }, () => normal(r)), rows: n, cols: 16 };
  const y = Int32Array.from({ length: n }, () => Math.floor(r() * K));
  const tr = split(X, y, 0, 1000);
  const te = split(X, y, 1000, 2000);
  const acc = (await new LogisticProbe(K).fit(tr.X, tr.y)).score(te.X, te.y);
  const tol = 3 * Math.sqrt((0.25 * 0.75) / 1000); // 3 standard errors around chance
  assert.ok(Math.abs(acc - 0.25) < tol, `accuracy ${acc} not at chance`);
  // control labels for made-up word types, same probe
  const words = Array.from({ length: n }, (_, i) => `w${i % 300}`);
  const ctrl = makeControlLabels(words, labelDistribution(y, K), 5);
  const ctrlAcc = (await new LogisticProbe(K).fit(tr.X, ctrl.subarray(0, 1000))).score(te.X, ctrl.subarray(1000));
  assert.ok(Math.abs(acc - ctrlAcc) < 2 * tol, `selectivity ${acc - ctrlAcc} should be ~0`);
});

test('control labels: consistent per word type, follow the label distribution', () => {
  const words = Array.from({ length: 5000 }, (_, i) => `t${i % 1000}`);
  const c = makeControlLabels(words, [1, 3], 11);
  for (let i = 1000; i < 5000; i++) assert.equal(c[i], c[i % 1000]);
  const frac1 = c.reduce((a, v) => a + v, 0) / c.length;
  assert.ok(Math.abs(frac1 - 0.75) < 0.06, `label 1 fraction ${frac1}`);
  assert.notDeepEqual(makeControlLabels(words, [1, 3], 12), c);
});

test('ridge matches the normal equations; MLP learns XOR that a linear probe cannot', async () => {
  const { X, y } = planted(500, 6, 2, 4);
  const ridge = await new RidgeProbe(2, [1]).fit(X, y);
  assert.ok(ridge.score(X, y) > 0.9);
  assert.equal(ridge.chosenAlpha, 1);
  const r = mulberry32(6);
  const n = 1200;
  const data = new Float32Array(n * 2);
  const yx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = r() < 0.5 ? -1 : 1;
    const b = r() < 0.5 ? -1 : 1;
    data[2 * i] = a + 0.2 * normal(r);
    data[2 * i + 1] = b + 0.2 * normal(r);
    yx[i] = a * b > 0 ? 1 : 0;
  }
  const Xx: Matrix = { data, rows: n, cols: 2 };
  const tr = split(Xx, yx, 0, 800);
  const dv = split(Xx, yx, 800, 1000);
  const te = split(Xx, yx, 1000, 1200);
  const lin = (await new LogisticProbe(2).fit(tr.X, tr.y)).score(te.X, te.y);
  const mlp = (await new MlpProbe(2, { hidden: 16, epochs: 60, lr: 1e-2, seed: 1 }).fit(tr.X, tr.y, { dev: dv })).score(te.X, te.y);
  assert.ok(lin < 0.7, `linear on XOR: ${lin}`);
  assert.ok(mlp > 0.95, `mlp on XOR: ${mlp}`);
  const again = (await new MlpProbe(2, { hidden: 16, epochs: 60, lr: 1e-2, seed: 1 }).fit(tr.X, tr.y, { dev: dv })).predictProba(te.X);
  assert.deepEqual(again, (await new MlpProbe(2, { hidden: 16, epochs: 60, lr: 1e-2, seed: 1 }).fit(tr.X, tr.y, { dev: dv })).predictProba(te.X), 'deterministic for a seed');
});

test('metrics against hand-computed values', () => {
  // y = [0,0,1,1,1,2], pred = [0,1,1,1,0,2]: class0 tp1 fp1 fn1 -> F1 .5; class1 tp2 fp1 fn1 -> 4/6; class2 -> 1
  const yt = Int32Array.from([0, 0, 1, 1, 1, 2]);
  const yp = Int32Array.from([0, 1, 1, 1, 0, 2]);
  assert.equal(accuracyScore(yt, yp), 4 / 6);
  assert.ok(Math.abs(macroF1(yt, yp, 3) - (0.5 + 4 / 6 + 1) / 3) < 1e-12);
  // binary: tp=2 (i=2,3), fp=1 (i=1), fn=1 (i=4) among labels {0,1} only
  assert.ok(Math.abs(binaryF1(Int32Array.from([0, 0, 1, 1, 1]), Int32Array.from([0, 1, 1, 1, 0])) - 4 / 6) < 1e-12);
  // MCC binary: tp=2 tn=1 fp=1 fn=1 -> (2*1 - 1*1)/sqrt(3*3*2*2) = 1/6
  assert.ok(Math.abs(mcc(Int32Array.from([0, 0, 1, 1, 1]), Int32Array.from([0, 1, 1, 1, 0]), 2) - 1 / 6) < 1e-12);
  assert.equal(mcc(yt, yt, 3), 1);
  const g = [[{ type: 'PER', start: 0, end: 2 }, { type: 'LOC', start: 3, end: 4 }]];
  const p = [[{ type: 'PER', start: 0, end: 2 }, { type: 'LOC', start: 3, end: 5 }, { type: 'ORG', start: 6, end: 7 }]];
  const s = spanF1(g, p); // tp 1, precision 1/3, recall 1/2, f1 0.4
  assert.ok(Math.abs(s.f1 - 0.4) < 1e-12);
});

test('bootstrap CI contains the score and narrows with more data', () => {
  const r = mulberry32(8);
  const mk = (n: number) => Int32Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0));
  const width = (n: number) => {
    const ok = mk(n);
    const ci = bootstrapCI(n, (idx) => idx.reduce((a, i) => a + ok[i], 0) / idx.length, { B: 500, seed: 1 });
    assert.ok(ci.lo <= ci.score && ci.score <= ci.hi);
    return ci.hi - ci.lo;
  };
  const w100 = width(100);
  const w2500 = width(2500);
  assert.ok(w2500 < w100 / 3, `CI width ${w2500} vs ${w100}`);
});

test('MDL: learnable labels compress, random labels do not', async () => {
  const { X, y } = planted(2000, 10, 3, 12);
  const learn = await mdlOnlineCode(X, y, 3, (K) => new LogisticProbe(K, { maxIter: 50 }));
  assert.ok(learn.compression > 2, `compression ${learn.compression}`);
  const r = mulberry32(13);
  const yr = Int32Array.from({ length: 2000 }, () => Math.floor(r() * 3));
  const rand = await mdlOnlineCode(X, yr, 3, (K) => new LogisticProbe(K, { maxIter: 50 }));
  assert.ok(rand.compression < 1.05, `random compression ${rand.compression}`);
});

/** layer results from dev and test score lists (CI = test +- 0.02 unless given) */
function curve(dev: number[], test: number[], half = 0.02, layers = dev.map((_, l) => l)) {
  return dev.map((d, i) => ({ layer: layers[i], dev: d, score: test[i], lo: test[i] - half, hi: test[i] + half }));
}

test('layer summaries: deltas and expected layer on test, best and 95% layers on dev', () => {
  const scores = [0.5, 0.7, 0.92, 0.85, 0.95];
  const s = summarizeLayers(curve(scores, scores));
  assert.deepEqual(s.deltas.map((d) => +d.toFixed(6)), [0, 0.2, 0.22, -0.07, 0.1]);
  assert.ok(Math.abs(s.expectedLayer - (1 * 0.2 + 2 * 0.22 + 4 * 0.1) / 0.52) < 1e-9);
  assert.equal(s.bestLayer, 4);
  assert.equal(s.first95, 2); // 0.92 >= 0.95 * 0.95
});

test('layer summaries: the best layer is chosen on dev and reported with its test score and CI, not the test argmax', () => {
  // dev peaks at layer 2; test's (lucky) maximum is layer 3 — the old summary (argmax of test) said 3
  const s = summarizeLayers(curve([0.5, 0.8, 0.9, 0.86], [0.5, 0.78, 0.84, 0.88]));
  assert.equal(s.bestLayer, 2);
  assert.equal(s.bestDev, 0.9);
  assert.equal(s.bestScore, 0.84);
  assert.ok(Math.abs(s.bestLo - 0.82) < 1e-12 && Math.abs(s.bestHi - 0.86) < 1e-12);
  // 95% of the best dev score (0.855): layer 2 on dev (0.8 falls short), whatever test says
  assert.equal(s.first95, 2);
  // expected layer still from the test curve's gains: 0.28, 0.06, 0.04
  assert.ok(Math.abs(s.expectedLayer - (1 * 0.28 + 2 * 0.06 + 3 * 0.04) / 0.38) < 1e-9);
  // ties on dev go to the lower layer
  assert.equal(summarizeLayers(curve([0.5, 0.9, 0.9], [0.5, 0.7, 0.8])).bestLayer, 1);
  // layer numbers, not positions, when only some layers were probed
  const sub = summarizeLayers(curve([0.5, 0.9, 0.7], [0.5, 0.8, 0.9], 0.02, [0, 3, 6]));
  assert.equal(sub.bestLayer, 3);
  assert.equal(sub.first95, 3);
});

test('layer summaries: "layers add beyond both CIs" is the best layer\'s test CI above the embeddings\' (touching is no)', () => {
  // best (dev) layer 2: test 0.70 [0.60, 0.80]; embeddings 0.50 [0.40, 0.60] — the CIs touch at 0.60
  const touching = summarizeLayers([
    { layer: 0, dev: 0.5, score: 0.5, lo: 0.4, hi: 0.6 },
    { layer: 1, dev: 0.6, score: 0.9, lo: 0.85, hi: 0.95 },
    { layer: 2, dev: 0.7, score: 0.7, lo: 0.6, hi: 0.8 },
  ]);
  assert.equal(touching.bestLayer, 2);
  assert.equal(touching.layersAddBeyondCIs, false, 'touching CIs: no (layer 1\'s test CI, above, does not count: it was not chosen on dev)');
  assert.deepEqual(touching.embeddings, { score: 0.5, lo: 0.4, hi: 0.6 });
  assert.match(layersAddLine(touching, 2), /^best layer 2 \(chosen on dev\) test 0\.70 \[0\.60, 0\.80\] vs embeddings 0\.50 \[0\.40, 0\.60\]; layers add beyond both CIs: no$/);
  const above = summarizeLayers([
    { layer: 0, dev: 0.5, score: 0.5, lo: 0.4, hi: 0.6 },
    { layer: 1, dev: 0.7, score: 0.7, lo: 0.61, hi: 0.8 },
  ]);
  assert.equal(above.layersAddBeyondCIs, true);
  assert.match(layersAddLine(above), /layers add beyond both CIs: yes$/);
  // the embeddings chosen on dev: nothing added
  assert.equal(summarizeLayers(curve([0.9, 0.8], [0.5, 0.9])).layersAddBeyondCIs, false);
  // layer 0 not probed: no verdict, said so
  const noEmb = summarizeLayers(curve([0.5, 0.9], [0.5, 0.9], 0.02, [2, 4]));
  assert.equal(noEmb.layersAddBeyondCIs, undefined);
  assert.match(layersAddLine(noEmb), /layers add beyond both CIs: not measured \(layer 0, the embeddings, was not probed\)$/);
});

test('bootstrap scorer: per-unit statistics give the same score as recomputing the metric on the resampled rows', async () => {
  const { makeScorer } = await import('../../src/probe/scoring.js');
  const { spansFromTags } = await import('../../src/data/spans.js');
  const r = mulberry32(5);
  // 40 sentences of 1-9 words; predictions right ~70% of the time
  const rowSentence: number[] = [];
  for (let s = 0; s < 40; s++) for (let w = 0, n = 1 + Math.floor(r() * 9); w < n; w++) rowSentence.push(s);
  const cases = [
    { kind: 'token', metric: 'accuracy', labels: ['A', 'B', 'C'] },
    { kind: 'token', metric: 'span-f1', labels: ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'] },
    { kind: 'token', metric: 'macro-f1', labels: ['A', 'B', 'C'] },
    { kind: 'sentence', metric: 'mcc', labels: ['no', 'yes'] },
    { kind: 'sentence', metric: 'f1', labels: ['no', 'yes'] },
    { kind: 'edge', metric: 'mcc', labels: ['a', 'b', 'c', 'd'] },
  ] as const;
  for (const c of cases) {
    const rows = c.kind === 'sentence' ? 40 : rowSentence.length;
    const K = c.labels.length;
    const labels = Int32Array.from({ length: rows }, () => Math.floor(r() * K));
    const pred = labels.map((y) => (r() < 0.7 ? y : Math.floor(r() * K)));
    const rs = c.kind === 'sentence' ? Int32Array.from({ length: rows }, (_, i) => i) : Int32Array.from(rowSentence);
    const scorer = makeScorer({ name: 't', kind: c.kind, metric: c.metric, labels: [...c.labels] } as never, { labels, rowSentence: rs } as never);
    const fast = scorer.forPredictions(pred);
    const units = Int32Array.from({ length: scorer.units }, () => Math.floor(r() * scorer.units));
    // the slow way: gather the rows of the resampled units and score them from scratch
    const byUnit = (u: number) => [...rs.keys()].filter((i) => rs[i] === u);
    let expected: number;
    if (c.metric === 'span-f1') {
      const tags = (u: number, v: Int32Array) => spansFromTags(byUnit(u).map((i) => c.labels[v[i]]));
      expected = spanF1([...units].map((u) => tags(u, labels)), [...units].map((u) => tags(u, pred))).f1;
    } else {
      const idx = [...units].flatMap(byUnit);
      const yt = Int32Array.from(idx, (i) => labels[i]);
      const yp = Int32Array.from(idx, (i) => pred[i]);
      expected = c.metric === 'accuracy' ? accuracyScore(yt, yp) : c.metric === 'mcc' ? mcc(yt, yp, K) : c.metric === 'f1' ? binaryF1(yt, yp) : macroF1(yt, yp, K);
    }
    assert.ok(Math.abs(fast(units) - expected) < 1e-12, `${c.metric}: ${fast(units)} vs ${expected}`);
    assert.ok(expected > 0.2 && expected < 0.95, `${c.metric}: a non-trivial score (${expected})`);
  }
});

test('paired bootstrap of a weighted difference: zero for identical systems, excludes 0 for a real gap, covers 0 for equal accuracy', async () => {
  const { pairedBootstrapDiff } = await import('../../src/probe/bootstrap.js');
  const r = mulberry32(3);
  const n = 400;
  const right = (p: number) => Int32Array.from({ length: n }, () => (r() < p ? 1 : 0));
  const acc = (v: Int32Array) => (idx: Int32Array) => idx.reduce((s, i) => s + v[i], 0) / idx.length;
  const a = right(0.8);
  const same = pairedBootstrapDiff([{ units: n, weight: 1, scoreA: acc(a), scoreB: acc(a) }], { B: 300 });
  assert.deepEqual([same.score, same.lo, same.hi], [0, 0, 0]);
  const gap = pairedBootstrapDiff([{ units: n, weight: 1, scoreA: acc(a), scoreB: acc(right(0.5)) }], { B: 300 });
  assert.ok(gap.lo > 0.15 && gap.hi < 0.45 && gap.above === 1, `gap ${gap.score} [${gap.lo}, ${gap.hi}]`);
  // two tasks with separate test sets, weights applied: equal accuracy on one, a gap on the other
  const b1 = Int32Array.from(a, (v, i) => (i < 200 ? v : 1 - v)); // same accuracy in expectation, different errors
  const tie = pairedBootstrapDiff([{ units: n, weight: 1, scoreA: acc(right(0.7)), scoreB: acc(right(0.7)) }], { B: 300 });
  assert.ok(tie.lo < 0 && tie.hi > 0, `tie [${tie.lo}, ${tie.hi}]`);
  const two = pairedBootstrapDiff([{ units: n, weight: 0.5, scoreA: acc(a), scoreB: acc(a) }, { units: n, weight: 0.5, scoreA: acc(a), scoreB: acc(b1) }], { B: 300 });
  assert.ok(Math.abs(two.score - 0.5 * (acc(a)(Int32Array.from({ length: n }, (_, i) => i)) - acc(b1)(Int32Array.from({ length: n }, (_, i) => i)))) < 1e-12);
});

test('whitened coordinates (exact change of variables) reach the same probe as plain coordinates', async () => {
  // correlated features (a shared factor + a duplicated column) make plain coordinates ill-conditioned
  const r = mulberry32(11);
  const n = 1500;
  const d = 12;
  const K = 4;
  const data = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const f = normal(r);
    for (let c = 0; c < d; c++) data[i * d + c] = 3 * f + normal(r);
    data[i * d + d - 1] = data[i * d]; // an exact duplicate: the covariance is singular without jitter
    y[i] = (data[i * d + 1] - data[i * d + 2] > 0 ? 1 : 0) + (data[i * d + 3] > 0 ? 2 : 0);
  }
  const X = { data, rows: n, cols: d };
  const dev = { X: { data: data.subarray(0, 300 * d), rows: 300, cols: d }, y: y.subarray(0, 300) };
  const fit = (precondition: boolean) => new LogisticProbe(K, { backend: 'ort', precondition, C: [0.1, 1], gtol: 1e-6, maxIter: 2000, threads: 1 }).fit(X, y, { dev });
  const [plain, white] = [await fit(false), await fit(true)];
  assert.equal(plain.chosenC, white.chosenC);
  // the same function of x: columns 0 and d-1 are identical, so only their sum is determined by the data
  // (the penalty splits it evenly, a direction whose curvature is below float32 loss resolution)
  const merged = (w: Float32Array) => Array.from(w.subarray(0, (d - 1) * K), (v, i) => (i < K ? v + w[(d - 1) * K + i] : v));
  const a = merged(plain.exportLinear().weight);
  const b = merged(white.exportLinear().weight);
  let diff = 0;
  let norm = 0;
  a.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - b[i]))), (norm = Math.max(norm, Math.abs(v)))));
  assert.ok(diff < 1e-3 * norm, `max weight difference ${diff} (max |w| ${norm})`);
  const pa = plain.predictProba(X);
  const pb = white.predictProba(X);
  let pdiff = 0;
  pa.forEach((v, i) => (pdiff = Math.max(pdiff, Math.abs(v - pb[i]))));
  assert.ok(pdiff < 1e-3, `max probability difference ${pdiff}`);
  assert.ok(white.iterations < plain.iterations, `whitened ${white.iterations} vs plain ${plain.iterations} iterations`);
});

test('C ranked on a row subset: the fitted probe is still the full-data optimum at the chosen C', async () => {
  const { X, y } = planted(4000, 16, 5, 21, 0.3);
  const dev = split(X, y, 0, 800);
  const fit = (searchRows: number) => new LogisticProbe(5, { backend: 'ort', searchRows, C: [0.01, 1], gtol: 1e-6, maxIter: 1000, threads: 1 }).fit(X, y, { dev });
  const [all, some] = [await fit(1_000_000), await fit(1000)];
  assert.equal(some.gridTrace.length, 2);
  assert.equal(all.chosenC, some.chosenC, 'the same C wins on dev here');
  const pa = all.predictProba(X);
  const pb = some.predictProba(X);
  let diff = 0;
  pa.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - pb[i]))));
  assert.ok(diff < 1e-3, `max probability difference ${diff}`);
});

test('fits sharing one session pool (a task\'s layers) equal fits with a fresh pool', async () => {
  const pool = new ProbeSessions(1);
  for (const seed of [41, 42]) {
    // two "layers": different features, same shapes, so the second fit reuses every session and buffer of the
    // first; a fresh pool gives the same graphs (a fit without any pool reads X in place: same optimum, other
    // float32 rounding)
    const { X, y } = planted(3000, 12, 4, seed, 0.2);
    const dev = split(X, y, 0, 600);
    const opts = { backend: 'ort' as const, C: [0.1, 1], threads: 1, searchRows: 1000 };
    const fresh = new ProbeSessions(1);
    const own = await new LogisticProbe(4, opts).fit(X, y, { dev, sessions: fresh });
    await fresh.release();
    const shared = await new LogisticProbe(4, opts).fit(X, y, { dev, sessions: pool });
    assert.equal(shared.chosenC, own.chosenC);
    assert.deepEqual(shared.gridTrace, own.gridTrace);
    assert.deepEqual(shared.exportLinear().weight, own.exportLinear().weight);
    // predictions on onnxruntime agree with the JS loops
    assert.deepEqual(await shared.predictWith(dev.X, pool), shared.predict(dev.X));
  }
  // a smaller problem after them (as MDL blocks and smaller tasks are) fills views of the pool's larger buffers
  const { X, y } = planted(1700, 12, 4, 43, 0.2);
  const opts = { backend: 'ort' as const, C: 1, threads: 1 };
  const fresh = new ProbeSessions(1);
  const own = await new LogisticProbe(4, opts).fit(X, y, { sessions: fresh });
  await fresh.release();
  const shared = await new LogisticProbe(4, opts).fit(X, y, { sessions: pool });
  assert.deepEqual(shared.exportLinear().weight, own.exportLinear().weight);
  await pool.release();
});

test('session pool scratch: one buffer per key, grown on demand, smaller requests get views of it', () => {
  const pool = new ProbeSessions(1);
  const a = pool.scratch('k', 10);
  a.fill(7);
  const b = pool.scratch('k', 4);
  assert.equal(b.length, 4);
  assert.equal(b.buffer, a.buffer, 'a view of the same memory');
  assert.equal(pool.scratch('k', 10), a);
  const c = pool.scratch('k', 20);
  assert.equal(c.length, 20);
  assert.notEqual(c.buffer, a.buffer, 'grown');
  assert.notEqual(pool.scratch('other', 4).buffer, c.buffer, 'keys do not share');
});

test('inverse Cholesky: L^{-1} S L^{-T} = I, L^{-1} lower triangular and M its transpose, in JS (small d) and in two blocks (d >= 256)', async () => {
  const pool = new ProbeSessions(1);
  for (const d of [40, 300]) {
    // correlated columns plus jitter, as the whitening sees them
    const r = mulberry32(d);
    const n = 2 * d;
    const A = Float64Array.from({ length: n * d }, () => normal(r));
    for (let i = 0; i < n; i++) for (let c = 1; c < d; c++) A[i * d + c] += 0.8 * A[i * d + c - 1];
    const S = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[k * d + i] * A[k * d + j];
      S[i * d + j] = s / n + (i === j ? 1e-2 : 0);
    }
    const { M, MT: inv } = await inverseCholesky(S, d, pool);
    let worst = 0;
    for (let i = 0; i < d; i++) {
      for (let j = i + 1; j < d; j++) assert.equal(inv[i * d + j], 0, `upper entry (${i}, ${j})`);
      for (let j = 0; j < d; j++) assert.equal(M[j * d + i], inv[i * d + j], 'M is the transpose of L^-1');
      for (let j = 0; j < d; j++) {
        // (inv S inv^T)_ij
        let s = 0;
        for (let a = 0; a <= i; a++) for (let b = 0; b <= j; b++) s += inv[i * d + a] * S[a * d + b] * inv[j * d + b];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    // float32 factors either way (as the objective graph uses them)
    assert.ok(worst < 1e-4, `d = ${d}: max |L^-1 S L^-T - I| = ${worst}`);
  }
  await pool.release();
});
