/**
 * The small-LM study as its paper ran it (Bhatti 2025, "Architectural Trade-offs in Small Language Models
 * Under Compute Constraints", arXiv 2512.20877, and its notebook): the paper's Tiny Shakespeare split, its
 * shapes (width 128, 128-character windows, one target per window: the character after it), Adam at 3e-4,
 * batch 64, "epochs" of randomly drawn windows with the best epoch on validation kept, and its FLOPs count
 * 2 x parameters x (windows x window length) — plus what the paper did not do: several seeds with CIs,
 * a learning rate tuned per variant on validation, equal-FLOP comparisons, and our own budget beside it.
 *
 * Every run is one content-keyed JSON file (the key hashes the whole run specification), written atomically
 * when the run ends and skipped when present, so an interrupted study continues where it stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataFile } from '../data/paths.js';
import { readText } from '../data/read.js';
import { mulberry32 } from '../util/random.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ProbescaleError } from '../util/errors.js';
import { Trainer } from '../train/trainer.js';
import type { Feed } from '../train/backend.js';
import { cosineSchedule } from '../train/optim.js';
import { nextTokenWindows } from '../train/corpus.js';
import { smallLmModel, smallLmParameters, smallLmTrainFlopsPerToken, type SmallLmShape } from '../train/models/small-lm.js';
import { meanCi, windowBatch } from './small-lm.js';
import { startProgress } from '../util/progress.js';

export interface CharSplit {
  vocab: string[];
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

/** The paper's split (data/tinyshakespeare-bhatti); the vocabulary is built over all three parts, as the paper does. */
export function bhattiSplit(): CharSplit {
  const [train, valid, test] = ['train.txt', 'valid.txt', 'test.txt'].map((f) => readText(dataFile('tinyshakespeare-bhatti', f)));
  const vocab = [...new Set(train + valid + test)].sort();
  const index = new Map(vocab.map((c, i) => [c, i]));
  const enc = (s: string) => Int32Array.from(s, (c) => index.get(c)!);
  return { vocab, train: enc(train), valid: enc(valid), test: enc(test) };
}

/** The paper's compute estimate: 2 x parameters x tokens, tokens = windows x window length (summed over epochs). */
export function paperFlops(parameters: number, windows: number, windowLength: number): number {
  return 2 * parameters * windows * windowLength;
}

export interface Published {
  parameters: number;
  flops: number;
  nll: number;
}

export interface PaperConfig {
  /** part/name, unique per shape and budget */
  name: string;
  shape: Omit<SmallLmShape, 'vocab' | 'seq'>;
  /** window length in characters */
  context: number;
  epochs: number;
  /** the paper's windows per epoch (50,000 for the baselines, 30,000 in the sweeps) */
  windowsPerEpoch: number;
  /** the paper's validation / test windows (10,000 baselines, 5,000 sweeps) */
  evalWindows: number;
  published?: Published;
  /** why our reading differs from the paper's printed number */
  note?: string;
}

const C = 128;
const lin = (context: number) => ({ family: 'linear' as const, width: C, context, hiddenUnits: 0, layers: 0, heads: 1, positions: 'none' as const });
const mlp = (hidden: number) => ({ family: 'mlp' as const, width: C, context: 128, hiddenUnits: hidden, mlpLayers: 2, layers: 0, heads: 1, positions: 'none' as const });
// the paper's baseline blocks: post-LN (LN(x + f(x))), ReLU FFN; one block with a 4x FFN, the transformer with 256
const attn = (heads: number) => ({ family: 'attention' as const, width: C, context: 0, hiddenUnits: 0, layers: 1, heads, positions: 'learned' as const, ffHidden: 4 * C, norm: 'post' as const, activation: 'relu' as const });
const tr = (layers: number, positions: 'learned' | 'rope' = 'learned', norm: 'pre' | 'post' = 'post') => ({ family: 'transformer' as const, width: C, context: 0, hiddenUnits: 0, layers, heads: 4, positions, ffHidden: 256, norm, activation: 'relu' as const });

const base = { context: 128, windowsPerEpoch: 50_000, evalWindows: 10_000 };
const sweep = { context: 128, epochs: 2, windowsPerEpoch: 30_000, evalWindows: 5_000 };
const POSITIONS_NOTE = 'the paper counts 64 characters per window here (a leftover setting) though its windows were 128; with 128 its formula gives twice its printed FLOPs';

/** The paper's Tiny Shakespeare runs with its printed parameters, FLOPs and test NLL (one run each, seed 689). */
export const PAPER_CONFIGS: PaperConfig[] = [
  { name: 'table/linear', shape: lin(128), ...base, epochs: 3, published: { parameters: 1_073_345, flops: 4.12e13, nll: 3.0549 } },
  { name: 'table/mlp', shape: mlp(256), ...base, epochs: 3, published: { parameters: 4_285_377, flops: 1.65e14, nll: 2.3222 } },
  { name: 'table/attention', shape: attn(4), ...base, epochs: 4, published: { parameters: 231_617, flops: 1.19e13, nll: 2.1335 } },
  { name: 'table/transformer3', shape: tr(3), ...base, epochs: 4, published: { parameters: 430_785, flops: 2.21e13, nll: 2.0058 } },
  // the positions experiment uses a pre-LN block (x + f(LN(x))), 8 epochs
  { name: 'table/transformer3-learned-pre', shape: tr(3, 'learned', 'pre'), ...base, epochs: 8, published: { parameters: 430_785, flops: 2.21e13, nll: 1.9738 }, note: POSITIONS_NOTE },
  { name: 'table/transformer3-rope-pre', shape: tr(3, 'rope', 'pre'), ...base, epochs: 8, published: { parameters: 414_401, flops: 2.12e13, nll: 2.0096 }, note: POSITIONS_NOTE },
  { name: 'sweep/linear-ctx32', shape: lin(32), ...sweep, context: 32, published: { parameters: 274_625, flops: 1.05e12, nll: 2.5135 } },
  { name: 'sweep/linear-ctx64', shape: lin(64), ...sweep, context: 64, published: { parameters: 540_865, flops: 4.15e12, nll: 2.7006 } },
  { name: 'sweep/linear-ctx128', shape: lin(128), ...sweep, published: { parameters: 1_073_345, flops: 1.65e13, nll: 3.0496 } },
  { name: 'sweep/mlp-h128', shape: mlp(128), ...sweep, published: { parameters: 2_130_497, flops: 3.27e13, nll: 2.5482 } },
  { name: 'sweep/mlp-h256', shape: mlp(256), ...sweep, published: { parameters: 4_285_377, flops: 6.58e13, nll: 2.5115 } },
  { name: 'sweep/mlp-h512', shape: mlp(512), ...sweep, published: { parameters: 8_693_441, flops: 1.34e14, nll: 2.5002 } },
  { name: 'sweep/attention-heads1', shape: attn(1), ...sweep, published: { parameters: 231_617, flops: 3.56e12, nll: 2.3482 } },
  { name: 'sweep/attention-heads2', shape: attn(2), ...sweep, published: { parameters: 231_617, flops: 3.56e12, nll: 2.4033 } },
  { name: 'sweep/attention-heads4', shape: attn(4), ...sweep, published: { parameters: 231_617, flops: 3.56e12, nll: 2.3055 } },
  { name: 'sweep/transformer-layers2', shape: tr(2), ...sweep, published: { parameters: 298_305, flops: 4.58e12, nll: 2.3034 } },
  { name: 'sweep/transformer-layers3', shape: tr(3), ...sweep, published: { parameters: 430_785, flops: 6.62e12, nll: 2.2795 } },
  { name: 'sweep/transformer-layers4', shape: tr(4), ...sweep, published: { parameters: 563_265, flops: 8.65e12, nll: 2.3078 } },
];

/** Our own study's shapes and objective (every position predicts its next character), for the budget comparison. */
const W = 64;
export const OURS_CONFIGS: { name: string; shape: Omit<SmallLmShape, 'vocab' | 'seq'> }[] = [
  { name: 'ours/linear', shape: { family: 'linear', width: W, context: 8, hiddenUnits: 0, layers: 0, heads: 1, positions: 'none' } },
  { name: 'ours/mlp', shape: { family: 'mlp', width: W, context: 8, hiddenUnits: 256, layers: 0, heads: 1, positions: 'none' } },
  { name: 'ours/transformer2-learned', shape: { family: 'transformer', width: W, context: 0, hiddenUnits: 0, layers: 2, heads: 4, positions: 'learned' } },
  { name: 'ours/transformer2-rope', shape: { family: 'transformer', width: W, context: 0, hiddenUnits: 0, layers: 2, heads: 4, positions: 'rope' } },
];

/** Everything that determines a run's result; its hash names the run's file. */
export interface RunSpec {
  version: 1;
  data: 'tinyshakespeare-bhatti';
  config: string;
  shape: SmallLmShape;
  /** 'last': one target per window (the paper); 'all': every position predicts the next (our study) */
  objective: 'last' | 'all';
  /** window length */
  context: number;
  batch: number;
  lr: number;
  schedule: 'constant' | 'cosine';
  weightDecay: number;
  beta2: number;
  /** global gradient-norm clip, or null (the paper does not clip) */
  clip: number | null;
  /** training windows over all epochs (the last batch is masked to this exact count) */
  windows: number;
  epochs: number;
  valWindows: number;
  testWindows: number;
  seed: number;
}

export interface RunResult {
  key: string;
  spec: RunSpec;
  parameters: number;
  /** the paper's formula over the windows actually trained */
  paperFlops: number;
  /** our architecture count (6 x weights touched + attention) over the positions actually computed */
  archFlops: number;
  steps: number;
  epochs: { windows: number; trainLoss: number; valNll: number }[];
  bestEpoch: number;
  valNll: number;
  testNll: number;
  seconds: number;
}

export function runKey(spec: RunSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

export function runFileName(spec: RunSpec): string {
  return `${spec.config.replace(/\//g, '_')}-lr${spec.lr}-s${spec.seed}-${runKey(spec)}.json`;
}

const isContext = (s: { family: string }) => s.family === 'linear' || s.family === 'mlp';
/** Positions the graph computes per training window. */
const positionsPerWindow = (spec: RunSpec) => (spec.objective === 'last' && isContext(spec.shape) ? 1 : spec.context);

/**
 * A batch of B rows from `starts` (fewer starts than B: the rest is padding with weight 0).
 * 'last': linear/mlp see the window as one context row; attention models see it as a sequence whose loss
 * counts only the last position (the paper's head reads only the last position; the rest get weight 0).
 */
export function paperBatch(data: Int32Array, starts: number[], spec: RunSpec): Record<string, Feed> {
  const B = spec.batch;
  const T = spec.context;
  const rows = Array.from({ length: B }, (_, b) => starts[b] ?? starts[0]);
  if (spec.objective === 'all') {
    const batch = windowBatch(data, rows, T, spec.shape);
    const w = batch.loss_weights as Float32Array;
    for (let b = starts.length; b < B; b++) w.fill(0, b * T, (b + 1) * T);
    return batch;
  }
  if (isContext(spec.shape)) {
    const ctx = new BigInt64Array(B * T);
    const targets = new BigInt64Array(B);
    const weights = new Float32Array(B);
    rows.forEach((s, b) => {
      for (let j = 0; j < T; j++) ctx[b * T + j] = BigInt(data[s + j]);
      targets[b] = BigInt(data[s + T]);
      weights[b] = b < starts.length ? 1 : 0;
    });
    return { context_ids: ctx, targets, loss_weights: weights };
  }
  const { ids, targets } = nextTokenWindows(data, rows, T);
  const weights = new Float32Array(B * T);
  for (let b = 0; b < starts.length; b++) weights[b * T + T - 1] = 1;
  return { input_ids: ids, targets, loss_weights: weights };
}

/** n window starts spread evenly over the file (the paper takes the first n; spreading covers all of it). */
export function evalStarts(length: number, context: number, n: number): number[] {
  const last = length - context - 1;
  const k = Math.min(n, last + 1);
  return Array.from({ length: k }, (_, i) => Math.floor((i * last) / Math.max(1, k - 1)));
}

async function meanNll(trainer: Trainer, data: Int32Array, spec: RunSpec, n: number): Promise<number> {
  const starts = evalStarts(data.length, spec.context, n);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < starts.length; i += spec.batch) {
    const chunk = starts.slice(i, i + spec.batch);
    sum += (await trainer.evaluate(paperBatch(data, chunk, spec))).loss * chunk.length;
    count += chunk.length;
  }
  return sum / count;
}

/** Train and test one run (the split is passed in so a plan reads the files once). */
export async function runOne(spec: RunSpec, split: CharSplit, opts: { threads?: number } = {}): Promise<RunResult> {
  const t0 = performance.now();
  const shape = spec.shape;
  if (shape.vocab !== split.vocab.length) throw new ProbescaleError(`run ${spec.config}: vocabulary ${shape.vocab} but the split has ${split.vocab.length} characters`);
  if (spec.windows < 1) throw new ProbescaleError(`run ${spec.config}: the budget buys no training window`, { fix: 'raise the budget or --scale' });
  const seq = positionsPerWindow(spec);
  const trainer = await Trainer.create(smallLmModel(shape), {
    batch: spec.batch, seq, lr: spec.lr, seed: 1000 + spec.seed, threads: opts.threads,
    weightDecay: spec.weightDecay, beta2: spec.beta2, clip: spec.clip ?? Infinity,
  });
  try {
    // the data order depends only on the seed, so the variants compared at one seed see the same windows
    const rand = mulberry32(9000 + spec.seed);
    const maxStart = split.train.length - spec.context - 1;
    const totalSteps = Math.ceil(spec.windows / spec.batch) + spec.epochs; // upper bound, for the schedule
    const warmup = Math.max(1, Math.round(totalSteps / 20));
    let step = 0;
    const epochs: RunResult['epochs'] = [];
    let best: Map<string, Float32Array> | undefined;
    let bestEpoch = -1;
    let bestVal = Infinity;
    for (let e = 0; e < spec.epochs; e++) {
      const n = Math.floor((spec.windows * (e + 1)) / spec.epochs) - Math.floor((spec.windows * e) / spec.epochs);
      let lossSum = 0;
      for (let done = 0; done < n; done += spec.batch) {
        const starts = Array.from({ length: Math.min(spec.batch, n - done) }, () => Math.floor(rand() * maxStart));
        const lr = spec.schedule === 'cosine' ? cosineSchedule(step, totalSteps, spec.lr, warmup) : spec.lr;
        lossSum += (await trainer.step(paperBatch(split.train, starts, spec), lr)).loss * starts.length;
        step++;
      }
      const valNll = await meanNll(trainer, split.valid, spec, spec.valWindows);
      epochs.push({ windows: n, trainLoss: lossSum / Math.max(1, n), valNll });
      if (valNll < bestVal) {
        bestVal = valNll;
        bestEpoch = e;
        best = new Map([...trainer.params].map(([k, v]) => [k, Float32Array.from(v)]));
      }
    }
    // the paper keeps the epoch with the best validation loss
    if (best) for (const [k, v] of best) trainer.params.get(k)!.set(v);
    const testNll = await meanNll(trainer, split.test, spec, spec.testWindows);
    const parameters = smallLmParameters(shape).total;
    return {
      key: runKey(spec), spec, parameters,
      paperFlops: paperFlops(parameters, spec.windows, spec.context),
      archFlops: smallLmTrainFlopsPerToken(shape) * spec.windows * positionsPerWindow(spec),
      steps: step, epochs, bestEpoch, valNll: bestVal, testNll, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await trainer.release();
  }
}

export type Part = 'table' | 'sweeps' | 'equal' | 'tune' | 'ours';
export const PARTS: Part[] = ['table', 'sweeps', 'equal', 'tune', 'ours'];

export interface PlanOptions {
  parts: Part[];
  /** fraction of the paper's training windows (1 = the paper's budget) for table, equal and tune */
  scale: number;
  /** the same for the sweeps (whose paper budget is smaller) */
  sweepScale: number;
  seeds: number;
  /** learning rates tried per variant in 'tune' (the paper's 3e-4 is always one of them) */
  lrs: number[];
  /** learning rates tried per variant in 'ours' */
  oursLrs: number[];
  /** training FLOPs (our architecture count) per 'ours' run */
  oursBudget: number;
  /** validation / test windows per evaluation (capped at the paper's) */
  valWindows: number;
  testWindows: number;
}

export const DEFAULT_PAPER_PLAN: PlanOptions = { parts: PARTS, scale: 0.025, sweepScale: 0.1, seeds: 3, lrs: [3e-4, 1e-3, 3e-3], oursLrs: [1e-3, 3e-3, 1e-2], oursBudget: 3e11, valWindows: 512, testWindows: 2048 };

/** The configurations whose learning rate is tuned, and the pairs the study compares. */
export const TUNED = ['table/linear', 'table/mlp', 'table/transformer3-learned-pre', 'table/transformer3-rope-pre'];
export const PAIRS: { name: string; a: string; b: string }[] = [
  { name: 'RoPE - learned (paper shapes)', a: 'table/transformer3-rope-pre', b: 'table/transformer3-learned-pre' },
  { name: 'MLP - linear (paper shapes)', a: 'table/mlp', b: 'table/linear' },
  { name: 'RoPE - learned (ours)', a: 'ours/transformer2-rope', b: 'ours/transformer2-learned' },
  { name: 'MLP - linear (ours)', a: 'ours/mlp', b: 'ours/linear' },
];

function paperSpec(c: PaperConfig, vocab: number, windows: number, epochs: number, lr: number, seed: number, o: PlanOptions, name = c.name): RunSpec {
  return {
    version: 1, data: 'tinyshakespeare-bhatti', config: name,
    shape: { ...c.shape, vocab, seq: c.context },
    objective: 'last', context: c.context, batch: 64, lr, schedule: 'constant', weightDecay: 0, beta2: 0.999, clip: null,
    windows, epochs, valWindows: Math.min(o.valWindows, c.evalWindows), testWindows: Math.min(o.testWindows, c.evalWindows), seed,
  };
}

/** The paper's windows for a configuration at `scale` (its epochs kept, windows per epoch scaled). */
export const scaledWindows = (c: PaperConfig, scale: number) => Math.max(1, Math.round(c.windowsPerEpoch * c.epochs * scale));

/**
 * Runs in seed-major order (seed 0 of every part first), so any finished prefix is balanced across
 * configurations; identical specifications (the tuned configurations at 3e-4 are the table's runs) appear once.
 */
export function planRuns(o: PlanOptions, vocab = 65): RunSpec[] {
  const byName = new Map(PAPER_CONFIGS.map((c) => [c.name, c]));
  const specs: RunSpec[] = [];
  const keys = new Set<string>();
  const add = (s: RunSpec) => {
    const k = runKey(s);
    if (!keys.has(k)) (keys.add(k), specs.push(s));
  };
  for (let seed = 0; seed < o.seeds; seed++) {
    for (const part of o.parts) {
      if (part === 'table' || part === 'sweeps') {
        for (const c of PAPER_CONFIGS.filter((x) => x.name.startsWith(part === 'table' ? 'table/' : 'sweep/'))) add(paperSpec(c, vocab, scaledWindows(c, part === 'table' ? o.scale : o.sweepScale), c.epochs, 3e-4, seed, o));
      } else if (part === 'tune') {
        for (const name of TUNED) {
          const c = byName.get(name)!;
          for (const lr of o.lrs) add(paperSpec(c, vocab, scaledWindows(c, o.scale), c.epochs, lr, seed, o));
        }
      } else if (part === 'equal') {
        // every baseline family gets the 3-layer transformer's (scaled) budget by the paper's formula
        const ref = byName.get('table/transformer3')!;
        const budget = paperFlops(ref.published!.parameters, scaledWindows(ref, o.scale), ref.context);
        // the transformer itself is the table's run (same budget and epochs), not trained twice
        for (const name of ['table/linear', 'table/mlp', 'table/attention']) {
          const c = byName.get(name)!;
          const windows = Math.round(budget / (2 * smallLmParameters({ ...c.shape, vocab, seq: c.context }).total * c.context));
          add(paperSpec(c, vocab, windows, 4, 3e-4, seed, o, name.replace('table/', 'equal/')));
        }
      } else {
        for (const c of OURS_CONFIGS) {
          const T = 64;
          const shape: SmallLmShape = { ...c.shape, vocab, seq: T };
          const windows = Math.round(o.oursBudget / (smallLmTrainFlopsPerToken(shape) * T));
          for (const lr of o.oursLrs) {
            add({
              version: 1, data: 'tinyshakespeare-bhatti', config: c.name, shape, objective: 'all', context: T, batch: 32, lr,
              schedule: 'cosine', weightDecay: 0.01, beta2: 0.99, clip: 1, windows, epochs: 4, valWindows: Math.min(o.valWindows, 256), testWindows: Math.min(o.testWindows, 512), seed,
            });
          }
        }
      }
    }
  }
  return specs;
}

/** Read a finished run's file, or undefined when it is absent (a damaged file is an error naming it). */
export function readRun(dir: string, spec: RunSpec): RunResult | undefined {
  const path = join(dir, runFileName(spec));
  if (!existsSync(path)) return undefined;
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as RunResult;
    if (r.key !== runKey(spec) || !Number.isFinite(r.testNll)) throw new Error('not a finished run of this specification');
    return r;
  } catch (err) {
    throw new ProbescaleError(`unreadable run file: ${(err as Error).message}`, { file: path, fix: 'delete this one file; the run is redone on the next start' });
  }
}

/**
 * Run the plan, skipping runs whose file exists; stop starting new runs after `maxMinutes`.
 * Returns every finished result of the plan (earlier sessions' included) and how many ran now.
 */
export async function runPlan(specs: RunSpec[], dir: string, opts: { threads?: number; maxMinutes?: number; log?: (l: string) => void; split?: CharSplit } = {}): Promise<{ results: RunResult[]; ran: number; skipped: number; pending: number }> {
  const log = opts.log ?? (() => {});
  const split = opts.split ?? bhattiSplit();
  const t0 = performance.now();
  const results: RunResult[] = [];
  let ran = 0;
  let skipped = 0;
  let pending = 0;
  const finished = specs.map((spec) => readRun(dir, spec));
  const progress = startProgress('small-lm study', finished.filter((r) => !r).length, { unit: 'runs' });
  for (const [i, spec] of specs.entries()) {
    const done = finished[i];
    if (done) {
      results.push(done);
      skipped++;
      continue;
    }
    if (opts.maxMinutes !== undefined && (performance.now() - t0) / 60000 >= opts.maxMinutes) {
      pending++;
      continue;
    }
    const r = await runOne(spec, split, { threads: opts.threads });
    writeFileAtomic(join(dir, runFileName(spec)), JSON.stringify(r, null, 1) + '\n');
    results.push(r);
    ran++;
    progress.increment();
    log(`${spec.config} lr ${spec.lr} seed ${spec.seed}: ${r.parameters.toLocaleString('en-US')} params, ${r.steps} steps, val ${r.valNll.toFixed(4)} (epoch ${r.bestEpoch + 1}), test ${r.testNll.toFixed(4)} (${r.seconds.toFixed(0)} s)`);
  }
  progress.stop();
  return { results, ran, skipped, pending };
}

export interface Stat {
  mean: number;
  half: number;
  sd: number;
  n: number;
}

export function stat(xs: number[]): Stat {
  const { mean, half } = meanCi(xs);
  const n = xs.length;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, half, sd, n };
}

export interface GroupRow {
  config: string;
  lr: number;
  windows: number;
  parameters: number;
  paperFlops: number;
  archFlops: number;
  val: Stat;
  test: Stat;
  seeds: number[];
}

/** Mean and t-interval over seeds, per configuration, learning rate and budget. */
export function groupRuns(results: RunResult[]): GroupRow[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const k = `${r.spec.config}|${r.spec.lr}|${r.spec.windows}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => ({
    config: g[0].spec.config, lr: g[0].spec.lr, windows: g[0].spec.windows, parameters: g[0].parameters,
    paperFlops: g[0].paperFlops, archFlops: g[0].archFlops,
    val: stat(g.map((r) => r.valNll)), test: stat(g.map((r) => r.testNll)), seeds: g.map((r) => r.spec.seed).sort((a, b) => a - b),
  }));
}

/** The learning rate with the lowest mean validation NLL (test never used for the choice). */
export function chooseLr(rows: GroupRow[], config: string): GroupRow | undefined {
  const cands = rows.filter((r) => r.config === config && r.val.n > 0);
  return cands.sort((a, b) => a.val.mean - b.val.mean)[0];
}

export interface PairResult {
  name: string;
  lrA: number;
  lrB: number;
  /** test NLL difference a - b, paired by seed */
  diff: Stat;
  verdict: string;
}

export function comparePair(results: RunResult[], a: string, b: string, lrA: number, lrB: number, name: string): PairResult | undefined {
  const pick = (c: string, lr: number) => results.filter((r) => r.spec.config === c && r.spec.lr === lr);
  const A = pick(a, lrA);
  const B = pick(b, lrB);
  const diffs: number[] = [];
  for (const x of A) {
    const y = B.find((r) => r.spec.seed === x.spec.seed);
    if (y) diffs.push(x.testNll - y.testNll);
  }
  if (!diffs.length) return undefined;
  const d = stat(diffs);
  const verdict = d.n < 2 ? 'too few seeds' : d.mean + d.half < 0 ? 'first better' : d.mean - d.half > 0 ? 'second better' : 'no difference beyond the CI';
  return { name, lrA, lrB, diff: d, verdict };
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
const ci = (s: Stat, d = 4) => (s.n < 2 ? `${s.mean.toFixed(d)} (no CI)` : `${s.mean.toFixed(d)} ± ${s.half.toFixed(d)}`);
const num = (x: number) => x.toLocaleString('en-US');

/** The study's markdown report: the paper's table beside ours, the sweeps, equal FLOPs, tuning and the pairs. */
export function paperReport(results: RunResult[], o: PlanOptions): string {
  const rows = groupRuns(results);
  const at = (config: string, lr = 3e-4) => rows.find((r) => r.config === config && r.lr === lr);
  const out: string[] = [];
  const tableRows = (prefix: string) => {
    out.push('| configuration | parameters (ours / paper) | windows | paper-formula FLOPs (ours / paper) | test NLL, 95% CI (seeds) | paper test NLL |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const c of PAPER_CONFIGS.filter((x) => x.name.startsWith(prefix))) {
      const r = at(c.name);
      const p = c.published!;
      if (!r) {
        out.push(`| ${c.name} | n/a / ${num(p.parameters)} | not run | n/a / ${p.flops.toExponential(2)} | not run | ${f4(p.nll)} |`);
        continue;
      }
      out.push(`| ${c.name} | ${num(r.parameters)} / ${num(p.parameters)} | ${num(r.windows)} | ${r.paperFlops.toExponential(2)} / ${p.flops.toExponential(2)} | ${ci(r.test)} (${r.test.n}) | ${f4(p.nll)} |`);
    }
  };
  if (o.parts.includes('table')) {
    out.push(`#### The paper's table (its windows x ${o.scale}, Adam 3e-4, batch 64)`, '');
    tableRows('table/');
    out.push('');
  }
  if (o.parts.includes('sweeps')) {
    out.push(`#### The paper's sweeps (its 2 epochs x 30,000 windows x ${o.sweepScale})`, '');
    tableRows('sweep/');
    out.push('');
  }
  if (o.parts.includes('equal')) {
    out.push('#### Equal training FLOPs by the paper\'s formula (the 3-layer transformer\'s budget in the table)', '');
    out.push('| configuration | parameters | windows | paper-formula FLOPs | FLOPs / transformer\'s | test NLL, 95% CI (seeds) |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    const ref = at('table/transformer3');
    for (const name of ['equal/linear', 'equal/mlp', 'equal/attention', 'table/transformer3']) {
      const r = at(name);
      if (!r) out.push(`| ${name} | | | | | not run |`);
      else out.push(`| ${name} | ${num(r.parameters)} | ${num(r.windows)} | ${r.paperFlops.toExponential(4)} | ${ref ? (r.paperFlops / ref.paperFlops).toFixed(5) : 'n/a'} | ${ci(r.test)} (${r.test.n}) |`);
    }
    out.push('');
  }
  const tuned = [...(o.parts.includes('tune') ? TUNED : []), ...(o.parts.includes('ours') ? OURS_CONFIGS.map((c) => c.name) : [])];
  if (tuned.length) {
    out.push('#### Learning rate per variant (chosen on validation, reported on test)', '');
    out.push('| configuration | lr | validation NLL, 95% CI | test NLL, 95% CI | seeds | chosen |', '| --- | ---: | ---: | ---: | ---: | --- |');
    for (const name of tuned) {
      const best = chooseLr(rows, name);
      for (const r of rows.filter((x) => x.config === name).sort((a, b) => a.lr - b.lr)) {
        out.push(`| ${name} | ${r.lr} | ${ci(r.val)} | ${ci(r.test)} | ${r.test.n} | ${r === best ? 'yes' : ''} |`);
      }
    }
    out.push('');
    out.push('#### Paired differences (test NLL, first minus second, paired by seed; single-run SD = SD of the per-seed differences)', '');
    out.push('| comparison | learning rates | difference, 95% CI | single-run SD | seeds | verdict |', '| --- | --- | ---: | ---: | ---: | --- |');
    for (const p of PAIRS) {
      if (!tuned.includes(p.a) || !tuned.includes(p.b)) continue;
      const la = chooseLr(rows, p.a);
      const lb = chooseLr(rows, p.b);
      const common = p.a.startsWith('ours/') ? o.oursLrs : [3e-4];
      const cases: [number, number, string][] = [...common.map((lr) => [lr, lr, `both ${lr}`] as [number, number, string])];
      // "tuned" only where more than one learning rate of each variant has finished
      const tried = (c: string) => new Set(rows.filter((r) => r.config === c).map((r) => r.lr)).size;
      if (la && lb && tried(p.a) > 1 && tried(p.b) > 1) cases.push([la.lr, lb.lr, `each tuned (${la.lr} / ${lb.lr})`]);
      const [first, second] = p.name.replace(/ \(.*$/, '').split(' - ');
      for (const [a, b, label] of cases) {
        const d = comparePair(results, p.a, p.b, a, b, p.name);
        const verdict = d?.verdict.replace('first better', `${first} better`).replace('second better', `${second} better`);
        if (d) out.push(`| ${p.name} | ${label} | ${ci(d.diff)} | ${f4(d.diff.sd)} | ${d.diff.n} | ${verdict} |`);
      }
    }
    out.push('');
  }
  const notes = PAPER_CONFIGS.filter((c) => c.note && rows.some((r) => r.config === c.name));
  out.push(...[...new Set(notes.map((c) => c.note))].map((n) => `- ${n}`));
  return out.join('\n');
}
