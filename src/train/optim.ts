/**
 * AdamW (decoupled weight decay, bias-corrected moments) over plain Float32Arrays, plus global-norm
 * gradient clipping and a warmup + cosine learning-rate schedule. A few float ops per parameter, so
 * a JS loop costs milliseconds next to the forward + backward pass.
 */
export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Parameters that get no weight decay (biases, norms, by convention). */
  noDecay?: (name: string) => boolean;
}

export interface AdamWState {
  t: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();
  private t = 0;

  constructor(private readonly opts: AdamWOptions) {}

  /** Step count and both moments (the live arrays), for checkpoints. */
  state(): AdamWState {
    return { t: this.t, m: this.m, v: this.v };
  }

  /** Continue from a saved state: the next step is bit-identical to the one the saved run would have taken. */
  load(state: AdamWState): void {
    this.t = state.t;
    this.m = new Map([...state.m].map(([k, a]) => [k, Float32Array.from(a)]));
    this.v = new Map([...state.v].map(([k, a]) => [k, Float32Array.from(a)]));
  }

  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr = this.opts.lr): void {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, noDecay = defaultNoDecay } = this.opts;
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.m.set(name, m);
        this.v.set(name, v);
      }
      const decay = noDecay(name) ? 1 : 1 - lr * weightDecay;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        p[i] = p[i] * decay - (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    }
  }
}

/** Biases, LayerNorm and embedding-norm weights: no weight decay. */
export function defaultNoDecay(name: string): boolean {
  return name.endsWith('.bias') || /(ln_|LayerNorm|layer_norm|norm)/.test(name);
}

/** Scale all gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= s;
  }
  return norm;
}

/** Linear warmup to `peak`, then cosine decay to `peak * floor` at `total` steps. */
export function cosineSchedule(step: number, total: number, peak: number, warmup: number, floor = 0.1): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}
