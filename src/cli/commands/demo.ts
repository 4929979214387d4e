/**
 * `probescale demo` (npm run demo): the pipeline on the embedded default model, stories260K.
 * Today it shows the foundation: load, every layer's hidden states for a batch, a layer-subset run, greedy text.
 */
import type { Command } from 'commander';
import { loadModel } from '../../model/checkpoint.js';
import { Engine } from '../../engine/engine.js';
import { greedyGenerate } from '../../engine/generate.js';
import { EMBEDDED_MODEL } from '../paths.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline on the embedded default model (stories260K)')
    .action(async () => {
      const t0 = performance.now();
      const model = loadModel(EMBEDDED_MODEL);
      const tok = model.tokenizer();
      const a = model.arch;
      console.log(`model: ${EMBEDDED_MODEL}`);
      console.log(`  ${a.family}, ${a.layers} layers, hidden ${a.hidden}, heads ${a.heads} (kv ${a.kvHeads}), vocab ${a.vocab}, ${model.weights.parameterCount().toLocaleString()} parameters`);

      const sentences = ['Once upon a time there was a little dog.', 'The girl was happy because she had a red ball.'];
      const ids = sentences.map((s) => tok.encode(s));
      const engine = await Engine.create(model);
      const out = await engine.run({ inputIds: ids });
      console.log(`\nhidden states for a batch of ${ids.length} sentences (right-padded to ${Math.max(...ids.map((r) => r.length))} tokens):`);
      for (const [name, t] of Object.entries(out)) console.log(`  ${name.padEnd(20)} [${t.dims.join(', ')}]`);

      const prompt = 'Once upon a time';
      const full = await greedyGenerate(engine, tok.encode(prompt), 48, [1]);
      console.log(`\ngreedy continuation, all ${a.layers} layers:\n  ${tok.decode(full)}`);
      const subset = await Engine.create(model, { layers: [0, 1, 2, 4], hiddenStates: 'last' });
      const cut = await greedyGenerate(subset, tok.encode(prompt), 48, [1]);
      console.log(`greedy continuation without layer 3 (layers 0,1,2,4):\n  ${tok.decode(cut)}`);
      await engine.release();
      await subset.release();
      console.log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    });
}
