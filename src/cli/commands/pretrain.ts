/**
 * `probescale pretrain`: train the bundled 12-layer test beds (mini-gpt, mini-roberta) from the bundled
 * text with the ONNX-autodiff trainer, into models/<name> (Hugging Face layout + training.json).
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { ProbescaleError } from '../../util/errors.js';
import { pretrain, TEST_BEDS } from '../../train/pretrain.js';
import { positiveIntArg, threadsArg } from '../parse.js';
import { svg, trainingCurvePlot } from '../../report/plots.js';
import { checkReplaceable, writeFileAtomic } from '../../util/atomic.js';

export function register(program: Command): void {
  program
    .command('pretrain')
    .description(`train a bundled test bed (${Object.keys(TEST_BEDS).join(', ')}) from the bundled text`)
    .option('--model <name>', `test bed, or "all"`, 'all')
    .option('--out <dir>', 'parent directory of the model folders', 'models')
    .option('--steps <n>', 'optimizer steps (default: the shipped schedule)', positiveIntArg)
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .action(async (o: { model: string; out: string; steps?: number; threads?: number }) => {
      const names = o.model === 'all' ? Object.keys(TEST_BEDS) : [o.model];
      for (const name of names) {
        const spec = TEST_BEDS[name];
        if (!spec) throw new ProbescaleError(`unknown test bed "${name}"; choose one of: ${Object.keys(TEST_BEDS).join(', ')}, all`);
        const dir = join(o.out, name);
        checkReplaceable(dir); // before minutes of training: the folder must be new, empty or an earlier pretrain output
        const r = await pretrain(spec, dir, { steps: o.steps, threads: o.threads, log: (l) => console.log(l) });
        writeFileAtomic(join(dir, 'training-curve.svg'), await svg(trainingCurvePlot(r.curve, r.evals)));
        const e = r.evals.at(-1)!;
        console.log(`${name}: ${r.parameters.toLocaleString('en-US')} parameters, ${r.spec.steps} steps in ${(r.seconds / 60).toFixed(1)} min; held-out loss ${e.loss.toFixed(3)}, ${spec.objective === 'clm' ? 'perplexity' : 'pseudo-perplexity'} ${e.perplexity.toFixed(1)}, accuracy ${(e.accuracy * 100).toFixed(1)}% -> ${dir}`);
      }
    });
}
