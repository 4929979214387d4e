/**
 * The coordinator's side of scale-out: a probing run's units go to a BullMQ queue on Redis as jobs, workers
 * (`probescale worker`, any number, any machine) take them, and the results come back through the store.
 * A job's id is its store key, so the same unit queued twice (a rerun, a second coordinator) is one job, and a
 * unit already in the store is not queued at all. Waiting shows progress with the live workers and how many
 * jobs each took; a failed job (after its retries) fails the run with the unit and the worker's reason.
 */
import { Queue, QueueEvents, Job } from 'bullmq';
import { Redis } from 'ioredis';
import { isAbsolute, resolve } from 'node:path';
import type { Task } from '../data/types.js';
import { isSpecPath } from '../data/spec.js';
import type { LoadedModel } from '../model/checkpoint.js';
import type { Precision } from '../engine/graph.js';
import { partsFeatureSet, type FeaturePlan, type FeatureSet } from '../features/extract.js';
import type { Distributor, LayerResult, SuiteOptions } from '../probe/suite.js';
import { progressMode } from '../util/progress.js';
import { ProbescaleError, UsageError } from '../util/errors.js';
import { entryKind, jobKey, readShard, type FeaturesJob, type FitJob, type JobData, type JobReturn, type LawJob, type RunSpec, type Split, type StoredJob, type StoredSubset, type SubsetJob, type SmallLmJob } from './jobs.js';
import type { StudyRun, StudyRunner } from '../scaling/small-lm.js';
import type { SubsetRunner } from '../select/evaluate.js';
import type { LawRun, LawRunner } from '../scaling/law-study.js';
import { Store } from './store.js';
import { codeVersion } from './version.js';

export const QUEUE_NAME = 'probescale';

/** Sequences per feature shard by default: 8 batches of 32 (a few seconds of forward passes on a base model). */
export const DEFAULT_SHARD_SEQUENCES = 256;

/** A Redis connection for BullMQ from --redis, checked now (one line naming --redis if it cannot be reached). */
export async function connectRedis(url: string, flag = '--redis'): Promise<Redis> {
  if (!/^rediss?:\/\/[^\s]+$/.test(url)) throw new UsageError(`${flag} "${url}" is not a Redis URL`, { fix: 'give redis://HOST:PORT (or rediss:// for TLS), e.g. --redis redis://127.0.0.1:6379' });
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new ProbescaleError(`cannot reach Redis at ${url} (${flag}): ${(err as Error).message}`, { fix: 'start redis-server there (see README "Scale-out"), or correct the host and port' });
  } finally {
    probe.disconnect();
  }
  // BullMQ workers block on Redis: no per-command retry limit (its documented requirement)
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  conn.on('error', () => {}); // reconnects on its own; a lasting outage shows as jobs not finishing
  return conn;
}

export interface ScaleOutOptions {
  redis: string;
  /** shared store folder (same path on every machine) */
  store: string;
  model: LoadedModel;
  modelPath: string;
  precision?: Precision;
  tasks: string;
  load: RunSpec['load'];
  shardSequences?: number;
  /** attempts per job (a crash, a lost worker); inputs that cannot work fail at once */
  attempts?: number;
  log?: (line: string) => void;
}

/**
 * The coordinator's queue: submit units, wait until each one's result is in the store, show progress, and
 * fail with the unit and the worker's reason. Shared by probing (RedisDistributor) and the law study.
 */
export class JobQueue {
  private constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly conns: Redis[],
    readonly store: Store,
    readonly code: string,
    private readonly attempts: number,
    private readonly log: (line: string) => void,
  ) {
    // stalled = a worker lost its lock (killed, hung): BullMQ moves the job back to wait for another worker
    events.on('stalled', ({ jobId }) => this.stalled.add(jobId));
  }

  private readonly stalled = new Set<string>();
  /** jobs done per worker over this run (progress and the final summary) */
  readonly perWorker = new Map<string, number>();

  static async open(redis: string, store: string, opts: { attempts?: number; log?: (line: string) => void } = {}): Promise<JobQueue> {
    // a --store that is a file or someone else's folder is refused before anything is created
    Store.check(resolve(store));
    const a = await connectRedis(redis);
    const b = await connectRedis(redis);
    const queue = new Queue(QUEUE_NAME, { connection: a });
    const events = new QueueEvents(QUEUE_NAME, { connection: b });
    await events.waitUntilReady();
    return new JobQueue(queue, events, [a, b], new Store(resolve(store), codeVersion()), codeVersion(), opts.attempts ?? 3, opts.log ?? ((l: string) => process.stderr.write(l + '\n')));
  }

  /** Queue the units not yet in the store and wait until every one is there. */
  async runJobs(label: string, jobs: StoredJob[], progress: boolean): Promise<void> {
    const todo = jobs.filter((j) => !this.store.has(entryKind(j), jobKey(j)));
    if (todo.length === 0) return;
    this.store.ensure();
    const workers = await this.queue.getWorkersCount();
    const say = (s: string) => progress && progressMode() !== 'off' && this.log(s);
    say(`scale-out ${label}: ${todo.length} jobs (${jobs.length - todo.length} already in the store) for ${workers} worker(s)${workers === 0 ? ' — none connected yet: start `probescale worker --redis URL`' : ''}`);
    const t0 = performance.now();
    const waits = await this.submit(todo);
    let done = 0;
    let last = performance.now();
    const line = (final: boolean) => {
      const who = [...this.perWorker].map(([w, n]) => `${w} ${n}`).join(', ');
      const retried = this.stalled.size ? `, ${this.stalled.size} retried after a lost worker` : '';
      say(`scale-out ${label}: ${done}/${todo.length} jobs, ${((performance.now() - t0) / 1000).toFixed(0)} s${final ? ', done' : ''} (jobs per worker so far: ${who || 'none'}${retried})`);
    };
    const timer = setInterval(() => line(false), 10_000);
    try {
      await Promise.all(
        waits.map(async ({ job, data }) => {
          let ret: JobReturn;
          try {
            ret = (await job.waitUntilFinished(this.events)) as JobReturn;
          } catch (err) {
            throw new ProbescaleError(`scale-out job failed: ${data.unit}: ${(err as Error).message}`, { fix: 'see the worker log; fix the cause and run again (finished units are kept in the store)' });
          }
          if (!this.store.has(entryKind(data), jobKey(data))) throw new ProbescaleError(`scale-out job ${data.unit} finished on ${ret.worker} but its result is not in the store`, { file: this.store.root, fix: 'mount the same --store folder at the same path on every worker and this machine' });
          this.perWorker.set(ret.worker, (this.perWorker.get(ret.worker) ?? 0) + 1);
          done++;
          if (performance.now() - last > 10_000) (last = performance.now()), line(false);
        }),
      );
    } finally {
      clearInterval(timer);
    }
    line(true);
  }

  /** Add the jobs (id = store key); a finished job left from an earlier run whose entry is gone is replaced. */
  private async submit(jobs: StoredJob[]): Promise<{ job: Job; data: StoredJob }[]> {
    const out: { job: Job; data: StoredJob }[] = [];
    for (const data of jobs) {
      const id = jobKey(data);
      const old = await Job.fromId(this.queue, id);
      if (old) {
        const state = await old.getState();
        if (state === 'completed' || state === 'failed') await old.remove();
        else {
          out.push({ job: old, data });
          continue;
        }
      }
      const job = await this.queue.add(data.kind, data as JobData, { jobId: id, attempts: this.attempts, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } });
      out.push({ job, data });
    }
    return out;
  }

  /** workers connected now (at least 1): how many units are worth sending at once */
  async workers(): Promise<number> {
    return Math.max(1, await this.queue.getWorkersCount());
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
    for (const c of this.conns) c.disconnect();
  }
}

/** The Distributor of a `probe`/`run` with --redis; close() when the run ends. */
export class RedisDistributor implements Distributor {
  private constructor(
    private readonly opts: ScaleOutOptions,
    readonly queue: JobQueue,
  ) {}

  get store(): Store {
    return this.queue.store;
  }

  get code(): string {
    return this.queue.code;
  }

  static async open(opts: ScaleOutOptions): Promise<RedisDistributor> {
    return new RedisDistributor(opts, await JobQueue.open(opts.redis, opts.store, { attempts: opts.attempts, log: opts.log }));
  }

  /** The feature-cache folder in the store for this code version: the run's SuiteOptions.cacheDir. */
  get featuresDir(): string {
    this.store.ensure(); // asked for once --out exists (the default store is inside it)
    return this.store.featuresDir();
  }

  private runSpec(opts: SuiteOptions): RunSpec {
    // spec files by absolute path: workers resolve --tasks in their own working directory
    const tasks = this.opts.tasks.split(',').map((n) => n.trim()).map((n) => (isSpecPath(n) && !isAbsolute(n) ? resolve(n) : n)).join(',');
    return {
      store: this.store.root,
      code: this.code,
      model: resolve(this.opts.modelPath),
      modelHash: this.opts.model.contentHash(),
      precision: this.opts.precision ?? 'fp32',
      tasks,
      load: this.opts.load,
      suite: { sentencePooling: opts.sentencePooling, wordPooling: opts.wordPooling, maxTokens: opts.maxTokens, dtype: opts.dtype, probe: opts.probe, control: opts.control, mdl: opts.mdl, bootstrap: opts.bootstrap, seed: opts.seed },
    };
  }

  /** feature key -> the store keys of its shards (the fit jobs read the shards directly) */
  private readonly shardsOf = new Map<string, string[]>();

  async features(task: Task, split: Split, x: FeaturePlan, opts: SuiteOptions): Promise<FeatureSet> {
    // a split computed before (by any shard size) is read from the shards its manifest names
    const done = this.store.has('splits', x.key) ? this.store.readJson<{ shards: string[] }>('splits', x.key).shards : undefined;
    if (done && done.every((k) => this.store.has('shards', k))) return this.partsOf(x, done, undefined, true);
    const run = this.runSpec(opts);
    const per = Math.max(1, Math.ceil((this.opts.shardSequences ?? DEFAULT_SHARD_SEQUENCES) / x.plan.batchSize));
    const batches = x.plan.batches;
    const jobs: FeaturesJob[] = [];
    for (let b0 = 0; b0 < batches; b0 += per) {
      const b1 = Math.min(b0 + per, batches);
      jobs.push({ kind: 'features', unit: `features ${task.name}/${split} batches ${b0}-${b1 - 1} of ${batches}`, run, task: task.name, split, key: x.key, batchSize: x.plan.batchSize, b0, b1 });
    }
    const fromCache = jobs.every((j) => this.store.has('shards', jobKey(j)));
    await this.queue.runJobs(`features ${task.name}/${split}`, jobs, !!opts.progress);
    const keys = jobs.map((j) => jobKey(j));
    const set = this.partsOf(x, keys, jobs.map((j) => j.unit), fromCache);
    await this.store.putJson('splits', x.key, { shards: keys });
    return set;
  }

  /** No reassembly: a split's features are read from its shards, here and in every fit job (checked to cover every row once). */
  private partsOf(x: FeaturePlan, keys: string[], units: string[] | undefined, fromCache: boolean): FeatureSet {
    this.shardsOf.set(x.key, keys);
    const parts = keys.map((k, i) => {
      const shard = readShard(this.store, k);
      if (shard.layers !== x.layers || shard.dtype !== x.dtype) throw new ProbescaleError(`shard of ${units?.[i] ?? `split ${x.key}`} has ${shard.layers} layers of ${shard.dtype}, expected ${x.layers} of ${x.dtype}`, { file: shard.dir });
      return shard;
    });
    return partsFeatureSet({ key: x.key, rows: x.rows, cols: x.cols, layers: x.layers, dtype: x.dtype }, parts, fromCache);
  }

  async fitLayers(task: Task, keys: Record<Split, string>, layers: number[], opts: SuiteOptions): Promise<LayerResult[]> {
    const run = this.runSpec(opts);
    const parts = { train: this.shardsOf.get(keys.train)!, dev: this.shardsOf.get(keys.dev)!, test: this.shardsOf.get(keys.test)! };
    const jobs: FitJob[] = layers.map((layer) => ({ kind: 'fit', unit: `fit ${task.name} representation ${layer}`, run, task: task.name, keys, parts, layer }));
    await this.queue.runJobs(`probing ${task.name}`, jobs, !!opts.progress);
    return jobs.map((j) => this.store.readJson<LayerResult>('fits', jobKey(j)));
  }

  /**
   * `run`'s subset evaluations (search on dev, ProbeScale and every baseline on test) as jobs: each subset x
   * split is one job running scoreSubset on a worker, its scores and predictions read back from the store.
   */
  subsetRunner(tasks: Task[]): SubsetRunner {
    const names = tasks.map((t) => t.name);
    return {
      score: async (subsets, split, opts) => {
        const run = this.runSpec(opts);
        const jobs: SubsetJob[] = subsets.map((layers) => ({ kind: 'subset', unit: `subset [${layers.join(',')}] on ${split}`, run, tasks: names, layers, split }));
        // one line per batch of a few units (the starts, the test set of baselines), not per search step
        await this.queue.runJobs(`subsets on ${split}`, jobs, !!opts.progress && jobs.length >= 4);
        return jobs.map((j) => {
          const v = this.store.readJson<StoredSubset>('subsets', jobKey(j));
          return { scores: v.scores, preds: Object.fromEntries(Object.entries(v.preds).map(([t, p]) => [t, Int32Array.from(p)])) };
        });
      },
      width: () => this.queue.workers(),
    };
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** `study small-lm --redis`: each training run (dataset x configuration x seed) is a job; the runs come back in order. */
export function smallLmRunner(queue: JobQueue, progress = true): StudyRunner {
  return async (study, units) => {
    const jobs: SmallLmJob[] = units.map((run, i) => ({ kind: 'small-lm-run', unit: `small-LM run ${i + 1}/${units.length} (${run.dataset} ${run.config} seed ${run.seed})`, store: queue.store.root, code: queue.code, study, run }));
    await queue.runJobs('small-LM runs', jobs, progress);
    return jobs.map((j) => queue.store.readJson<StudyRun>('runs', jobKey(j)));
  };
}

/** `study law --redis`: each training run of the grid is a job; the runs come back in grid order. */
export function lawRunner(queue: JobQueue, progress = true): LawRunner {
  return async (opts) => {
    const { log: _log, ...law } = opts;
    const jobs: LawJob[] = law.grid.map((c, index) => ({ kind: 'law-run', unit: `law run ${index + 1}/${law.grid.length} (h${c.hidden} L${c.layers} r${c.ratio} g${c.groups})`, store: queue.store.root, code: queue.code, law, index }));
    await queue.runJobs('law grid', jobs, progress);
    return jobs.map((j) => queue.store.readJson<LawRun>('runs', jobKey(j)));
  };
}
