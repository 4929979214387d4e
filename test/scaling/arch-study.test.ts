/** `study arch`: the measurement loop in scaling/architecture.ts, progress lines when stderr is not a terminal, none with --quiet. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../helpers.js';
import { archShapes, llamaParameters, type ArchRow } from '../../src/scaling/architecture.js';

const CLI = join(ROOT, 'bin', 'probescale.js');
// a budget just large enough for the standard shape (hidden 512, one layer), short sequences: a few seconds
const QUICK = ['study', 'arch', '--params', '2000000', '--vocab', '256', '--seq', '8', '--threads', '1'];
// a plain line per shape instead of one every 10 s, so a quick run shows them (spawnSync: stderr is a pipe, not a terminal)
const env = { ...process.env, PROBESCALE_PROGRESS_INTERVAL: '0' };

test('study arch: typed rows for every shape that fits, progress lines on a non-terminal stderr, none with --quiet', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-arch-'));
  const { shapes, skipped } = archShapes(2e6, 256);
  assert.equal(shapes.length + skipped.length, 18, 'the standard shape + hidden 3 x ratio 3 x groups 2, minus the standard combination');
  assert.equal(shapes[0].name, 'standard');

  const r = spawnSync(process.execPath, [CLI, ...QUICK, '--out', join(tmp, 'arch.json')], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(readFileSync(join(tmp, 'arch.json'), 'utf8')) as ArchRow[];
  assert.deepEqual(rows.map((x) => x.name), shapes.map((s) => s.name));
  for (const x of rows) {
    assert.equal(x.parameters, llamaParameters(x.shape), x.name);
    assert.ok(x.shape.layers >= 1 && x.tokensPerS > 0 && x.latencyMs > 0, x.name);
    assert.equal(x.groups, x.shape.heads / x.shape.kvHeads);
  }
  // the table: header, rule, one row per shape, each compared with the standard shape
  const table = r.stdout.trim().split('\n');
  assert.equal(table.length, rows.length + 2, r.stdout);
  assert.match(table[2], /^\| standard \|.*\| 1\.00x \|/);
  // runs done / to do and time left, then a last line
  const n = rows.length;
  assert.match(r.stderr, new RegExp(`^arch study: 1/${n} shapes \\(\\d+%\\), \\d+ s, ~\\d+ s left$`, 'm'));
  assert.match(r.stderr, new RegExp(`^arch study: ${n}/${n} shapes \\(100%\\), \\d+ s, done$`, 'm'));

  const q = spawnSync(process.execPath, [CLI, ...QUICK, '--quiet'], { encoding: 'utf8', env });
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stderr, '');
  assert.equal(q.stdout.trim().split('\n').length, n + 2, 'the table is the result and stays');
  rmSync(tmp, { recursive: true });
});

test('study arch: a budget no shape fits is one line naming the fix, exit 1', () => {
  const r = spawnSync(process.execPath, [CLI, 'study', 'arch', '--params', '1000', '--vocab', '256'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^probescale: no shape fits 1000 parameters with a 256-token vocabulary .* — fix: raise --params or lower --vocab\n$/);
  const bad = spawnSync(process.execPath, [CLI, 'study', 'arch', '--params', 'lots'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
});
