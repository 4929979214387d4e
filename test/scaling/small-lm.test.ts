import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QUICK_STUDY, runStudy, summarize, meanCi, windowBatch } from '../../src/scaling/small-lm.js';
import { smallLmParameters, smallLmTrainFlopsPerToken, type SmallLmShape } from '../../src/train/models/small-lm.js';

test('small-LM FLOP and parameter counts follow the architecture', () => {
  const s: SmallLmShape = { family: 'transformer', vocab: 10, width: 8, context: 0, hiddenUnits: 0, layers: 2, heads: 2, positions: 'learned', seq: 4 };
  // per layer: 2 LN (32) + qkv 8x24+24 + proj 8x8+8 + fc 8x32+32 + out 32x8+8 = 32+216+72+288+264 = 872; ln_f 16; head 8x10+10 = 90
  assert.deepEqual(smallLmParameters(s), { total: 10 * 8 + 4 * 8 + 2 * 872 + 16 + 90, nonEmbedding: 2 * 872 + 16 + 90 });
  assert.equal(smallLmTrainFlopsPerToken(s), 6 * (2 * 872 + 16 + 90) + 3 * 2 * 4 * 4 * 8);
  const lin: SmallLmShape = { ...s, family: 'linear', context: 3 };
  assert.equal(smallLmParameters(lin).nonEmbedding, 3 * 8 * 10 + 10);
});

test('context windows for linear / mlp models hold the previous tokens, left-clamped at the start', () => {
  const data = Int32Array.from([5, 6, 7, 8, 9]);
  const shape: SmallLmShape = { family: 'mlp', vocab: 10, width: 4, context: 3, hiddenUnits: 4, layers: 0, heads: 1, positions: 'none', seq: 3 };
  const b = windowBatch(data, [0], 3, shape);
  assert.deepEqual([...(b.context_ids as BigInt64Array)].map(Number), [5, 5, 5, 5, 5, 6, 5, 6, 7]);
  assert.deepEqual([...(b.targets as BigInt64Array)].map(Number), [6, 7, 8]);
});

test('study small-lm --quick: equal training FLOPs, every model beats the uniform code, seeds differ, CIs are computed', async () => {
  const { runs, datasets } = await runStudy({ ...QUICK_STUDY, threads: 1 });
  assert.equal(runs.length, 2 * 4 * 2);
  for (const r of runs) {
    const vocab = datasets.find((d) => d.name === r.dataset)!.vocab;
    assert.ok(r.testNll < Math.log(vocab), `${r.dataset} ${r.config}: NLL ${r.testNll} vs uniform ${Math.log(vocab)}`);
    assert.equal(r.curve.length, 3);
    // equal training FLOPs: every family gets the budget to within half a window (no per-family step minimum)
    const level = r.dataset === 'shakespeare-char' ? 'char' : 'word';
    const T = QUICK_STUDY.seq[level];
    assert.ok(Math.abs(r.trainFlops - QUICK_STUDY.budget[level]) <= (r.flopsPerToken * T) / 2, `${r.dataset} ${r.config}: ${r.trainFlops} FLOPs vs budget ${QUICK_STUDY.budget[level]}`);
    assert.equal(r.curve.at(-1)!.flops, r.trainFlops);
  }
  const s = summarize(runs);
  assert.equal(s.rows.length, 8);
  for (const row of s.rows) assert.ok(row.nll.half > 0, `${row.dataset} ${row.config}: CI half-width ${row.nll.half}`);
  assert.deepEqual(meanCi([1, 2, 3]), { mean: 2, half: (4.303 * 1) / Math.sqrt(3) });
});
