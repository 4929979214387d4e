/** `probescale probe`: per-layer probe scores (with CIs, selectivity, MDL) for each task. */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { probingTime, type TaskResult } from '../../probe/suite.js';
import { layersAddLine } from '../../probe/layers.js';
import { runProbe, type ProbeOptions } from '../../pipeline/probe.js';
import { intArg, listArg, positiveIntArg, precisionOption, threadsArg } from '../parse.js';

export { runProbe };
export type ProbeCliOptions = ProbeOptions;

export function formatProbeTable(results: TaskResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.task} (${r.metric}; train/dev/test rows ${r.rows.train}/${r.rows.dev}/${r.rows.test}; expected layer ${r.summary.expectedLayer.toFixed(2)} on test)`);
    lines.push(`  ${layersAddLine(r.summary)}`);
    lines.push('  layer  dev     score   95% CI            delta' + (r.layers.some((l) => l.selectivity !== undefined) ? '   control  selectivity' : '') + (r.layers.some((l) => l.mdl) ? '   MDL compression' : ''));
    r.layers.forEach((l, i) => {
      let s = `  ${String(l.layer).padStart(5)}  ${l.dev.toFixed(4)}  ${l.score.toFixed(4)}  [${l.lo.toFixed(4)}, ${l.hi.toFixed(4)}]  ${(i ? r.summary.deltas[i] : 0).toFixed(4).padStart(7)}`;
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
    .option('--redis <url>', 'scale-out: split the work into jobs on this Redis (redis://HOST:PORT) for `probescale worker`s and wait for them')
    .option('--store <dir>', 'scale-out: result store shared by the workers, same path on every machine (default OUT/.store)')
    .option('--shard-sequences <n>', 'scale-out: sequences per feature-extraction job', positiveIntArg)
    .option('--json', 'print the per-task, per-layer results (as in probe.json) as JSON on stdout instead of the table')
    .action(async (opts: ProbeCliOptions & { json?: boolean }) => {
      const results = await runProbe(opts);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ probe: join(opts.out, 'probe.json'), results }) + '\n');
        return;
      }
      console.log(formatProbeTable(results));
      console.log(`\nwrote ${join(opts.out, 'probe.json')}`);
    });
}
