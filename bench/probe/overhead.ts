/**
 * What a probing run costs beyond the forward passes it needs: (features + probes) / features, for N tasks,
 * with feature extraction timed separately (the cache starts empty). Measured on three model sizes (at the
 * largest a decoder and an encoder), because the ratio depends on how expensive a forward pass is per token
 * relative to a probe fit per layer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../../src/engine/load.js';
import { Engine } from '../../src/engine/engine.js';
import { loadTask } from '../../src/data/builtin.js';
import { probeTask, probingTime, type TaskResult } from '../../src/probe/suite.js';
import { EMBEDDED_MODEL, MINI_GPT, MINI_ROBERTA } from '../../src/cli/paths.js';
import { makeGpt2Small, makeRobertaBase } from '../forward/make-models.js';
import { cacheDir as benchCache } from '../util.js';

export async function runProbingOverhead(threads = 2, quick = false): Promise<void> {
  const names = ['upos', 'sst2', 'tense'];
  const maxTrain = quick ? 500 : 2000;
  const maxEval = quick ? 200 : 500;
  const models = [
    { name: 'stories260K (5 layers, hidden 64)', dir: EMBEDDED_MODEL },
    { name: 'mini-gpt (12 layers, hidden 128)', dir: MINI_GPT },
    ...(quick
      ? []
      : [
          { name: 'GPT-2-small shape (random init, 12 layers, hidden 768)', dir: makeGpt2Small(join(benchCache(), 'gpt2-small-random'), MINI_GPT) },
          { name: 'RoBERTa-base shape (random init, 12 layers, hidden 768)', dir: makeRobertaBase(join(benchCache(), 'roberta-base-random'), MINI_ROBERTA) },
        ]),
  ];
  console.log(`## Probing run overhead (${names.join(', ')}; ${maxTrain} train / ${maxEval} eval units; logistic probes, C on dev, 1,000 bootstrap resamples; ${threads} threads)\n`);
  console.log('| model | representations | forward passes s | probes s | whole run / forward passes |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const m of models) {
    const model = loadModel(m.dir);
    const tok = await model.tokenizer();
    const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads });
    const cacheDir = mkdtempSync(join(tmpdir(), 'ps-overhead-'));
    const results: TaskResult[] = [];
    for (const name of names) results.push(await probeTask(engine, tok, loadTask(name, { maxTrain, maxEval }), { cacheDir, bootstrap: 1000, threads }));
    rmSync(cacheDir, { recursive: true });
    await engine.release();
    // the cache directory is fresh, so every split ran its forward passes and the ratio is defined
    const t = probingTime(results);
    console.log(`| ${m.name} | ${model.arch.layers + 1} | ${t.featureSeconds.toFixed(1)} | ${t.probeSeconds.toFixed(1)} | ${t.overForward!.toFixed(2)}x |`);
  }
  console.log('');
}
