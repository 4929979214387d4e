/**
 * Statistics on calibration text that the similarity-based baselines need, computed from one run of the
 * full model (Block Influence, angular distance) or from runs of candidate subnetworks (SLEB).
 * x_0 is the embedding output and x_{l+1} the raw output of layer l (before any final norm).
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { Engine, type Batch } from '../engine/engine.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { Task, TokenExample, SentenceExample } from '../data/types.js';

/** A batch of task text for calibration statistics (Block Influence, angular distance, SLEB, healing):
 * the first training examples of each task, at most 128 tokens each. */
export function calibrationBatch(tok: TextTokenizer, tasks: Task[], maxTokens: number, n = 32): { inputIds: number[][] } {
  const texts: string[] = [];
  for (const t of tasks) {
    for (const ex of t.splits.train.slice(0, Math.ceil(n / tasks.length))) texts.push('words' in ex ? (ex as TokenExample).words.join(' ') : (ex as SentenceExample).text);
  }
  return { inputIds: texts.slice(0, n).map((s) => tok.encode(s).slice(0, Math.min(128, maxTokens))) };
}

interface TokenStates {
  states: Float32Array[];
  /** flat token indices (b * T + t) of real tokens */
  tokens: number[];
  C: number;
}

async function tokenStates(model: LoadedModel, batch: Batch, threads?: number): Promise<TokenStates> {
  const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads });
  const out = await engine.run(batch);
  await engine.release();
  const L = model.arch.layers;
  const states = [out['hidden_states.0'].data, ...Array.from({ length: L }, (_, l) => out[`layer_outputs.${l}`].data)];
  const T = out['hidden_states.0'].dims[1];
  const tokens: number[] = [];
  batch.inputIds.forEach((row, b) => row.forEach((_, t) => tokens.push(b * T + t)));
  return { states, tokens, C: model.arch.hidden };
}

function meanCos(a: Float32Array, b: Float32Array, tokens: number[], C: number): number {
  let sum = 0;
  for (const tok of tokens) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let c = tok * C; c < (tok + 1) * C; c++) {
      dot += a[c] * b[c];
      na += a[c] * a[c];
      nb += b[c] * b[c];
    }
    sum += dot / (Math.sqrt(na * nb) || 1);
  }
  return sum / tokens.length;
}

export interface Geometry {
  /** Block Influence per layer: 1 - E[cos(x_l, x_{l+1})] */
  blockInfluence: number[];
  /** E[arccos(cos(x_l, x_{l+n}))] / pi */
  angular(l: number, n: number): number;
}

export async function layerGeometry(model: LoadedModel, batch: Batch, threads?: number): Promise<Geometry> {
  const { states, tokens, C } = await tokenStates(model, batch, threads);
  const L = model.arch.layers;
  const memo = new Map<string, number>();
  const angular = (l: number, n: number) => {
    const key = `${l}:${n}`;
    if (!memo.has(key)) {
      // arccos of the per-token cosine, averaged (Gromov et al. average the angle, not the cosine)
      let sum = 0;
      for (const tok of tokens) sum += Math.acos(Math.max(-1, Math.min(1, meanCos(states[l], states[l + n], [tok], C)))) / Math.PI;
      memo.set(key, sum / tokens.length);
    }
    return memo.get(key)!;
  };
  return { blockInfluence: Array.from({ length: L }, (_, l) => 1 - meanCos(states[l], states[l + 1], tokens, C)), angular };
}

/**
 * Calibration loss of a subnetwork: next-token NLL for causal LMs (what SLEB uses); for encoders, which
 * have no such loss without a task, 1 - cos between the subnetwork's and the full model's final states.
 */
export async function calibrationLoss(model: LoadedModel, layers: number[], batch: Batch, reference?: Float32Array, threads?: number): Promise<number> {
  const causal = model.arch.causal;
  const engine = await Engine.create(model, { layers, hiddenStates: 'last', logits: causal, threads });
  const out = await engine.run(batch);
  await engine.release();
  const T = out.last_hidden_state.dims[1];
  if (causal) {
    const { data, dims } = out.logits;
    const V = dims[2];
    let nll = 0;
    let n = 0;
    batch.inputIds.forEach((row, b) => {
      for (let t = 0; t + 1 < row.length; t++) {
        const base = (b * T + t) * V;
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, data[base + v]);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(data[base + v] - max);
        nll += Math.log(z) + max - data[base + row[t + 1]];
        n++;
      }
    });
    return nll / n;
  }
  const tokens: number[] = [];
  batch.inputIds.forEach((row, b) => row.forEach((_, t) => tokens.push(b * T + t)));
  return 1 - meanCos(out.last_hidden_state.data, reference!, tokens, model.arch.hidden);
}

/** SLEB: remove, one at a time, the layer whose removal hurts the calibration loss least, until k remain. */
export async function slebSubset(model: LoadedModel, batch: Batch, k: number, threads?: number): Promise<{ layers: number[]; trace: { removed: number; loss: number }[] }> {
  let current = Array.from({ length: model.arch.layers }, (_, l) => l);
  let reference: Float32Array | undefined;
  if (!model.arch.causal) {
    const full = await Engine.create(model, { hiddenStates: 'last', logits: false, threads });
    reference = (await full.run(batch)).last_hidden_state.data;
    await full.release();
  }
  const trace: { removed: number; loss: number }[] = [];
  while (current.length > k) {
    let best = { removed: -1, loss: Infinity };
    for (const l of current) {
      const loss = await calibrationLoss(model, current.filter((x) => x !== l), batch, reference, threads);
      if (loss < best.loss) best = { removed: l, loss };
    }
    current = current.filter((x) => x !== best.removed);
    trace.push(best);
  }
  return { layers: current, trace };
}
