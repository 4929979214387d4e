/**
 * `probescale demo` (npm run demo): the whole pipeline on the embedded defaults, then each written model's
 * measured verification:
 *  1. stories260K, a real pretrained llama2.c model (5 layers): UPOS tagging, SST-2 sentiment, main-verb
 *     tense, three parameter budgets;
 *  2. mini-gpt, the project's own 12-layer causal LM: dependency relations (edge probe), main-verb tense and
 *     coordination inversion with last-token pooling — tasks whose probe scores climb through its layers
 *     (on UPOS or SST-2 its layers add next to nothing over the embeddings; mini-roberta's layers are flat
 *     on every probe, see bench/RESULTS.md), two budgets, smaller samples to stay within a few minutes.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadModel } from '../../model/checkpoint.js';
import { runPipeline } from '../../pipeline/run.js';
import { EMBEDDED_MODEL, GPT_M, MINI_GPT } from '../paths.js';
import type { PipelineOptions } from '../../pipeline/run.js';
import { positiveIntArg } from '../parse.js';
import { ProbescaleError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on the embedded default models (stories260K, mini-gpt) and bundled tasks')
    .option('--out <dir>', 'output directory', 'out/demo')
    .option('--max-train <n>', 'training sentences per task (default: 1000)', positiveIntArg)
    .option('--max-eval <n>', 'dev/test sentences per task (default: 400, 500 for mini-gpt)', positiveIntArg)
    .option('--only <stage>', 'run one stage: stories260K or mini-gpt')
    .option('--overwrite', 'write into --out even if it holds files probescale did not write (e.g. a demo output from before the output markers)')
    .action(async (o: { out: string; maxTrain?: number; maxEval?: number; only?: string; overwrite?: boolean }) => {
      type Stage = { name: string; model: string; out: string } & Pick<PipelineOptions, 'tasks' | 'budgets' | 'maxTrain' | 'maxEval' | 'maxTest' | 'searchEvals' | 'randomSeeds' | 'pooling' | 'wordPooling' | 'quantize'>;
      const stages: Stage[] = [
        // a real pretrained model from llama2.c (5 layers)
        { name: 'stories260K', model: EMBEDDED_MODEL, out: o.out, tasks: 'upos,sst2,tense', budgets: '0.6,0.4,0.8', maxTrain: 1000, maxEval: 400, searchEvals: 40, randomSeeds: 5, pooling: 'mean' },
        { name: 'gpt-m', model: GPT_M, out: join(o.out, 'gpt-m'), tasks: 'upos,deprel,tense,coordinv', budgets: '0.5,0.75', maxTrain: 1000, maxEval: 500, maxTest: Number.MAX_SAFE_INTEGER, searchEvals: 20, randomSeeds: 3, pooling: 'last', wordPooling: 'mean', quantize: 'int8' },
        // our own 12-layer test bed: enough depth for selection to matter; 12-layer subnetworks cost more per evaluation
        { name: 'mini-gpt', model: MINI_GPT, out: join(o.out, 'mini-gpt'), tasks: 'deprel,tense,coordinv', budgets: '0.3,0.5', maxTrain: 1000, maxEval: 500, searchEvals: 30, randomSeeds: 3, pooling: 'last', quantize: 'int8' },
      ];
      if (o.only && !stages.some((s) => s.name === o.only)) throw new ProbescaleError(`unknown demo stage "${o.only}"`, { fix: `use one of: ${stages.map((s) => s.name).join(', ')}` });
      for (const stage of stages.filter((s) => !o.only || s.name === o.only)) {
        const model = loadModel(stage.model);
        const a = model.arch;
        console.log(`\n=== ${stage.name}: ${stage.model}\n  ${a.family}, ${a.layers} layers, hidden ${a.hidden}, heads ${a.heads} (kv ${a.kvHeads}), vocab ${a.vocab}, ${model.weights.parameterCount().toLocaleString()} parameters\n`);
        const r = await runPipeline({
          ...stage, maxTrain: o.maxTrain ?? stage.maxTrain, maxEval: o.maxEval ?? stage.maxEval, seed: 0, heal: true, bootstrap: 1000, overwrite: o.overwrite,
        });
        const v = r.compressed.verification;
        const m = r.compressed.measured;
        console.log(`\nwritten model ${join(stage.out, 'model')}: layers [${r.compressed.layers.join(', ')}] of ${a.layers}, ${m.compressed.parameters.toLocaleString()} of ${m.full.parameters.toLocaleString()} parameters`);
        const spread = (t: number[], d: number) => `[${t[0].toFixed(d)}-${t[t.length - 1].toFixed(d)}]`;
        console.log(`  latency batch 1: ${m.full.latencyMsBatch1.toFixed(2)} ${spread(m.full.timesMsBatch1, 2)} -> ${m.compressed.latencyMsBatch1.toFixed(2)} ${spread(m.compressed.timesMsBatch1, 2)} ms; batch 32: ${m.full.latencyMsBatch32.toFixed(1)} ${spread(m.full.timesMsBatch32, 1)} -> ${m.compressed.latencyMsBatch32.toFixed(1)} ${spread(m.compressed.timesMsBatch32, 1)} ms (median [min-max] of ${m.full.timesMsBatch1.length} repeats)`);
        for (const [task, s] of Object.entries(v)) {
          const gain = s.gainVsFinal !== undefined ? `gain retention ${(100 * s.gainVsFinal).toFixed(1)}%` : `gain retention not defined (${s.gainUndefined})`;
          console.log(`  ${task.padEnd(6)} ${s.score.toFixed(3)} (full model ${s.fullFinal.toFixed(3)}, embeddings only ${s.embeddings.toFixed(3)}): raw retention ${(100 * s.retentionVsFinal).toFixed(1)}%, ${gain}`);
        }
        const q = r.compressed.quantized;
        if (q) {
          const sz = r.compressed.size!;
          console.log(`  int8 model_quantized.onnx: ${(sz.written.onnxQuantized! / 2 ** 20).toFixed(2)} MB (fp32 model.onnx ${(sz.written.onnx / 2 ** 20).toFixed(2)} MB; ${(100 * sz.total).toFixed(1)}% of the original checkpoint's bytes); batch 32: ${q.measured.latencyMsBatch32.toFixed(1)} ms`);
          for (const [task, s] of Object.entries(q.verification)) console.log(`  int8 ${task.padEnd(6)} ${s.score.toFixed(3)}: retention ${(100 * s.retentionVsFinal).toFixed(1)}%`);
        }
        console.log(`open ${join(stage.out, 'report.html')} in a browser`);
      }
    });
}
