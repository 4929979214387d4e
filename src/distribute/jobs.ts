/**
 * Scale-out jobs and what a worker does with them. Two kinds carry a probing run's work:
 *   features: batches [b0, b1) of one split's length-sorted batch plan (model x split x row range), pooled
 *             exactly as in-process (poolBatches) and written to the store as a shard;
 *   fit:      one task x one representation: probeLayer on the features read from the splits' shards, its
 *             LayerResult stored.
 *   subset:   one layer subset x one split (dev for the search, test for reporting) of `run`: scoreSubset
 *             (select/evaluate.ts, the function the in-process evaluator calls), its per-task scores and
 *             predictions stored.
 *   law-run:  one training run of `study law`'s grid, its LawRun stored.
 *   small-lm-run: one training run of `study small-lm` (dataset x configuration x seed), its StudyRun stored.
 * `noop` does nothing (it measures the queue's own cost per job). Every job names the model by path and
 * content hash and the code version: a worker whose model files or code differ refuses it (no retry), so
 * the coordinator never mixes numbers from other inputs or other code into its run.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type LoadedModel } from '../model/checkpoint.js';
import { loadModel } from '../engine/load.js';
import { Engine } from '../engine/engine.js';
import type { Precision } from '../engine/graph.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { Task } from '../data/types.js';
import { resolveTasks } from '../data/resolve.js';
import { cacheKey, encodeRows, partsFeatureSet, planBatches, poolBatches } from '../features/extract.js';
import { layerContext, probeLayer, splitRows, type LayerResult, type SplitFeatures, type SuiteOptions } from '../probe/suite.js';
import { ProbeSessions } from '../probe/sessions.js';
import { ProbescaleError } from '../util/errors.js';
import { Store, storeKey, type EntryKind } from './store.js';
import { scoreSubset, type SubsetOutcome } from '../select/evaluate.js';
import { studyConfig, studyDatasets, trainStudyRun, type StudyDataset, type StudyOptions, type StudyUnit } from '../scaling/small-lm.js';
import { lawData, trainLawRun, type LawData, type LawStudyOptions } from '../scaling/law-study.js';
import { codeVersion } from './version.js';

export type Split = 'train' | 'dev' | 'test';

/** What the worker needs to rebuild the coordinator's inputs bit for bit (all paths absolute). */
export interface RunSpec {
  store: string;
  code: string;
  model: string;
  modelHash: string;
  precision: Precision;
  /** --tasks as the coordinator resolved it (spec files as absolute paths) and its subsampling */
  tasks: string;
  load: { maxTrain?: number; maxEval?: number; maxTest?: number; seed: number; allowOutside?: boolean };
  suite: Pick<SuiteOptions, 'sentencePooling' | 'wordPooling' | 'maxTokens' | 'dtype' | 'probe' | 'control' | 'mdl' | 'bootstrap' | 'seed'>;
}

export interface FeaturesJob {
  kind: 'features';
  unit: string;
  run: RunSpec;
  task: string;
  split: Split;
  /** the feature-cache key of the whole split (checks the worker built the same rows and engine) */
  key: string;
  batchSize: number;
  b0: number;
  b1: number;
}

export interface FitJob {
  kind: 'fit';
  unit: string;
  run: RunSpec;
  task: string;
  keys: Record<Split, string>;
  /** per split, the store keys of its feature shards (read directly: no assembled copy) */
  parts: Record<Split, string[]>;
  layer: number;
}

/** One subset of `run`'s search or baselines scored on one split (every task of the run). */
export interface SubsetJob {
  kind: 'subset';
  unit: string;
  run: RunSpec;
  /** the run's task names in its order */
  tasks: string[];
  layers: number[];
  split: 'dev' | 'test';
}

/** A stored subset result: SubsetOutcome with the predictions as plain arrays. */
export interface StoredSubset {
  scores: SubsetOutcome['scores'];
  preds: Record<string, number[]>;
}

/** One training run of `study law`'s grid (grid point `index`): trainLawRun, its LawRun stored. */
export interface LawJob {
  kind: 'law-run';
  unit: string;
  store: string;
  code: string;
  law: Omit<LawStudyOptions, 'log'>;
  index: number;
}

/** One training run of `study small-lm`: trainStudyRun, its StudyRun stored. */
export interface SmallLmJob {
  kind: 'small-lm-run';
  unit: string;
  store: string;
  code: string;
  study: Omit<StudyOptions, 'log'>;
  run: StudyUnit;
}

export interface NoopJob {
  kind: 'noop';
  unit: string;
}

export type StoredJob = FeaturesJob | FitJob | SubsetJob | LawJob | SmallLmJob;
export type JobData = StoredJob | NoopJob;

/** The store folder of a job kind's results. */
export function entryKind(job: StoredJob): EntryKind {
  return job.kind === 'features' ? 'shards' : job.kind === 'fit' ? 'fits' : job.kind === 'subset' ? 'subsets' : 'runs';
}

export function storeOf(job: StoredJob): string {
  return job.kind === 'law-run' || job.kind === 'small-lm-run' ? job.store : job.run.store;
}

/** The code version a job was made by (its entries live under it in the store). */
export function codeOf(job: StoredJob): string {
  return job.kind === 'law-run' || job.kind === 'small-lm-run' ? job.code : job.run.code;
}

export interface JobReturn {
  worker: string;
  seconds: number;
  /** the entry was already in the store (a retry after the work was done, or another coordinator's) */
  reused: boolean;
}

/** Store key of a job's result: model files + job spec + code version (paths and labels left out). */
export function jobKey(job: StoredJob): string {
  if (job.kind === 'law-run') return storeKey({ code: job.code, law: job.law, index: job.index });
  if (job.kind === 'small-lm-run') return storeKey({ code: job.code, kind: job.kind, study: job.study, run: job.run });
  const { store: _s, model: _m, ...run } = job.run;
  const { unit: _u, run: _r, ...spec } = job;
  // a fit's result depends on the features (their keys), not on how they were cut into shards
  if (job.kind === 'fit') delete (spec as Partial<FitJob>).parts;
  return storeKey({ run, spec });
}

export const workerId = `${hostname()}:${process.pid}`;

/** Refused, not retried: the same job fails the same way on every attempt (bad inputs, other code). */
export class PermanentJobError extends ProbescaleError {}

interface ModelContext {
  model: LoadedModel;
  tok: Promise<TextTokenizer>;
  engine?: Promise<Engine>;
  tasks: Map<string, Task[]>;
}

/** Per worker process: models, engines and resolved tasks stay loaded across jobs. */
export class WorkerState {
  private readonly models = new Map<string, ModelContext>();
  private readonly cleaned = new Set<string>();
  constructor(readonly threads?: number) {}

  private context(run: RunSpec): ModelContext {
    if (run.code !== codeVersion()) throw new PermanentJobError(`this worker runs probescale code ${codeVersion()}, the coordinator ${run.code}`, { fix: 'run the same probescale version (same sources) on the workers and the coordinator' });
    const id = `${run.model}\0${run.precision}`;
    let c = this.models.get(id);
    if (!c) {
      const model = loadModel(run.model);
      c = { model, tok: model.tokenizer(), tasks: new Map() };
      this.models.set(id, c);
    }
    if (c.model.contentHash() !== run.modelHash) {
      throw new PermanentJobError(`the model files here (hash ${c.model.contentHash()}) differ from the coordinator's (${run.modelHash})`, { file: run.model, fix: 'give every worker the same model files at the same path (a shared folder)' });
    }
    return c;
  }

  private task(c: ModelContext, run: RunSpec, name: string): Task {
    const id = JSON.stringify([run.tasks, run.load]);
    let tasks = c.tasks.get(id);
    if (!tasks) c.tasks.set(id, (tasks = resolveTasks(run.tasks, run.load)));
    const t = tasks.find((x) => x.name === name);
    if (!t) throw new PermanentJobError(`task ${name} is not among --tasks ${run.tasks} on this worker`, { fix: 'give every worker the same task files at the same path' });
    return t;
  }

  private engine(c: ModelContext, run: RunSpec): Promise<Engine> {
    // the coordinator's engine options for probing (pipeline/probe.ts, pipeline/run.ts): the feature key checks them
    return (c.engine ??= Engine.create(c.model, { hiddenStates: 'all', logits: false, threads: this.threads, precision: run.precision }));
  }

  async run(job: JobData): Promise<JobReturn> {
    const t0 = performance.now();
    if (job.kind === 'noop') return { worker: workerId, seconds: 0, reused: false };
    const store = new Store(storeOf(job), codeOf(job));
    store.ensure(); // a folder that is not probescale's store fails the job (no retry)
    if (!this.cleaned.has(store.root)) this.cleaned.add(store.root), store.cleanStale();
    const key = jobKey(job);
    if (store.has(entryKind(job), key)) return { worker: workerId, seconds: (performance.now() - t0) / 1000, reused: true };
    if (job.kind === 'features') await this.features(job, store, key);
    else if (job.kind === 'fit') await this.fit(job, store, key);
    else if (job.kind === 'subset') await this.subset(job, store, key);
    else if (job.kind === 'small-lm-run') await this.smallLmRun(job, store, key);
    else await this.lawRun(job, store, key);
    return { worker: workerId, seconds: (performance.now() - t0) / 1000, reused: false };
  }

  private async features(job: FeaturesJob, store: Store, key: string): Promise<void> {
    const c = this.context(job.run);
    const task = this.task(c, job.run, job.task);
    const tok = await c.tok;
    const engine = await this.engine(c, job.run);
    const rows = splitRows(c.model.arch, tok, task, job.split, job.run.suite);
    const dtype = job.run.suite.dtype ?? 'f32';
    if (cacheKey(engine, rows.seqs, rows.rows, dtype) !== job.key) throw new PermanentJobError(`the rows or engine built here differ from the coordinator's (feature key)`, { file: job.run.model, fix: 'give every worker the same model, task files and probescale version' });
    const plan = planBatches(rows.seqs, rows.rows, job.batchSize);
    if (job.b1 > plan.batches) throw new PermanentJobError(`batches ${job.b0}-${job.b1} are beyond the ${plan.batches} of the split here`);
    await store.put('shards', key, async (dir) => {
      const L = engine.options.hiddenStates === 'last' ? 1 : engine.options.layers.length + 1;
      const fds = Array.from({ length: L }, (_, l) => openSync(join(dir, `layer-${l}.${dtype}`), 'w'));
      const index: number[] = [];
      try {
        await poolBatches(engine, rows.seqs, rows.rows, plan, job.b0, job.b1, `${task.name}/${job.split}`, (l, first, data) => {
          if (l === 0) index.push(first, data.length / (rows.rows[0].ranges.length * engine.model.arch.hidden));
          writeSync(fds[l], encodeRows(data, dtype));
        });
      } finally {
        fds.forEach((fd) => closeSync(fd));
      }
      writeJsonFile(join(dir, 'index.json'), { layers: L, dtype, runs: index, key: job.key, batches: [job.b0, job.b1] });
    });
  }

  private async fit(job: FitJob, store: Store, key: string): Promise<void> {
    const c = this.context(job.run);
    const task = this.task(c, job.run, job.task);
    const tok = await c.tok;
    const dir = store.featuresDir();
    const split = (s: Split): SplitFeatures => {
      const rows = splitRows(c.model.arch, tok, task, s, job.run.suite);
      const shards = job.parts[s].map((k) => {
        if (!store.has('shards', k)) throw new PermanentJobError(`a feature shard of ${task.name}/${s} (entry ${k}) is not in the store`, { file: store.root, fix: 'mount the same --store folder on every worker and the coordinator' });
        return readShard(store, k);
      });
      if (shards.some((x) => x.layers !== shards[0].layers || x.dtype !== shards[0].dtype)) throw new PermanentJobError(`the feature shards of ${task.name}/${s} disagree in layers or dtype`, { file: store.root });
      const features = partsFeatureSet({ key: job.keys[s], rows: rows.rows.length, cols: rows.rows[0].ranges.length * c.model.arch.hidden, layers: shards[0].layers, dtype: shards[0].dtype }, shards, true);
      return { rows, features };
    };
    const [tr, dv, te] = [split('train'), split('dev'), split('test')];
    const sessions = new ProbeSessions(this.threads);
    let res: LayerResult;
    try {
      const opts: SuiteOptions = { ...job.run.suite, cacheDir: dir, threads: this.threads };
      res = await probeLayer(task, tr, dv, te, job.layer, layerContext(task, tr, te, opts, sessions), opts);
    } finally {
      await sessions.release();
    }
    await store.putJson('fits', key, res);
  }

  /** idle probe session pools per task: a pool serves one fit at a time, so concurrent jobs take different pools */
  private readonly pools = new Map<string, ProbeSessions[]>();

  private async subset(job: SubsetJob, store: Store, key: string): Promise<void> {
    const c = this.context(job.run);
    const tasks = job.tasks.map((n) => this.task(c, job.run, n));
    const tok = await c.tok;
    const L = c.model.arch.layers;
    if (!job.layers.every((l, i) => Number.isInteger(l) && l >= 0 && l < L && (i === 0 || l > job.layers[i - 1]))) throw new PermanentJobError(`layers [${job.layers}] are not a sorted subset of the model's ${L} layers`);
    const taken: ProbeSessions[] = [];
    const poolFor = (task: Task) => {
      const id = `${job.run.model}\0${task.name}`;
      let p = taken.find((x) => this.poolTask.get(x) === id);
      if (!p) {
        p = this.pools.get(id)?.pop() ?? new ProbeSessions(this.threads);
        this.poolTask.set(p, id);
        taken.push(p);
      }
      return p;
    };
    try {
      // the coordinator's options; the features of every subnetwork go to the store's feature cache
      const opts: SuiteOptions = { ...job.run.suite, cacheDir: store.featuresDir(), threads: this.threads, precision: job.run.precision };
      const r = await scoreSubset(c.model, tok, tasks, job.layers, job.split, opts, poolFor);
      const value: StoredSubset = { scores: r.scores, preds: Object.fromEntries(Object.entries(r.preds).map(([t, p]) => [t, Array.from(p)])) };
      await store.putJson('subsets', key, value);
    } finally {
      for (const p of taken) {
        const id = this.poolTask.get(p)!;
        this.pools.set(id, [...(this.pools.get(id) ?? []), p]);
      }
    }
  }

  private readonly poolTask = new WeakMap<ProbeSessions, string>();

  private readonly lawData = new Map<string, LawData>();

  private async lawRun(job: LawJob, store: Store, key: string): Promise<void> {
    if (job.code !== codeVersion()) throw new PermanentJobError(`this worker runs probescale code ${codeVersion()}, the coordinator ${job.code}`, { fix: 'run the same probescale version (same sources) on the workers and the coordinator' });
    if (!(job.index >= 0 && job.index < job.law.grid.length)) throw new PermanentJobError(`grid point ${job.index} is not in the grid of ${job.law.grid.length}`);
    // the vocabulary, streams and evaluation batches depend on the data options only: built once per worker
    const { grid: _g, threads: _t, ...dataOpts } = job.law;
    const id = JSON.stringify(dataOpts);
    let data = this.lawData.get(id);
    if (!data) this.lawData.set(id, (data = lawData(job.law)));
    // the coordinator's thread count, not this worker's: the same run, the same numbers
    const run = await trainLawRun(job.law, data, job.index);
    await store.putJson('runs', key, run);
  }

  private studyData?: StudyDataset[];

  private async smallLmRun(job: SmallLmJob, store: Store, key: string): Promise<void> {
    if (job.code !== codeVersion()) throw new PermanentJobError(`this worker runs probescale code ${codeVersion()}, the coordinator ${job.code}`, { fix: 'run the same probescale version (same sources) on the workers and the coordinator' });
    // the datasets (the bundled corpora, tokenized) are read once per worker
    const d = (this.studyData ??= studyDatasets()).find((x) => x.name === job.run.dataset);
    if (!d) throw new PermanentJobError(`small-LM dataset ${job.run.dataset} is not among this worker's datasets`);
    // the coordinator's thread count, not this worker's: the same run, the same numbers
    const run = await trainStudyRun(job.study, d, studyConfig(job.run.config), job.run.seed);
    await store.putJson('runs', key, run);
  }

  async release(): Promise<void> {
    for (const ps of this.pools.values()) for (const p of ps) await p.release();
    this.pools.clear();
    for (const c of this.models.values()) if (c.engine) await (await c.engine).release();
    this.models.clear();
  }
}

function writeJsonFile(path: string, value: unknown): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, JSON.stringify(value));
  } finally {
    closeSync(fd);
  }
}

/** A stored shard: its row runs [first, count] and one file per layer holding those rows in that order. */
export function readShard(store: Store, key: string): { dir: string; layers: number; dtype: 'f32' | 'f16'; runs: number[] } {
  const dir = store.path('shards', key);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { layers: number; dtype: 'f32' | 'f16'; runs: number[] };
  return { dir, layers: index.layers, dtype: index.dtype, runs: index.runs };
}
