/**
 * A small MLP probe: one ReLU hidden layer, softmax output, Adam on minibatches, weight decay, early
 * stopping on dev accuracy (best epoch kept). Seeded: same data + seed = same model.
 */
import { mulberry32, normal, permutation } from './random.js';
import { accuracy, argmaxRows, softmaxAt, StandardizedProbe, type FitOptions, type Matrix } from './types.js';

export interface MlpOptions {
  hidden?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  patience?: number;
  seed?: number;
}

export class MlpProbe extends StandardizedProbe {
  readonly name = 'mlp';
  private W1!: Float32Array;
  private b1!: Float32Array;
  private W2!: Float32Array;
  private b2!: Float32Array;
  private d = 0;
  epochsRun = 0;

  constructor(numClasses: number, readonly opts: MlpOptions = {}) {
    super(numClasses);
  }

  private forward(x: Float32Array, off: number, h: Float32Array, z: Float32Array): void {
    const H = h.length;
    const K = this.numClasses;
    const d = this.d;
    for (let j = 0; j < H; j++) {
      let s = this.b1[j];
      for (let c = 0; c < d; c++) s += x[off + c] * this.W1[c * H + j];
      h[j] = s > 0 ? s : 0;
    }
    for (let k = 0; k < K; k++) {
      let s = this.b2[k];
      for (let j = 0; j < H; j++) s += h[j] * this.W2[j * K + k];
      z[k] = s;
    }
    softmaxAt(z, 0, K);
  }

  async fit(X: Matrix, y: Int32Array, fitOpts: FitOptions = {}): Promise<this> {
    const K = this.numClasses;
    const H = this.opts.hidden ?? 128;
    const epochs = this.opts.epochs ?? 30;
    const bs = this.opts.batchSize ?? 64;
    const lr = this.opts.lr ?? 1e-3;
    const wd = this.opts.weightDecay ?? 1e-4;
    const patience = this.opts.patience ?? 4;
    const rand = mulberry32(this.opts.seed ?? 0);
    this.std.fit(X);
    const Xs = this.std.transform(X);
    const dev = fitOpts.dev ? { X: this.std.transform(fitOpts.dev.X), y: fitOpts.dev.y } : undefined;
    const d = (this.d = X.cols);
    const init = (n: number, fanIn: number) => Float32Array.from({ length: n }, () => normal(rand) * Math.sqrt(2 / fanIn));
    this.W1 = init(d * H, d);
    this.b1 = new Float32Array(H);
    this.W2 = init(H * K, H);
    this.b2 = new Float32Array(K);
    const params = [this.W1, this.b1, this.W2, this.b2];
    const grads = params.map((p) => new Float32Array(p.length));
    const m = params.map((p) => new Float32Array(p.length));
    const v = params.map((p) => new Float32Array(p.length));
    const h = new Float32Array(H);
    const z = new Float32Array(K);
    const dh = new Float32Array(H);
    let step = 0;
    let best = { acc: -1, params: params.map((p) => p.slice()) };
    let bad = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = permutation(X.rows, rand);
      for (let b0 = 0; b0 < X.rows; b0 += bs) {
        grads.forEach((g) => g.fill(0));
        const end = Math.min(b0 + bs, X.rows);
        for (let bi = b0; bi < end; bi++) {
          const r = order[bi];
          const off = r * d;
          this.forward(Xs.data, off, h, z);
          z[y[r]] -= 1; // dL/dlogits
          dh.fill(0);
          for (let j = 0; j < H; j++) {
            if (h[j] <= 0) continue;
            for (let k = 0; k < K; k++) {
              grads[2][j * K + k] += h[j] * z[k];
              dh[j] += z[k] * this.W2[j * K + k];
            }
          }
          for (let k = 0; k < K; k++) grads[3][k] += z[k];
          for (let j = 0; j < H; j++) {
            if (dh[j] === 0) continue;
            for (let c = 0; c < d; c++) grads[0][c * H + j] += Xs.data[off + c] * dh[j];
            grads[1][j] += dh[j];
          }
        }
        step++;
        const scale = 1 / (end - b0);
        const c1 = 1 - 0.9 ** step;
        const c2 = 1 - 0.999 ** step;
        params.forEach((p, pi) => {
          const g = grads[pi];
          for (let i = 0; i < p.length; i++) {
            const gi = g[i] * scale + (pi % 2 === 0 ? wd * p[i] : 0);
            m[pi][i] = 0.9 * m[pi][i] + 0.1 * gi;
            v[pi][i] = 0.999 * v[pi][i] + 0.001 * gi * gi;
            p[i] -= (lr * (m[pi][i] / c1)) / (Math.sqrt(v[pi][i] / c2) + 1e-8);
          }
        });
      }
      this.epochsRun = epoch + 1;
      if (!dev) continue;
      const acc = accuracy(dev.y, this.predictStandardized(dev.X));
      if (acc > best.acc) {
        best = { acc, params: params.map((p) => p.slice()) };
        bad = 0;
      } else if (++bad >= patience) break;
    }
    if (dev) params.forEach((p, i) => p.set(best.params[i]));
    return this;
  }

  private predictStandardized(Xs: Matrix): Int32Array {
    return argmaxRows(this.probaStandardized(Xs), Xs.rows, this.numClasses);
  }

  private probaStandardized(Xs: Matrix): Float32Array {
    const K = this.numClasses;
    const out = new Float32Array(Xs.rows * K);
    const h = new Float32Array(this.b1.length);
    const z = new Float32Array(K);
    for (let r = 0; r < Xs.rows; r++) {
      this.forward(Xs.data, r * Xs.cols, h, z);
      out.set(z, r * K);
    }
    return out;
  }

  predictProba(X: Matrix): Float32Array {
    return this.probaStandardized(this.std.transform(X));
  }
}
