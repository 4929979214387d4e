/** Resolving --tasks: built-in names or task spec files, with the same subsampling options. */
import { loadTask, type LoadOptions } from './builtin.js';
import { isSpecPath, loadTaskSpec } from './spec.js';
import type { Task } from './types.js';
import { subsample } from './read.js';
import { ProbescaleError, UsageError } from '../util/errors.js';

export function resolveTasks(list: string, opts: LoadOptions & { allowOutside?: boolean }): Task[] {
  const names = list.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new UsageError(`--tasks "${list}" has an empty entry`, { fix: 'give comma-separated task names or spec files, e.g. --tasks upos,sst2' });
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`--tasks names "${dup}" twice`, { fix: 'list each task once' });
  const tasks = names.map((n) => {
    if (!isSpecPath(n)) return loadTask(n, opts);
    const t = loadTaskSpec(n, { allowOutside: opts.allowOutside });
    const seed = opts.seed ?? 0;
    return { ...t, splits: { train: subsample(t.splits.train, opts.maxTrain, seed + 1), dev: subsample(t.splits.dev, opts.maxEval, seed + 2), test: subsample(t.splits.test, opts.maxTest ?? opts.maxEval, seed + 3) } };
  });
  for (const t of tasks) checkTrainClasses(t);
  return tasks;
}

/** After subsampling, the training split must still show two classes, or every probe scores a trivial 1.0. */
function checkTrainClasses(t: Task): void {
  const seen = new Set<string>();
  for (const ex of t.splits.train) {
    const labels = 'edges' in ex ? ex.edges.map((e) => e.label) : 'labels' in ex ? ex.labels : [ex.label];
    for (const l of labels) seen.add(l);
    if (seen.size >= 2) return;
  }
  throw new ProbescaleError(`task ${t.name}: the training split has ${seen.size} distinct label(s); a probe needs at least 2`, { file: t.source, fix: 'use more training units (--max-train) or data with at least two labels' });
}
