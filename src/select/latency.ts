/**
 * Per-layer latency costs for `latency:` budgets, measured (not estimated): the full model and the model
 * with no layers are timed on the calibration batch, and the difference is spread evenly over the layers
 * (every layer of these families has the same shape).
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { Engine, range } from '../engine/engine.js';
import { medianRunMs } from '../engine/timing.js';
import type { LayerCosts } from './costs.js';
import type { Precision } from '../engine/graph.js';

export async function latencyCosts(model: LoadedModel, batch: { inputIds: number[][] }, threads?: number, precision?: Precision): Promise<LayerCosts> {
  const time = async (layers: number[]) => {
    const e = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, threads, precision });
    const ms = await medianRunMs(e, batch, 5);
    await e.release();
    return ms;
  };
  const L = model.arch.layers;
  const full = await time(range(L));
  const none = await time([]);
  return { perLayer: new Array(L).fill(Math.max((full - none) / L, 1e-6)), fixed: none, unit: 'ms/batch' };
}
