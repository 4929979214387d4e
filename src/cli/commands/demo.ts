/**
 * `probescale demo` (npm run demo): the whole pipeline on the embedded default — stories260K, a real
 * pretrained llama2.c model — and three bundled tasks (UPOS tagging, SST-2 sentiment, main-verb tense),
 * at three parameter budgets, with healing; then the written model's measured verification.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadModel } from '../../model/checkpoint.js';
import { runPipeline } from '../pipeline.js';
import { EMBEDDED_MODEL } from '../paths.js';
import { intArg } from '../parse.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on the embedded default model (stories260K) and bundled tasks')
    .option('--out <dir>', 'output directory', 'out/demo')
    .option('--max-train <n>', 'training sentences per task', intArg, 1000)
    .option('--max-eval <n>', 'dev/test sentences per task', intArg, 400)
    .action(async (o: { out: string; maxTrain: number; maxEval: number }) => {
      const model = loadModel(EMBEDDED_MODEL);
      const a = model.arch;
      console.log(`model: ${EMBEDDED_MODEL}\n  ${a.family}, ${a.layers} layers, hidden ${a.hidden}, heads ${a.heads} (kv ${a.kvHeads}), vocab ${a.vocab}, ${model.weights.parameterCount().toLocaleString()} parameters\n`);
      const r = await runPipeline({
        model: EMBEDDED_MODEL, tasks: 'upos,sst2,tense', budgets: '0.6,0.4,0.8', out: o.out, maxTrain: o.maxTrain, maxEval: o.maxEval,
        seed: 0, heal: true, searchEvals: 40, randomSeeds: 5, bootstrap: 1000,
      });
      const v = r.compressed.verification;
      const m = r.compressed.measured;
      console.log(`\nwritten model ${join(o.out, 'model')}: layers [${r.compressed.layers.join(', ')}] of ${a.layers}, ${m.compressed.parameters.toLocaleString()} of ${m.full.parameters.toLocaleString()} parameters`);
      console.log(`  latency batch 1: ${m.full.latencyMsBatch1.toFixed(2)} -> ${m.compressed.latencyMsBatch1.toFixed(2)} ms; batch 32: ${m.full.latencyMsBatch32.toFixed(1)} -> ${m.compressed.latencyMsBatch32.toFixed(1)} ms`);
      for (const [task, s] of Object.entries(v)) console.log(`  ${task.padEnd(6)} ${s.score.toFixed(3)} (full model ${s.fullFinal.toFixed(3)}): retention ${(100 * s.retentionVsFinal).toFixed(1)}%`);
      console.log(`\nopen ${join(o.out, 'report.html')} in a browser`);
    });
}
