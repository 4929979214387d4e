/**
 * The whole pipeline end to end on stories260K with tiny task samples: selection, baselines, the written
 * model (reloaded and scored with its stored heads), report; and the bad inputs that must fail early.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, existsSync, chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runPipeline } from '../src/pipeline/run.js';
import { ProbescaleError } from '../src/util/errors.js';
import { STORIES } from './helpers.js';
import { taskSummaryLines } from '../src/report/text.js';

const MODEL = join(STORIES, 'stories260K.bin');
const base = { model: MODEL, seed: 0, searchEvals: 12, randomSeeds: 2, bootstrap: 50, maxTrain: 80, maxEval: 40, log: () => {} };

test('run: probe -> select -> baselines -> write -> verify -> report', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ps-run-'));
  const r = await runPipeline({ ...base, tasks: 'upos,trec', weights: '2,1', budgets: '0.6,0.8', out, heal: true, trimVocab: true, quantize: 'int8', maxTest: 50 });
  assert.equal(r.budgets.length, 2);
  for (const b of r.budgets) {
    const names = b.methods.map((m) => m.method);
    for (const m of ['probescale', 'drop-top', 'drop-bottom', 'alternate', 'keep-ends', 'block-influence', 'angular', 'truncate-best', 'sleb']) assert.ok(names.includes(m), `${b.budget}: ${m}`);
    assert.ok(names.some((n) => n.startsWith('random')));
    const ps = b.methods.find((m) => m.method === 'probescale')!;
    assert.ok(ps.layers.length >= 1 && ps.layers.length <= b.keptLayers, 'a budget is a ceiling');
    assert.ok(ps.parameters <= b.allowed, 'within budget');
    // every fixed baseline carries a paired comparison whose point estimate is the retention difference
    for (const m of b.methods.filter((x) => x !== ps && !x.method.startsWith('random'))) {
      const d = m.probescaleMinus!;
      assert.ok(Math.abs(d.diff - (ps.retention - m.retention)) < 1e-9, `${m.method}: ${d.diff} vs ${ps.retention - m.retention}`);
      assert.ok(d.lo <= d.diff + 1e-12 && d.diff <= d.hi + 1e-12, `${m.method}: CI [${d.lo}, ${d.hi}] holds ${d.diff}`);
      if (m.layers.join() === ps.layers.join()) assert.ok(d.lo === 0 && d.hi === 0, 'same subset, no difference');
    }
  }
  // --max-test: the test split has its own size (dev keeps --max-eval); the probes say how many units were scored
  for (const p of r.probes) assert.deepEqual([p.examples!.dev, p.examples!.test], [40, 50], p.task);
  assert.ok(r.probes[0].rows.test >= 50 && r.probes[0].overflow!.test.droppedWords === 0, 'upos: a row per word');
  // per task: raw and gain retention with CIs, and ProbeScale minus each baseline on that task alone (paired)
  for (const b of r.budgets) {
    const ps = b.methods[0];
    for (const m of b.methods.filter((x) => !x.method.startsWith('random'))) {
      for (const t of ['upos', 'trec']) {
        const pt = m.perTask![t];
        assert.ok(Math.abs(pt.raw - m.scores[t].score / r.references[t].final.test) < 1e-9, `${m.method} ${t}: raw = score / final`);
        assert.ok(pt.rawCI[0] <= pt.raw + 1e-12 && pt.raw <= pt.rawCI[1] + 1e-12, `${m.method} ${t}: CI holds the estimate`);
        assert.equal(pt.gain === undefined, r.references[t].gainUndefined.test !== undefined, `${m.method} ${t}: gain exactly where defined`);
        if (m === ps) continue;
        const d = pt.probescaleMinus!;
        assert.ok(Math.abs(d.diff - (ps.perTask![t].raw - pt.raw)) < 1e-9, `${m.method} ${t}: per-task difference ${d.diff}`);
        assert.ok(d.lo <= d.diff + 1e-12 && d.diff <= d.hi + 1e-12);
      }
    }
  }
  const summary = taskSummaryLines(r).join('\n');
  assert.match(summary, /upos \(accuracy\): 50 test sentences, \d+ words scored/);
  assert.match(summary, /trec \(accuracy\): 50 test sentences scored/);
  assert.match(summary, /budget 0\.6: up to 2 of 5 layers fit\n {4}probescale/);
  // reference points per task; gain retention is a number exactly where the references allow it
  for (const t of ['upos', 'trec']) {
    const x = r.references[t];
    assert.ok(x.majority > 0 && x.majority < x.final.test, `${t}: majority class below the final layer`);
    assert.ok(Math.abs(x.layersAdd.test.score - (x.final.test - x.embeddings.test)) < 1e-12);
    const ps = r.budgets[0].methods[0].scores[t];
    if (x.gainUndefined.test) assert.equal(ps.gain, undefined, `${t}: ${x.gainUndefined.test}`);
    else assert.ok(Math.abs(ps.gain! - (ps.score - x.embeddings.test) / (x.final.test - x.embeddings.test)) < 1e-12);
  }
  // at 40 evaluation sentences per task the layers' gain is within noise on dev: the default falls back to raw
  const devGain = ['upos', 'trec'].some((t) => !r.references[t].gainUndefined.dev);
  assert.equal(r.retentionMode, devGain ? 'gain' : 'raw');
  for (const b of r.budgets) for (const m of b.methods.filter((x) => x.retentionCI)) assert.ok(m.retentionCI![0] <= m.retention + 1e-12 && m.retention <= m.retentionCI![1] + 1e-12, `${m.method}: raw CI holds the estimate`);
  assert.equal(r.budgets[0].keptLayers, 2);
  assert.equal(r.budgets[1].keptLayers, 3);
  // the written model: smaller, healed, trimmed, heads stored; verification ran on it
  assert.ok(existsSync(join(out, 'model', 'onnx', 'model.onnx')) && existsSync(join(out, 'model', 'head.safetensors')) && existsSync(join(out, 'model', 'vocab_map.json')));
  assert.ok(r.compressed.parameters < r.parameters.full);
  assert.ok(r.compressed.measured.compressed.parameters < r.compressed.measured.full.parameters);
  for (const t of ['upos', 'trec']) assert.ok(r.compressed.verification[t].score > 0, t);
  // --quantize int8: the int8 graph beside the fp32 one, verified and measured; bytes and the size ratio by factor
  const sz = r.compressed.size;
  assert.equal(sz.written.onnxQuantized, statSync(join(out, 'model', 'onnx', 'model_quantized.onnx')).size);
  assert.equal(sz.originalBytes, statSync(MODEL).size);
  assert.ok(sz.written.onnxQuantized! < sz.written.onnx, 'int8 file smaller');
  const qf = sz.files.onnxQuantized!;
  assert.ok(Math.abs(qf.total - sz.written.onnxQuantized! / sz.originalBytes) < 1e-12);
  assert.ok(sz.selection < 1 && sz.vocabulary < 1 && qf.int8! < 1, JSON.stringify(sz));
  assert.ok(Math.abs(sz.selection * sz.vocabulary * qf.precision * qf.layout * qf.int8! - qf.total) < 1e-9, 'the factors multiply to the total');
  for (const t of ['upos', 'trec']) assert.ok(r.compressed.quantized!.verification[t].score > 0, `int8 ${t}`);
  assert.ok(r.compressed.quantized!.measured.latencyMsBatch32 > 0 && r.compressed.quantized!.measured.peakRssMb > 0);
  // n of 5 layers kept (2 fit): the FLOP ratio is n/5 of the layer FLOPs (plus any kept bridge)
  const n = r.compressed.layers.length;
  assert.ok(r.compressed.compute.flopRatio >= n / 5 - 1e-9 && r.compressed.compute.flopRatio < n / 5 + 0.2, `${n} layers: ${r.compressed.compute.flopRatio}`);
  assert.ok(r.compressed.compute.latencyRatioBatch32 > 0);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 3, 'three inline plots: probe curves, retention vs parameters, fitted retention curve');
  assert.match(html, /Where ProbeScale did not win/);
  // the int8 row's latency carries its spread over the repeats too
  const q = r.compressed.quantized!.measured;
  assert.ok(html.includes(`${q.latencyMsBatch32.toFixed(2)} <span class="ci">[${q.timesMsBatch32[0].toFixed(2)}, ${q.timesMsBatch32.at(-1)!.toFixed(2)}]</span>`), 'int8 latency with its spread');
  assert.match(html, /Reference points per task/);
  assert.match(html, /50 test sentences, \d+ words scored/);
  assert.match(html, /ProbeScale minus this, gain points/);
  // every method has its own row in the methods plot (none hides under another's dot); kept blocks are marked
  const methodsSvg = html.split('Every method at every budget')[1].split('</svg>')[0];
  for (const m of ['probescale', 'drop-top', 'drop-bottom', 'alternate', 'keep-ends', 'block-influence', 'angular', 'truncate-best', 'sleb', 'random']) assert.ok(methodsSvg.includes(`>${m}`), `${m} drawn`);
  assert.match(html, new RegExp(`block ${r.compressed.layers[0]}`));
  assert.match(html, /Layer numbering/);
  assert.doesNotMatch(html, /<script|(src|href)="https?:/, 'report is self-contained: no scripts, nothing loaded');
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(json.budgets[0].methods[0].layers, r.budgets[0].methods[0].layers);
  rmSync(out, { recursive: true });
});

async function expectUserError(fn: () => Promise<unknown>, pattern: RegExp) {
  await assert.rejects(fn, (err: unknown) => err instanceof ProbescaleError && pattern.test((err as Error).message));
}

test('run: bad inputs fail before any work, with nothing written', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'ps-bad-run-')), 'out');
  await expectUserError(() => runPipeline({ ...base, tasks: 'upos', budgets: '0.1', out }), /budget 0\.1 is infeasible[\s\S]*raise the budget to at least 0\.30/);
  await expectUserError(() => runPipeline({ ...base, tasks: 'upos,nosuchtask', budgets: '0.6', out }), /unknown task "nosuchtask"/);
  await expectUserError(() => runPipeline({ ...base, tasks: 'upos,sst2', weights: '1', budgets: '0.6', out }), /--weights has 1 value\(s\) for 2 task\(s\)/);
  await expectUserError(() => runPipeline({ ...base, tasks: 'upos', budgets: 'lots', out }), /cannot read budget "lots"/);
  await expectUserError(() => runPipeline({ ...base, tasks: 'upos', budgets: '0.6', out, retention: 'median' as 'raw' }), /--retention must be raw or gain/);
  assert.ok(!existsSync(out), 'a run that fails validation creates no --out folder');
  if (process.getuid?.() !== 0) {
    const ro = join(out, '..', 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    await expectUserError(() => runPipeline({ ...base, tasks: 'upos', budgets: '0.6', out: join(ro, 'x') }), /not writable/);
  }
});

test('run --retention gain: a task whose layers cannot add anything gets one clear line, not a number', async () => {
  // planted: every sentence is the same text, so every representation (embeddings or final layer) is the same
  // for all rows and the final layer adds exactly nothing over the embeddings
  const dir = mkdtempSync(join(tmpdir(), 'ps-gain-'));
  const rows = (n: number) => ['text\tlabel', ...Array.from({ length: n }, (_, i) => `the cat sat on the mat\t${i % 3 === 0 ? 'b' : 'a'}`)].join('\n') + '\n';
  writeFileSync(join(dir, 'train.tsv'), rows(60));
  writeFileSync(join(dir, 'test.tsv'), rows(30));
  writeFileSync(join(dir, 'same.yaml'), 'name: same\nkind: sentence\nformat: tsv\nfiles: { train: train.tsv, test: test.tsv }\nmetric: accuracy\n');
  const out = join(dir, 'out');
  await expectUserError(() => runPipeline({ ...base, tasks: join(dir, 'same.yaml'), budgets: '0.6', out, retention: 'gain' }), /--retention gain: on dev, no task's layers add anything measurable over the embeddings \(same: the final layer \(0\.\d+\) is not above the embeddings alone/);
  assert.ok(!existsSync(join(out, 'results.json')));
  rmSync(dir, { recursive: true });
});
