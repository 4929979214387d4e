/** `probescale predict` on planted results.json files: floor warning, smallest feasible answer, gain/raw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from './helpers.js';

const CLI = join(ROOT, 'bin', 'probescale.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** A run of a 4-layer model (fixed 20, 20 per layer): raw retention barely moves, gain climbs. */
function planted(withGain: boolean) {
  const pt = (layers: number, raw: number, gain: number) => ({ methods: [{ method: 'probescale', layers: Array.from({ length: layers }, (_, i) => i), parameters: 20 + 20 * layers, retention: raw, scores: {}, ...(withGain ? { gain } : {}) }] });
  return {
    model: 'unused', tasks: [{ name: 't', weight: 1 }], retentionMode: withGain ? 'gain' : undefined,
    parameters: { full: 100, fixed: 20, perLayer: [20, 20, 20, 20] },
    budgets: [pt(1, 0.985, 0.3), pt(2, 0.99, 0.55), pt(3, 0.995, 0.8)],
    embeddingsOnly: withGain ? { retention: 0.98, gain: 0 } : undefined,
  };
}

test('predict: raw target below the curve floor warns and answers the smallest feasible model; gain answers above it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-predict-'));
  const file = join(dir, 'results.json');
  writeFileSync(file, JSON.stringify(planted(true)));
  const raw = run('predict', '--results', file, '--target', '0.95', '--retention', 'raw');
  assert.equal(raw.status, 0, raw.stderr);
  assert.match(raw.stdout, /warning: the curve's floor is above the target/);
  assert.match(raw.stdout, /raw retention 0\.95: 0\.4000 of the parameters \(40\): .*the answer is that smallest model/);
  const gain = run('predict', '--results', file, '--target', '0.95');
  assert.equal(gain.status, 0, gain.stderr);
  assert.doesNotMatch(gain.stdout, /warning/);
  const x = Number(/gain retention 0\.95: ([\d.]+) of the parameters/.exec(gain.stdout)?.[1]);
  assert.ok(x > 0.8 && x <= 1, `gain answer ${x}`);
  // --json: one line a program can read, with the same answer
  const js = run('predict', '--results', file, '--target', '0.95', '--retention', 'raw', '--json');
  assert.equal(js.status, 0, js.stderr);
  const a = JSON.parse(js.stdout);
  assert.equal(a.mode, 'raw');
  assert.equal(a.answer, 0.4);
  assert.equal(a.smallestFeasible, 0.4);
  assert.match(a.warnings[0], /floor is above the target/);
  // a results file without gain (older runs) cannot answer a gain target: one line, exit 1
  writeFileSync(file, JSON.stringify(planted(false)));
  const old = run('predict', '--results', file, '--target', '0.95', '--retention', 'gain');
  assert.equal(old.status, 1);
  assert.match(old.stderr, /has no gain retention/);
  rmSync(dir, { recursive: true });
});

test('info --json prints one line of JSON', () => {
  const r = run('info', '--model', join(ROOT, 'models', 'stories260K', 'stories260K.bin'), '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.equal(JSON.parse(r.stdout).layers, 5);
});
