/** `probescale info`: what a checkpoint is, as probescale reads it. */
import type { Command } from 'commander';
import { loadModel } from '../../model/checkpoint.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('print the architecture and parameter count of a checkpoint')
    .requiredOption('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .option('--json', 'one line of JSON (the default output is the same JSON, indented)')
    .action((opts: { model: string; json?: boolean }) => {
      const m = loadModel(opts.model);
      const { raw, ...arch } = m.arch;
      void raw;
      const info = { source: m.source, parameters: m.weights.parameterCount(), ...arch };
      console.log(opts.json ? JSON.stringify(info) : JSON.stringify(info, null, 2));
    });
}
