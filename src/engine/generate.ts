/**
 * Greedy decoding for causal LMs, with run.c's conventions: `steps` counts positions including the
 * prompt, and generation stops early if the model emits BOS (llama2.c's sequence delimiter).
 * An engine built with { kvCache: true } runs the prompt once and then one token per step, feeding back
 * its present.* keys/values; any other engine reruns the whole prefix each step (the reference the cached
 * path is tested against).
 */
import { ProbescaleError } from '../util/errors.js';
import type { Engine, KvCache } from './engine.js';

export function argmax(v: Float32Array, start = 0, n = v.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[start + i] > v[start + best]) best = i;
  return best;
}

export interface GenerateStep {
  /** Position of the token these logits predict from (the last token fed). */
  position: number;
  /** Logits over the vocabulary at that position. */
  logits: Float32Array;
}

export async function greedyGenerate(engine: Engine, prompt: number[], steps: number, stopIds: number[] = [], onStep?: (s: GenerateStep) => void): Promise<number[]> {
  if (!engine.model.arch.causal) throw new ProbescaleError(`greedy generation needs a causal LM; ${engine.model.arch.family} is not one`);
  if (!engine.outputNames.includes('logits')) throw new ProbescaleError('the engine was built without logits; create it with { logits: true }');
  if (prompt.length === 0) throw new ProbescaleError('empty prompt: give at least a BOS token');
  const tokens = [...prompt];
  let past: KvCache | undefined;
  while (tokens.length <= steps) {
    // cached: the prompt on the first step, then only the token added last
    const fed = engine.cache ? (past ? tokens.slice(-1) : tokens) : tokens;
    const out = await engine.run({ inputIds: [fed], past });
    const { data, dims } = out.logits;
    const V = dims[2];
    const row = (fed.length - 1) * V;
    onStep?.({ position: tokens.length - 1, logits: data.slice(row, row + V) });
    if (engine.cache) past = Object.fromEntries(Object.entries(out).filter(([name]) => name.startsWith('present.')));
    const next = argmax(data, row, V);
    if (stopIds.includes(next)) break;
    tokens.push(next);
  }
  return tokens;
}
