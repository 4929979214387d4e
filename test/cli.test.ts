/** The CLI end to end: forward writes golden-named tensors that match the fixture; errors exit 1 with a message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FIXTURES, ROOT, compareMasked, readGolden } from './helpers.js';
import { readInputs } from '../src/engine/inputs.js';

const CLI = join(ROOT, 'bin', 'probescale.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('probescale forward writes every golden tensor under the same name', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-cli-'));
  const out = join(tmp, 'hidden.safetensors');
  const dir = join(FIXTURES, 'roberta');
  const r = run('forward', '--model', dir, '--inputs', join(dir, 'inputs.json'), '--out', out, '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  const ours = readGolden(out);
  const golden = readGolden(join(dir, 'golden.safetensors'));
  const mask = readInputs(join(dir, 'inputs.json')).attentionMask;
  for (const [name, g] of golden) {
    const o = ours.get(name);
    assert.ok(o, `missing ${name}`);
    assert.ok(compareMasked(o.data, g.data, g.shape, mask, 1e-3, 1e-4).withinTolerance, name);
  }
  rmSync(tmp, { recursive: true });
});

test('probescale reports user errors in one line and exits 1', () => {
  const r = run('forward', '--model', join(FIXTURES, 'nope'), '--inputs', 'x.json', '--out', 'y.safetensors');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^probescale: .*nope: model path not found/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace for user errors');
});

test('probescale --help lists the subcommands', () => {
  const r = run('--help');
  assert.equal(r.status, 0);
  for (const cmd of ['forward', 'generate', 'convert', 'info', 'demo']) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
});

test('probescale probe writes a task x layer table with CIs, selectivity and MDL', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-cli-probe-'));
  const r = run('probe', '--model', join(ROOT, 'models', 'stories260K', 'stories260K.bin'), '--tasks', 'upos,tense', '--out', tmp, '--max-train', '40', '--max-eval', '20', '--control', '--mdl', '--bootstrap', '100', '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /upos \(accuracy; train\/dev\/test rows \d+\/\d+\/\d+; expected layer [\d.]+ on test\)\n  best layer \d \(chosen on dev\) test [\d.]+ \[[\d.]+, [\d.]+\] vs embeddings [\d.]+ \[[\d.]+, [\d.]+\]; layers add beyond both CIs: (yes|no)\n/);
  // a fresh output directory, so a fresh feature cache: the ratio to the forward passes is printed
  assert.match(r.stdout, /^time: features [\d.]+ s, probes [\d.]+ s \(whole run [\d.]+x the forward passes\)$/m);
  const j = JSON.parse(readFileSync(join(tmp, 'probe.json'), 'utf8')) as { results: { task: string; layers: { layer: number; dev: number; score: number; lo: number; hi: number; selectivity?: number; mdl?: { compression: number } }[]; summary: { bestLayer: number; bestLo: number; layersAddBeyondCIs?: boolean } }[] };
  assert.deepEqual(j.results.map((t) => t.task), ['upos', 'tense']);
  for (const t of j.results) {
    assert.equal(t.layers.length, 6, 'embeddings + 5 layers');
    // probe.json's summary: the best layer is the (first) dev argmax, and the verdict compares test CIs
    assert.equal(t.summary.bestLayer, t.layers.findIndex((l) => l.dev === Math.max(...t.layers.map((x) => x.dev))));
    assert.equal(t.summary.layersAddBeyondCIs, t.summary.bestLo > t.layers[0].hi);
    for (const l of t.layers) {
      assert.ok(l.lo <= l.score && l.score <= l.hi);
      assert.ok(l.mdl && l.mdl.compression > 0);
    }
  }
  assert.ok(j.results[0].layers.every((l) => typeof l.selectivity === 'number'), 'control task for the word-level task');
  assert.ok(j.results[1].layers.every((l) => l.selectivity === undefined), 'no control task for a sentence task');
  rmSync(tmp, { recursive: true });
});

test('probe --json --quiet: one line of JSON on stdout with probe.json\'s results, nothing else on stdout or stderr', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-cli-json-'));
  const r = run('probe', '--model', join(ROOT, 'models', 'stories260K', 'stories260K.bin'), '--tasks', 'sst2', '--out', tmp, '--max-train', '40', '--max-eval', '20', '--bootstrap', '50', '--threads', '1', '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
  // no warnings on these sentences, and --quiet keeps progress lines away even when a loaded machine makes a step slow
  assert.equal(r.stderr, '');
  const printed = JSON.parse(r.stdout) as { probe: string; results: unknown };
  assert.equal(printed.probe, join(tmp, 'probe.json'));
  assert.deepEqual(printed.results, (JSON.parse(readFileSync(join(tmp, 'probe.json'), 'utf8')) as { results: unknown }).results);
  rmSync(tmp, { recursive: true });
});

test('run --quiet: nothing on stderr (no step log, no progress even at a line per unit), results and model still written', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-cli-quiet-'));
  const out = join(tmp, 'out');
  // PROBESCALE_PROGRESS_INTERVAL=0: without --quiet every progress step would print lines here (stderr is a pipe);
  // run from outside the repo (the measuring child once resolved tsx from the cwd and failed there)
  const r = spawnSync(process.execPath, [CLI, 'run', '--model', join(ROOT, 'models', 'stories260K', 'stories260K.bin'), '--tasks', 'sst2', '--budget', '0.6', '--out', out,
    '--max-train', '40', '--max-eval', '20', '--search-evals', '4', '--random-seeds', '1', '--bootstrap', '50', '--threads', '1', '--quiet'], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PROBESCALE_PROGRESS_INTERVAL: '0' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, `results: ${join(out, 'results.json')}\nreport:  ${join(out, 'report.html')}\n`);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { budgets: { methods: { method: string }[] }[]; compressed: { layers: number[]; verification: Record<string, unknown> } };
  assert.equal(res.budgets.length, 1);
  assert.equal(res.budgets[0].methods[0].method, 'probescale');
  assert.ok(res.compressed.layers.length >= 1 && res.compressed.verification.sst2, 'the written model was verified');
  for (const f of ['report.html', join('model', 'config.json'), join('model', 'model.safetensors'), join('model', 'head.safetensors'), join('model', 'onnx', 'model.onnx')]) assert.ok(existsSync(join(out, f)), f);
  rmSync(tmp, { recursive: true });
});

test('study law --runs with a file that is not a study result: one clear line, nothing written', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-cli-'));
  const bad = join(tmp, 'results.json');
  writeFileSync(bad, JSON.stringify({ runs: [] }));
  const r = run('study', 'law', '--runs', bad, '--out', join(tmp, 'out'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /results\.json: no training runs in this file — fix: pass the results.json written by an earlier/);
  assert.ok(!existsSync(join(tmp, 'out')));
  const unknown = run('pretrain', '--model', 'mini-bert', '--out', join(tmp, 'models'));
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown test bed "mini-bert"; choose one of: mini-gpt, mini-roberta, all/);
  rmSync(tmp, { recursive: true });
});
