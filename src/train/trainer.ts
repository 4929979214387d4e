/**
 * A model family for training: its parameter shapes and init, and how to build its graph for a fixed
 * batch shape. The Trainer compiles a training session (loss + gradients) and an evaluation session
 * (loss only), keeps the parameters and runs AdamW.
 */
import { Tape, type V } from './autodiff.js';
import { CompiledStep, type Feed } from './backend.js';
import { Initializer, initParam } from './init.js';
import { AdamW, clipGradNorm, type AdamWState } from './optim.js';

export interface BuiltModel {
  loss: V;
  logits: V;
  hidden: V[];
  inputs: V[];
}

export interface TrainModel {
  paramShapes(): [string, number[]][];
  initStd(name: string): number;
  /** A starting value other than the random draw (e.g. sinusoidal positions, draw + identity), else undefined. */
  initValue?(name: string, drawn: Float32Array): Float32Array | undefined;
  build(t: Tape, batch: number, seq: number): BuiltModel;
}

export interface TrainerOptions {
  batch: number;
  seq: number;
  lr: number;
  weightDecay?: number;
  /** Adam's second-moment decay (default 0.99; PyTorch's Adam default is 0.999) */
  beta2?: number;
  clip?: number;
  seed?: number;
  threads?: number;
  /** Start from these values instead of a fresh init (resume, parity checks). */
  params?: Map<string, Float32Array>;
}

export class Trainer {
  private constructor(
    readonly model: TrainModel,
    readonly params: Map<string, Float32Array>,
    private readonly train: CompiledStep,
    private readonly evaluation: CompiledStep,
    private readonly opt: AdamW,
    private readonly opts: TrainerOptions,
  ) {}

  static async create(model: TrainModel, opts: TrainerOptions): Promise<Trainer> {
    const t1 = new Tape('train');
    const b1 = model.build(t1, opts.batch, opts.seq);
    const train = await CompiledStep.compile(t1, b1.loss, b1.inputs, { threads: opts.threads });
    const t2 = new Tape('eval');
    const b2 = model.build(t2, opts.batch, opts.seq);
    const extra: Record<string, V> = { logits: b2.logits };
    b2.hidden.forEach((h, i) => (extra[`hidden_${i}`] = h));
    const evaluation = await CompiledStep.compile(t2, b2.loss, b2.inputs, { gradients: false, threads: opts.threads, extra });
    const init = new Initializer(opts.seed ?? 0);
    const params = new Map<string, Float32Array>();
    for (const [name, shape] of model.paramShapes()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const given = opts.params?.get(name);
      if (given && given.length !== n) throw new Error(`parameter ${name}: ${given.length} values for shape [${shape}]`);
      const drawn = initParam(init, name, n, model.initStd(name)); // drawn even when replaced, so other parameters' init is unchanged
      params.set(name, given ? Float32Array.from(given) : (model.initValue?.(name, drawn) ?? drawn));
    }
    const opt = new AdamW({ lr: opts.lr, weightDecay: opts.weightDecay ?? 0.01, beta2: opts.beta2 ?? 0.99 });
    return new Trainer(model, params, train, evaluation, opt, opts);
  }

  parameterCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.length;
    return n;
  }

  /** One optimizer step; returns the batch loss (before the update) and the gradient norm. */
  async step(batch: Record<string, Feed>, lr: number): Promise<{ loss: number; gradNorm: number }> {
    const { loss, grads } = await this.train.run(this.params, batch);
    if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss}`);
    const gradNorm = clipGradNorm(grads, this.opts.clip ?? 1);
    this.opt.step(this.params, grads, lr);
    return { loss, gradNorm };
  }

  /** AdamW's step count and moments (live arrays: copy before the next step if you keep them). */
  optimizerState(): AdamWState {
    return this.opt.state();
  }

  loadOptimizerState(state: AdamWState): void {
    this.opt.load(state);
  }

  /** Loss and gradients without updating (gradient comparisons). */
  async gradients(batch: Record<string, Feed>) {
    return this.train.run(this.params, batch);
  }

  /** Loss, accuracy of the argmax prediction at rows with weight > 0, and the hidden states. */
  async evaluate(batch: Record<string, Feed>): Promise<{ loss: number; accuracy: number; hidden: Float32Array[] }> {
    const r = await this.evaluation.run(this.params, batch);
    const logits = r.extra.get('logits')!;
    const [rows, K] = logits.dims;
    const targets = batch.targets as BigInt64Array;
    const weights = batch.loss_weights as Float32Array;
    let hit = 0;
    let total = 0;
    for (let i = 0; i < rows; i++) {
      if (weights[i] <= 0) continue;
      let best = 0;
      for (let k = 1; k < K; k++) if (logits.data[i * K + k] > logits.data[i * K + best]) best = k;
      if (best === Number(targets[i])) hit++;
      total++;
    }
    const hidden = [...r.extra.keys()].filter((k) => k.startsWith('hidden_')).map((k) => r.extra.get(k)!.data);
    return { loss: r.loss, accuracy: total ? hit / total : 0, hidden };
  }

  async release(): Promise<void> {
    await this.train.release();
    await this.evaluation.release();
  }
}
