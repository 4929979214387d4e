/**
 * The training grid for the conditional law (issue 19): at several model sizes N, a hidden-size sweep
 * (depth 1, 2, 4, 8 at a fixed MLP-to-attention ratio, hidden solved from N) and a ratio sweep (ratios
 * 0.5 .. 8 at a fixed hidden size, depth solved from N), train tokens = tokensPerParam x N, more than one
 * seed. Each run writes one JSON file named by a hash of everything that determines it, so a rerun skips
 * what is done and a later session grows the grid (more sizes, seeds, tokens) into the same directory.
 * Runs are minutes long, so the run file is the unit of resume (no mid-run checkpoint).
 * Held-out loss at 1/4, 1/2 and all of the tokens (constant learning rate after warmup) gives three
 * (N, D, loss) points per run, so D varies beyond the D = k N line (a collinear design leaves the
 * Chinchilla exponents unidentified).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../util/random.js';
import { ProbescaleError } from '../util/errors.js';
import { mkdirp, writeFileAtomic } from '../util/atomic.js';
import { llamaModel, llamaParamShapes, type LlamaShape } from '../train/models/llama.js';
import { cosineSchedule } from '../train/optim.js';
import { Trainer } from '../train/trainer.js';
import { mlpAttentionRatio } from './architecture.js';
import { feedOf, lawData } from './law-study.js';
import type { BianPoint, ConfigPoints } from './bian.js';
import type { LossPoint } from './chinchilla.js';
import { startProgress } from '../util/progress.js';

/** One model to train: its shape (without vocab/seq, which the training setup fixes) and seed. */
export interface GridShape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
}

export interface GridRunSpec {
  shape: GridShape;
  seed: number;
  /** which sweep put it in the grid (for tables; not part of the key) */
  tag: string;
  /** the target size it was solved for */
  target: number;
  /** train on exactly this many tokens instead of tokensPerParam x N (equal-budget comparisons) */
  tokens?: number;
}

export interface TrainingSetup {
  vocab: number;
  batch: number;
  seq: number;
  lr: number;
  tokensPerParam: number;
  evalBatches: number;
  /** documents of the corpus used (undefined = all) */
  maxDocs?: number;
}

export const GRID_SETUP: TrainingSetup = { vocab: 512, batch: 8, seq: 64, lr: 3e-3, tokensPerParam: 10, evalBatches: 8 };

export interface GridResult {
  key: string;
  spec: GridRunSpec;
  setup: TrainingSetup;
  nonEmbedding: number;
  mlpAttnRatio: number;
  points: (LossPoint & BianPoint)[];
  seconds: number;
  finished: string;
}

const nonEmbeddingOf = (s: LlamaShape) => llamaParamShapes(s).filter(([n]) => n !== 'model.embed_tokens.weight').reduce((a, [, sh]) => a + sh.reduce((x, y) => x * y, 1), 0);

/** Multi-head shape with head size `headDim`, hidden `hidden`, `layers` layers and SwiGLU width for ratio r. */
export function shapeFor(hidden: number, layers: number, ratio: number, headDim: number, groups = 1): GridShape {
  const heads = Math.max(1, Math.round(hidden / headDim));
  const kvHeads = Math.max(1, Math.floor(heads / groups));
  const attn = 2 * hidden * heads * headDim + 2 * hidden * kvHeads * headDim;
  const intermediate = Math.max(1, Math.round((ratio * attn) / (3 * hidden)));
  return { hidden: heads * headDim, layers, heads, kvHeads, intermediate };
}

const perLayer = (s: GridShape) => {
  const D = s.hidden / s.heads;
  return 2 * s.hidden * s.heads * D + 2 * s.hidden * s.kvHeads * D + 3 * s.hidden * s.intermediate + 2 * s.hidden;
};

export interface GridPlan {
  sizes: number[];
  seeds: number;
  headDim: number;
  /** hidden sweep: these depths at ratio `refRatio`, hidden solved from the size */
  depths: number[];
  refRatio: number;
  /** ratio sweep: these ratios at the hidden size of depth `refDepth` in the hidden sweep, depth solved */
  ratios: number[];
  refDepth: number;
}

export const GRID_PLAN: GridPlan = { sizes: [30000, 60000, 120000, 240000], seeds: 2, headDim: 8, depths: [1, 2, 4, 8], refRatio: 2, ratios: [0.5, 1, 2, 4, 8], refDepth: 4 };

/** The grid's runs: size by size (smallest first), all seeds of a size before the next size, so a grid cut
 * short by a deadline is complete at every size it reached. */
export function planGrid(plan: GridPlan): GridRunSpec[] {
  const configs: { shape: GridShape; tag: string; target: number }[] = [];
  const out: GridRunSpec[] = [];
  const seen = new Set<string>();
  const add = (shape: GridShape, tag: string, target: number) => {
    const k = JSON.stringify(shape);
    if (shape.layers < 1 || seen.has(k)) return;
    seen.add(k);
    configs.push({ shape, tag, target });
  };
  for (const N of plan.sizes) {
    // per layer ~ (2 + 2 + 3 r / (4/ ... )) d^2: solve hidden from N with the exact count of a unit-hidden shape
    const hiddenFor = (layers: number, ratio: number) => {
      const unit = perLayer(shapeFor(plan.headDim * 16, 1, ratio, plan.headDim)) / (plan.headDim * 16) ** 2;
      return Math.max(plan.headDim, Math.round(Math.sqrt(N / (layers * unit)) / plan.headDim) * plan.headDim);
    };
    for (const L of plan.depths) add(shapeFor(hiddenFor(L, plan.refRatio), L, plan.refRatio, plan.headDim), `hidden-sweep`, N);
    const dRef = hiddenFor(plan.refDepth, plan.refRatio);
    for (const r of plan.ratios) {
      const probe = shapeFor(dRef, 1, r, plan.headDim);
      add({ ...probe, layers: Math.max(1, Math.round(N / perLayer(probe))) }, `ratio-sweep`, N);
    }
    const ofSize = configs.splice(0);
    for (let s = 1; s <= plan.seeds; s++) out.push(...ofSize.map((c) => ({ ...c, seed: s })));
  }
  return out;
}

export function runKey(spec: GridRunSpec, setup: TrainingSetup): string {
  const key = JSON.stringify({ v: 1, shape: spec.shape, seed: spec.seed, setup, ...(spec.tokens ? { tokens: spec.tokens } : {}) });
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

const fileOf = (dir: string, key: string) => join(dir, `run-${key}.json`);

export function readGrid(dir: string): GridResult[] {
  if (!existsSync(dir)) throw new ProbescaleError(`no grid directory ${dir}`, { fix: 'run `probescale study law-grid --runs-dir <dir>` first' });
  const out: GridResult[] = [];
  for (const f of readdirSync(dir).filter((n) => /^run-[0-9a-f]{16}\.json$/.test(n)).sort()) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as GridResult);
    } catch (err) {
      throw new ProbescaleError(`unreadable grid run file: ${(err as Error).message}`, { file: join(dir, f), fix: 'delete it; the next law-grid run retrains it' });
    }
  }
  return out;
}

/** Group runs by shape (seeds pooled) under one training setup, for the law's validation splits. */
export function configPoints(results: GridResult[]): ConfigPoints[] {
  const by = new Map<string, ConfigPoints>();
  for (const r of results) {
    const key = JSON.stringify([r.spec.shape, r.setup, r.spec.tokens ?? null]);
    if (!by.has(key)) by.set(key, { key, points: [] });
    by.get(key)!.points.push(...r.points);
  }
  return [...by.values()];
}

export interface GridRunOptions {
  setup: TrainingSetup;
  threads?: number;
  /** stop starting new runs after this wall-clock time (ms since epoch) */
  deadline?: number;
  log?: (line: string) => void;
}

/** Train every run of `specs` whose result file is absent from `dir`; returns the newly written results. */
export async function runGrid(specs: GridRunSpec[], dir: string, opts: GridRunOptions): Promise<GridResult[]> {
  const log = opts.log ?? (() => {});
  mkdirp(dir);
  const todo = specs.filter((s) => !existsSync(fileOf(dir, runKey(s, opts.setup))));
  log(`${specs.length - todo.length} of ${specs.length} runs already in ${dir}; ${todo.length} to train`);
  if (!todo.length) return [];
  const { setup } = opts;
  // the same vocabulary, streams and held-out batches as `study law` (deterministic from the setup)
  const { trainStream, vocab, evalFeeds } = lawData(setup);
  const { batch: B, seq: T } = setup;
  const written: GridResult[] = [];
  const progress = startProgress('law grid', todo.length, { unit: 'runs' });
  for (const spec of todo) {
    if (opts.deadline && Date.now() > opts.deadline) {
      log(`deadline reached: ${todo.length - written.length} runs left for a later session`);
      break;
    }
    const t0 = performance.now();
    const shape: LlamaShape = { ...spec.shape, vocab, seq: T };
    const N = nonEmbeddingOf(shape);
    const steps = Math.max(8, Math.round((spec.tokens ?? setup.tokensPerParam * N) / (B * T)));
    const trainer = await Trainer.create(llamaModel(shape), { batch: B, seq: T, lr: setup.lr, seed: spec.seed, threads: opts.threads });
    const rand = mulberry32(1000 * spec.seed + 7);
    const warmup = Math.max(1, Math.round(steps / 20));
    const marks = new Set([Math.round(steps / 4), Math.round(steps / 2), steps]);
    const arch = { hidden: shape.hidden, mlpAttnRatio: mlpAttentionRatio({ ...shape }), groups: shape.heads / shape.kvHeads };
    const points: GridResult['points'] = [];
    for (let step = 0; step < steps; step++) {
      const lr = cosineSchedule(step, steps, setup.lr, warmup, 1); // floor 1: constant after warmup
      await trainer.step(feedOf(trainStream, Array.from({ length: B }, () => Math.floor(rand() * (trainStream.length - T - 1))), B, T), lr);
      if (marks.has(step + 1)) {
        let loss = 0;
        for (const f of evalFeeds) loss += (await trainer.evaluate(f)).loss;
        points.push({ N, D: (step + 1) * B * T, loss: loss / evalFeeds.length, ...arch });
      }
    }
    await trainer.release();
    const key = runKey(spec, setup);
    const result: GridResult = { key, spec, setup, nonEmbedding: N, mlpAttnRatio: arch.mlpAttnRatio, points, seconds: (performance.now() - t0) / 1000, finished: new Date().toISOString() };
    writeFileAtomic(fileOf(dir, key), JSON.stringify(result, null, 1) + '\n');
    written.push(result);
    progress.increment();
    log(`${spec.tag} N~${spec.target} h${shape.hidden} L${shape.layers} ffn${shape.intermediate} r${arch.mlpAttnRatio.toFixed(2)} seed${spec.seed}: N ${N}, ${steps} steps, losses ${points.map((p) => p.loss.toFixed(3)).join(' / ')} (${result.seconds.toFixed(0)} s)`);
  }
  progress.stop();
  return written;
}
