/** `probescale info`: what a checkpoint is, as probescale reads it; `--families`: what each family supports. */
import type { Command } from 'commander';
import { loadModel } from '../../engine/load.js';
import { FAMILIES } from '../../engine/families/index.js';
import { ProbescaleError, UsageError } from '../../util/errors.js';

/**
 * One line per family. Every family has HF parity on its fixture and a test-suite `run` end to end (probe,
 * selection with every baseline, renumbered checkpoint + ONNX, vocabulary trimming, verification);
 * T5 runs end to end on its encoder (tasks probe it; a subset of encoder blocks is written as T5EncoderModel, and
 * costs/writes also take decoder blocks as units, see select/costs.ts); generation needs a causal LM.
 */
export function familiesTable(): string {
  const rows = Object.entries(FAMILIES).map(([family, s]) => [
    family,
    s.modelTypes.join(', '),
    s.about.kind,
    s.about.fixture,
    s.about.kind === 'encoder-decoder' ? 'encoder-only' : 'yes',
    s.about.kind !== 'decoder' ? 'no' : s.kvCache ? 'yes, kv-cache' : 'yes, no cache',
    s.about.notes,
  ]);
  const head = ['family', 'model_type', 'kind', 'HF parity fixture', 'probe/run/write/ONNX/trim/verify', 'generate', 'notes'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function register(program: Command): void {
  program
    .command('info')
    .description('print the architecture and parameter count of a checkpoint, or (--families) what each model family supports')
    .option('--model <path>', 'Hugging Face model directory, or a llama2.c .bin (or the folder holding it)')
    .option('--families', 'list the model families probescale loads and what each supports')
    .option('--json', 'one line of JSON (the default output is the same JSON, indented)')
    .action((opts: { model?: string; families?: boolean; json?: boolean }) => {
      if (opts.families) {
        console.log(familiesTable());
        return;
      }
      if (!opts.model) throw new UsageError('info needs --model or --families', { fix: 'probescale info --model DIR, or probescale info --families' });
      const m = loadModel(opts.model);
      const { raw, ...arch } = m.arch;
      void raw;
      const info = { source: m.source, parameters: m.weights.parameterCount(), ...arch };
      console.log(opts.json ? JSON.stringify(info) : JSON.stringify(info, null, 2));
    });
}
