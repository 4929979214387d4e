/**
 * `probescale study scale` end to end on two tiny models: stories260K and a copy truncated to its first
 * three layers (written by the compressor), one task, a few sentences. Files, every baseline at every
 * budget, the law against the final and the best layer, the prune-vs-train pair (the truncated copy is one
 * of the big model's own subsets) and its comparison with the small model cut at its best layer, --resume
 * (runs and pair reused; a pair without the cut comparison and a version-1 study measured again), and bad
 * arguments that must fail before --out exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../../src/engine/load.js';
import { materialize } from '../../src/compress/materialize.js';
import { BASELINES } from '../../src/select/registry.js';
import type { ScaleResults } from '../../src/report/scale-results.js';
import { scaleTable } from '../../src/report/scale.js';
import { ROOT, STORIES } from '../helpers.js';

const CLI = join(ROOT, 'bin', 'probescale.js');
const BIG = join(STORIES, 'stories260K.bin');

/** stories260K ("big") and its first three layers written as a model ("small"): the study's arguments for both */
async function twoModels(dir: string, tasks: string, budgets: string): Promise<{ out: string; args: string[] }> {
  const small = join(dir, 't3');
  await materialize(loadModel(BIG), [0, 1, 2], small);
  const out = join(dir, 'out');
  const args = ['study', 'scale', '--models', `big=${BIG},small=${small}`, '--tasks', tasks, '--budgets', budgets, '--pairs', 'big:small',
    '--max-train', '40', '--max-eval', '20', '--search-evals', '2', '--random-seeds', '1', '--bootstrap', '30', '--threads', '1', '--out', out];
  return { out, args };
}

test('study scale: two models, every baseline at every budget, law points, prune vs train, --resume', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-scale-'));
  try {
    const { out, args } = await twoModels(dir, 'upos', '0.4,0.8');
    const first = execFileSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const f of ['results.json', 'table.md', 'report.html', '.probescale-output.json', 'runs/big/results.json', 'runs/small/results.json']) assert.ok(existsSync(join(out, f)), f);
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ScaleResults;
    assert.deepEqual(r.models.map((m) => [m.name, m.layers]), [['big', 5], ['small', 3]]);
    const want = ['probescale', ...BASELINES.map((b) => b.name)];
    for (const m of r.models) {
      assert.deepEqual(m.budgets.filter((b) => b.k !== null).map((b) => b.k), [0.4, 0.8], m.name);
      for (const b of m.budgets) {
        const names = b.methods.map((x) => x.method);
        for (const w of want) assert.ok(names.includes(w), `${m.name} k=${b.k}: ${w}`);
        assert.ok(names.some((n) => n.startsWith('random')), `${m.name} k=${b.k}: random`);
        const ps = b.methods[0];
        assert.ok(ps.retentionCI && ps.retentionCI[0] <= ps.retention + 1e-12 && ps.retention <= ps.retentionCI[1] + 1e-12, 'raw retention with its CI');
        assert.ok(b.kKept > 0 && b.kKept <= (b.k ?? 1) + 1e-9, `${m.name}: kept ${b.kKept} within k ${b.k}`);
      }
    }
    // the law's points are exactly ProbeScale's defined test gains; one held-out error per model with points
    const expected = r.models.flatMap((m) => m.budgets.filter((b) => b.k !== null && b.methods[0].gain !== undefined).map((b) => b.methods[0].gain));
    assert.deepEqual(r.law.points.map((p) => p.g), expected);
    const withPoints = new Set(r.law.points.map((p) => p.model)).size;
    if (withPoints >= 2) assert.equal(r.law.heldOut!.length, withPoints);
    else assert.ok(r.law.note, 'says why the law is not validated');
    // prune vs train: big keeps at most small's layer parameters (3 of its layers); paired CI holds the difference
    const p = r.pairs[0];
    assert.equal(p.big, 'big');
    assert.ok(p.layers.length <= 3 && p.keptParameters.layers <= p.smallParameters.layers);
    const t = p.tasks[0];
    assert.equal(t.task, 'upos');
    assert.ok(Math.abs(t.diff.score - (t.pruned.score - t.small.score)) < 1e-9);
    assert.ok(t.diff.lo <= t.diff.score + 1e-12 && t.diff.score <= t.diff.hi + 1e-12);
    // the truncated copy is big's layers [0,1,2]: if ProbeScale kept those, the two are the same network
    if (p.layers.join() === '0,1,2') assert.equal(t.diff.score, 0);
    assert.ok(p.latency.prunedMs > 0 && p.latency.smallMs > 0);
    // the small model cut after its dev-chosen best hidden state: that state, at most small's parameters, and the
    // full small model's score when the best state is its last
    const sb = p.smallBest!;
    const smallRef = r.models[1].references.upos;
    const c = sb.tasks[0];
    assert.equal(c.state, smallRef.best.state);
    assert.equal(sb.state, c.state);
    assert.ok(sb.parameters.layers <= p.smallParameters.layers && sb.parameters.total <= p.smallParameters.total);
    if (c.state === 3) assert.deepEqual(c.truncated, t.small);
    assert.ok(Math.abs(c.diff.score - (c.pruned.score - c.truncated.score)) < 1e-9);
    assert.ok(c.diff.lo <= c.diff.score + 1e-12 && c.diff.score <= c.diff.hi + 1e-12);
    assert.ok(sb.latencyMs > 0 && Math.abs(sb.ratio - p.latency.prunedMs / sb.latencyMs) < 1e-9);
    // equal latency: every distinct subset ProbeScale chose for big was timed; the one taken is the best on dev
    // among those at most as slow as small, and is scored against small like the equal-parameter subset
    const el = p.equalLatency!;
    const chosen = [...new Set(r.models[0].budgets.map((b) => b.methods[0].layers.join()))];
    assert.deepEqual(el.candidates.map((x) => x.layers.join()).sort(), chosen.sort());
    assert.ok(el.candidates.every((x) => x.latencyMs > 0) && el.smallMs === p.latency.smallMs);
    const fast = el.candidates.filter((x) => x.latencyMs <= el.smallMs);
    if (fast.length === 0) assert.equal(el.layers, undefined);
    else {
      assert.equal(el.layers!.join(), fast.reduce((x, y) => (y.devRetention > x.devRetention ? y : x)).layers.join());
      assert.ok(el.latencyMs! <= el.smallMs);
      const e = el.tasks![0];
      assert.deepEqual(e.small, t.small);
      assert.ok(Math.abs(e.diff.score - (e.pruned.score - e.small.score)) < 1e-9);
    }
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    for (const w of [...want, 'Prune vs train', 'Law', "cut after each task's best hidden state", "measured latency"]) assert.ok(table.includes(w), `table.md: ${w}`);
    assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes('<svg'), 'report has a plot');
    assert.ok(first.includes('prune vs train'));
    // version 2: gain against the best layer, per model its references and R, ProbeScale's gain vs best per budget
    assert.equal(r.version, 2);
    const best = r.law.best!;
    assert.deepEqual(best.models.map((d) => d.model), ['big', 'small']);
    for (const [i, m] of r.models.entries()) {
      const d = best.models[i];
      const t = d.tasks[0];
      const x = m.references.upos;
      assert.equal(t.finalUndefined, x.gainUndefined.test);
      if (t.best !== undefined) {
        // R * gain vs best = gain vs final, per budget (one task: the identity is exact)
        for (const b of m.budgets) {
          const s = b.methods[0].scores.upos.score;
          assert.ok(Math.abs(b.gainVsBest! - (s - x.embeddings.test) / (t.best - x.embeddings.test)) < 1e-9, `${m.name}: gain vs best`);
          if (t.R !== undefined && b.methods[0].gain !== undefined) assert.ok(Math.abs(t.R * b.gainVsBest! - b.methods[0].gain) < 1e-9, `${m.name}: R * G_best = G_final`);
        }
      } else assert.ok(t.bestUndefined && m.budgets.every((b) => b.gainVsBest === undefined), `${m.name}: says why there is no best reference`);
    }
    assert.deepEqual(best.points.map((p) => p.g), r.models.flatMap((m) => m.budgets.filter((b) => b.k !== null && b.gainVsBest !== undefined).map((b) => b.gainVsBest)));
    if (best.points.length >= 2) assert.ok(best.k.fit && best.k.sizeFree && best.depth.fit && best.depth.sizeFree);
    else assert.ok(best.note);
    // --resume reuses both finished runs and the pair, and reproduces the same selections
    const again = execFileSync(process.execPath, [CLI, ...args, '--resume'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(again.match(/reusing the finished run/g)?.length, 2);
    assert.equal(again.match(/reusing its comparison/g)?.length, 1);
    const r2 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ScaleResults;
    assert.deepEqual(r2.models.map((m) => m.budgets.map((b) => b.methods[0].layers)), r.models.map((m) => m.budgets.map((b) => b.methods[0].layers)));
    assert.deepEqual(r2.pairs, r.pairs);
    // a pair written before the cut (or equal-latency) comparison existed is measured again, not reused without it
    const noCut = JSON.parse(JSON.stringify(r2)) as ScaleResults;
    delete noCut.pairs[0].smallBest;
    delete noCut.pairs[0].equalLatency;
    assert.ok(!scaleTable(noCut).includes("cut after each task's best hidden state"));
    writeFileSync(join(out, 'results.json'), JSON.stringify(noCut));
    const remeasured = execFileSync(process.execPath, [CLI, ...args, '--resume'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(remeasured.match(/reusing its comparison/g), null);
    const r3 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ScaleResults;
    assert.deepEqual(r3.pairs[0].smallBest!.tasks.map((x) => [x.state, x.truncated]), sb.tasks.map((x) => [x.state, x.truncated]));
    // a version-1 study (written before law.best) renders without the best-layer parts; with other settings
    // (--bootstrap) the runs and the pair are computed again, not reused
    const v1 = JSON.parse(JSON.stringify(r)) as ScaleResults;
    delete v1.version;
    delete v1.law.best;
    for (const m of v1.models) for (const b of m.budgets) delete b.gainVsBest;
    const t1 = scaleTable(v1);
    assert.ok(t1.includes('Law') && !t1.includes('Law against the best layer') && !t1.includes('gain vs best'));
    assert.ok(scaleTable(r2).includes('Law against the best layer'));
    writeFileSync(join(out, 'results.json'), JSON.stringify({ ...v1, options: { ...v1.options, bootstrap: 31 } }));
    const third = execFileSync(process.execPath, [CLI, ...args, '--resume'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(third.match(/reusing the finished run/g)?.length, 2);
    assert.equal(third.match(/reusing its comparison/g), null, 'a study made with other settings: the pair is measured again');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('study scale: prune vs train against the small model cut after each task\'s best layer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-scale-cut-'));
  try {
    const { out, args } = await twoModels(dir, 'upos,tense', '0.8');
    execFileSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ScaleResults;
    const p = r.pairs[0];
    const sb = p.smallBest!;
    const refs = r.models[1].references;
    assert.deepEqual(sb.tasks.map((t) => t.state), [refs.upos.best.state, refs.tense.best.state]);
    // on this data tense's best state is below the small model's last, so a truncated copy is scored
    const cut = sb.tasks.filter((t) => t.state < 3);
    assert.ok(cut.length > 0, `some task's best state is below 3: ${sb.tasks.map((t) => t.state)}`);
    assert.equal(sb.state, Math.max(...sb.tasks.map((t) => t.state)));
    for (const [i, t] of sb.tasks.entries()) {
      if (t.state === 3) assert.deepEqual(t.truncated, p.tasks[i].small, `${t.task}: all layers = the small model`);
      assert.deepEqual(t.pruned, p.tasks[i].pruned);
      assert.ok(Math.abs(t.diff.score - (t.pruned.score - t.truncated.score)) < 1e-9);
    }
    if (sb.state < 3) assert.ok(sb.parameters.layers < p.smallParameters.layers && sb.latencyMs > 0);
    else assert.equal(sb.latencyMs, p.latency.smallMs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('study scale: bad --pairs, --budgets and --models fail with one line before --out exists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-scale-bad-'));
  try {
    const out = join(dir, 'out');
    const run = (...extra: string[]) => spawnSync(process.execPath, [CLI, 'study', 'scale', '--tasks', 'upos', '--out', out, ...extra], { cwd: ROOT, encoding: 'utf8' });
    const cases: [string[], RegExp][] = [
      [['--models', `a=${BIG},b=${BIG}`, '--pairs', 'a:c'], /--pairs: "a:c" must be BIG:SMALL/],
      [['--models', `a=${BIG},b=${BIG}`, '--pairs', 'a:b'], /is not larger than/],
      [['--models', `a=${BIG},a=${BIG}`], /two models are named "a"/],
      [['--models', BIG, '--budgets', '0,0.5'], /kept fractions in \(0, 1\]/],
      [['--models', BIG, '--budgets', '0.01'], /holds one layer/],
    ];
    for (const [extra, re] of cases) {
      const r = run(...extra);
      assert.notEqual(r.status, 0, extra.join(' '));
      assert.match(r.stderr, re, extra.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.ok(!existsSync(out), `nothing written: ${extra.join(' ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
