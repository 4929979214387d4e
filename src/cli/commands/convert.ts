/** `probescale convert`: llama2.c checkpoint -> Hugging Face Llama directory (+ HF tokenizer, transformers.js ONNX). */
import type { Command } from 'commander';
import { loadModel } from '../../engine/load.js';
import { materialize } from '../../compress/materialize.js';
import { describeCompatibility } from '../../compress/hf-files.js';
import { existsSync } from 'node:fs';
import { checkReplaceable } from '../../util/atomic.js';
import { ProbescaleError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a llama2.c .bin (+ tokenizer .bin) to a Hugging Face Llama directory (config.json, model.safetensors, tokenizer.json, onnx/model.onnx)')
    .requiredOption('--from <file>', 'llama2.c checkpoint (.bin)')
    .requiredOption('--out <dir>', 'output directory: new, empty or an earlier probescale output (replaced atomically)')
    .option('--overwrite', 'replace --out even if it holds files probescale did not write')
    .option('--tokenizer <file>', 'llama2.c tokenizer .bin (default: tokenizer.bin or the one tok*.bin beside the checkpoint)')
    .action(async (opts: { from: string; out: string; tokenizer?: string; overwrite?: boolean }) => {
      checkReplaceable(opts.out, { overwrite: opts.overwrite }); // before reading anything: fail fast
      if (!existsSync(opts.from)) throw new ProbescaleError('no such file', { file: opts.from, fix: 'pass the llama2.c checkpoint (.bin) to convert' });
      const model = loadModel(opts.from, { tokenizerPath: opts.tokenizer });
      // every layer, written as materialize writes a compressed model: the same files, the same checks
      const res = await materialize(model, Array.from({ length: model.arch.layers }, (_, i) => i), opts.out, { overwrite: opts.overwrite, llama2cTokenizer: opts.tokenizer });
      console.log(`wrote ${opts.out}`);
      console.log(describeCompatibility(res.compat));
    });
}
