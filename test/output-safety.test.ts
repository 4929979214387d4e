/**
 * Output folders: probescale never deletes what it did not write (a file or a foreign non-empty folder at
 * the target is refused; --overwrite is the only way past the second), replaces via rename-aside, never hangs
 * on pseudo file systems, and a run that fails validation creates nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT, STORIES } from './helpers.js';
import { OUTPUT_MARKER, checkCanCreate, mkdirp, outputState, prepareOutputDir, writeDirAtomic } from '../src/util/atomic.js';
import { ProbescaleError, fsError } from '../src/util/errors.js';

const CLI = join(ROOT, 'src', 'cli', 'main.ts');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
const BIN = join(STORIES, 'stories260K.bin');
const fresh = () => mkdtempSync(join(tmpdir(), 'ps-out-'));
const fill = (tmp: string) => writeFileSync(join(tmp, 'new.txt'), 'new');

test('writeDirAtomic refuses a file and a foreign folder, leaves both untouched', async () => {
  const root = fresh();
  const file = join(root, 'file');
  writeFileSync(file, 'mine');
  await assert.rejects(writeDirAtomic(file, fill), (e: unknown) => e instanceof ProbescaleError && /is a file/.test((e as Error).message));
  await assert.rejects(writeDirAtomic(file, fill, { overwrite: true }), /is a file/, '--overwrite never replaces a file');
  assert.equal(readFileSync(file, 'utf8'), 'mine');
  const user = join(root, 'user');
  mkdirSync(user);
  writeFileSync(join(user, 'thesis.tex'), 'years of work');
  await assert.rejects(writeDirAtomic(user, fill), /did not write[\s\S]*--overwrite/);
  assert.deepEqual(readdirSync(user), ['thesis.tex']);
  assert.deepEqual(readdirSync(root).sort(), ['file', 'user'], 'no temp folder left behind');
  rmSync(root, { recursive: true });
});

test('writeDirAtomic replaces empty and marked folders (and foreign ones with overwrite), marking its output', async () => {
  const root = fresh();
  const dir = join(root, 'out');
  await writeDirAtomic(dir, fill);
  assert.equal(outputState(dir), 'probescale');
  assert.deepEqual(readdirSync(dir).sort(), [OUTPUT_MARKER, 'new.txt']);
  await writeDirAtomic(dir, (t) => writeFileSync(join(t, 'second.txt'), '2'));
  assert.deepEqual(readdirSync(dir).sort(), [OUTPUT_MARKER, 'second.txt'], 'a marked output is replaced');
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await writeDirAtomic(empty, fill);
  assert.ok(existsSync(join(empty, 'new.txt')));
  const user = join(root, 'user');
  mkdirSync(user);
  writeFileSync(join(user, 'x'), 'x');
  await writeDirAtomic(user, fill, { overwrite: true });
  assert.deepEqual(readdirSync(user).sort(), [OUTPUT_MARKER, 'new.txt']);
  // a fake marker written by someone else is not enough
  const fake = join(root, 'fake');
  mkdirSync(fake);
  writeFileSync(join(fake, OUTPUT_MARKER), '{"tool":"other"}');
  writeFileSync(join(fake, 'data'), 'd');
  await assert.rejects(writeDirAtomic(fake, fill), /did not write/);
  assert.deepEqual(readdirSync(root).sort(), ['empty', 'fake', 'out', 'user'], 'no .old/.tmp folders left');
  rmSync(root, { recursive: true });
});

test('writeDirAtomic: an error while filling keeps the previous output intact', async () => {
  const root = fresh();
  const dir = join(root, 'out');
  await writeDirAtomic(dir, fill);
  await assert.rejects(writeDirAtomic(dir, () => { throw new Error('boom'); }), /boom/);
  assert.equal(readFileSync(join(dir, 'new.txt'), 'utf8'), 'new');
  assert.deepEqual(readdirSync(root), ['out']);
  rmSync(root, { recursive: true });
});

test('prepareOutputDir removes temp leftovers of killed processes in its own folder, nothing else', () => {
  const dir = join(fresh(), 'out');
  prepareOutputDir(dir, 'test');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  mkdirSync(join(dir, `.model.${dead}.1764370000000.old`));
  writeFileSync(join(dir, `.results.json.${dead}.1764370000000.tmp`), 'half');
  writeFileSync(join(dir, `.results.json.${process.ppid}.1764370000000.tmp`), 'a live writer');
  writeFileSync(join(dir, 'notes.tmp'), 'mine');
  prepareOutputDir(dir, 'test');
  assert.deepEqual(readdirSync(dir).sort(), [`.results.json.${process.ppid}.1764370000000.tmp`, OUTPUT_MARKER, 'notes.tmp'].sort());
  rmSync(join(dir, '..'), { recursive: true });
});

test('a full disk (ENOSPC) is a one-line error naming the path', { skip: !existsSync('/dev/full') }, () => {
  let err: unknown;
  try {
    writeFileSync('/dev/full', 'x'.repeat(100));
  } catch (e) {
    err = fsError(e, '/dev/full', 'write the file');
  }
  assert.ok(err instanceof ProbescaleError);
  assert.match((err as Error).message, /^\/dev\/full: could not write the file: no space left on the device \(ENOSPC\)\n  fix: free disk space/);
});

// A spinning mkdir never returns, so the test's own timeout is the hang detector (no wall-clock assertion:
// this machine's load varies too much for one).
test('mkdirp and checkCanCreate fail fast under /proc instead of spinning', { skip: !existsSync('/proc/self'), timeout: 60_000 }, () => {
  assert.throws(() => mkdirp('/proc/probescale-x/y'), (e: unknown) => e instanceof ProbescaleError && /\/proc\/probescale-x/.test((e as Error).message));
  assert.throws(() => checkCanCreate('/proc/probescale-x/y'), /pseudo file system/);
});

test('convert --out refuses a foreign folder and a file (exit 1, untouched); --overwrite replaces the folder', () => {
  const root = fresh();
  const user = join(root, 'user');
  mkdirSync(user);
  writeFileSync(join(user, 'notes.txt'), 'keep me');
  let r = cli('convert', '--from', BIN, '--out', user);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^probescale: .*user: --out is a folder with other files that probescale did not write — fix: .*--overwrite/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  assert.equal(readFileSync(join(user, 'notes.txt'), 'utf8'), 'keep me');
  const file = join(root, 'file');
  writeFileSync(file, 'mine');
  r = cli('convert', '--from', BIN, '--out', file, '--overwrite');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is a file/);
  assert.equal(readFileSync(file, 'utf8'), 'mine');
  r = cli('convert', '--from', BIN, '--out', user, '--overwrite');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(user, 'config.json')) && existsSync(join(user, OUTPUT_MARKER)));
  r = cli('convert', '--from', BIN, '--out', user);
  assert.equal(r.status, 0, 'its own earlier output is replaced without --overwrite: ' + r.stderr);
  rmSync(root, { recursive: true });
});

test('run: --out under /proc and --threads 9999 fail at once; a failed run leaves no --out folder', () => {
  const root = fresh();
  // each cli() call is killed after 60 s (status null), which is how a hang fails these asserts
  let r = cli('run', '--model', BIN, '--tasks', 'sst2', '--out', '/proc/probescale-x/out');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /pseudo file system/);
  r = cli('run', '--model', BIN, '--tasks', 'sst2', '--out', join(root, 'a'), '--threads', '9999');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--threads/);
  r = cli('forward', '--model', BIN, '--inputs', 'x.json', '--out', '/proc/probescale-x/h.safetensors', '--threads', '0');
  assert.equal(r.status, 2);
  r = cli('run', '--model', BIN, '--tasks', 'sst2,nosuchtask', '--out', join(root, 'b'));
  assert.equal(r.status, 2, 'an unknown task name is a usage error');
  r = cli('run', '--model', BIN, '--tasks', 'sst2', '--budget', '0.01', '--out', join(root, 'c'));
  assert.equal(r.status, 1);
  assert.deepEqual(readdirSync(root), [], 'nothing created');
  rmSync(root, { recursive: true });
});

test('run refuses a foreign --out folder before loading anything', () => {
  const root = fresh();
  writeFileSync(join(root, 'precious.txt'), 'x');
  const r = cli('run', '--model', BIN, '--tasks', 'sst2', '--out', root);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /did not write/);
  assert.deepEqual(readdirSync(root), ['precious.txt']);
  rmSync(root, { recursive: true });
});
