/**
 * `probe` as a library call: load a model, probe every hidden state for each task (scores with CIs, control
 * selectivity, MDL on request), write OUT/probe.json; the CLI only formats the table.
 */
import { join } from 'node:path';
import { type LoadedModel } from '../model/checkpoint.js';
import { loadModel } from '../engine/load.js';
import { Engine } from '../engine/engine.js';
import { probeTask, type ProbeKind, type TaskResult } from '../probe/suite.js';
import { checkCanCreate, checkReplaceable, prepareOutputDir, writeFileAtomic } from '../util/atomic.js';
import { resolveTasks } from '../data/resolve.js';
import type { Precision } from '../engine/graph.js';

export interface ProbeOptions {
  model: string;
  tasks: string;
  out: string;
  probe: ProbeKind;
  control?: boolean;
  mdl?: boolean;
  bootstrap: number;
  seed: number;
  maxTrain?: number;
  maxEval?: number;
  pooling: 'mean' | 'first' | 'last';
  wordPooling: 'first' | 'mean';
  cache?: string;
  threads?: number;
  precision?: Precision;
  overwrite?: boolean;
  allowOutside?: boolean;
  /** scale-out: queue feature shards and per-layer fits on Redis for `probescale worker`s (src/distribute) */
  redis?: string;
  /** scale-out result store, a folder every worker sees at the same path (default OUT/.store) */
  store?: string;
  /** sequences per feature shard job (default 256) */
  shardSequences?: number;
}

/** The scale-out distributor of a run with --redis (the queue module is loaded only then). */
export async function openDistributor(opts: { redis?: string; store?: string; out: string; model: string; precision?: Precision; tasks: string; maxTrain?: number; maxEval?: number; maxTest?: number; seed: number; allowOutside?: boolean; shardSequences?: number }, model: LoadedModel) {
  const { RedisDistributor } = await import('../distribute/queue.js');
  return RedisDistributor.open({
    redis: opts.redis!, store: opts.store ?? join(opts.out, '.store'), model, modelPath: opts.model, precision: opts.precision, tasks: opts.tasks,
    load: { maxTrain: opts.maxTrain, maxEval: opts.maxEval, maxTest: opts.maxTest, seed: opts.seed, allowOutside: opts.allowOutside }, shardSequences: opts.shardSequences,
  });
}

export async function runProbe(opts: ProbeOptions): Promise<TaskResult[]> {
  checkReplaceable(opts.out, { overwrite: opts.overwrite });
  checkCanCreate(opts.out);
  const model = loadModel(opts.model);
  const tok = await model.tokenizer();
  const tasks = resolveTasks(opts.tasks, { maxTrain: opts.maxTrain, maxEval: opts.maxEval, seed: opts.seed, allowOutside: opts.allowOutside });
  // scale-out: Redis reached (or a one-line error) before --out exists; loaded only when asked for
  const dist = opts.redis ? await openDistributor(opts, model) : undefined;
  const results: TaskResult[] = [];
  try {
    // everything above validated the input; only now is --out created (and marked as probescale's)
    prepareOutputDir(opts.out, 'probescale probe', { overwrite: opts.overwrite });
    const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads: opts.threads, precision: opts.precision });
    const one = (task: (typeof tasks)[number]) =>
      probeTask(engine, tok, task, {
        probe: opts.probe, control: opts.control, mdl: opts.mdl, bootstrap: opts.bootstrap, seed: opts.seed,
        sentencePooling: opts.pooling, wordPooling: opts.wordPooling, cacheDir: dist?.featuresDir ?? opts.cache ?? join(opts.out, '.features'), progress: true,
        distribute: dist,
      });
    // scale-out: every task's jobs are queued at once (workers do the work; this process only waits and assembles)
    if (dist) results.push(...(await Promise.all(tasks.map(one))));
    else for (const task of tasks) results.push(await one(task));
    await engine.release();
  } finally {
    await dist?.close();
  }
  writeFileAtomic(join(opts.out, 'probe.json'), JSON.stringify({ model: opts.model, modelHash: model.contentHash(), options: { ...opts }, results }, null, 2) + '\n');
  return results;
}

