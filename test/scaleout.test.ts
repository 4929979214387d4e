/**
 * Scale-out end to end: a local redis-server on a free port, `probescale worker` child processes, and
 * `probe --redis` compared with the in-process `probe` on stories260K (a few sentences): the same scores and
 * the same feature bytes; then a worker SIGKILLed during its first job, whose job another worker retries,
 * with the result still identical; and a job that cannot run fails the run naming the unit and the reason.
 * `run --redis` (its subset evaluations as jobs) and the law and small-LM studies' training runs as jobs give
 * the in-process results.
 * Skipped (with a message) only when redis-server is not installed and CI is not set; in CI it must run.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ROOT, STORIES } from './helpers.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'bin', 'probescale.js');

function findRedis(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  return dirs.map((d) => join(d, 'redis-server')).find((p) => existsSync(p));
}
const REDIS = findRedis();
if (!REDIS && process.env.CI) throw new Error('redis-server not found but CI is set: .ci/run installs Debian\'s redis-server before npm test');
const skip = REDIS ? false : 'redis-server not found (apt-get install redis-server); scale-out tests skipped outside CI';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

interface Proc {
  child: ChildProcess;
  log: () => string;
  /** resolves when the log has a line matching re */
  waitFor(re: RegExp, ms?: number): Promise<string>;
}

/** every process started, so `after` stops them all even when a test failed before stopping its own */
const started: Proc[] = [];

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: { re: RegExp; res: (l: string) => void }[] = [];
  const onData = (d: Buffer) => {
    text += d.toString();
    for (const w of [...waiters]) {
      const m = text.split('\n').find((l) => w.re.test(l));
      if (m) waiters.splice(waiters.indexOf(w), 1), w.res(m);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const p: Proc = {
    child,
    log: () => text,
    waitFor: (re, ms = 60_000) =>
      new Promise((res, rej) => {
        const m = text.split('\n').find((l) => re.test(l));
        if (m) return res(m);
        const t = setTimeout(() => rej(new Error(`no line matching ${re} within ${ms} ms; log:\n${text}`)), ms);
        waiters.push({ re, res: (l) => (clearTimeout(t), res(l)) });
      }),
  };
  started.push(p);
  return p;
}

/** a test that failed before stopping its workers must not leave them taking the next test's jobs */
const stopAll = () => Promise.all(started.map((w) => stop(w, 'SIGKILL')));

function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    p.child.once('exit', () => res());
    p.child.kill(signal);
  });
}

/** probe.json results without the timings (wall-clock seconds differ run to run). */
function scores(json: string): unknown {
  const r = JSON.parse(json).results as { layers: { seconds: number }[]; featureSeconds: number; probeSeconds: number; featuresFromCache: boolean }[];
  return r.map((t) => ({ ...t, featureSeconds: 0, probeSeconds: 0, featuresFromCache: false, layers: t.layers.map((l) => ({ ...l, seconds: 0 })) }));
}

const PROBE = ['probe', '--model', STORIES, '--tasks', 'upos,sst2', '--max-train', '40', '--max-eval', '20', '--bootstrap', '100', '--threads', '1', '--json'];
const WORKER = (url: string) => ['worker', '--redis', url, '--threads', '1', '--lock-ms', '3000'];

describe('scale-out through Redis + BullMQ', { skip }, () => {
  let dir: string;
  let redis: ChildProcess;
  let url: string;
  let inProcess: unknown;
  let workers: Proc[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'probescale-scaleout-'));
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn(REDIS!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    for (let i = 0; ; i++) {
      try {
        await c.connect();
        await c.ping();
        break;
      } catch {
        if (i > 100) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    c.disconnect();
    const { stdout } = await run(process.execPath, [CLI, ...PROBE, '--out', join(dir, 'local')]);
    inProcess = scores(stdout);
  });

  after(async () => {
    await stopAll();
    if (redis) await new Promise<void>((res) => (redis.exitCode !== null ? res() : (redis.once('exit', () => res()), redis.kill('SIGTERM'))));
    rmSync(dir, { recursive: true, force: true });
  });

  test('two workers give the in-process scores and the same feature bytes', async () => {
    await stopAll();
    workers = [start(WORKER(url)), start(WORKER(url))];
    await Promise.all(workers.map((w) => w.waitFor(/ready/)));
    const { stdout, stderr } = await run(process.execPath, [CLI, ...PROBE, '--out', join(dir, 'two'), '--redis', url, '--shard-sequences', '32']);
    assert.deepEqual(scores(stdout), inProcess);
    assert.match(stderr, /scale-out features upos\/train: \d+ jobs .* for 2 worker\(s\)/);
    assert.match(stderr, /jobs per worker so far: /);
    // every split's features, read from its shards (no assembled copy), are the in-process cache entry byte for byte
    const local = join(dir, 'local', '.features');
    const shardRoot = join(dir, 'two', '.store', 'shards');
    const [code] = readdirSync(shardRoot);
    const shards = readdirSync(join(shardRoot, code)).map((k) => ({ dir: join(shardRoot, code, k), ...JSON.parse(readFileSync(join(shardRoot, code, k, 'index.json'), 'utf8')) }));
    const keys = readdirSync(local).filter((k) => /^[0-9a-f]{20}$/.test(k));
    assert.equal(keys.length, 6);
    const { partsFeatureSet } = await import('../src/features/extract.js');
    for (const k of keys) {
      const meta = JSON.parse(readFileSync(join(local, k, 'meta.json'), 'utf8'));
      const mine = shards.filter((x) => x.key === k);
      assert.ok(mine.length >= 1, `${k}: no shards`);
      const set = partsFeatureSet(meta, mine, true);
      for (let l = 0; l < meta.layers; l++) {
        const d = set.load(l).data;
        assert.ok(Buffer.from(d.buffer, d.byteOffset, d.byteLength).equals(readFileSync(join(local, k, `layer-${l}.f32`))), `${k}/layer-${l}`);
      }
    }
    assert.equal(existsSync(join(dir, 'two', '.store', 'features', code)) && readdirSync(join(dir, 'two', '.store', 'features', code)).some((k) => keys.includes(k)), false, 'no assembled copy of the probing features');
    // a second run finds every unit in the store: nothing is queued or computed again
    const again = await run(process.execPath, [CLI, ...PROBE, '--out', join(dir, 'two'), '--redis', url]);
    assert.deepEqual(scores(again.stdout), inProcess);
    assert.doesNotMatch(again.stderr, /scale-out .* jobs \(/);
    await Promise.all(workers.map((w) => stop(w)));
  });

  test('run --redis: the search and every baseline scored by workers give the in-process selection and scores', async () => {
    await stopAll();
    workers = [start(WORKER(url)), start(WORKER(url))];
    await Promise.all(workers.map((w) => w.waitFor(/ready/)));
    // local search (10 subsets of 2 layers > 8 evaluations): starts, then swaps two at a time (two workers)
    const RUN = ['run', '--model', STORIES, '--tasks', 'upos', '--max-train', '40', '--max-eval', '20', '--budget', '0.6', '--search-evals', '8', '--random-seeds', '1', '--bootstrap', '50', '--threads', '1', '--json'];
    const [local, remote] = await Promise.all([run(process.execPath, [CLI, ...RUN, '--out', join(dir, 'run-local')]), run(process.execPath, [CLI, ...RUN, '--out', join(dir, 'run-redis'), '--redis', url])]);
    // everything but wall-clock times, measured latencies/memory and the output folder: to the bit
    const same = (json: string) => {
      const r = JSON.parse(json);
      const { measured: _m, compute: _c, dir: _d, ...compressed } = r.compressed;
      return { ...r, date: 0, seconds: 0, compressed, probes: scores(JSON.stringify({ results: r.probes })) };
    };
    const a = same(local.stdout);
    assert.deepEqual(same(remote.stdout), a);
    assert.equal(a.budgets[0].search.method, 'local');
    assert.equal(a.budgets[0].search.evaluated, 8);
    assert.match(remote.stderr, /scale-out subsets on dev: \d+ jobs/);
    assert.match(remote.stderr, /scale-out subsets on test: \d+ jobs/);
    // every subset ran on a worker: one store entry per subset a worker did (a job whose lock lapsed on this
    // loaded machine may run twice; its entry is still one)
    const done = new Set(workers.flatMap((w) => w.log().split('\n').map((l) => / done (subset \[.*\] on \w+) in /.exec(l)?.[1]).filter((u) => u !== undefined)));
    assert.ok(done.size >= 8 + 2, `${done.size} subsets`);
    const [code] = readdirSync(join(dir, 'run-redis', '.store', 'subsets'));
    assert.equal(readdirSync(join(dir, 'run-redis', '.store', 'subsets', code)).length, done.size);
    await Promise.all(workers.map((w) => stop(w)));
  });

  test('a worker killed (SIGKILL) during a job: another worker retries it, same result', async () => {
    await stopAll();
    const a = start(WORKER(url));
    const b = start(WORKER(url));
    workers = [a, b];
    await Promise.all(workers.map((w) => w.waitFor(/ready/)));
    const coordinator = run(process.execPath, [CLI, ...PROBE, '--out', join(dir, 'killed'), '--redis', url, '--shard-sequences', '32']);
    // its first job loads the model and builds the engine (~0.5-5 s): killed in the middle of it
    const line = await a.waitFor(/: start /);
    a.child.kill('SIGKILL');
    const unit = / start (.*) \(job /.exec(line)![1];
    const { stdout, stderr } = await coordinator;
    assert.deepEqual(scores(stdout), inProcess);
    assert.doesNotMatch(a.log(), new RegExp(`done ${unit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(b.log(), new RegExp(`start ${unit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the surviving worker ran the killed job');
    assert.match(stderr, /retried after a lost worker/);
    await stop(b);
  });

  test('a job that cannot run fails the run naming the unit and the reason; law and small-LM study runs as jobs give the in-process runs', async () => {
    await stopAll();
    const w = start(WORKER(url));
    workers = [w];
    await w.waitFor(/ready/);
    const { loadModel } = await import('../src/engine/load.js');
    const { JobQueue } = await import('../src/distribute/queue.js');
    const model = loadModel(STORIES);
    const q = await JobQueue.open(url, join(dir, 'bad-store'));
    try {
      const run = { store: q.store.root, code: 'not-this-code', model: STORIES, modelHash: model.contentHash(), precision: 'fp32' as const, tasks: 'sst2', load: { seed: 0 }, suite: {} };
      await assert.rejects(
        q.runJobs('bad', [{ kind: 'fit', unit: 'fit sst2 representation 2', run, task: 'sst2', keys: { train: 'x', dev: 'y', test: 'z' }, parts: { train: [], dev: [], test: [] }, layer: 2 }], false),
        /scale-out job failed: fit sst2 representation 2: .*this worker runs probescale code [0-9a-f]+, the coordinator not-this-code/,
      );
    } finally {
      await q.close();
    }
    assert.match(w.log(), /FAILED fit sst2 representation 2/);
    // the law study's training runs as jobs: the same LawRuns (losses to the bit) as in-process
    const { runLawGrid, QUICK_LAW } = await import('../src/scaling/law-study.js');
    const { lawRunner } = await import('../src/distribute/queue.js');
    const law = { ...QUICK_LAW, grid: QUICK_LAW.grid.slice(0, 2), steps: 8, maxDocs: 200, threads: 1 };
    const local = await runLawGrid(law);
    const q2 = await JobQueue.open(url, join(dir, 'law-store'));
    try {
      const remote = await runLawGrid(law, lawRunner(q2, false));
      assert.deepEqual(remote.map((r) => ({ ...r, seconds: 0 })), local.map((r) => ({ ...r, seconds: 0 })));
      assert.deepEqual([...q2.perWorker.keys()], [/worker (\S+): ready/.exec(w.log())![1]]);
    } finally {
      await q2.close();
    }
    // the small-LM study's training runs as jobs: the same StudyRuns as in-process
    const { runStudy, QUICK_STUDY } = await import('../src/scaling/small-lm.js');
    const { smallLmRunner } = await import('../src/distribute/queue.js');
    const study = { ...QUICK_STUDY, datasets: ['shakespeare-char'], configs: ['linear', 'attention-rope'], seeds: 1, budget: { char: 1e9, word: 1e9 }, evalWindows: 4, threads: 1 };
    const lmLocal = await runStudy(study);
    const q3 = await JobQueue.open(url, join(dir, 'law-store'));
    try {
      const lmRemote = await runStudy(study, smallLmRunner(q3, false));
      assert.equal(lmRemote.runs.length, 2);
      assert.deepEqual(lmRemote.runs.map((r) => ({ ...r, seconds: 0 })), lmLocal.runs.map((r) => ({ ...r, seconds: 0 })));
      assert.deepEqual(lmRemote.datasets, lmLocal.datasets);
    } finally {
      await q3.close();
    }
    // both runs done by the worker (a run whose lock lapsed on a loaded machine may be done twice; one entry)
    assert.equal(new Set(w.log().split('\n').map((l) => / done (small-LM run \S+) /.exec(l)?.[1]).filter(Boolean)).size, 2);
    await stop(w);
  });

  test('--redis that cannot be reached: one line naming --redis, nothing written', async () => {
    const out = join(dir, 'unreachable');
    const port = await freePort();
    const r = await run(process.execPath, [CLI, ...PROBE, '--out', out, '--redis', `redis://127.0.0.1:${port}`]).catch((e) => e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(--redis\)/);
    assert.equal(existsSync(out), false);
    // study scale checks it before its --out too (each model's run would go through the queue)
    const scale = await run(process.execPath, [CLI, 'study', 'scale', '--models', STORIES, '--tasks', 'upos', '--budgets', '0.8', '--out', out, '--redis', `redis://127.0.0.1:${port}`]).catch((e) => e);
    assert.equal(scale.code, 1);
    assert.match(scale.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(--redis\)/);
    assert.equal(existsSync(out), false);
    const { connectRedis } = await import('../src/distribute/queue.js');
    await assert.rejects(connectRedis('localhost:6379'), /--redis "localhost:6379" is not a Redis URL/);
  });
});
