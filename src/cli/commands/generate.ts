/** `probescale generate`: greedy continuation of a prompt with a causal LM. */
import type { Command } from 'commander';
import { loadModel } from '../../engine/load.js';
import { Engine } from '../../engine/engine.js';
import { FAMILIES } from '../../engine/families/index.js';
import { greedyGenerate } from '../../engine/generate.js';
import { intListArg, positiveIntArg, precisionOption } from '../parse.js';
import type { Precision } from '../../engine/graph.js';

export function register(program: Command): void {
  program
    .command('generate')
    .description('greedy text generation (temperature 0) with a causal LM, one token per step through a key/value cache')
    .requiredOption('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .requiredOption('--prompt <text>', 'prompt text')
    .option('--steps <n>', 'positions to run, prompt included (as llama2.c run.c)', positiveIntArg, 64)
    .option('--layers <list>', 'comma-separated layer indices to keep', intListArg)
    .option('--tokenizer <file>', 'tokenizer file when it is not next to the model')
    .addOption(precisionOption())
    .action(async (opts: { model: string; prompt: string; steps: number; layers?: number[]; tokenizer?: string; precision: Precision }) => {
      const model = loadModel(opts.model, { tokenizerPath: opts.tokenizer });
      const tok = await model.tokenizer();
      // one token per step through the key/value cache where the family has one
      const engine = await Engine.create(model, { layers: opts.layers, hiddenStates: 'last', kvCache: FAMILIES[model.arch.family].kvCache, precision: opts.precision });
      const bos = model.arch.bosTokenId;
      const ids = await greedyGenerate(engine, tok.encode(opts.prompt), opts.steps, bos === undefined ? [] : [bos]);
      console.log(tok.decode(ids));
      await engine.release();
    });
}
