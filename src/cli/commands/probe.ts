/** `probescale probe`: per-layer probe scores (with CIs, selectivity, MDL) for each task. */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { loadModel } from '../../model/checkpoint.js';
import { Engine } from '../../engine/engine.js';
import { probeTask, probingTime, type ProbeKind, type TaskResult } from '../../probe/suite.js';
import { checkCanCreate, checkReplaceable, prepareOutputDir, writeFileAtomic } from '../../util/atomic.js';
import { intArg, listArg, positiveIntArg, precisionOption, threadsArg } from '../parse.js';
import type { Precision } from '../../engine/graph.js';
import { resolveTasks } from '../tasks.js';

export interface ProbeCliOptions {
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

export function formatProbeTable(results: TaskResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.task} (${r.metric}; train/dev/test rows ${r.rows.train}/${r.rows.dev}/${r.rows.test}; best layer ${r.summary.bestLayer}, expected layer ${r.summary.expectedLayer.toFixed(2)})`);
    lines.push('  layer  score   95% CI            delta' + (r.layers.some((l) => l.selectivity !== undefined) ? '   control  selectivity' : '') + (r.layers.some((l) => l.mdl) ? '   MDL compression' : ''));
    r.layers.forEach((l, i) => {
      let s = `  ${String(l.layer).padStart(5)}  ${l.score.toFixed(4)}  [${l.lo.toFixed(4)}, ${l.hi.toFixed(4)}]  ${(i ? r.summary.deltas[i] : 0).toFixed(4).padStart(7)}`;
      if (l.selectivity !== undefined) s += `   ${l.control!.toFixed(4)}   ${l.selectivity.toFixed(4).padStart(8)}`;
      if (l.mdl) s += `   ${l.mdl.compression.toFixed(3).padStart(8)}`;
      lines.push(s);
    });
  }
  const t = probingTime(results);
  const ratio = t.overForward === undefined ? 'features partly or wholly read from the cache' : `whole run ${t.overForward.toFixed(2)}x the forward passes`;
  lines.push(`time: features ${t.featureSeconds.toFixed(1)} s, probes ${t.probeSeconds.toFixed(1)} s (${ratio})`);
  return lines.join('\n');
}

export async function runProbe(opts: ProbeCliOptions): Promise<TaskResult[]> {
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
        sentencePooling: opts.pooling, wordPooling: opts.wordPooling, cacheDir: opts.cache ?? join(opts.out, '.features'), progress: process.stderr.isTTY,
      }),
    );
  }
  await engine.release();
  writeFileAtomic(join(opts.out, 'probe.json'), JSON.stringify({ model: opts.model, modelHash: model.contentHash(), options: { ...opts }, results }, null, 2) + '\n');
  return results;
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('train a probe on every layer for each task; write OUT/probe.json and print a table')
    .requiredOption('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .requiredOption('--tasks <list>', 'comma-separated built-in task names or task spec files (.json/.yaml)', listArg)
    .requiredOption('--out <dir>', 'output directory')
    .addOption(new Option('--probe <kind>', 'probe model').choices(['logistic', 'ridge', 'mlp']).default('logistic'))
    .option('--control', 'control tasks and selectivity (word-level tasks)')
    .option('--mdl', 'MDL online codelength per layer')
    .option('--bootstrap <n>', 'bootstrap resamples for 95% CIs', positiveIntArg, 1000)
    .option('--seed <n>', 'random seed', intArg, 0)
    .option('--max-train <n>', 'subsample training units (sentences/examples)', positiveIntArg)
    .option('--max-eval <n>', 'subsample dev and test units', positiveIntArg)
    .addOption(new Option('--pooling <kind>', 'sentence pooling').choices(['mean', 'first', 'last']).default('mean'))
    .addOption(new Option('--word-pooling <kind>', 'word pooling over sub-tokens').choices(['first', 'mean']).default('first'))
    .option('--cache <dir>', 'feature cache directory (default OUT/.features)')
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .addOption(precisionOption())
    .option('--overwrite', 'write into --out even if it holds files probescale did not write')
    .option('--allow-outside', 'let task spec files name data files outside their own folder')
    .action(async (opts: ProbeCliOptions) => {
      const results = await runProbe(opts);
      console.log(formatProbeTable(results));
      console.log(`\nwrote ${join(opts.out, 'probe.json')}`);
    });
}
