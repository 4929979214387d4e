/** `probescale forward`: every hidden state (and logits) of a batch, written as safetensors under golden names. */
import type { Command } from 'commander';
import { loadModel } from '../../engine/load.js';
import { Engine } from '../../engine/engine.js';
import { checkIdsInVocab, readInputs } from '../../engine/inputs.js';
import { readSafetensors, writeSafetensors } from '../../model/safetensors.js';
import { statSync } from 'node:fs';
import { intListArg, precisionOption, threadsArg } from '../parse.js';
import type { Precision } from '../../engine/graph.js';
import { ProbescaleError } from '../../util/errors.js';

/** An existing --out is replaced only if it is a safetensors file probescale wrote (its metadata says so). */
function checkFileReplaceable(path: string, overwrite?: boolean): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) throw new ProbescaleError('--out is a folder; forward writes one .safetensors file', { file: path, fix: 'name a file, e.g. --out hidden.safetensors' });
  if (overwrite) return;
  let ours = false;
  try {
    ours = readSafetensors(path).metadata.producer === 'probescale';
  } catch {
    ours = false;
  }
  if (!ours) throw new ProbescaleError('--out is a file that probescale did not write', { file: path, fix: 'choose a new file name, or pass --overwrite to replace it' });
}

export function register(program: Command): void {
  program
    .command('forward')
    .description('run a model on a padded batch (inputs.json) and write every hidden state + logits to safetensors')
    .requiredOption('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .requiredOption('--inputs <file>', 'inputs.json: input_ids, attention_mask [, token_type_ids, decoder_input_ids, ...]')
    .requiredOption('--out <file>', 'output .safetensors (written atomically)')
    .option('--layers <list>', 'comma-separated layer indices to keep, in order (default: all)', intListArg)
    .option('--threads <n>', 'onnxruntime threads (default: all cores)', threadsArg)
    .addOption(precisionOption())
    .option('--overwrite', 'replace --out even if it is a file probescale did not write')
    .action(async (opts: { model: string; inputs: string; out: string; layers?: number[]; threads?: number; precision: Precision; overwrite?: boolean }) => {
      checkFileReplaceable(opts.out, opts.overwrite);
      const model = loadModel(opts.model);
      const batch = readInputs(opts.inputs);
      checkIdsInVocab(batch, model.arch.vocab, model.arch.typeVocab, opts.inputs);
      const engine = await Engine.create(model, { layers: opts.layers, threads: opts.threads, precision: opts.precision });
      const out = await engine.run(batch);
      writeSafetensors(
        opts.out,
        Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { dtype: 'F32' as const, shape: t.dims, data: t.data }])),
        { producer: 'probescale', model: opts.model, layers: engine.options.layers.join(','), precision: opts.precision },
      );
      console.log(`wrote ${Object.keys(out).length} tensors to ${opts.out}`);
      for (const [name, t] of Object.entries(out)) console.log(`  ${name.padEnd(32)} [${t.dims.join(', ')}]`);
      await engine.release();
    });
}
