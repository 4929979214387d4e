/**
 * `probe` as a library call: load a model, probe every hidden state for each task (scores with CIs, control
 * selectivity, MDL on request), write OUT/probe.json; the CLI only formats the table.
 */
import { join } from 'node:path';
import { loadModel } from '../model/checkpoint.js';
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
}

export async function runProbe(opts: ProbeOptions): Promise<TaskResult[]> {
  checkReplaceable(opts.out, { overwrite: opts.overwrite });
  checkCanCreate(opts.out);
  const model = loadModel(opts.model);
  const tok = await model.tokenizer();
  const tasks = resolveTasks(opts.tasks, { maxTrain: opts.maxTrain, maxEval: opts.maxEval, seed: opts.seed, allowOutside: opts.allowOutside });
  // everything above validated the input; only now is --out created (and marked as probescale's)
  prepareOutputDir(opts.out, 'probescale probe', { overwrite: opts.overwrite });
  const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads: opts.threads, precision: opts.precision });
  const results: TaskResult[] = [];
  for (const task of tasks) {
    results.push(
      await probeTask(engine, tok, task, {
        probe: opts.probe, control: opts.control, mdl: opts.mdl, bootstrap: opts.bootstrap, seed: opts.seed,
        sentencePooling: opts.pooling, wordPooling: opts.wordPooling, cacheDir: opts.cache ?? join(opts.out, '.features'), progress: true,
      }),
    );
  }
  await engine.release();
  writeFileAtomic(join(opts.out, 'probe.json'), JSON.stringify({ model: opts.model, modelHash: model.contentHash(), options: { ...opts }, results }, null, 2) + '\n');
  return results;
}

