import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRID_PLAN, planGrid, readGrid, runGrid, runKey, type TrainingSetup } from '../../src/scaling/bian-grid.js';
import { LLAMA32, llama32Standard, measureShape, nonEmbedding, ratioOf, searchArchitecture } from '../../src/scaling/bian-search.js';
import type { BianParams } from '../../src/scaling/bian.js';

test('the planned grid has >= 4 levels of each factor at every size, sizes smallest first, seeds within a size', () => {
  const specs = planGrid(GRID_PLAN);
  for (const N of GRID_PLAN.sizes) {
    const ofSize = specs.filter((s) => s.target === N && s.seed === 1);
    const xs = new Set(ofSize.filter((s) => s.tag === 'hidden-sweep').map((s) => s.shape.hidden));
    const rs = new Set(ofSize.filter((s) => s.tag === 'ratio-sweep' || s.shape.layers === GRID_PLAN.refDepth).map((s) => Math.round(ratioOf(s.shape) * 2) / 2));
    assert.ok(xs.size >= 4 && rs.size >= 4, `N ${N}: ${xs.size} hidden levels, ${rs.size} ratio levels`);
    for (const s of ofSize) assert.ok(Math.abs(nonEmbedding(s.shape) - N) / N < 0.4, `N ${N}: ${JSON.stringify(s.shape)} has ${nonEmbedding(s.shape)}`);
  }
  const order = specs.map((s) => s.target * 10 + s.seed);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});

test('grid runs are resumable: one file per run, named by content, skipped when present', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'law-grid-'));
  try {
    const setup: TrainingSetup = { vocab: 300, batch: 2, seq: 16, lr: 3e-3, tokensPerParam: 0.05, evalBatches: 1, maxDocs: 200 };
    const specs = planGrid({ ...GRID_PLAN, sizes: [3000], seeds: 1, depths: [1, 2], ratios: [1, 4] }).slice(0, 2);
    const first = await runGrid(specs, dir, { setup, threads: 1 });
    assert.equal(first.length, 2);
    assert.deepEqual(readdirSync(dir).sort(), specs.map((s) => `run-${runKey(s, setup)}.json`).sort());
    for (const r of first) {
      assert.equal(r.points.length, 3);
      assert.ok(r.points.every((p) => p.N === r.nonEmbedding && p.loss > 0 && p.hidden === r.spec.shape.hidden));
    }
    const again = await runGrid(specs, dir, { setup, threads: 1 });
    assert.equal(again.length, 0);
    assert.equal(readGrid(dir).length, 2);
    // a different setup is a different run
    assert.notEqual(runKey(specs[0], setup), runKey(specs[0], { ...setup, tokensPerParam: 1 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the LLaMA-3.2 standard keeps its MLP/attention ratio and GQA; the search respects the predicted-loss constraint', async () => {
  assert.ok(Math.abs(LLAMA32.ratio - 4.8) < 1e-9 && LLAMA32.groups === 4 && Math.abs(LLAMA32.x - 0.0657) < 1e-3);
  const std = llama32Standard(60000, 8);
  assert.equal(std.heads / std.kvHeads, 4);
  assert.ok(Math.abs(ratioOf(std) - 4.8) < 0.1);
  const t = await measureShape(std, { vocab: 64, threads: 1, decodeTokens: 4, repeats: 1, prefillBatch: 2, prefillSeq: 8 });
  assert.ok(t.decode > 0 && t.prefill > 0);
  // planted law with its minimum far from the standard: shapes near x* = 0.2, r* = 1 beat it
  const law: BianParams = { chinchilla: { E: 2, A: 50, alpha: 0.4, B: 300, beta: 0.4 }, a: [1 - 0.05 * (1 + Math.log(0.2)), 0.05, 0.01], b: [1, 0.05, 0.05] };
  const r = await searchArchitecture(law, 60000, 6e5, { headDim: 8, vocab: 64, threads: 1, decodeTokens: 4, repeats: 1, prefillBatch: 2, prefillSeq: 8, ratios: [1, 4.8], xRange: [0.12, 0.22] });
  assert.ok(r.feasible > 0 && r.chosen.predicted <= r.standard.predicted);
  // the loss-optimal shape is the lowest-predicted candidate (GQA search keeps its hidden size)
  const best = r.candidates.reduce((a, c) => (c.predicted < a.predicted ? c : a));
  assert.equal(r.lossOptimal.shape.hidden, best.shape.hidden);
  assert.ok(best.predicted <= r.standard.predicted);
  assert.ok(r.candidates.every((c) => Math.abs(c.N - r.standard.N) / r.standard.N <= 0.1));
});
