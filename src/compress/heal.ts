/**
 * Training-free healing: each run of removed layers is replaced by a linear map fitted by ridge least
 * squares on calibration tokens, from the full model's state entering the run to the state leaving it
 * (x_prev -> x_next, x_0 = embeddings, x_{l+1} = raw output of layer l). Stored as bridges the engine
 * applies before the next kept layer.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { Engine, type Batch } from '../engine/engine.js';
import type { GraphOptions } from '../engine/family.js';
import { solveSPD } from '../util/linalg.js';

export type Bridges = NonNullable<GraphOptions['bridges']>;

/** Ridge fit of Y ~ X W + b over rows; returns W [C, C] (in, out) and b [C]. */
export function fitLinearMap(X: Float32Array, Y: Float32Array, rows: number, C: number, lambdaRel = 1e-3): { weight: Float32Array; bias: Float32Array } {
  const n = C + 1;
  const xtx = new Float64Array(n * n);
  const xty = new Float64Array(n * C);
  const xa = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < C; i++) xa[i] = X[r * C + i];
    xa[C] = 1;
    for (let i = 0; i < n; i++) {
      const xi = xa[i];
      if (xi === 0) continue;
      const row = i * n;
      for (let j = 0; j <= i; j++) xtx[row + j] += xi * xa[j];
      const yrow = i * C;
      for (let c = 0; c < C; c++) xty[yrow + c] += xi * Y[r * C + c];
    }
  }
  let trace = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) xtx[j * n + i] = xtx[i * n + j];
    if (i < C) trace += xtx[i * n + i];
  }
  const lambda = (lambdaRel * trace) / C + 1e-8;
  for (let i = 0; i < C; i++) xtx[i * n + i] += lambda; // the bias is not penalized
  xtx[C * n + C] += 1e-8;
  const sol = solveSPD(xtx, xty, n, C);
  return { weight: Float32Array.from(sol.subarray(0, C * C)), bias: Float32Array.from(sol.subarray(C * C)) };
}

export async function fitBridges(model: LoadedModel, layers: number[], batch: Batch, threads?: number): Promise<Bridges> {
  const L = model.arch.layers;
  const C = model.arch.hidden;
  const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads });
  const out = await engine.run(batch);
  await engine.release();
  const T = out['hidden_states.0'].dims[1];
  const states = [out['hidden_states.0'].data, ...Array.from({ length: L }, (_, l) => out[`layer_outputs.${l}`].data)];
  // gather the real (unpadded) tokens once
  const tokens: number[] = [];
  batch.inputIds.forEach((row, b) => row.forEach((_, t) => tokens.push(b * T + t)));
  const pick = (s: Float32Array) => {
    const m = new Float32Array(tokens.length * C);
    tokens.forEach((tok, r) => m.set(s.subarray(tok * C, (tok + 1) * C), r * C));
    return m;
  };
  const bridges: Bridges = {};
  for (let j = 0; j <= layers.length; j++) {
    const prev = j === 0 ? 0 : layers[j - 1] + 1;
    const next = j === layers.length ? L : layers[j];
    if (next > prev) bridges[j] = fitLinearMap(pick(states[prev]), pick(states[next]), tokens.length, C);
  }
  return bridges;
}
