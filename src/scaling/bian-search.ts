/**
 * The architecture search of Bian et al. (arXiv 2510.18245) at a non-embedding parameter budget N and
 * D training tokens: among shapes of ~N parameters (hidden size x MLP/attention ratio, depth solved), keep
 * those whose law-predicted loss is no worse than the standard (LLaMA-3.2-shaped) architecture's at the
 * same N, and take the one with the highest measured inference throughput; grouped-query attention is not
 * in the law, so it is chosen afterwards by a local search on measured throughput (more query heads per
 * key/value head while the throughput improves, stopping at the first step that does not). The loss-optimal
 * shape (lowest predicted loss, same GQA search) is reported beside it.
 * Throughput is measured on the onnxruntime engine with random weights (speed does not depend on their
 * values): batch-1 decoding with a key/value cache (the objective: where GQA pays) and batched prefill.
 */
import { Engine, type KvCache } from '../engine/engine.js';
import { medianRunMs } from '../engine/timing.js';
import { ProbescaleError } from '../util/errors.js';
import { randomLlama } from './architecture.js';
import { bianLoss, type BianParams } from './bian.js';
import { shapeFor, type GridShape } from './bian-grid.js';

/** LLaMA-3.2-1B: hidden 2048, 16 layers, 32 query / 8 key-value heads, SwiGLU 8192 (its config.json). */
const LLAMA32_1B = { hidden: 2048, layers: 16, heads: 32, kvHeads: 8, intermediate: 8192 };

export function nonEmbedding(s: GridShape): number {
  const D = s.hidden / s.heads;
  return s.layers * (2 * s.hidden * s.heads * D + 2 * s.hidden * s.kvHeads * D + 3 * s.hidden * s.intermediate + 2 * s.hidden) + s.hidden;
}

export function ratioOf(s: GridShape): number {
  const D = s.hidden / s.heads;
  return (3 * s.hidden * s.intermediate) / (2 * s.hidden * s.heads * D + 2 * s.hidden * s.kvHeads * D);
}

/** LLaMA-3.2-1B's proportions: hidden / sqrt(N) = 0.0657, MLP/attention ratio 4.8, 4 query heads per KV head. */
export const LLAMA32 = { x: LLAMA32_1B.hidden / Math.sqrt(nonEmbedding(LLAMA32_1B)), ratio: ratioOf(LLAMA32_1B), groups: LLAMA32_1B.heads / LLAMA32_1B.kvHeads };

/** Depth that brings the shape closest to N (at least 1). */
function atBudget(hidden: number, ratio: number, groups: number, headDim: number, N: number): GridShape | undefined {
  const one = shapeFor(hidden, 1, ratio, headDim, groups);
  if (one.heads % groups !== 0) return undefined;
  const layers = Math.max(1, Math.round((N - one.hidden) / (nonEmbedding(one) - one.hidden)));
  return { ...one, layers };
}

/** The LLaMA-3.2-shaped model of ~N non-embedding parameters (hidden rounded so the heads split into 4 groups). */
export function llama32Standard(N: number, headDim: number): GridShape {
  const step = headDim * LLAMA32.groups;
  const hidden = Math.max(step, Math.round((LLAMA32.x * Math.sqrt(N)) / step) * step);
  return atBudget(hidden, LLAMA32.ratio, LLAMA32.groups, headDim, N)!;
}

export interface Throughput {
  /** batch-1 decoding with a key/value cache, tokens/s (after a prompt of `prompt` tokens) */
  decode: number;
  /** batched prefill tokens/s */
  prefill: number;
}

export interface ThroughputOptions {
  vocab: number;
  threads?: number;
  prompt?: number;
  decodeTokens?: number;
  prefillBatch?: number;
  prefillSeq?: number;
  repeats?: number;
}

export async function measureShape(s: GridShape, o: ThroughputOptions): Promise<Throughput> {
  const model = randomLlama({ ...s, vocab: o.vocab });
  const repeats = o.repeats ?? 5;
  const prompt = Array.from({ length: o.prompt ?? 16 }, (_, t) => 3 + ((t * 7919) % (o.vocab - 3)));
  const steps = o.decodeTokens ?? 64;
  const cached = await Engine.create(model, { kvCache: true, logits: true, hiddenStates: 'last', threads: o.threads });
  const decodeMs: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    let past: KvCache = Object.fromEntries(Object.entries(await cached.run({ inputIds: [prompt] })).filter(([n]) => n.startsWith('present.')));
    const t0 = performance.now();
    for (let t = 0; t < steps; t++) {
      const out = await cached.run({ inputIds: [[3 + ((t * 31) % (o.vocab - 3))]], past });
      past = Object.fromEntries(Object.entries(out).filter(([n]) => n.startsWith('present.')));
    }
    if (r > 0) decodeMs.push(performance.now() - t0); // the first pass warms up
  }
  await cached.release();
  const full = await Engine.create(model, { logits: true, hiddenStates: 'last', threads: o.threads });
  const B = o.prefillBatch ?? 8;
  const T = o.prefillSeq ?? 64;
  const row = Array.from({ length: T }, (_, t) => 3 + ((t * 7919) % (o.vocab - 3)));
  const batch = { inputIds: Array.from({ length: B }, () => row) };
  await full.run(batch);
  const prefillMs: number[] = [];
  for (let r = 0; r < repeats; r++) prefillMs.push(await medianRunMs(full, batch, 1));
  await full.release();
  // the fastest of the repeats: on a shared machine the slow ones measure the other processes
  return { decode: steps / (Math.min(...decodeMs) / 1000), prefill: (B * T) / (Math.min(...prefillMs) / 1000) };
}

export interface Candidate {
  shape: GridShape;
  N: number;
  ratio: number;
  x: number;
  groups: number;
  predicted: number;
  throughput?: Throughput;
}

export interface SearchResult {
  budget: number;
  tokens: number;
  standard: Candidate;
  /** the paper's objective: fastest decoding among shapes predicted no worse than the standard, then GQA */
  chosen: Candidate;
  /** lowest predicted loss, then the same GQA search */
  lossOptimal: Candidate;
  /** shapes predicted no worse than the standard (0: `chosen` is the loss-optimal shape, not a feasible one) */
  feasible: number;
  /** every shape considered (groups 1) with its prediction; throughput where measured */
  candidates: Candidate[];
  gqaSteps: { for: 'chosen' | 'lossOptimal'; groups: number; predicted: number; decode: number; kept: boolean }[];
  /** timed repeats per shape (the fastest counts) */
  repeats: number;
}

export interface SearchOptions extends ThroughputOptions {
  headDim: number;
  ratios?: number[];
  /** hidden / sqrt(N) range of the candidates */
  xRange?: [number, number];
  /** candidates must be within this relative distance of the standard's N */
  tolerance?: number;
  log?: (l: string) => void;
}

const candidateOf = (law: BianParams, s: GridShape, D: number): Candidate => {
  const N = nonEmbedding(s);
  const ratio = ratioOf(s);
  return { shape: s, N, ratio, x: s.hidden / Math.sqrt(N), groups: s.heads / s.kvHeads, predicted: bianLoss(law, { N, D, hidden: s.hidden, mlpAttnRatio: ratio }) };
};

export async function searchArchitecture(law: BianParams, budget: number, tokens: number, o: SearchOptions): Promise<SearchResult> {
  const log = o.log ?? (() => {});
  const std = candidateOf(law, llama32Standard(budget, o.headDim), tokens);
  const tol = o.tolerance ?? 0.1;
  const [x0, x1] = o.xRange ?? [0.05, 0.4];
  const ratios = o.ratios ?? [0.5, 0.75, 1, 1.5, 2, 3, 4, 4.8, 6, 8];
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (let h = o.headDim; h <= x1 * Math.sqrt(std.N) + o.headDim; h += o.headDim) {
    if (h < x0 * Math.sqrt(std.N)) continue;
    for (const r of ratios) {
      const s = atBudget(h, r, 1, o.headDim, std.N);
      if (!s || seen.has(JSON.stringify(s))) continue;
      seen.add(JSON.stringify(s));
      const c = candidateOf(law, s, tokens);
      if (Math.abs(c.N - std.N) / std.N <= tol) candidates.push(c);
    }
  }
  if (!candidates.length) throw new ProbescaleError(`no shape within ${tol * 100}% of the standard's ${std.N} parameters`, { fix: 'use a larger budget' });
  std.throughput = await measureShape(std.shape, o);
  log(`standard (LLaMA-3.2-shaped) h${std.shape.hidden} L${std.shape.layers} ${std.shape.heads}/${std.shape.kvHeads} heads ffn${std.shape.intermediate}: N ${std.N}, predicted ${std.predicted.toFixed(4)}, decode ${std.throughput.decode.toFixed(0)} tok/s, prefill ${std.throughput.prefill.toFixed(0)} tok/s`);
  const feasible = candidates.filter((c) => c.predicted <= std.predicted);
  for (const c of feasible) {
    c.throughput = await measureShape(c.shape, o);
    log(`  h${c.shape.hidden} L${c.shape.layers} r${c.ratio.toFixed(2)}: predicted ${c.predicted.toFixed(4)}, decode ${c.throughput.decode.toFixed(0)} tok/s`);
  }
  const gqaSteps: SearchResult['gqaSteps'] = [];
  // GQA by local search: more query heads per KV head while decoding gets faster and the prediction holds
  const gqa = async (start: Candidate, which: 'chosen' | 'lossOptimal'): Promise<Candidate> => {
    let best = start;
    best.throughput ??= await measureShape(best.shape, o);
    const groups = Array.from({ length: start.shape.heads }, (_, i) => i + 1).filter((g) => g > 1 && start.shape.heads % g === 0);
    for (const g of groups) {
      const s = atBudget(start.shape.hidden, start.ratio, g, o.headDim, std.N);
      if (!s) break;
      const c = candidateOf(law, s, tokens);
      if (Math.abs(c.N - std.N) / std.N > tol) break;
      c.throughput = await measureShape(s, o);
      const kept = c.throughput.decode > best.throughput!.decode && (which === 'lossOptimal' || c.predicted <= std.predicted);
      gqaSteps.push({ for: which, groups: g, predicted: c.predicted, decode: c.throughput.decode, kept });
      if (!kept) break; // early stop at the first step that does not pay
      best = c;
    }
    return best;
  };
  const byLoss = [...candidates].sort((a, b) => a.predicted - b.predicted)[0];
  const fastest = feasible.length ? feasible.reduce((a, b) => (b.throughput!.decode > a.throughput!.decode ? b : a)) : byLoss;
  const chosen = await gqa(fastest, 'chosen');
  const lossOptimal = await gqa(byLoss, 'lossOptimal');
  return { budget, tokens, standard: std, chosen, lossOptimal, feasible: feasible.length, candidates, gqaSteps, repeats: o.repeats ?? 5 };
}
