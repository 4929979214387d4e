/**
 * Data and use of the conditional scaling law (issue: scaling laws). A grid of small Llama models
 * (hidden size x depth x MLP-to-attention ratio x grouped-query attention) is trained with the
 * ONNX-autodiff trainer on the bundled pretraining text; each run's held-out loss at 1/4, 1/2 and all of
 * its tokens gives (N, D, loss) points (constant learning rate after warmup, so intermediate checkpoints
 * are usable, as in Kaplan et al.; N = non-embedding parameters). The Chinchilla form and its conditional
 * extension are fitted on most configurations and scored on held-out ones; the fitted law then ranks
 * architectures at a target budget, and the engine measures the chosen one against a standard shape.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { mulberry32 } from '../util/random.js';
import { ProbescaleError } from '../util/errors.js';
import { trainByteLevelBpe, tokenizerJson } from '../train/bpe.js';
import { nextTokenWindows, pretrainingCorpus } from '../train/corpus.js';
import { llamaModel, llamaParamShapes, type LlamaShape } from '../train/models/llama.js';
import { cosineSchedule } from '../train/optim.js';
import { SPECIALS } from '../train/pretrain.js';
import { Trainer } from '../train/trainer.js';
import { conditionalLoss, chinchillaLoss, fitChinchilla, fitConditional, type ChinchillaParams, type ConditionalParams, type LossPoint } from './chinchilla.js';
import { measureThroughput, mlpAttentionRatio, shapeAt, type Shape, type Throughput } from './architecture.js';
import { startProgress } from '../util/progress.js';

export interface LawGridConfig {
  hidden: number;
  layers: number;
  /** MLP-to-attention parameter ratio of a layer */
  ratio: number;
  /** query heads per key/value head */
  groups: number;
}

export interface LawStudyOptions {
  grid: LawGridConfig[];
  headDim: number;
  vocab: number;
  batch: number;
  seq: number;
  steps: number;
  lr: number;
  evalBatches: number;
  /** every k-th configuration is held out of the fit and predicted */
  holdOutEvery: number;
  threads?: number;
  maxDocs?: number;
  log?: (line: string) => void;
}

const factorial = (hidden: number[], layers: number[], ratio: number[], groups: number[]): LawGridConfig[] =>
  hidden.flatMap((h) => layers.flatMap((l) => ratio.flatMap((r) => groups.map((g) => ({ hidden: h, layers: l, ratio: r, groups: g })))));

export const DEFAULT_LAW: LawStudyOptions = { grid: factorial([64, 128], [2, 4], [1, 4], [1, 4]), headDim: 16, vocab: 2048, batch: 16, seq: 64, steps: 600, lr: 3e-3, evalBatches: 8, holdOutEvery: 4 };
export const QUICK_LAW: LawStudyOptions = { grid: factorial([32, 48], [1, 2], [1, 3], [1, 2]), headDim: 8, vocab: 512, batch: 4, seq: 16, steps: 24, lr: 3e-3, evalBatches: 2, holdOutEvery: 4, maxDocs: 600 };

export interface LawRun {
  config: LawGridConfig;
  shape: LlamaShape;
  nonEmbedding: number;
  mlpAttnRatio: number;
  points: LossPoint[];
  heldOut: boolean;
  seconds: number;
}

export function llamaShapeFor(c: LawGridConfig, headDim: number, vocab: number, seq: number): LlamaShape {
  const heads = Math.max(1, Math.round(c.hidden / headDim));
  const kvHeads = Math.max(1, Math.floor(heads / c.groups));
  const attn = c.hidden * heads * headDim * 2 + 2 * c.hidden * kvHeads * headDim;
  const intermediate = Math.max(8, Math.round((c.ratio * attn) / (3 * c.hidden) / 8) * 8);
  return { vocab, hidden: c.hidden, layers: c.layers, heads, kvHeads, intermediate, seq };
}

/** What every run of a grid shares: the BPE vocabulary trained on the pretraining text, the token streams
 * and the held-out evaluation batches (deterministic, so a scale-out worker rebuilds the same ones). */
export interface LawData {
  trainStream: Int32Array;
  heldStream: Int32Array;
  vocab: number;
  evalFeeds: Feed[];
}

type Feed = { input_ids: BigInt64Array; targets: BigInt64Array; loss_weights: Float32Array };

/** Next-token batches: row b reads data[s .. s+T] at start s = starts[b], targets shifted by one. */
export function feedOf(data: Int32Array, starts: number[], B: number, T: number): Feed {
  const { ids, targets } = nextTokenWindows(data, starts, T, B);
  return { input_ids: ids, targets, loss_weights: new Float32Array(B * T).fill(1) };
}

export function lawData(opts: Pick<LawStudyOptions, 'maxDocs' | 'vocab' | 'batch' | 'seq' | 'evalBatches'>): LawData {
  const corpus = pretrainingCorpus();
  const train = opts.maxDocs ? corpus.train.slice(0, opts.maxDocs) : corpus.train;
  const held = opts.maxDocs ? corpus.heldOut.slice(0, opts.maxDocs) : corpus.heldOut;
  const bpe = trainByteLevelBpe(train, opts.vocab, SPECIALS);
  const tok = new Tokenizer(tokenizerJson(bpe, SPECIALS, 'gpt2'), {});
  const stream = (docs: string[]) => Int32Array.from(docs.flatMap((d) => [...tok.encode(d, { add_special_tokens: false }).ids, 2]));
  const trainStream = stream(train);
  const heldStream = stream(held);
  const { batch: B, seq: T } = opts;
  const evalFeeds = Array.from({ length: opts.evalBatches }, (_, k) => feedOf(heldStream, Array.from({ length: B }, (_, b) => Math.floor(((k * B + b) / (opts.evalBatches * B)) * (heldStream.length - T - 1))), B, T));
  return { trainStream, heldStream, vocab: bpe.vocab.size, evalFeeds };
}

/** Grid point i: one training run with its own seed and data order (the unit a scale-out job runs). */
export async function trainLawRun(opts: LawStudyOptions, data: LawData, i: number): Promise<LawRun> {
  const { batch: B, seq: T } = opts;
  const { trainStream, evalFeeds, vocab } = data;
  const c = opts.grid[i];
  const t0 = performance.now();
  const shape = llamaShapeFor(c, opts.headDim, vocab, T);
  const nonEmbedding = llamaParamShapes(shape).filter(([n]) => n !== 'model.embed_tokens.weight').reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  const trainer = await Trainer.create(llamaModel(shape), { batch: B, seq: T, lr: opts.lr, seed: 1 + i, threads: opts.threads });
  const rand = mulberry32(50 + i);
  const warmup = Math.max(1, Math.round(opts.steps / 20));
  const checkpoints = new Set([Math.round(opts.steps / 4), Math.round(opts.steps / 2), opts.steps]);
  const points: LossPoint[] = [];
  const arch = { hidden: shape.hidden, mlpAttnRatio: mlpAttentionRatio({ ...shape }), groups: shape.heads / shape.kvHeads };
  try {
    for (let step = 0; step < opts.steps; step++) {
      const lr = cosineSchedule(step, opts.steps, opts.lr, warmup, 1); // floor 1: constant after warmup
      await trainer.step(feedOf(trainStream, Array.from({ length: B }, () => Math.floor(rand() * (trainStream.length - T - 1))), B, T), lr);
      if (checkpoints.has(step + 1)) {
        let loss = 0;
        for (const f of evalFeeds) loss += (await trainer.evaluate(f)).loss;
        points.push({ N: nonEmbedding, D: (step + 1) * B * T, loss: loss / evalFeeds.length, ...arch });
      }
    }
  } finally {
    await trainer.release();
  }
  return { config: c, shape, nonEmbedding, mlpAttnRatio: arch.mlpAttnRatio, points, heldOut: (i + 1) % opts.holdOutEvery === 0, seconds: (performance.now() - t0) / 1000 };
}

/** Runs the grid's training runs elsewhere (scale-out: one job per run, src/distribute), in grid order. */
export type LawRunner = (opts: LawStudyOptions) => Promise<LawRun[]>;

export async function runLawGrid(opts: LawStudyOptions, remote?: LawRunner): Promise<LawRun[]> {
  const log = opts.log ?? (() => {});
  const line = (run: LawRun) => {
    const c = run.config;
    log(`h${c.hidden} L${c.layers} r${c.ratio} g${c.groups}: N ${run.nonEmbedding.toLocaleString('en-US')}, losses ${run.points.map((p) => p.loss.toFixed(3)).join(' / ')} (${run.seconds.toFixed(0)} s)${run.heldOut ? ' [held out]' : ''}`);
  };
  if (remote) {
    const runs = await remote(opts);
    runs.forEach(line);
    return runs;
  }
  const data = lawData(opts);
  const runs: LawRun[] = [];
  const progress = startProgress('law study', opts.grid.length, { unit: 'runs' });
  for (let i = 0; i < opts.grid.length; i++) {
    const run = await trainLawRun(opts, data, i);
    runs.push(run);
    line(run);
    progress.increment();
  }
  progress.stop();
  return runs;
}

export interface LawFit {
  chinchilla: ChinchillaParams;
  conditional: ConditionalParams;
  /** mean |predicted - measured| / measured on held-out configurations */
  heldOutError: { chinchilla: number; conditional: number; points: number };
  /** in-sample residuals (log measured - log predicted) of the conditional law, all points */
  residuals: { N: number; D: number; loss: number; predicted: number; heldOut: boolean }[];
}

export async function fitLaw(runs: LawRun[]): Promise<LawFit> {
  const fitPts = runs.filter((r) => !r.heldOut).flatMap((r) => r.points);
  const testPts = runs.filter((r) => r.heldOut).flatMap((r) => r.points);
  const chin = (await fitChinchilla(fitPts)).params;
  const cond = (await fitConditional(fitPts)).params;
  const err = (f: (p: LossPoint) => number) => testPts.reduce((a, p) => a + Math.abs(f(p) - p.loss) / p.loss, 0) / Math.max(1, testPts.length);
  return {
    chinchilla: chin,
    conditional: cond,
    heldOutError: { chinchilla: err((p) => chinchillaLoss(chin, p.N, p.D)), conditional: err((p) => conditionalLoss(cond, p)), points: testPts.length },
    residuals: runs.flatMap((r) => r.points.map((p) => ({ N: p.N, D: p.D, loss: p.loss, predicted: conditionalLoss(cond, p), heldOut: r.heldOut }))),
  };
}

export interface ArchitectureChoice {
  budget: number;
  tokens: number;
  standard: { shape: Shape; predicted: number; throughput: Throughput };
  chosen: { shape: Shape; predicted: number; throughput: Throughput; knobs: { hidden: number; ratio: number; groups: number }; meetsConstraint: boolean };
  candidates: { hidden: number; ratio: number; groups: number; layers: number; predicted: number }[];
}

/**
 * Rank shapes of about `budget` non-embedding parameters by the conditional law at `tokens` training
 * tokens; measure the best few with the engine and keep the best-predicted one whose batch-32 throughput
 * is at least the standard shape's (the inference constraint). Standard: hidden 256, ratio 2, no GQA.
 */
const nonEmb = (s: Shape) => s.layers * (s.hidden * (s.heads + s.kvHeads) * 2 * (s.hidden / s.heads) + 3 * s.hidden * s.intermediate + 2 * s.hidden);

/** Shapes within 25% of `budget` non-embedding parameters, with their law-predicted loss at `tokens`. */
function rankShapes(law: ConditionalParams, budget: number, tokens: number, vocab: number) {
  // shapeAt solves depth for a total budget; give it the embedding on top so depth matches non-embedding N
  const at = (h: number, r: number, g: number) => shapeAt(budget + vocab * h + h, h, r, g, vocab);
  const predict = (s: Shape, h: number, r: number, g: number) => conditionalLoss(law, { N: nonEmb(s), D: tokens, hidden: h, mlpAttnRatio: mlpAttentionRatio(s), groups: g });
  const candidates: ArchitectureChoice['candidates'] = [];
  const shapes = new Map<string, Shape>();
  for (const h of [128, 192, 256, 320, 384, 512, 768]) {
    for (const r of [0.5, 1, 2, 3, 4]) {
      for (const g of [1, 2, 4]) {
        const s = at(h, r, g);
        if (!s || Math.abs(nonEmb(s) - budget) / budget > 0.25) continue;
        candidates.push({ hidden: h, ratio: r, groups: g, layers: s.layers, predicted: predict(s, h, r, g) });
        shapes.set(`${h}/${r}/${g}`, s);
      }
    }
  }
  candidates.sort((a, b) => a.predicted - b.predicted);
  const std = at(256, 2, 1);
  return { candidates, shapes, std, stdPredicted: std ? predict(std, 256, 2, 1) : NaN };
}

/**
 * Training-compute budget C (= 6 N D): the law picks the model size N (and so D = C / 6N) and the shape
 * with the lowest predicted loss over a geometric grid of sizes; returns that size and token count.
 */
export function sizeForCompute(law: ConditionalParams, compute: number, vocab: number): { budget: number; tokens: number; predicted: number } {
  let best = { budget: NaN, tokens: NaN, predicted: Infinity };
  for (let N = 1e6; N <= 1e8; N *= 10 ** 0.125) {
    const D = compute / (6 * N);
    const { candidates } = rankShapes(law, N, D, vocab);
    if (candidates.length && candidates[0].predicted < best.predicted) best = { budget: N, tokens: D, predicted: candidates[0].predicted };
  }
  if (!Number.isFinite(best.budget)) throw new ProbescaleError(`no architecture fits a training compute of ${compute.toExponential(2)} FLOPs`, { fix: 'use a larger --compute' });
  return best;
}

export async function chooseArchitecture(law: ConditionalParams, budget: number, tokens: number, vocab: number, opts: { seq?: number; threads?: number; measure?: number } = {}): Promise<ArchitectureChoice> {
  const { candidates, shapes, std, stdPredicted } = rankShapes(law, budget, tokens, vocab);
  if (!std) throw new ProbescaleError(`a budget of ${budget} non-embedding parameters is too small for the standard shape (hidden 256, one layer needs ~0.8M)`, { fix: 'use --budget 1e6 or more' });
  const stdThroughput = await measureThroughput(std, opts.seq ?? 128, opts.threads);
  let chosen: ArchitectureChoice['chosen'] | undefined;
  for (const c of candidates.slice(0, opts.measure ?? 4)) {
    const s = shapes.get(`${c.hidden}/${c.ratio}/${c.groups}`)!;
    const t = await measureThroughput(s, opts.seq ?? 128, opts.threads);
    const meetsConstraint = t.tokensPerS >= stdThroughput.tokensPerS;
    const entry = { shape: s, predicted: c.predicted, throughput: t, knobs: { hidden: c.hidden, ratio: c.ratio, groups: c.groups }, meetsConstraint };
    if (!chosen) chosen = entry; // fallback: the best predicted, flagged as slower
    if (meetsConstraint) {
      chosen = entry;
      break;
    }
  }
  return { budget, tokens, standard: { shape: std, predicted: stdPredicted, throughput: stdThroughput }, chosen: chosen!, candidates };
}
