/** `probescale run`: the whole pipeline — probe, select under budgets, compare baselines, compress, verify, report. */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { runPipeline, type PipelineOptions } from '../../pipeline/run.js';
import { intArg, listArg, positiveIntArg, precisionOption, threadsArg } from '../parse.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('probe every layer, choose the layers to keep under each budget, compare with baselines, write + verify the smaller model, and report')
    .requiredOption('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .requiredOption('--tasks <list>', 'comma-separated built-in task names or task spec files', listArg)
    .option('--weights <list>', 'one weight per task (default: equal)', listArg)
    .requiredOption('--budget <list>', 'comma-separated budgets: 0.4 (fraction of parameters), 120000 (parameters), flops:0.5, latency:0.5; the first one is written out', listArg, '0.6')
    .requiredOption('--out <dir>', 'output directory (results.json, report.html, model/)')
    .option('--max-train <n>', 'subsample training units', positiveIntArg)
    .option('--max-eval <n>', 'subsample dev/test units', positiveIntArg)
    .option('--max-test <n>', 'subsample test units (default: --max-eval)', positiveIntArg)
    .option('--seed <n>', 'random seed', intArg, 0)
    .option('--heal', 'fit least-squares bridges over removed layers')
    .option('--trim-vocab', 'keep only the vocabulary the task data uses')
    .option('--overwrite', 'write into --out even if it holds files probescale did not write')
    .option('--allow-outside', 'let task spec files name data files outside their own folder')
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .addOption(precisionOption())
    .addOption(new Option('--quantize <p>', 'also write OUT/model/model_quantized.onnx and verify it (retention, bytes, latency, peak RSS)').choices(['int8']))
    .addOption(new Option('--pooling <kind>', 'sentence pooling (last suits decoders)').choices(['mean', 'first', 'last']).default('mean'))
    .addOption(new Option('--word-pooling <kind>', 'word pooling over sub-tokens for token tasks (mean suits decoders; edge spans are always averaged)').choices(['first', 'mean']).default('first'))
    .option('--search-evals <n>', 'subnetworks the search may run per budget', intArg, 40)
    .option('--random-seeds <n>', 'random-subset baselines per budget', positiveIntArg, 5)
    .option('--bootstrap <n>', 'bootstrap resamples for CIs', positiveIntArg, 1000)
    .addOption(new Option('--retention <kind>', 'what selection and the retention curve use: gain = share of what the layers add over the embeddings, raw = score / final layer (default: gain, or raw with a message when no task\'s layers add anything beyond noise on dev)').choices(['raw', 'gain']))
    .option('--redis <url>', 'scale-out: run the probing step\'s feature shards and probe fits, and the subset evaluations of the search and every baseline, as jobs on this Redis (redis://HOST:PORT) for `probescale worker`s')
    .option('--store <dir>', 'scale-out: result store shared by the workers, same path on every machine (default OUT/.store)')
    .option('--shard-sequences <n>', 'scale-out: sequences per feature-extraction job', positiveIntArg)
    .option('--json', 'print the results (results.json, type RunResults) as JSON on stdout; the step log goes to stderr')
    .action(async (o: Omit<PipelineOptions, 'budgets'> & { budget: string; json?: boolean; quiet?: boolean }) => {
      const log = o.quiet ? () => {} : o.json ? (s: string) => console.error(s) : undefined;
      const r = await runPipeline({ ...o, budgets: o.budget, log, progress: !o.quiet });
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else if (o.quiet) console.log(`results: ${join(o.out, 'results.json')}\nreport:  ${join(o.out, 'report.html')}`);
    });
}
