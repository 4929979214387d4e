/**
 * Scale-out costs on this machine (`npm run bench -- --only scaleout`; needs Debian's redis-server):
 *   1. the queue's own cost per job: empty (`noop`) jobs through BullMQ to `probescale worker` child processes,
 *      as throughput (N jobs added at once, 1 and 2 workers) and as round trip (one job at a time, add -> finished);
 *   2. per-unit costs of a real `probe --redis` run (stories260K and mini-gpt, 2 workers), from the workers' logs.
 * Starts its own redis-server on a free localhost port and stops it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../../src/distribute/queue.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'bin', 'probescale.js');

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function worker(url: string, threads: number): { child: ChildProcess; log: () => string; ready: Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'worker', '--redis', url, '--threads', String(threads)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const ready = new Promise<void>((res) => child.stderr!.on('data', (d: Buffer) => ((text += d.toString()), text.includes('ready') && res())));
  return { child, log: () => text, ready };
}

async function stopAll(ws: { child: ChildProcess }[]): Promise<void> {
  await Promise.all(ws.map((w) => new Promise<void>((res) => (w.child.exitCode !== null ? res() : (w.child.once('exit', () => res()), w.child.kill('SIGTERM'))))));
}

async function throughput(url: string, workers: number, n: number): Promise<number> {
  const ws = Array.from({ length: workers }, () => worker(url, 1));
  await Promise.all(ws.map((w) => w.ready));
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const conn2 = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  const events = new QueueEvents(QUEUE_NAME, { connection: conn2 });
  await events.waitUntilReady();
  let done = 0;
  const all = new Promise<void>((res) => events.on('completed', () => ++done === n && res()));
  const t0 = performance.now();
  await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { kind: 'noop', unit: `noop ${i}` }, opts: { removeOnComplete: true } })));
  await all;
  const ms = (performance.now() - t0) / n;
  await events.close();
  await queue.close();
  conn.disconnect();
  conn2.disconnect();
  await stopAll(ws);
  return ms;
}

async function roundTrip(url: string, n: number): Promise<number> {
  const ws = [worker(url, 1)];
  await ws[0].ready;
  const conns = [new Redis(url, { maxRetriesPerRequest: null }), new Redis(url, { maxRetriesPerRequest: null })];
  const queue = new Queue(QUEUE_NAME, { connection: conns[0] });
  const events = new QueueEvents(QUEUE_NAME, { connection: conns[1] });
  await events.waitUntilReady();
  for (let i = 0; i < 20; i++) await (await queue.add('noop', { kind: 'noop', unit: 'warm-up' })).waitUntilFinished(events);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await (await queue.add('noop', { kind: 'noop', unit: `noop ${i}` })).waitUntilFinished(events);
  const ms = (performance.now() - t0) / n;
  await events.close();
  await queue.close();
  conns.forEach((c) => c.disconnect());
  await stopAll(ws);
  return ms;
}

/** mean seconds per job kind from worker logs ("done <unit> in X s") */
function unitCosts(logs: string[]): Record<string, { n: number; mean: number; max: number }> {
  const out: Record<string, number[]> = {};
  for (const l of logs.join('\n').split('\n')) {
    const m = / done (features|fit) (\S+).* in ([\d.]+) s$/.exec(l);
    if (m) (out[`${m[1]} ${m[2].split('/')[0]}`] ??= []).push(Number(m[3]));
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { n: v.length, mean: v.reduce((a, b) => a + b, 0) / v.length, max: Math.max(...v) }]));
}

export async function runScaleOutBench(opts: { quick?: boolean } = {}): Promise<void> {
  const bin = ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
  if (!bin) {
    console.log('\n## scale-out: skipped (no redis-server; apt-get install redis-server)');
    return;
  }
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const redis = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'probescale-bench-scaleout-'));
  try {
    await new Promise((r) => setTimeout(r, 500));
    const n = opts.quick ? 300 : 2000;
    console.log('\n## Scale-out: queue cost per job (empty jobs, BullMQ on a local redis-server)');
    console.log(`round trip (add one job, wait until finished; 1 worker): ${(await roundTrip(url, opts.quick ? 50 : 300)).toFixed(2)} ms/job`);
    for (const w of [1, 2]) console.log(`throughput (${n} jobs added at once, ${w} worker(s), concurrency 1): ${(await throughput(url, w, n)).toFixed(2)} ms/job`);
    console.log('\n## Scale-out: per-unit costs of probe --redis (2 workers, 1 thread each)');
    const run = promisify(execFile);
    for (const [name, model, tasks] of [['stories260K', join(ROOT, 'models', 'stories260K'), 'upos,sst2'], ['mini-gpt', join(ROOT, 'models', 'mini-gpt'), 'upos,tense']] as const) {
      if (!existsSync(model)) continue;
      const args = ['probe', '--model', model, '--tasks', tasks, '--max-train', opts.quick ? '200' : '1000', '--max-eval', opts.quick ? '100' : '500', '--quiet'];
      const l0 = performance.now();
      await run(process.execPath, [CLI, ...args, '--threads', '2', '--out', join(dir, `${name}-local`)], { maxBuffer: 1 << 26 });
      console.log(`${name} (${tasks}): in-process (no --redis, 2 threads, empty cache): wall ${((performance.now() - l0) / 1000).toFixed(1)} s`);
      const ws = [worker(url, 1), worker(url, 1)];
      await Promise.all(ws.map((w) => w.ready));
      const t0 = performance.now();
      await run(process.execPath, [CLI, ...args, '--threads', '1', '--out', join(dir, name), '--redis', url, '--shard-sequences', '256'], { maxBuffer: 1 << 26 });
      const wall = (performance.now() - t0) / 1000;
      await stopAll(ws);
      console.log(`${name} (${tasks}): --redis, 2 workers of 1 thread (empty store): wall ${wall.toFixed(1)} s`);
      for (const [k, v] of Object.entries(unitCosts(ws.map((w) => w.log())))) console.log(`  ${k}: ${v.n} jobs, mean ${v.mean.toFixed(2)} s, max ${v.max.toFixed(2)} s`);
    }
  } finally {
    redis.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runScaleOutBench({ quick: process.argv.includes('--quick') });
