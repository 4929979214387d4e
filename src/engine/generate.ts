/**
 * Greedy decoding for causal LMs, with run.c's conventions: `steps` counts positions including the
 * prompt, and generation stops early if the model emits BOS (llama2.c's sequence delimiter).
 * Each step reruns the whole prefix: simple and exact; fine for the small models probescale targets.
 */
import { ProbescaleError } from '../util/errors.js';
import type { Engine } from './engine.js';

export function argmax(v: Float32Array, start = 0, n = v.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[start + i] > v[start + best]) best = i;
  return best;
}

export async function greedyGenerate(engine: Engine, prompt: number[], steps: number, stopIds: number[] = []): Promise<number[]> {
  if (!engine.model.arch.causal) throw new ProbescaleError(`greedy generation needs a causal LM; ${engine.model.arch.family} is not one`);
  if (!engine.outputNames.includes('logits')) throw new ProbescaleError('the engine was built without logits; create it with { logits: true }');
  if (prompt.length === 0) throw new ProbescaleError('empty prompt: give at least a BOS token');
  const tokens = [...prompt];
  while (tokens.length <= steps) {
    const out = await engine.run({ inputIds: [tokens] });
    const { data, dims } = out.logits;
    const V = dims[2];
    const next = argmax(data, (tokens.length - 1) * V, V);
    if (stopIds.includes(next)) break;
    tokens.push(next);
  }
  return tokens;
}
