/** `probescale convert`: llama2.c checkpoint -> Hugging Face Llama directory. */
import type { Command } from 'commander';
import { convertLlama2c } from '../../model/llama2c.js';

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a llama2.c .bin (+ tokenizer .bin) to a Hugging Face Llama directory (config.json + model.safetensors)')
    .requiredOption('--from <file>', 'llama2.c checkpoint (.bin)')
    .requiredOption('--out <dir>', 'output directory: new, empty or an earlier probescale output (replaced atomically)')
    .option('--overwrite', 'replace --out even if it holds files probescale did not write')
    .option('--tokenizer <file>', 'llama2.c tokenizer .bin (default: tokenizer.bin or the one tok*.bin beside the checkpoint)')
    .action(async (opts: { from: string; out: string; tokenizer?: string; overwrite?: boolean }) => {
      await convertLlama2c(opts.from, opts.out, opts.tokenizer, { overwrite: opts.overwrite });
      console.log(`wrote ${opts.out}`);
    });
}
