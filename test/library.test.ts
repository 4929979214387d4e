/**
 * The library as a consumer sees it: `npm run build` compiles src/ to dist/ (JS + .d.ts), and the README's
 * example, importing 'probescale' by name (the package's own exports), runs in plain node without tsx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

test('README library example runs from the compiled package in plain node', () => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { encoding: 'utf8', cwd: ROOT });
  assert.equal(build.status, 0, build.stdout + build.stderr);
  for (const f of ['index.js', 'index.d.ts', 'pipeline/run.js', 'verify/measure-child.js']) assert.ok(existsSync(join(ROOT, 'dist', f)), f);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = /## Library[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'README has a js example under "## Library"');
  // inside the package folder, 'probescale' resolves to the package itself through its "exports"
  const dir = join(ROOT, '.scratch');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'library-example.mjs');
  writeFileSync(file, example);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.trim().split('\n');
  assert.equal(first, 'llama 5');
  const scores = second.split(' ').map(Number);
  assert.equal(scores.length, 6, 'one score per hidden state');
  assert.ok(scores.every((s) => s > 0.3 && s < 1), second);
});
