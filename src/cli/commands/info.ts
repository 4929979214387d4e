/** `probescale info`: what a checkpoint is, as probescale reads it. */
import type { Command } from 'commander';
import { loadModel } from '../../model/checkpoint.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('print the architecture and parameter count of a checkpoint')
    .requiredOption('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .action((opts: { model: string }) => {
      const m = loadModel(opts.model);
      const { raw, ...arch } = m.arch;
      void raw;
      console.log(JSON.stringify({ source: m.source, parameters: m.weights.parameterCount(), ...arch }, null, 2));
    });
}
