/** Resolving --tasks: built-in names or task spec files, with the same subsampling options. */
import { loadTask, type LoadOptions } from './builtin.js';
import { isSpecPath, loadTaskSpec } from './spec.js';
import type { Task } from './types.js';
import { subsample } from './read.js';

export function resolveTasks(list: string, opts: LoadOptions): Task[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  return names.map((n) => {
    if (!isSpecPath(n)) return loadTask(n, opts);
    const t = loadTaskSpec(n);
    const seed = opts.seed ?? 0;
    return { ...t, splits: { train: subsample(t.splits.train, opts.maxTrain, seed + 1), dev: subsample(t.splits.dev, opts.maxEval, seed + 2), test: subsample(t.splits.test, opts.maxEval, seed + 3) } };
  });
}
