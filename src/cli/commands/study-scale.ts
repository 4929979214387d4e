/** `probescale study scale`: every model through the pipeline at kept fractions, the ProbeScale law across sizes, prune vs train. */
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { runScaleStudy, type ScaleOptions } from '../../pipeline/scale.js';
import { intArg, listArg, positiveIntArg, precisionOption, threadsArg } from '../parse.js';

/** Kept fractions in (0, 1]. */
function fractionsArg(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const ks = parts.map(Number);
  if (parts.some((s) => s === '') || ks.some((k) => !(k > 0 && k <= 1))) throw new InvalidArgumentError(`expected kept fractions in (0, 1] like 0.1,0.3,0.5, got "${value}"`);
  return ks;
}

export function registerScale(study: Command): void {
  study
    .command('scale')
    .description('run selection with ProbeScale and every baseline on each model at kept fractions of its layer parameters, fit gain retention over model size and kept fraction (validated leave-one-model-out), and compare pruned larger models with smaller ones trained from scratch')
    .requiredOption('--models <list>', 'model folders or files, comma-separated; NAME=PATH names one (default name: the folder name)', listArg)
    .requiredOption('--tasks <list>', 'built-in task names or task spec files', listArg)
    .option('--weights <list>', 'one weight per task (default: equal)', listArg)
    .option('--budgets <list>', 'kept fractions k of each model\'s layer (non-embedding) parameters; a fraction that holds no layer of a model is skipped for it', fractionsArg, [0.1, 0.2, 0.3, 0.5, 0.7])
    .option('--pairs <list>', 'BIG:SMALL model names: BIG pruned by ProbeScale to SMALL\'s layer parameters vs SMALL, per task with paired CIs and measured latency', listArg)
    .requiredOption('--out <dir>', 'output directory (results.json, table.md, report.html, runs/NAME/ per model)')
    .option('--max-train <n>', 'subsample training units', positiveIntArg)
    .option('--max-eval <n>', 'subsample dev/test units', positiveIntArg)
    .option('--seed <n>', 'random seed', intArg, 0)
    .addOption(new Option('--pooling <kind>', 'sentence pooling; auto = last token for decoders, mean for encoders').choices(['auto', 'mean', 'first', 'last']).default('auto'))
    .addOption(new Option('--retention <kind>', 'what selection uses (default: gain, or raw for a model whose layers add nothing measurable on dev)').choices(['raw', 'gain']))
    .option('--search-evals <n>', 'subnetworks the search may run per budget', intArg, 40)
    .option('--random-seeds <n>', 'random-subset baselines per budget', positiveIntArg, 5)
    .option('--bootstrap <n>', 'bootstrap resamples for CIs', positiveIntArg, 1000)
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .addOption(precisionOption())
    .option('--overwrite', 'write into --out even if it holds files probescale did not write')
    .option('--resume', 'reuse each model\'s finished run in OUT/runs/NAME made with the same model, tasks, budgets and settings')
    .option('--allow-outside', 'let task spec files name data files outside their own folder')
    .option('--redis <url>', 'scale-out: each model\'s probing and subset evaluations run as jobs on this Redis (redis://HOST:PORT) for `probescale worker`s (the prune-vs-train pairs stay here)')
    .option('--store <dir>', 'scale-out: result store shared by the workers and every model\'s run, same path on every machine (default OUT/.store)')
    .action(async (o: Omit<ScaleOptions, 'models' | 'pairs'> & { models: string; pairs?: string; quiet?: boolean }) => {
      await runScaleStudy({ ...o, models: o.models.split(','), pairs: o.pairs?.split(','), progress: !o.quiet, log: o.quiet ? () => {} : undefined });
    });
}
