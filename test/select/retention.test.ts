/**
 * Honest retention on planted cases whose answers are known: raw and gain retention, degenerate references
 * (one class, layers adding nothing, adding less than noise), paired differences in gain, the joint
 * bootstrap, the majority-class baseline, curve points and predict's answer (floor warning, never below
 * the smallest feasible model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differenceWeights, gainDegenerate, taskGain, weightedRetention, type SplitReference } from '../../src/select/retention.js';
import { jointBootstrap, pairedBootstrapDiff } from '../../src/probe/bootstrap.js';
import { majorityBaseline } from '../../src/probe/suite.js';
import type { Task } from '../../src/data/types.js';
import type { TaskRows } from '../../src/features/task-rows.js';
import { curvePoints, smallestFeasible } from '../../src/pipeline/curve.js';
import { predictBudget } from '../../src/scaling/predict.js';

const ci = (score: number, lo: number, hi: number) => ({ score, lo, hi });
const ref = (final: number, embeddings: number, add = ci(final - embeddings, final - embeddings - 0.01, final - embeddings + 0.01), classes = 2): SplitReference => ({ final, embeddings, layersAdd: add, classes });

test('raw and gain retention: planted scores give the closed-form values', () => {
  const refs = { a: ref(0.8, 0.6), b: ref(0.5, 0.3) };
  const tasks = [{ name: 'a', weight: 2 }, { name: 'b', weight: 1 }];
  const scores = { a: 0.7, b: 0.45 };
  // raw: (2 * 0.7/0.8 + 0.45/0.5) / 3; gain: (2 * 0.5 + 0.75) / 3
  assert.ok(Math.abs(weightedRetention(scores, refs, tasks, 'raw')! - (2 * 0.875 + 0.9) / 3) < 1e-12);
  assert.ok(Math.abs(weightedRetention(scores, refs, tasks, 'gain')! - (2 * 0.5 + 0.75) / 3) < 1e-12);
  // the embeddings score 0 gain, the full model 1, whatever their raw retention
  assert.equal(taskGain(0.6, refs.a), 0);
  assert.equal(taskGain(0.8, refs.a), 1);
  assert.equal(weightedRetention({ a: 0.6, b: 0.3 }, refs, tasks, 'raw')! > 0.6, true, 'raw retention of the embeddings alone is far from 0');
});

test('degenerate references give a message, not a number, and leave the gain average', () => {
  const oneClass = ref(1, 1, undefined, 1);
  assert.match(gainDegenerate(oneClass)!, /only 1 class/);
  const flat = ref(0.66, 0.665);
  assert.match(gainDegenerate(flat)!, /not above the embeddings alone/);
  const noisy = ref(0.70, 0.69, ci(0.01, -0.02, 0.04));
  assert.match(gainDegenerate(noisy)!, /within sampling noise/);
  assert.equal(taskGain(0.7, noisy), undefined);
  assert.equal(gainDegenerate(ref(0.8, 0.6)), undefined);
  const tasks = [{ name: 'ok', weight: 1 }, { name: 'flat', weight: 5 }];
  // the flat task (even with weight 5) does not enter gain; it still enters raw
  assert.ok(Math.abs(weightedRetention({ ok: 0.7, flat: 0.66 }, { ok: ref(0.8, 0.6), flat }, tasks, 'gain')! - 0.5) < 1e-12);
  assert.ok(Math.abs(weightedRetention({ ok: 0.7, flat: 0.66 }, { ok: ref(0.8, 0.6), flat }, tasks, 'raw')! - (0.875 + 5) / 6) < 1e-12);
  assert.equal(weightedRetention({ flat: 0.66 }, { flat }, [{ name: 'flat', weight: 1 }], 'gain'), undefined, 'no task: no number');
});

test('paired difference weights: the floor cancels, so the weighted difference equals the gain difference', () => {
  const refs = { a: ref(0.8, 0.6), b: ref(0.5, 0.3), c: ref(0.6, 0.61) };
  const tasks = [{ name: 'a', weight: 2 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }];
  const A = { a: 0.75, b: 0.4, c: 0.6 };
  const B = { a: 0.65, b: 0.45, c: 0.55 };
  for (const mode of ['raw', 'gain'] as const) {
    const w = differenceWeights(refs, tasks, mode);
    const viaWeights = tasks.reduce((s, t, i) => s + w[i] * (A[t.name as 'a'] - B[t.name as 'a']), 0);
    const direct = weightedRetention(A, refs, tasks, mode)! - weightedRetention(B, refs, tasks, mode)!;
    assert.ok(Math.abs(viaWeights - direct) < 1e-12, `${mode}: ${viaWeights} vs ${direct}`);
  }
  assert.equal(differenceWeights(refs, tasks, 'gain')[2], 0, 'degenerate task has no weight in gain');
});

test('joint bootstrap: a subset scoring like the full model has gain 1 on every resample; noise widens the CI', () => {
  // 200 units; full model right on 80%, embeddings on 50%, subset = full model's predictions
  const units = 200;
  const full = (idx: Int32Array) => idx.reduce((s, u) => s + (u % 5 !== 0 ? 1 : 0), 0) / idx.length;
  const emb = (idx: Int32Array) => idx.reduce((s, u) => s + (u % 2 === 0 ? 1 : 0), 0) / idx.length;
  const gain = (s: number[][]) => (s[0][0] - s[0][2]) / (s[0][1] - s[0][2]);
  const same = jointBootstrap([{ units, scorers: [full, full, emb] }], gain, { B: 200 });
  assert.deepEqual([same.score, same.lo, same.hi], [1, 1, 1]);
  const half = (idx: Int32Array) => idx.reduce((s, u) => s + (u % 5 !== 0 && u % 3 !== 0 ? 1 : 0) + (u % 5 !== 0 && u % 3 === 0 && u % 2 === 0 ? 1 : 0), 0) / idx.length;
  const mid = jointBootstrap([{ units, scorers: [half, full, emb] }], gain, { B: 300 });
  assert.ok(mid.lo < mid.score && mid.score < mid.hi, `${mid.lo} < ${mid.score} < ${mid.hi}`);
  // the paired difference full - emb has the planted point value 0.8 - 0.5
  const d = pairedBootstrapDiff([{ units, weight: 1, scoreA: full, scoreB: emb }], { B: 200 });
  assert.ok(Math.abs(d.score - 0.3) < 1e-12 && d.lo > 0);
});

test('majority-class baseline: the most frequent training label scored with the task metric', () => {
  const task = { name: 't', kind: 'sentence', metric: 'accuracy', labels: ['neg', 'pos', 'neutral'] } as unknown as Task;
  const test = { labels: Int32Array.from([1, 1, 0, 2, 1]), rowSentence: new Int32Array(5), rowWord: [], sentenceLengths: [], seqs: [], rows: [] } as unknown as TaskRows;
  const r = majorityBaseline(task, Int32Array.from([1, 1, 0, 1, 2]), test, 3);
  assert.equal(r.majority, 3 / 5);
  assert.equal(r.classes, 3);
  const mf1 = majorityBaseline({ ...task, metric: 'macro-f1' } as Task, Int32Array.from([1, 1, 1]), test, 3);
  assert.equal(mf1.classes, 1, 'one class in train');
  // macro-F1 of always "pos" on [pos pos neg neutral pos]: pos F1 = 2*3/(3+5) = 0.75, others 0
  assert.ok(Math.abs(mf1.majority - 0.75 / 3) < 1e-12, String(mf1.majority));
});

test('curve points: budgets, the embeddings-only subnetwork and the full model, in the chosen retention', () => {
  const src = {
    budgets: [{ methods: [{ method: 'probescale', layers: [0], parameters: 40, retention: 0.95, gain: 0.4, scores: {} }] }, { methods: [{ method: 'probescale', layers: [0, 1], parameters: 60, retention: 0.98, gain: 0.8, scores: {} }] }],
    parameters: { full: 100, fixed: 20 },
    embeddingsOnly: { retention: 0.9, gain: 0 },
  };
  assert.deepEqual(curvePoints(src, 'raw'), [{ x: 0.4, r: 0.95 }, { x: 0.6, r: 0.98 }, { x: 0.2, r: 0.9 }, { x: 1, r: 1 }]);
  assert.deepEqual(curvePoints(src, 'gain'), [{ x: 0.4, r: 0.4 }, { x: 0.6, r: 0.8 }, { x: 0.2, r: 0 }, { x: 1, r: 1 }]);
  assert.equal(curvePoints({ ...src, budgets: [{ methods: [{ method: 'probescale', layers: [0], parameters: 40, retention: 0.95, scores: {} }] }] }, 'gain'), undefined);
  assert.equal(smallestFeasible(20, [10, 10, 5, 10]), 25 / 55);
});

test('predict: a floor above the target warns and answers the smallest feasible model, never below it', async () => {
  // planted power curve r(x) = 1 - a (1/x - 1): a = 0.005 keeps 98% at x = 0.2 (raw-like floor)
  const curve = (a: number) => [0.15, 0.25, 0.4, 0.6, 0.8, 1].map((x) => ({ x, r: 1 - a * (1 / x - 1) }));
  const high = await predictBudget(curve(0.005), 0.95, 0.2, { bootstrap: 0 });
  assert.equal(high.answer, 0.2);
  assert.ok(high.curveAnswer < 0.2, `the curve alone answers ${high.curveAnswer}`);
  assert.equal(high.warnings.length, 1);
  assert.match(high.warnings[0], /floor is above the target/);
  // a = 0.1 (gain-like): 95% needs 1/x - 1 = 0.5, x = 2/3, far above the smallest model: no warning
  const low = await predictBudget(curve(0.1), 0.95, 0.2, { bootstrap: 0 });
  assert.ok(Math.abs(low.answer - 2 / 3) < 0.01, String(low.answer));
  assert.deepEqual(low.warnings, []);
});
