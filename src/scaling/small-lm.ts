/**
 * The compute-constrained small-LM study: linear -> MLP -> one attention layer -> 1-4 layer
 * transformers, with no / learned / rotary positions, each trained for the same number of training FLOPs
 * (counted from the architecture) on character-level Tiny Shakespeare and word-level PTB and WikiText-2.
 * Only the PTB and WikiText-2 valid/test files exist here: each model trains on the valid file and is
 * tested on the test file (Tiny Shakespeare: first 90% train, last 10% test, the customary split).
 * Several seeds per configuration give t-based 95% confidence intervals.
 */
import { dataFile } from '../data/paths.js';
import { readText } from '../data/read.js';
import { mulberry32 } from '../util/random.js';
import { ProbescaleError } from '../util/errors.js';
import { startProgress } from '../util/progress.js';
import { cosineSchedule } from '../train/optim.js';
import { nextTokenWindows } from '../train/corpus.js';
import { Trainer } from '../train/trainer.js';
import type { Feed } from '../train/backend.js';
import { smallLmModel, smallLmParameters, smallLmTrainFlopsPerToken, type SmallLmShape } from '../train/models/small-lm.js';

export interface StudyDataset {
  name: string;
  level: 'char' | 'word';
  vocab: string[];
  train: Int32Array;
  test: Int32Array;
  note: string;
}

function encode(tokens: string[], index: Map<string, number>): Int32Array {
  const unk = index.get('<unk>') ?? 0;
  return Int32Array.from(tokens, (t) => index.get(t) ?? unk);
}

/** Words per line plus an <eos> per line (the usual PTB / WikiText LM convention). */
function words(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/).filter(Boolean);
    if (!w.length) continue;
    out.push(...w, '<eos>');
  }
  return out;
}

function wordDataset(name: string, folder: string, maxVocab: number): StudyDataset {
  const train = words(readText(dataFile(folder, 'valid.txt.gz')));
  const test = words(readText(dataFile(folder, 'test.txt.gz')));
  const counts = new Map<string, number>();
  for (const w of train) counts.set(w, (counts.get(w) ?? 0) + 1);
  // vocabulary: the most frequent training words (ties by spelling) + <unk>; test words outside it -> <unk>
  const vocab = ['<unk>', ...[...counts].filter(([w]) => w !== '<unk>').sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxVocab - 1).map(([w]) => w)];
  const index = new Map(vocab.map((w, i) => [w, i]));
  return { name, level: 'word', vocab, train: encode(train, index), test: encode(test, index), note: `${folder}: trained on valid.txt, tested on test.txt (no train file here); vocabulary = ${vocab.length} most frequent training words incl. <unk>` };
}

export function studyDatasets(): StudyDataset[] {
  const text = readText(dataFile('tinyshakespeare', 'input.txt.gz'));
  const chars = [...new Set(text)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const all = encode([...text], index);
  const cut = Math.floor(all.length * 0.9);
  return [
    { name: 'shakespeare-char', level: 'char', vocab: chars, train: all.slice(0, cut), test: all.slice(cut), note: 'Tiny Shakespeare characters: first 90% train, last 10% test' },
    wordDataset('ptb-word', 'ptb-lm', 10000),
    wordDataset('wikitext2-word', 'wikitext2', 10000),
  ];
}

export interface StudyConfig {
  name: string;
  shape: Omit<SmallLmShape, 'vocab' | 'seq'>;
}

const W = 64;
export const STUDY_CONFIGS: StudyConfig[] = [
  { name: 'linear', shape: { family: 'linear', width: W, context: 8, hiddenUnits: 0, layers: 0, heads: 1, positions: 'none' } },
  { name: 'mlp', shape: { family: 'mlp', width: W, context: 8, hiddenUnits: 256, layers: 0, heads: 1, positions: 'none' } },
  ...(['none', 'learned', 'rope'] as const).map((p) => ({ name: `attention-${p}`, shape: { family: 'attention' as const, width: W, context: 0, hiddenUnits: 0, layers: 1, heads: 4, positions: p } })),
  { name: 'transformer1-learned', shape: { family: 'transformer', width: W, context: 0, hiddenUnits: 0, layers: 1, heads: 4, positions: 'learned' } },
  ...(['none', 'learned', 'rope'] as const).map((p) => ({ name: `transformer2-${p}`, shape: { family: 'transformer' as const, width: W, context: 0, hiddenUnits: 0, layers: 2, heads: 4, positions: p } })),
  { name: 'transformer4-learned', shape: { family: 'transformer', width: W, context: 0, hiddenUnits: 0, layers: 4, heads: 4, positions: 'learned' } },
];

export interface StudyOptions {
  /** training FLOPs per run, per dataset level */
  budget: { char: number; word: number };
  seeds: number;
  batch: number;
  seq: { char: number; word: number };
  lr: number;
  /** held-out windows for the test NLL */
  evalWindows: number;
  threads?: number;
  datasets?: string[];
  configs?: string[];
  log?: (line: string) => void;
}

export const DEFAULT_STUDY: StudyOptions = { budget: { char: 3e11, word: 3e11 }, seeds: 3, batch: 32, seq: { char: 64, word: 32 }, lr: 3e-3, evalWindows: 256 };
export const QUICK_STUDY: StudyOptions = { budget: { char: 1e10, word: 1e10 }, seeds: 2, batch: 8, seq: { char: 32, word: 16 }, lr: 3e-3, evalWindows: 16, datasets: ['shakespeare-char', 'ptb-word'], configs: ['linear', 'mlp', 'attention-rope', 'transformer2-learned'] };

export interface StudyRun {
  dataset: string;
  config: string;
  family: string;
  positions: string;
  seed: number;
  parameters: number;
  nonEmbedding: number;
  flopsPerToken: number;
  steps: number;
  tokens: number;
  trainFlops: number;
  /** test NLL (nats/token) after 1/4, 1/2 and all of the budget */
  curve: { flops: number; nll: number }[];
  testNll: number;
  seconds: number;
}

/** Mean NLL over the first `windows` non-overlapping test windows (fixed, identical for every model). */
async function testNll(trainer: Trainer, shape: SmallLmShape, data: Int32Array, B: number, T: number, windows: number): Promise<number> {
  const max = Math.min(windows, Math.floor((data.length - 1) / T));
  const starts = Array.from({ length: max }, (_, i) => i * T);
  let sum = 0;
  let n = 0;
  for (let i = 0; i + B <= starts.length; i += B) {
    sum += (await trainer.evaluate(windowBatch(data, starts.slice(i, i + B), T, shape))).loss;
    n++;
  }
  return sum / Math.max(1, n);
}

/** Inputs for windows [s, s+T) and next-token targets; linear/mlp get each position's last `context` tokens. */
export function windowBatch(data: Int32Array, starts: number[], T: number, shape: SmallLmShape): Record<string, Feed> {
  const B = starts.length;
  const { ids, targets } = nextTokenWindows(data, starts, T);
  const weights = new Float32Array(B * T).fill(1);
  if (shape.family === 'linear' || shape.family === 'mlp') {
    const k = shape.context;
    const ctx = new BigInt64Array(B * T * k);
    starts.forEach((s, b) => {
      for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) ctx[(b * T + t) * k + j] = BigInt(data[Math.max(0, s + t - (k - 1 - j))]);
    });
    return { context_ids: ctx, targets, loss_weights: weights };
  }
  return { input_ids: ids, targets, loss_weights: weights };
}

/** One training run of the study (the unit a scale-out job runs). */
export interface StudyUnit {
  dataset: string;
  config: string;
  seed: number;
}

/** The shape, window count and steps of a configuration on a dataset at the study's budget (checked here). */
function runPlan(opts: Omit<StudyOptions, 'log'>, d: StudyDataset, c: StudyConfig) {
  const T = opts.seq[d.level];
  const shape: SmallLmShape = { ...c.shape, vocab: d.vocab.length, seq: T };
  const flopsPerToken = smallLmTrainFlopsPerToken(shape);
  // every configuration gets the budget to within one window: the last batch is cut to the exact window
  // count by zero loss weights, and FLOPs are counted over the windows trained (no per-family step minimum)
  const windows = Math.round(opts.budget[d.level] / (flopsPerToken * T));
  if (windows < 1) throw new ProbescaleError(`${d.name} ${c.name}: a training budget of ${opts.budget[d.level].toExponential(2)} FLOPs buys no ${T}-token window (${(flopsPerToken * T).toExponential(2)} FLOPs each)`, { fix: 'raise --budget' });
  return { T, shape, flopsPerToken, windows, steps: Math.ceil(windows / opts.batch) };
}

/** Train one configuration with one seed on one dataset for the budget: its test-NLL curve. */
export async function trainStudyRun(opts: Omit<StudyOptions, 'log'>, d: StudyDataset, c: StudyConfig, seed: number): Promise<StudyRun> {
  const { T, shape, flopsPerToken, windows, steps } = runPlan(opts, d, c);
  const B = opts.batch;
  const { total, nonEmbedding } = smallLmParameters(shape);
  const t0 = performance.now();
  const trainer = await Trainer.create(smallLmModel(shape), { batch: B, seq: T, lr: opts.lr, seed: 100 + seed, threads: opts.threads, weightDecay: 0.01 });
  const rand = mulberry32(7 + seed);
  const checkpoints = new Set([Math.round(steps / 4), Math.round(steps / 2), steps]);
  const curve: { flops: number; nll: number }[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const starts = Array.from({ length: B }, () => Math.floor(rand() * (d.train.length - T - 1)));
      const batch = windowBatch(d.train, starts, T, shape);
      const used = Math.min(B, windows - step * B);
      (batch.loss_weights as Float32Array).fill(0, used * T);
      await trainer.step(batch, cosineSchedule(step, steps, opts.lr, Math.max(1, Math.round(steps / 20))));
      if (checkpoints.has(step + 1)) curve.push({ flops: Math.min((step + 1) * B, windows) * T * flopsPerToken, nll: await testNll(trainer, shape, d.test, B, T, opts.evalWindows) });
    }
  } finally {
    await trainer.release();
  }
  return {
    dataset: d.name, config: c.name, family: c.shape.family, positions: c.shape.positions, seed,
    parameters: total, nonEmbedding, flopsPerToken, steps, tokens: windows * T, trainFlops: windows * T * flopsPerToken,
    curve, testNll: curve.at(-1)!.nll, seconds: (performance.now() - t0) / 1000,
  };
}

/** Runs the study's training runs elsewhere (scale-out: one job per run, src/distribute), in the order given. */
export type StudyRunner = (opts: Omit<StudyOptions, 'log'>, units: StudyUnit[]) => Promise<StudyRun[]>;

export function studyConfig(name: string): StudyConfig {
  const c = STUDY_CONFIGS.find((x) => x.name === name);
  if (!c) throw new ProbescaleError(`unknown small-LM configuration "${name}"`, { fix: `use one of ${STUDY_CONFIGS.map((x) => x.name).join(', ')}` });
  return c;
}

export async function runStudy(opts: StudyOptions, remote?: StudyRunner): Promise<{ runs: StudyRun[]; datasets: { name: string; level: string; vocab: number; trainTokens: number; testTokens: number; note: string }[] }> {
  const { log: maybeLog, ...study } = opts;
  const log = maybeLog ?? (() => {});
  const datasets = studyDatasets().filter((d) => !opts.datasets || opts.datasets.includes(d.name));
  const configs = STUDY_CONFIGS.filter((c) => !opts.configs || opts.configs.includes(c.name));
  const units: StudyUnit[] = [];
  for (const d of datasets) {
    for (const c of configs) {
      runPlan(study, d, c); // a budget that buys nothing fails before any run
      for (let seed = 0; seed < opts.seeds; seed++) units.push({ dataset: d.name, config: c.name, seed });
    }
  }
  const line = (run: StudyRun) => log(`${run.dataset} ${run.config} seed ${run.seed}: ${run.parameters.toLocaleString('en-US')} params, ${run.steps} steps, test NLL ${run.testNll.toFixed(3)} (${run.seconds.toFixed(1)} s)`);
  let runs: StudyRun[];
  if (remote) {
    runs = await remote(study, units);
    runs.forEach(line);
  } else {
    runs = [];
    // runs done / to do with time left, like the law study (a bar in a terminal, periodic lines otherwise)
    const progress = startProgress('small-lm study', units.length, { unit: 'runs' });
    for (const u of units) {
      const run = await trainStudyRun(study, datasets.find((d) => d.name === u.dataset)!, studyConfig(u.config), u.seed);
      runs.push(run);
      line(run);
      progress.increment();
    }
    progress.stop();
  }
  return {
    runs,
    datasets: datasets.map((d) => ({ name: d.name, level: d.level, vocab: d.vocab.length, trainTokens: d.train.length, testTokens: d.test.length, note: d.note })),
  };
}

/** Student-t 97.5% quantiles for small samples (df 1..10), then the normal value. */
function t975(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  return df >= 1 && df <= 10 ? table[df - 1] : 1.96;
}

export function meanCi(xs: number[]): { mean: number; half: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: NaN };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, half: (t975(n - 1) * sd) / Math.sqrt(n) };
}

export interface StudySummaryRow {
  dataset: string;
  config: string;
  parameters: number;
  trainFlops: number;
  nll: { mean: number; half: number };
  /** NLL drop per doubling of training FLOPs, from 1/4 to the full budget (per-FLOP efficiency) */
  dropPerDoubling: number;
}

export function summarize(runs: StudyRun[]): { rows: StudySummaryRow[]; rope: { dataset: string; family: string; versus: string; diff: { mean: number; half: number } }[] } {
  const groups = new Map<string, StudyRun[]>();
  for (const r of runs) {
    const k = `${r.dataset}\u0000${r.config}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const rows: StudySummaryRow[] = [...groups.values()].map((g) => ({
    dataset: g[0].dataset,
    config: g[0].config,
    parameters: g[0].parameters,
    trainFlops: g[0].trainFlops,
    nll: meanCi(g.map((r) => r.testNll)),
    dropPerDoubling: g.reduce((a, r) => a + (r.curve[0].nll - r.curve.at(-1)!.nll) / Math.log2(r.curve.at(-1)!.flops / r.curve[0].flops), 0) / g.length,
  }));
  // RoPE vs learned / none, paired by seed
  const rope: { dataset: string; family: string; versus: string; diff: { mean: number; half: number } }[] = [];
  for (const r of runs.filter((x) => x.positions === 'rope' && x.seed === 0)) {
    const base = r.config.replace(/-rope$/, '');
    for (const versus of ['learned', 'none']) {
      const diffs: number[] = [];
      for (const a of runs.filter((x) => x.dataset === r.dataset && x.config === r.config)) {
        const b = runs.find((x) => x.dataset === r.dataset && x.config === `${base}-${versus}` && x.seed === a.seed);
        if (b) diffs.push(a.testNll - b.testNll);
      }
      if (diffs.length) rope.push({ dataset: r.dataset, family: base, versus, diff: meanCi(diffs) });
    }
  }
  return { rows, rope };
}
