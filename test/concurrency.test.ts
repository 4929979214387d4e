/**
 * Feature cache and output folders under crashes and concurrent use: damaged entries are rebuilt, stale temp
 * folders of dead processes are removed, long token-task sentences are scored in windows (no silently
 * dropped test units), the output lock is taken over from a dead holder, and two processes probing into one
 * --out at once both succeed with the same results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../src/engine/load.js';
import { Engine } from '../src/engine/engine.js';
import { extractFeatures, type RowSpec } from '../src/features/extract.js';
import { taskRows } from '../src/features/task-rows.js';
import { lockDir } from '../src/util/atomic.js';
import type { Task } from '../src/data/types.js';
import { ROOT, STORIES } from './helpers.js';

const BIN = join(STORIES, 'stories260K.bin');
const model = loadModel(BIN);

/** a pid that is certainly not running: a child that has already exited */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

test('feature cache: a damaged meta.json or layer file is detected and rebuilt; dead processes\' temp folders are removed', async () => {
  const tok = await model.tokenizer();
  const engine = await Engine.create(model, { threads: 1, logits: false });
  const seqs = ['Tom ran.', 'The cat sat.'].map((t) => tok.encode(t));
  const rows: RowSpec[] = seqs.map((s, i) => ({ seq: i, ranges: [[0, s.length]] }));
  const cacheDir = mkdtempSync(join(tmpdir(), 'ps-cache-'));
  const first = await extractFeatures(engine, seqs, rows, { cacheDir, label: 't' });
  const reference = first.load(2).data.slice();
  // a crash left meta.json half-written
  writeFileSync(join(first.dir, 'meta.json'), '{"rows": 2, "co');
  const rebuilt = await extractFeatures(engine, seqs, rows, { cacheDir, label: 't' });
  assert.equal(rebuilt.fromCache, false, 'rebuilt, not trusted');
  assert.deepEqual(rebuilt.load(2).data, reference);
  // a layer file cut short (disk full)
  writeFileSync(join(rebuilt.dir, 'layer-3.f32'), new Uint8Array(8));
  const again = await extractFeatures(engine, seqs, rows, { cacheDir, label: 't' });
  assert.equal(again.fromCache, false);
  assert.deepEqual(again.load(2).data, reference);
  assert.equal((await extractFeatures(engine, seqs, rows, { cacheDir, label: 't' })).fromCache, true);
  // leftovers of a SIGKILLed process (dead pid) go; those of a live one stay
  // (the clean-up runs once per cache folder per process: a fresh folder)
  const cacheDir2 = mkdtempSync(join(tmpdir(), 'ps-cache-'));
  mkdirSync(join(cacheDir2, `${'a'.repeat(20)}.${deadPid()}.tmp`));
  mkdirSync(join(cacheDir2, `${'b'.repeat(20)}.${process.ppid}.tmp`));
  mkdirSync(join(cacheDir2, `notes.${deadPid()}.tmp`)); // not ours: never touched
  await extractFeatures(engine, seqs, rows, { cacheDir: cacheDir2, label: 't' });
  const left = readdirSync(cacheDir2);
  assert.ok(!left.some((n) => n.startsWith('aaaa')), 'dead pid temp removed');
  assert.ok(left.some((n) => n.startsWith('bbbb')), 'live pid temp kept');
  assert.ok(left.some((n) => n.startsWith('notes.')), 'a folder probescale did not name is left alone');
  await engine.release();
  rmSync(cacheDir, { recursive: true });
  rmSync(cacheDir2, { recursive: true });
});

test('token task: a sentence longer than the positions is scored in windows, every word a row', async () => {
  const tok = await model.tokenizer();
  const words = Array.from({ length: 60 }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]);
  const task: Task = { name: 'tags', kind: 'token', labels: ['A', 'B'], metric: 'accuracy', description: '', source: 'test', splits: { train: [], dev: [], test: [{ words, labels: words.map((_, i) => (i % 2 ? 'A' : 'B')) }, { words: ['Tom', 'ran'], labels: ['A', 'B'] }] } };
  const r = taskRows(task, task.splits.test, tok, { maxTokens: 16 });
  assert.equal(r.rows.length, 62, 'all 62 words scored');
  assert.equal(r.overflow.windowed, 1);
  assert.ok(r.seqs.length > 3 && r.seqs.every((s) => s.length <= 16));
  assert.deepEqual(Array.from(r.labels.slice(0, 4)), [1, 0, 1, 0], 'labels stay with their words across windows');
  assert.deepEqual([...new Set(r.rowSentence)], [0, 1]);
});

test('edge task: a sentence longer than the positions is scored in windows; only edges wider than a window are left out, and counted', async () => {
  const tok = await model.tokenizer();
  {
    const words = Array.from({ length: 60 }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]);
    // every word's edge to its right neighbour (59, each inside some window) and one edge across the whole sentence
    const edges = [...words.slice(1).map((_, i) => ({ span1: [i, i + 1] as [number, number], span2: [i + 1, i + 2] as [number, number], label: i % 2 ? 'A' : 'B' })), { span1: [0, 1] as [number, number], span2: [59, 60] as [number, number], label: 'A' }];
    const task: Task = { name: 'rel', kind: 'edge', labels: ['A', 'B'], metric: 'accuracy', description: '', source: 'test', splits: { train: [], dev: [], test: [{ words, edges }] } };
    const r = taskRows(task, task.splits.test, tok, { maxTokens: 16 });
    assert.equal(r.overflow.windowed, 1);
    assert.equal(r.rows.length, 59, 'every neighbour edge scored');
    assert.equal(r.overflow.droppedEdges, 1, 'the sentence-wide edge is counted, not silently dropped');
    assert.ok(r.seqs.length > 3 && r.seqs.every((s) => s.length <= 16));
    // each row's two spans are distinct, non-empty token ranges inside its window, and labels follow their edges
    for (const row of r.rows) for (const [a, b] of row.ranges) assert.ok(a < b && b <= r.seqs[row.seq].length);
    assert.deepEqual([...r.labels].sort(), [...edges.slice(0, 59).map((e) => (e.label === 'A' ? 0 : 1))].sort());
    // a short sentence is still one sequence with its edges in order
    const short = taskRows(task, [{ words: ['Tom', 'ran', 'home'], edges: edges.slice(0, 2) }], tok, { maxTokens: 16 });
    assert.equal(short.seqs.length, 1);
    assert.deepEqual(Array.from(short.labels), [1, 0]);
    assert.deepEqual(short.overflow, { windowed: 0, truncated: 0, droppedEdges: 0, droppedWords: 0 });
  }
});

test('a word longer than the whole window keeps its first tokens instead of being dropped', async () => {
  const tok = await model.tokenizer();
  const long = 'x'.repeat(80);
  const task: Task = { name: 'tags', kind: 'token', labels: ['A', 'B'], metric: 'accuracy', description: '', source: 'test', splits: { train: [], dev: [], test: [{ words: ['see', long, 'now'], labels: ['A', 'B', 'A'] }] } };
  const r = taskRows(task, task.splits.test, tok, { maxTokens: 16 });
  assert.equal(r.rows.length, 3, 'all three words scored');
  assert.equal(r.overflow.droppedWords, 0);
  assert.ok(r.seqs.every((s) => s.length <= 16));
});

test('output lock: a lock left by a dead process is taken over; a live holder is waited for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-lock-'));
  writeFileSync(join(dir, '.probescale.lock'), String(deadPid()));
  const unlock = await lockDir(dir);
  assert.equal(readFileSync(join(dir, '.probescale.lock'), 'utf8'), String(process.pid));
  unlock();
  // held by a live process (the test runner, our parent): wait until it lets go
  writeFileSync(join(dir, '.probescale.lock'), String(process.ppid));
  let second = false;
  const waiting = lockDir(dir).then((u) => ((second = true), u));
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(second, false, 'waits while a live process holds it');
  rmSync(join(dir, '.probescale.lock'));
  (await waiting)();
  assert.equal(second, true);
  assert.ok(!existsSync(join(dir, '.probescale.lock')));
  rmSync(dir, { recursive: true });
});

test('two processes probing into one --out at once both succeed and agree', { timeout: 300_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'ps-two-'));
  const args = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'probe', '--model', BIN, '--tasks', 'sst2,tense', '--out', out, '--max-train', '60', '--max-eval', '30', '--bootstrap', '50', '--threads', '1'];
  const go = () =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, args, { cwd: ROOT });
      let stderr = '';
      c.stderr.on('data', (b) => (stderr += b));
      c.on('close', (code) => resolve({ code, stderr }));
    });
  const [a, b] = await Promise.all([go(), go()]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const j = JSON.parse(readFileSync(join(out, 'probe.json'), 'utf8')) as { results: { task: string; layers: { score: number }[] }[] };
  assert.deepEqual(j.results.map((r) => r.task), ['sst2', 'tense']);
  // the cache holds complete entries only: no temp or damaged folders left behind
  assert.deepEqual(readdirSync(join(out, '.features')).filter((n) => /\.(tmp|damaged|old)$/.test(n)), []);
  // a third run reads everything from the cache and gets the same scores
  const c = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const k = JSON.parse(readFileSync(join(out, 'probe.json'), 'utf8')) as typeof j;
  assert.deepEqual(k.results.map((r) => r.layers.map((l) => l.score)), j.results.map((r) => r.layers.map((l) => l.score)));
  rmSync(out, { recursive: true });
});
