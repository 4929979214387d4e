/**
 * `probescale demo` (npm run demo): the whole pipeline on the embedded defaults — stories260K, a real
 * pretrained llama2.c model (5 layers), then mini-roberta, the project's own 12-layer masked LM — with
 * three bundled tasks (UPOS tagging, SST-2 sentiment, main-verb tense), at three parameter budgets, with
 * healing; then each written model's measured verification.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadModel } from '../../model/checkpoint.js';
import { runPipeline } from '../pipeline.js';
import { EMBEDDED_MODEL, MINI_ROBERTA } from '../paths.js';
import { intArg } from '../parse.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on the embedded default models (stories260K, mini-roberta) and bundled tasks')
    .option('--out <dir>', 'output directory', 'out/demo')
    .option('--max-train <n>', 'training sentences per task', intArg, 1000)
    .option('--max-eval <n>', 'dev/test sentences per task', intArg, 400)
    .option('--only <stage>', 'run one stage: stories260K or mini-roberta')
    .action(async (o: { out: string; maxTrain: number; maxEval: number; only?: string }) => {
      const stages = [
        // a real pretrained model from llama2.c (5 layers)
        { name: 'stories260K', model: EMBEDDED_MODEL, out: o.out, budgets: '0.6,0.4,0.8' },
        // our own 12-layer masked-LM test bed: enough depth for selection to matter
        { name: 'mini-roberta', model: MINI_ROBERTA, out: join(o.out, 'mini-roberta'), budgets: '0.3,0.5,0.7' },
      ].filter((s) => !o.only || s.name === o.only);
      for (const stage of stages) {
        const model = loadModel(stage.model);
        const a = model.arch;
        console.log(`\n=== ${stage.name}: ${stage.model}\n  ${a.family}, ${a.layers} layers, hidden ${a.hidden}, heads ${a.heads} (kv ${a.kvHeads}), vocab ${a.vocab}, ${model.weights.parameterCount().toLocaleString()} parameters\n`);
        const r = await runPipeline({
          model: stage.model, tasks: 'upos,sst2,tense', budgets: stage.budgets, out: stage.out, maxTrain: o.maxTrain, maxEval: o.maxEval,
          seed: 0, heal: true, searchEvals: 40, randomSeeds: 5, bootstrap: 1000,
        });
        const v = r.compressed.verification;
        const m = r.compressed.measured;
        console.log(`\nwritten model ${join(stage.out, 'model')}: layers [${r.compressed.layers.join(', ')}] of ${a.layers}, ${m.compressed.parameters.toLocaleString()} of ${m.full.parameters.toLocaleString()} parameters`);
        console.log(`  latency batch 1: ${m.full.latencyMsBatch1.toFixed(2)} -> ${m.compressed.latencyMsBatch1.toFixed(2)} ms; batch 32: ${m.full.latencyMsBatch32.toFixed(1)} -> ${m.compressed.latencyMsBatch32.toFixed(1)} ms`);
        for (const [task, s] of Object.entries(v)) console.log(`  ${task.padEnd(6)} ${s.score.toFixed(3)} (full model ${s.fullFinal.toFixed(3)}): retention ${(100 * s.retentionVsFinal).toFixed(1)}%`);
        console.log(`open ${join(stage.out, 'report.html')} in a browser`);
      }
    });
}
