/** Layer selection: exact knapsack, relevance aggregation, baselines and calibration statistics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { knapsack } from '../../src/select/knapsack.js';
import { layerRelevance } from '../../src/select/relevance.js';
import { alternate, angularDrop, blockInfluence, dropBottom, dropTop, keepEnds, randomSubset, truncateAtBest } from '../../src/select/baselines.js';
import { parameterCosts, subsetCost } from '../../src/select/costs.js';
import { layerGeometry, slebSubset } from '../../src/select/calibration.js';
import { loadModel } from '../../src/engine/load.js';
import { FIXTURES, STORIES } from '../helpers.js';

/** Brute force over all subsets, to check the DP. */
function bruteForce(values: number[], costs: number[], cap: number) {
  let best = -Infinity;
  for (let m = 0; m < 1 << values.length; m++) {
    let v = 0;
    let c = 0;
    for (let i = 0; i < values.length; i++) if (m & (1 << i)) (v += values[i]), (c += costs[i]);
    if (c <= cap) best = Math.max(best, v);
  }
  return best;
}

test('knapsack equals brute force on random instances (integer and real costs)', () => {
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 10);
    const values = Array.from({ length: n }, () => rand());
    const integer = trial % 2 === 0;
    const costs = Array.from({ length: n }, () => (integer ? 1 + Math.floor(rand() * 20) : 0.5 + rand() * 10));
    const cap = rand() * costs.reduce((a, b) => a + b, 0);
    const r = knapsack(values, costs, cap, integer ? 200_000 : 1_000_000);
    assert.ok(r.cost <= cap + 1e-9, 'feasible');
    const opt = bruteForce(values, costs, cap);
    if (integer) assert.ok(Math.abs(r.value - opt) < 1e-9, `trial ${trial}: ${r.value} vs optimum ${opt}`);
    else assert.ok(r.value >= opt - 0.05, `trial ${trial}: ${r.value} far below optimum ${opt}`);
    assert.deepEqual(r.layers, [...r.layers].sort((a, b) => a - b), 'kept layers keep their order');
  }
});

test('relevance: differential gains normalized per task, weighted across tasks', () => {
  const r = layerRelevance([
    { task: 'a', scores: [0.5, 0.9, 0.9, 0.8], weight: 1 }, // all gain in layer 0
    { task: 'b', scores: [0.2, 0.2, 0.4, 0.6], weight: 3 }, // gains in layers 1 and 2
  ]);
  assert.deepEqual(r.perTask[0], [1, 0, 0]);
  assert.deepEqual(r.perTask[1].map((x) => +x.toFixed(6)), [0, 0.5, 0.5]);
  assert.deepEqual(r.aggregate.map((x) => +x.toFixed(6)), [0.25, 0.375, 0.375]);
});

test('baselines keep k layers in order', () => {
  assert.deepEqual(dropTop(12, 4), [0, 1, 2, 3]);
  assert.deepEqual(dropBottom(12, 4), [8, 9, 10, 11]);
  assert.deepEqual(alternate(12, 6), [0, 2, 4, 7, 9, 11]);
  assert.deepEqual(alternate(5, 3), [0, 2, 4]);
  assert.deepEqual(keepEnds(12, 5), [0, 1, 2, 10, 11]);
  const r1 = randomSubset(12, 5, 1);
  assert.equal(r1.length, 5);
  assert.deepEqual(r1, randomSubset(12, 5, 1));
  assert.notDeepEqual(r1, randomSubset(12, 5, 2));
  assert.deepEqual(blockInfluence([0.5, 0.1, 0.9, 0.2], 2), [0, 2]);
  assert.deepEqual(angularDrop((l, n) => (l === 2 ? 0.01 : 0.5) + n, 6, 4).layers, [0, 1, 4, 5]);
  assert.deepEqual(truncateAtBest([0.1, 0.5, 0.8, 0.7, 0.6], 10), [0, 1]);
});

test('parameter costs add up to the checkpoint total; T5 position bias stays fixed', () => {
  for (const name of ['bert', 'gpt2', 'llama', 't5-encoder']) {
    const m = loadModel(join(FIXTURES, name));
    const c = parameterCosts(m);
    assert.equal(subsetCost(c, c.perLayer.map((_, l) => l)), m.weights.parameterCount(), name);
    assert.ok(c.perLayer.every((p) => p > 0), `${name}: every layer has parameters`);
    if (name !== 't5-encoder') assert.ok(c.perLayer.every((p) => p === c.perLayer[0]), `${name}: homogeneous layers`);
  }
});

test('calibration geometry and SLEB on stories260K', async () => {
  const model = loadModel(join(STORIES, 'stories260K.bin'));
  const tok = await model.tokenizer();
  const batch = { inputIds: ['Once upon a time there was a girl.', 'The dog ran to the park and played with a ball.'].map((t) => tok.encode(t)) };
  const g = await layerGeometry(model, batch, 1);
  assert.equal(g.blockInfluence.length, 5);
  assert.ok(g.blockInfluence.every((b) => b > 0 && b < 2));
  assert.ok(g.angular(0, 1) > 0 && g.angular(0, 1) < 1);
  const sleb = await slebSubset(model, batch, 3, 1);
  assert.equal(sleb.layers.length, 3);
  assert.equal(sleb.trace.length, 2);
  assert.ok(sleb.trace[1].loss >= sleb.trace[0].loss - 0.5, 'loss grows (roughly) as layers go');
});

test('subset search: at least the best start on dev, within its evaluation budget, never the same subset twice', async () => {
  const { searchSubset } = await import('../../src/select/search.js');
  const L = 12;
  const k = 4;
  // a dev score with interactions: layer value plus a bonus for keeping neighbours together
  const value = [0.1, 0.3, 0.2, 0.9, 0.1, 0.8, 0.2, 0.1, 0.7, 0.1, 0.2, 0.6];
  const retention = (s: number[]) => s.reduce((a, l) => a + value[l], 0) + 0.05 * s.filter((l) => s.includes(l + 1)).length;
  const calls: string[] = [];
  const ev = {
    runs: 0,
    async evaluate(layers: number[]) {
      calls.push(layers.join());
      return { layers, scores: {}, retention: retention(layers) };
    },
    compare() {
      throw new Error('unused');
    },
  };
  const costs = { perLayer: new Array(L).fill(1), fixed: 0, unit: 'parameters' as const };
  const starts = [[0, 1, 2, 3], [8, 9, 10, 11], [0, 4, 7, 11]];
  const r = await searchSubset(ev, costs, k, k, starts, 25);
  assert.equal(r.method, 'local');
  assert.ok(r.evaluated <= 25 && calls.length === r.evaluated, `${r.evaluated} evaluations`);
  assert.equal(new Set(calls).size, calls.length, 'no subset evaluated twice');
  for (const s of starts) assert.ok(r.best.retention >= retention(s), `beats start [${s}]`);
  // with room to finish, first-improvement swaps reach the optimum of this landscape: {3, 5, 8, 11}
  const full = await searchSubset(ev, costs, k, k, [[0, 1, 2, 4]], 400); // < 495 subsets: local, not exhaustive
  assert.equal(full.method, 'local');
  assert.deepEqual(full.best.layers, [3, 5, 8, 11]);
  // a start that does not fit the budget is skipped; no start at all that fits is an error
  await assert.rejects(searchSubset(ev, costs, k, k, [[0, 1, 2, 3, 4]], 25), /no starting subset/);
});

test('subset search: the budget is a ceiling — fewer layers win when the rest hurt (exhaustive and local)', async () => {
  const { searchSubset } = await import('../../src/select/search.js');
  // an encoder on a word task: layers 0-1 help, every later one loses information
  const value = [0.5, 0.3, -0.1, -0.2, -0.1, -0.3, -0.2, -0.1, -0.2, -0.3, -0.1, -0.2];
  const retention = (s: number[]) => s.reduce((a, l) => a + value[l], 0);
  const ev = { async evaluate(layers: number[]) { return { layers, scores: {}, retention: retention(layers) }; } };
  const costs = (L: number) => ({ perLayer: new Array(L).fill(1), fixed: 0, unit: 'parameters' as const });
  // 6 layers, 2 affordable: 6 + 15 subsets of size 1-2, all tried
  const small = await searchSubset(ev, costs(6), 2, 2, [[4, 5]], 40);
  assert.equal(small.method, 'exhaustive');
  assert.equal(small.evaluated, 21);
  assert.deepEqual(small.best.layers, [0, 1]);
  // 12 layers, 6 affordable, starting from a full-size subset: once no swap helps, drop moves reach [0, 1]
  const local = await searchSubset(ev, costs(12), 6, 6, [[0, 1, 2, 3, 10, 11]], 400);
  assert.equal(local.method, 'local');
  assert.deepEqual(local.best.layers, [0, 1]);
  // a smaller subset among the starts (a smaller budget's choice) is kept when nothing beats it
  const carried = await searchSubset(ev, costs(12), 6, 6, [[2, 3, 4, 5, 6, 7], [0, 1]], 3);
  assert.deepEqual(carried.best.layers, [0, 1]);
});
