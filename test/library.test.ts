/**
 * The library as a consumer sees it: `npm run build` compiles src/ to dist/ (JS + .d.ts), and the README's
 * example, importing 'probescale' by name (the package's own exports), runs in plain node without tsx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';
import { BASELINES } from '../src/select/registry.js';

/** The README's n-th js example under "## Library", written into the package folder (where 'probescale'
 * resolves to the package itself through its "exports") and run in plain node. */
function runExample(n: number) {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library'), readme.indexOf('\n## ', readme.indexOf('## Library') + 1));
  const example = [...section.matchAll(/```js\n([\s\S]*?)```/g)][n]?.[1];
  assert.ok(example, `README has js example ${n + 1} under "## Library"`);
  const dir = join(ROOT, '.scratch');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `library-example-${n}.mjs`);
  writeFileSync(file, example);
  return spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: ROOT });
}

test('README library example runs from the compiled package in plain node', () => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { encoding: 'utf8', cwd: ROOT });
  assert.equal(build.status, 0, build.stdout + build.stderr);
  for (const f of ['index.js', 'index.d.ts', 'pipeline/run.js', 'verify/measure-child.js']) assert.ok(existsSync(join(ROOT, 'dist', f)), f);
  const r = runExample(0);
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.trim().split('\n');
  assert.equal(first, 'llama 5');
  const scores = second.split(' ').map(Number);
  assert.equal(scores.length, 6, 'one score per hidden state');
  assert.ok(scores.every((s) => s > 0.3 && s < 1), second);
});

test('README select + compress example: every baseline at the budget, typed in index.d.ts, a model folder written', () => {
  // dist/ was built by the test above (tests in a file run in order)
  const dts = readFileSync(join(ROOT, 'dist', 'index.d.ts'), 'utf8');
  for (const name of ['select', 'SelectOptions', 'Selection', 'compress', 'verify']) assert.match(dts, new RegExp(`\\b${name}\\b`), name);
  rmSync(join(ROOT, 'out', 'library-select'), { recursive: true, force: true });
  const r = runExample(1);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const methods = lines.slice(0, -1).map((l) => /^0\.6 (.+): \[([\d,]*)\] raw ([\d.]+) gain (\S+)$/.exec(l));
  assert.ok(methods.every((m) => m), r.stdout);
  const names = methods.map((m) => m![1]);
  // ProbeScale first, then every registered baseline, then the random subsets' mean
  assert.deepEqual(names, ['probescale', ...BASELINES.map((b) => b.name), 'random (2 seeds)']);
  // stories260K has 5 layers; 60% of its parameters holds the same number of layers for every method
  const kept = methods.slice(0, -1).map((m) => m![2].split(',').map(Number));
  assert.ok(kept.every((k) => k.length === kept[0].length && k.length >= 1 && k.length < 5 && k.every((l) => l >= 0 && l < 5)), r.stdout);
  for (const m of methods) assert.ok(Number(m![3]) > 0.3 && Number(m![3]) < 1.3, m![0]);
  const last = /^(raw|gain): wrote (\d+) parameters to (.+)$/.exec(lines.at(-1)!);
  assert.ok(last, lines.at(-1));
  const dir = join(ROOT, last[3]);
  for (const f of ['config.json', 'model.safetensors', join('onnx', 'model.onnx')]) assert.ok(existsSync(join(dir, f)), f);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).num_hidden_layers, kept[0].length);
  rmSync(join(ROOT, 'out', 'library-select'), { recursive: true, force: true });
});
