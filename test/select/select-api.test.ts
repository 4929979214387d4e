/** The library's `select`: given probe results it skips probing and selects exactly as when it probes itself; wrong probes are one clear error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { STORIES, expectProbescaleError } from '../helpers.js';
import { select } from '../../src/pipeline/select.js';
import { loadModel } from '../../src/engine/load.js';

test('select: probes passed in give the same per-budget results; probes of other tasks are refused before any work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-select-'));
  const model = loadModel(join(STORIES, 'stories260K.bin'));
  const opts = { model, tasks: 'sst2', budgets: '0.4,0.8', cacheDir: join(dir, 'features'), maxTrain: 40, maxEval: 20, searchEvals: 4, randomSeeds: 1, bootstrap: 50, progress: false };
  const logA: string[] = [];
  const a = await select({ ...opts, log: (l) => logA.push(l) });
  assert.ok(logA.some((l) => l.startsWith('probing 6 representations')), logA.join('\n'));
  assert.deepEqual(a.budgets.map((b) => b.budget), ['0.4', '0.8']);
  // the embeddings are a fixed cost: 40% holds 1 of 5 layers, 80% holds 3
  assert.deepEqual(a.budgets.map((b) => b.keptLayers), [1, 3]);
  for (const b of a.budgets) {
    assert.equal(b.methods[0].method, 'probescale');
    // a budget is a ceiling for ProbeScale (fewer layers may score higher); the baselines fill it
    assert.ok(b.methods[0].layers.length <= b.keptLayers, b.budget);
    assert.ok(b.methods.slice(1, -1).every((m) => m.layers.length === b.keptLayers), b.budget);
  }
  // the larger budget's search starts from the smaller one's choice: its dev retention is never lower
  assert.ok(a.budgets[1].methods[0].devRetention! >= a.budgets[0].methods[0].devRetention! - 1e-12);
  const logB: string[] = [];
  const b = await select({ ...opts, probes: a.probes, log: (l) => logB.push(l) });
  assert.ok(!logB.some((l) => l.startsWith('probing')), 'no probing when probes are given');
  assert.deepEqual(b.budgets, a.budgets);
  assert.deepEqual(b.references, a.references);
  // budgets are searched smallest first whatever the order given; results keep the order given
  const c = await select({ ...opts, budgets: '0.8,0.4', probes: a.probes, log: () => {} });
  assert.deepEqual(c.budgets, [...a.budgets].reverse());
  await expectProbescaleError(() => select({ ...opts, tasks: 'upos', probes: a.probes }), /probe results given are for sst2 \(6 states\), not for upos/);
  rmSync(dir, { recursive: true });
});
