import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitLaw, llamaShapeFor, QUICK_LAW, runLawGrid } from '../../src/scaling/law-study.js';
import { mlpAttentionRatio } from '../../src/scaling/architecture.js';

test('law grid shapes carry the requested MLP/attention ratio and GQA grouping', () => {
  const s = llamaShapeFor({ hidden: 128, layers: 2, ratio: 4, groups: 4 }, 16, 2048, 64);
  assert.equal(s.heads, 8);
  assert.equal(s.kvHeads, 2);
  assert.ok(Math.abs(mlpAttentionRatio(s) - 4) < 0.1, `ratio ${mlpAttentionRatio(s)}`);
});

test('law study (quick grid): real training runs give falling losses; both laws fit and predict held-out configurations', async () => {
  const runs = await runLawGrid({ ...QUICK_LAW, threads: 1 });
  assert.equal(runs.length, QUICK_LAW.grid.length);
  for (const r of runs) {
    assert.equal(r.points.length, 3);
    assert.ok(r.points[2].loss < r.points[0].loss, `h${r.config.hidden} L${r.config.layers}: ${r.points.map((p) => p.loss)}`);
  }
  const fit = await fitLaw(runs);
  assert.equal(fit.heldOutError.points, 12);
  assert.ok(fit.heldOutError.chinchilla < 0.1 && fit.heldOutError.conditional < 0.1, JSON.stringify(fit.heldOutError));
  assert.ok(fit.chinchilla.alpha > 0 && fit.chinchilla.beta > 0);
});
