/** study law-grid / law-fit on bad input: one line naming the file or argument, nothing written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../helpers.js';

const CLI = join(ROOT, 'bin', 'probescale.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('study law-fit / law-grid: a missing or broken grid directory or search file is one line, nothing written', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ps-law-'));
  try {
    const missing = run('study', 'law-fit', '--runs-dir', join(tmp, 'nope'), '--out', join(tmp, 'out'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no grid directory .*nope — fix: run `probescale study law-grid --runs-dir <dir>` first/);
    const dir = join(tmp, 'grid');
    mkdirSync(dir);
    writeFileSync(join(dir, 'run-0123456789abcdef.json'), '{ not json');
    const broken = run('study', 'law-fit', '--runs-dir', dir, '--out', join(tmp, 'out'));
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /run-0123456789abcdef\.json: unreadable grid run file: .* — fix: delete it; the next law-grid run retrains it/);
    assert.ok(!existsSync(join(tmp, 'out')));
    const noSearch = join(tmp, 'results.json');
    writeFileSync(noSearch, JSON.stringify({ runs: 3 }));
    const grid = run('study', 'law-grid', '--runs-dir', join(tmp, 'g2'), '--search', noSearch);
    assert.equal(grid.status, 1);
    assert.match(grid.stderr, /results\.json: no search result in this file/);
    assert.ok(!existsSync(join(tmp, 'g2')));
    const badSizes = run('study', 'law-grid', '--runs-dir', join(tmp, 'g3'), '--sizes', '3e4,x');
    assert.notEqual(badSizes.status, 0);
    assert.match(badSizes.stderr, /expected comma-separated positive numbers/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
