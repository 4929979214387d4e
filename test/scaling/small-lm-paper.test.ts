import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_PAPER_PLAN, PAPER_CONFIGS, chooseLr, paperReport, comparePair, evalStarts, groupRuns, paperBatch, paperFlops, planRuns, runFileName, runKey, runPlan, scaledWindows, stat,
  type CharSplit, type RunResult, type RunSpec,
} from '../../src/scaling/small-lm-paper.js';
import { smallLmParameters } from '../../src/train/models/small-lm.js';

test('paper mode: our shapes have the paper\'s parameter counts and its formula gives its printed FLOPs', () => {
  for (const c of PAPER_CONFIGS) {
    const p = smallLmParameters({ ...c.shape, vocab: 65, seq: c.context }).total;
    assert.equal(p, c.published!.parameters, c.name);
    const f = paperFlops(p, c.windowsPerEpoch * c.epochs, c.context);
    // the positions runs: the paper counted 64 characters per window of 128 (see their note)
    const expected = c.note ? 2 * c.published!.flops : c.published!.flops;
    assert.ok(Math.abs(f / expected - 1) < 0.01, `${c.name}: ${f.toExponential(3)} vs ${expected.toExponential(3)}`);
  }
  assert.equal(paperFlops(430_785, 200_000, 128), 2 * 430_785 * 200_000 * 128);
});

test('paper mode: equal-FLOP runs get the transformer\'s budget to within one window', () => {
  const specs = planRuns({ ...DEFAULT_PAPER_PLAN, parts: ['table', 'equal'], seeds: 1 });
  const ref = specs.find((s) => s.config === 'table/transformer3')!;
  const budget = paperFlops(smallLmParameters(ref.shape).total, ref.windows, ref.context);
  const equal = specs.filter((s) => s.config.startsWith('equal/'));
  assert.deepEqual(equal.map((s) => s.config).sort(), ['equal/attention', 'equal/linear', 'equal/mlp']);
  for (const s of equal) {
    const P = smallLmParameters(s.shape).total;
    const f = paperFlops(P, s.windows, s.context);
    assert.ok(Math.abs(f - budget) <= P * s.context, `${s.config}: ${f} vs ${budget}, one window = ${2 * P * s.context}`);
    assert.notEqual(s.windows, ref.windows);
  }
  assert.equal(ref.windows, scaledWindows(PAPER_CONFIGS.find((c) => c.name === 'table/transformer3')!, DEFAULT_PAPER_PLAN.scale));
});

test('paper mode: plan is seed-major, without duplicates; the tuned runs at 3e-4 are the table\'s', () => {
  const specs = planRuns({ ...DEFAULT_PAPER_PLAN, parts: ['table', 'tune'], seeds: 2 });
  const keys = specs.map(runKey);
  assert.equal(new Set(keys).size, keys.length);
  const firstSeed1 = specs.findIndex((s) => s.seed === 1);
  assert.ok(specs.slice(0, firstSeed1).every((s) => s.seed === 0) && specs.slice(firstSeed1).every((s) => s.seed === 1));
  // per seed: 6 table runs + 4 tuned configurations x 2 more learning rates
  assert.equal(specs.length, 2 * (6 + 4 * 2));
  assert.ok(runFileName(specs[0]).endsWith(`-${keys[0]}.json`));
});

test('paper mode batches: one target per window (the character after it), padding rows weigh nothing', () => {
  const data = Int32Array.from({ length: 40 }, (_, i) => i % 7);
  const spec = tinySpec({ family: 'transformer' }, 5);
  const b = paperBatch(data, [0, 3], spec);
  const w = [...(b.loss_weights as Float32Array)];
  assert.deepEqual(w, [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  assert.equal(Number((b.targets as BigInt64Array)[4]), data[5]);
  assert.equal(Number((b.targets as BigInt64Array)[9]), data[8]);
  const lin = paperBatch(data, [2], tinySpec({ family: 'linear', context: 5 }, 5));
  assert.deepEqual([...(lin.context_ids as BigInt64Array)].slice(0, 5).map(Number), [2, 3, 4, 5, 6]);
  assert.deepEqual([...(lin.loss_weights as Float32Array)], [1, 0, 0]);
  assert.equal(Number((lin.targets as BigInt64Array)[0]), data[7]);
  assert.deepEqual(evalStarts(100, 10, 4), [0, 29, 59, 89]);
});

test('seed statistics: t-interval, paired differences and the learning rate chosen on validation only', () => {
  const s = stat([1, 2, 3]);
  assert.equal(s.mean, 2);
  assert.equal(s.sd, 1);
  assert.ok(Math.abs(s.half - 4.303 / Math.sqrt(3)) < 1e-12);
  assert.ok(Number.isNaN(stat([5]).half));
  const runs: RunResult[] = [];
  const add = (config: string, lr: number, seed: number, val: number, testNll: number) =>
    runs.push({ key: '', spec: { ...tinySpec({}, 4), config, lr, seed }, parameters: 1, paperFlops: 1, archFlops: 1, steps: 1, epochs: [], bestEpoch: 0, valNll: val, testNll, seconds: 0 });
  for (let seed = 0; seed < 3; seed++) {
    add('a', 1e-3, seed, 2.0, 2.5 + seed * 0.01); // best on validation, worse on test
    add('a', 3e-3, seed, 2.1, 2.0);
    add('b', 1e-3, seed, 2.0, 2.6 + seed * 0.01 + (seed === 1 ? 0.001 : 0));
    add('c', 1e-3, seed, 2.0, 2.5 + seed * 0.01 + [0.05, -0.05, 0][seed]);
  }
  const rows = groupRuns(runs);
  assert.equal(chooseLr(rows, 'a')!.lr, 1e-3, 'chosen on validation, not test');
  const d = comparePair(runs, 'a', 'b', 1e-3, 1e-3, 'a - b')!;
  assert.equal(d.diff.n, 3);
  assert.ok(Math.abs(d.diff.mean + 0.1 + 0.001 / 3) < 1e-9);
  assert.equal(d.verdict, 'first better');
  const noisy = comparePair(runs, 'a', 'c', 1e-3, 1e-3, 'x')!;
  assert.ok(Math.abs(noisy.diff.mean) < 1e-9 && noisy.diff.half > 0.05);
  assert.equal(noisy.verdict, 'no difference beyond the CI');
  assert.equal(comparePair(runs, 'a', 'missing', 1e-3, 1e-3, 'y'), undefined);
});

test('resumable runs: a finished run is read back, not retrained; --max-minutes 0 leaves the rest pending; a damaged file is named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-smalllm-'));
  try {
    const split = tinySplit();
    const specs = [tinySpec({ family: 'transformer' }, 6, 0), tinySpec({ family: 'linear', context: 6 }, 6, 0)];
    const first = await runPlan(specs, dir, { threads: 1, split });
    assert.equal(first.ran, 2);
    for (const r of first.results) assert.ok(r.testNll < Math.log(split.vocab.length), `${r.spec.config}: ${r.testNll}`);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.json')).length, 2);
    const again = await runPlan(specs, dir, { threads: 1, split });
    assert.equal(again.ran, 0);
    assert.equal(again.skipped, 2);
    assert.deepEqual(again.results, first.results);
    const more = [...specs, { ...specs[0], seed: 1 }];
    const pend = await runPlan(more, dir, { threads: 1, split, maxMinutes: 0 });
    assert.deepEqual([pend.ran, pend.skipped, pend.pending], [0, 2, 1]);
    writeFileSync(join(dir, runFileName(specs[1])), '{"key": "x"');
    await assert.rejects(runPlan(specs, dir, { split }), (e: Error) => e.message.includes(runFileName(specs[1])) && e.message.includes('fix:'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report: a "tuned" comparison only where several learning rates ran; verdicts name the better variant', () => {
  const mk = (config: string, seed: number, nll: number): RunResult => ({ key: '', spec: { ...tinySpec({}, 4), config, lr: 3e-4, seed }, parameters: 1, paperFlops: 1, archFlops: 1, steps: 1, epochs: [], bestEpoch: 0, valNll: nll, testNll: nll, seconds: 0 });
  const runs = [0, 1, 2].flatMap((s) => [mk('table/transformer3-rope-pre', s, 2.0 + s * 0.01), mk('table/transformer3-learned-pre', s, 2.1 + s * 0.012)]);
  const md = paperReport(runs, { ...DEFAULT_PAPER_PLAN, parts: ['tune'] });
  assert.match(md, /\| RoPE - learned \(paper shapes\) \| both 0.0003 \| -0\.1020 ± [\d.]+ \| 0\.0020 \| 3 \| RoPE better \|/);
  assert.doesNotMatch(md, /each tuned/);
});

function tinySplit(): CharSplit {
  const text = 'abcab cabca bcabc '.repeat(40);
  const vocab = [...new Set(text)].sort();
  const enc = (s: string) => Int32Array.from(s, (c) => vocab.indexOf(c));
  return { vocab, train: enc(text), valid: enc(text.slice(0, 200)), test: enc(text.slice(100, 300)) };
}

function tinySpec(shape: Partial<RunSpec['shape']>, context: number, seed = 0): RunSpec {
  const full = { family: 'transformer' as const, vocab: 4, width: 8, context: 0, hiddenUnits: 0, layers: 1, heads: 2, positions: 'learned' as const, ffHidden: 16, norm: 'post' as const, activation: 'relu' as const, ...shape, seq: context };
  return {
    version: 1, data: 'tinyshakespeare-bhatti', config: `tiny/${full.family}`, shape: full, objective: 'last', context, batch: 3, lr: 1e-2, schedule: 'constant',
    weightDecay: 0, beta2: 0.999, clip: null, windows: 30, epochs: 2, valWindows: 6, testWindows: 6, seed,
  };
}
