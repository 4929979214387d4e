/**
 * What a probing run costs beyond the forward passes it needs: (features + probes) / features, for N tasks
 * on the embedded model, with feature extraction timed separately (the cache is cleared first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../../src/model/checkpoint.js';
import { Engine } from '../../src/engine/engine.js';
import { loadTask } from '../../src/data/builtin.js';
import { probeTask } from '../../src/probe/suite.js';
import { EMBEDDED_MODEL } from '../../src/cli/paths.js';

export async function runProbingOverhead(threads = 2): Promise<void> {
  const model = loadModel(EMBEDDED_MODEL);
  const tok = model.tokenizer();
  const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads });
  const cacheDir = mkdtempSync(join(tmpdir(), 'ps-overhead-'));
  let feat = 0;
  let probe = 0;
  const names = ['upos', 'sst2', 'tense'];
  for (const name of names) {
    const r = await probeTask(engine, tok, loadTask(name, { maxTrain: 2000, maxEval: 500 }), { cacheDir, bootstrap: 1000 });
    feat += r.featureSeconds;
    probe += r.probeSeconds;
  }
  rmSync(cacheDir, { recursive: true });
  await engine.release();
  console.log(`## Probing run overhead (stories260K, ${names.join(', ')}, 2000 train / 500 eval units, 6 representations, ${threads} threads)\n`);
  console.log(`forward passes (feature extraction) ${feat.toFixed(1)} s, probes ${probe.toFixed(1)} s: whole run = ${((feat + probe) / feat).toFixed(2)}x the forward passes\n`);
}
