/**
 * Pretraining the bundled test beds: a byte-level BPE learnt on the pretraining corpus, then
 * mini-gpt (causal LM) or mini-roberta (masked LM) trained with the ONNX-autodiff trainer, saved in
 * Hugging Face layout (config.json, model.safetensors, tokenizer.json) plus training.json with the
 * loss curve and held-out figures. Everything is seeded, so a rerun reproduces the shipped weights
 * (up to floating-point summation order across thread counts).
 */
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { checkReplaceable, mkdirp, markerText, OUTPUT_MARKER, replaceDir } from '../util/atomic.js';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { encodeSafetensors } from '../model/safetensors.js';
import { mulberry32 } from '../util/random.js';
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
}

const base = { vocab: 4096, hidden: 128, layers: 12, heads: 4, intermediate: 512, batch: 16, seq: 64, lr: 1e-3, warmup: 200, evalEvery: 250, evalBatches: 16, seed: 1 };

/** The shipped test beds. 12 layers so that layer selection has room; small enough for 2 CPU cores. */
export const TEST_BEDS: Record<string, PretrainSpec> = {
  'mini-gpt': { ...base, name: 'mini-gpt', objective: 'clm', steps: 3000 },
  // MLM learns from the masked positions only: 30% masking (Wettig et al. 2023 find 40% better than 15%
  // for small budgets) and a larger batch give it several times the training signal per step.
  'mini-roberta': { ...base, name: 'mini-roberta', objective: 'mlm', steps: 2500, batch: 32, maskRate: 0.3 },
};

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
  seconds: number;
  tokensSeen: number;
  corpus: Corpus['sources'];
  trainTokens: number;
  heldOutTokens: number;
  threads: number;
  machine: string;
}

function modelFor(spec: PretrainSpec): { model: TrainModel; config: Record<string, unknown> } {
  if (spec.objective === 'clm') {
    const shape: Gpt2Shape = { vocab: spec.vocab, positions: spec.seq, hidden: spec.hidden, layers: spec.layers, heads: spec.heads, intermediate: spec.intermediate };
    return { model: gpt2Model(shape), config: { ...gpt2Config(shape), bos_token_id: BOS, eos_token_id: EOS, pad_token_id: PAD } };
  }
  const shape: RobertaShape = { vocab: spec.vocab, seq: spec.seq, hidden: spec.hidden, layers: spec.layers, heads: spec.heads, intermediate: spec.intermediate, padTokenId: PAD };
  return { model: robertaModel(shape), config: robertaConfig(shape, { bos: BOS, eos: EOS }) };
}

/** Token stream: CLM joins documents with </s>; MLM wraps each in <s> ... </s> (as the tokenizer does). */
function encodeStream(tok: Tokenizer, docs: string[], objective: 'clm' | 'mlm'): Int32Array {
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

export interface PretrainOptions {
  threads?: number;
  steps?: number;
  log?: (line: string) => void;
}

/** Train one test bed and write it to `outDir` (replaced atomically: written beside it, then renamed). */
export async function pretrain(spec0: PretrainSpec, outDir: string, opts: PretrainOptions = {}): Promise<PretrainResult> {
  const spec = { ...spec0, steps: opts.steps ?? spec0.steps };
  const log = opts.log ?? (() => {});
  const corpus = pretrainingCorpus();
  const train = spec.maxDocs ? corpus.train.slice(0, spec.maxDocs) : corpus.train;
  const heldOut = spec.maxDocs ? corpus.heldOut.slice(0, spec.maxDocs) : corpus.heldOut;
  const bpe = trainByteLevelBpe(train, spec.vocab, SPECIALS);
  const tokJson = tokenizerJson(bpe, SPECIALS, spec.objective === 'mlm' ? 'roberta' : 'gpt2');
  const tok = new Tokenizer(tokJson, {});
  const vocab = bpe.vocab.size; // may be below spec.vocab on tiny corpora
  const trainStream = encodeStream(tok, train, spec.objective);
  const heldStream = encodeStream(tok, heldOut, spec.objective);
  log(`${spec.name}: vocabulary ${vocab}, ${trainStream.length.toLocaleString('en-US')} training tokens, ${heldStream.length.toLocaleString('en-US')} held-out`);

  const { model, config } = modelFor({ ...spec, vocab });
  const threads = opts.threads ?? cpus().length;
  const trainer = await Trainer.create(model, { batch: spec.batch, seq: spec.seq, lr: spec.lr, seed: spec.seed, threads });
  const rand = mulberry32(spec.seed + 1000);
  const span = spec.seq + 1;
  const randomStarts = () => Array.from({ length: spec.batch }, () => Math.floor(rand() * (trainStream.length - span)));
  // fixed held-out windows, evenly spread
  const evalRand = mulberry32(spec.seed + 2000);
  const evalBatches = Array.from({ length: spec.evalBatches }, (_, k) => {
    const starts = Array.from({ length: spec.batch }, (_, b) => Math.floor((((k * spec.batch + b) / (spec.evalBatches * spec.batch)) * (heldStream.length - span))));
    return makeBatch(heldStream, starts, spec.seq, spec.objective, vocab, evalRand, spec.maskRate);
  });
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

  const curve: CurvePoint[] = [];
  const evals: EvalPoint[] = [await evaluate(0)];
  const t0 = performance.now();
  let running = 0;
  for (let step = 0; step < spec.steps; step++) {
    const lr = cosineSchedule(step, spec.steps, spec.lr, Math.min(spec.warmup, Math.max(1, Math.floor(spec.steps / 10))));
    const { loss } = await trainer.step(makeBatch(trainStream, randomStarts(), spec.seq, spec.objective, vocab, rand, spec.maskRate), lr);
    running = step === 0 ? loss : 0.98 * running + 0.02 * loss;
    if (step % 10 === 0 || step === spec.steps - 1) curve.push({ step, loss, lr });
    if ((step + 1) % spec.evalEvery === 0 || step === spec.steps - 1) {
      const e = await evaluate(step + 1);
      evals.push(e);
      const el = (performance.now() - t0) / 1000;
      log(`${spec.name} step ${step + 1}/${spec.steps}: train loss ${running.toFixed(3)}, held-out loss ${e.loss.toFixed(3)} (ppl ${e.perplexity.toFixed(1)}, acc ${(e.accuracy * 100).toFixed(1)}%), ${el.toFixed(0)} s`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;

  const result: PretrainResult = {
    spec,
    parameters: trainer.parameterCount(),
    curve,
    evals,
    seconds,
    tokensSeen: spec.steps * spec.batch * spec.seq,
    corpus: corpus.sources,
    trainTokens: trainStream.length,
    heldOutTokens: heldStream.length,
    threads,
    machine: `${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
  };
  saveCheckpoint(outDir, trainer.params, config, tokJson, result);
  await trainer.release();
  return result;
}

/** config.json + model.safetensors + tokenizer.json + training.json, into a sibling temp dir then renamed. */
export function saveCheckpoint(outDir: string, params: Map<string, Float32Array>, config: Record<string, unknown>, tokJson: object, result: PretrainResult): void {
  // replaces outDir only if it is ours (marked), empty or absent, via rename-aside (util/atomic.ts)
  checkReplaceable(outDir);
  const tmp = join(dirname(outDir), `.${result.spec.name}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true }); // our own pid-named leftover
  mkdirp(tmp);
  const shapes = new Map(modelFor({ ...result.spec, vocab: (config.vocab_size as number) }).model.paramShapes());
  const tensors = Object.fromEntries([...params].map(([n, data]) => [n, { dtype: 'F32' as const, shape: shapes.get(n)!, data }]));
  const parts = encodeSafetensors(tensors, { format: 'pt' });
  writeFileSync(join(tmp, 'model.safetensors'), Buffer.concat(parts));
  writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(tokJson));
  writeFileSync(join(tmp, 'training.json'), JSON.stringify(result, null, 1) + '\n');
  writeFileSync(join(tmp, OUTPUT_MARKER), markerText(`probescale pretrain ${result.spec.name}`));
  // files beside the checkpoint that this function does not write (MODEL.md, notes) move into the new folder
  if (existsSync(outDir)) for (const f of readdirSync(outDir)) if (!existsSync(join(tmp, f))) cpSync(join(outDir, f), join(tmp, f), { recursive: true });
  replaceDir(tmp, outDir);
}
