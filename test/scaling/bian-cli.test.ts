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

test('law table: each trained search shape is compared with the standard of its own token budget', async () => {
  const { lawTable } = await import('../../src/cli/commands/study-bian.js');
  const shape = { hidden: 32, layers: 2, heads: 4, kvHeads: 1, intermediate: 128 };
  const t = (tag: string, tokens: number, loss: number) => ({ tag, shape, N: tokens / 10, tokens, predicted: loss, loss: { mean: loss, sd: 0, n: 1 } });
  const chin = { E: 1, A: 1, alpha: 0.1, B: 1, beta: 0.1 };
  const a = {
    runs: 4, configurations: 4, points: 12, sizes: [30000, 240000], seeds: [1],
    laws: { chinchilla: chin, bian: { a: [1, 0, 0], b: [1, 0, 0] } }, optimum: { x: NaN, r: NaN }, inSample: {},
    randomHoldOut: { repeats: 1, fraction: 0.2 }, sweeps: [],
    // the larger budget's rows first, as a directory listing may give them
    trained: [t('search-chosen', 2400000, 3.0), t('search-standard', 2400000, 3.2), t('search-standard', 300000, 4.0), t('search-chosen', 300000, 4.4)],
  };
  const lines = lawTable(a as never).split('\n').filter((l) => l.startsWith('| chosen') || l.startsWith('| standard'));
  const cells = (l: string) => l.split('|').slice(1, -1).map((c) => c.trim());
  assert.deepEqual(lines.map((l) => [cells(l)[0], cells(l)[6], cells(l)[9]]), [
    ['standard', '300000', ''],
    ['chosen', '300000', '10.00%'],
    ['standard', '2400000', ''],
    ['chosen', '2400000', '-6.25%'],
  ]);
});
