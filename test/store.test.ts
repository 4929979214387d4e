/**
 * The scale-out store's hygiene (no Redis needed): probescale writes only into a store folder that is new,
 * empty or marked as its own, deletes only what matches its layout there, and `store --prune` removes the
 * entries of other code versions (and of the older flat layout) while keeping the current one and anything
 * it did not write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Store, pruneStore, storeVersions } from '../src/distribute/store.js';
import { OUTPUT_MARKER } from '../src/util/atomic.js';
import { ROOT } from './helpers.js';

const OLD = '0123456789abcdef';
const NEW = 'fedcba9876543210';

test('a store folder is created and marked on first write; a foreign folder or a file is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-store-'));
  try {
    const s = new Store(join(dir, 'store'), NEW);
    assert.equal(await s.putJson('fits', 'a'.repeat(24), { x: 1 }), true);
    assert.ok(existsSync(join(dir, 'store', OUTPUT_MARKER)));
    assert.deepEqual(s.readJson('fits', 'a'.repeat(24)), { x: 1 });
    assert.ok(existsSync(join(dir, 'store', 'fits', NEW, 'a'.repeat(24), 'done')));
    // someone's folder: nothing is written into it
    const mine = join(dir, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'keep');
    await assert.rejects(new Store(mine, NEW).putJson('fits', 'b'.repeat(24), {}), /--store is a folder with other files that probescale did not write/);
    assert.throws(() => Store.check(mine), /choose a new or empty folder for --store/);
    assert.deepEqual(readdirSync(mine), ['notes.txt']);
    assert.throws(() => Store.check(join(mine, 'notes.txt')), /--store is a file/);
    // a store written before the marker existed (only the store's own folders) is taken over and marked
    const legacy = join(dir, 'legacy');
    mkdirSync(join(legacy, 'shards', 'c'.repeat(24)), { recursive: true });
    new Store(legacy, NEW).ensure();
    assert.ok(existsSync(join(legacy, OUTPUT_MARKER)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prune: other code versions and the flat layout go, the current version and foreign files stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-store-'));
  try {
    const root = join(dir, 'store');
    await new Store(root, OLD).putJson('subsets', 'a'.repeat(24), { old: true });
    await new Store(root, NEW).putJson('subsets', 'a'.repeat(24), { now: true });
    mkdirSync(join(root, 'features', OLD, 'f'.repeat(20)), { recursive: true });
    mkdirSync(join(root, 'features', NEW, 'f'.repeat(20)), { recursive: true });
    mkdirSync(join(root, 'fits', 'd'.repeat(24)), { recursive: true }); // flat layout of before
    writeFileSync(join(root, 'fits', 'README'), 'not probescale\'s'); // a name outside the layout
    assert.deepEqual(storeVersions(root).map((v) => [v.code, v.entries]), [
      [OLD, { features: 1, subsets: 1 }],
      [NEW, { features: 1, subsets: 1 }],
      ['flat', { fits: 1 }],
    ]);
    const r = pruneStore(root, new Set([NEW]));
    assert.deepEqual(r.removed.sort(), [join('features', OLD), join('fits', 'd'.repeat(24)), join('subsets', OLD)].sort());
    assert.deepEqual(storeVersions(root).map((v) => v.code), [NEW]);
    assert.deepEqual(new Store(root, NEW).readJson('subsets', 'a'.repeat(24)), { now: true });
    assert.ok(existsSync(join(root, 'fits', 'README')));
    // a folder probescale did not mark is never pruned
    const other = join(dir, 'other');
    mkdirSync(join(other, 'fits', OLD), { recursive: true });
    assert.throws(() => pruneStore(other, new Set([NEW])), /not a probescale store/);
    assert.ok(existsSync(join(other, 'fits', OLD)));
    // the CLI: lists, prunes all but the current sources' version, one line for a missing folder
    const cli = (...a: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'probescale.js'), 'store', ...a], { encoding: 'utf8' });
    let c = cli(root);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, new RegExp(`^${NEW}: features 1, subsets 1; `, 'm'));
    c = cli(root, '--prune', '--keep', NEW);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /pruned 0 folder\(s\)/);
    c = cli(root, '--prune');
    assert.match(c.stdout, /pruned 2 folder\(s\)/); // NEW is not the sources' code version
    assert.match(c.stdout, /no entries/);
    c = cli(join(dir, 'none'));
    assert.equal(c.status, 1);
    assert.match(c.stderr, /the store folder does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
