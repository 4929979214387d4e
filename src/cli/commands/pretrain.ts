/**
 * `probescale pretrain`: train a test bed (a bundled one, or a new suite member named with --set) from
 * the bundled text with the ONNX-autodiff trainer, into OUT/<name> (Hugging Face layout + training.json),
 * with checkpoints every N steps and --resume.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { pretrain, specByName, TEST_BEDS } from '../../train/pretrain.js';
import { positiveIntArg, threadsArg } from '../parse.js';
import { svg, trainingCurvePlot } from '../../report/plots.js';
import { writeFileAtomic } from '../../util/atomic.js';

export function register(program: Command): void {
  program
    .command('pretrain')
    .description(`train a test bed (${Object.keys(TEST_BEDS).join(', ')}, or a new gpt-.../roberta-... shaped with --set) from the bundled text`)
    .option('--model <name>', `test bed, or "all" (the bundled ones)`, 'all')
    .option('--out <dir>', 'parent directory of the run folders (OUT/<name>)', 'models')
    .option('--set <k=v,...>', 'override or define the shape/schedule, e.g. layers=6,hidden=96,vocab=1024,steps=8000,brown=true,dtype=F16')
    .option('--steps <n>', 'optimizer steps (default: the shipped schedule)', positiveIntArg)
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .option('--checkpoint-every <n>', 'write OUT/<name>/checkpoint.safetensors every n steps', positiveIntArg)
    .option('--resume', 'continue from OUT/<name>/checkpoint.safetensors (bit-identical to an uninterrupted run at the same thread count)')
    .option('--max-minutes <m>', 'stop with a checkpoint after this many minutes of this segment', Number)
    .action(async (o: { model: string; out: string; set?: string; steps?: number; threads?: number; checkpointEvery?: number; resume?: boolean; maxMinutes?: number }) => {
      const names = o.model === 'all' ? Object.keys(TEST_BEDS) : [o.model];
      const specs = names.map((n) => specByName(n, o.set)); // every name checked before any work
      // SIGTERM/SIGINT (a session ending, Ctrl-C) stop at the next step boundary with a checkpoint.
      let signalled = false;
      const onSignal = () => (signalled = true);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      const deadline = o.maxMinutes !== undefined ? Date.now() + o.maxMinutes * 60_000 : Infinity;
      for (const spec of specs) {
        const dir = join(o.out, spec.name);
        const r = await pretrain(spec, dir, {
          steps: o.steps,
          threads: o.threads,
          checkpointEvery: o.checkpointEvery,
          resume: o.resume,
          shouldStop: () => signalled || Date.now() > deadline,
          log: (l) => console.log(l),
          progress: true, // --quiet turns every progress display off (setProgressMode)
        });
        if (!r.finished) {
          process.exitCode = 3; // stopped, not failed: a wrapper can tell the two apart
          break;
        }
        writeFileAtomic(join(dir, 'training-curve.svg'), await svg(trainingCurvePlot(r.curve, r.evals)));
        const e = r.evals.at(-1)!;
        console.log(
          `${spec.name}: ${r.parameters.toLocaleString('en-US')} parameters, ${r.spec.steps} steps (${r.tokensSeen.toLocaleString('en-US')} tokens, ${(r.tokensSeen / r.parameters).toFixed(1)} per parameter) in ${(r.seconds / 60).toFixed(1)} min; held-out loss ${e.loss.toFixed(3)} vs context-free baseline ${r.baselineLoss.toFixed(3)}, ${spec.objective === 'clm' ? 'perplexity' : 'pseudo-perplexity'} ${e.perplexity.toFixed(1)}, accuracy ${(e.accuracy * 100).toFixed(1)}% -> ${dir}`,
        );
      }
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
    });
}
