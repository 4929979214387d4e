/**
 * Closed-form ridge classifier: one-vs-all targets in {-1, 1}, (X^T X + alpha I) W = X^T Y on standardized
 * features with an unpenalized intercept; alpha chosen on dev from a grid.
 */
import { solveSPD } from '../util/linalg.js';
import { StandardizedProbe, type FitOptions, type Matrix } from './types.js';

export class RidgeProbe extends StandardizedProbe {
  readonly name = 'ridge';
  private W!: Float64Array; // [(d + 1), K], last row = intercept
  chosenAlpha = 1;

  constructor(numClasses: number, readonly alphas: number[] = [0.1, 1, 10, 100, 1000]) {
    super(numClasses);
  }

  async fit(X: Matrix, y: Int32Array, opts: FitOptions = {}): Promise<this> {
    const K = this.numClasses;
    this.std.fit(X);
    const Xs = this.std.transform(X);
    const d = X.cols;
    const n = d + 1;
    const xtx = new Float64Array(n * n);
    const xty = new Float64Array(n * K);
    const row = new Float64Array(n);
    for (let r = 0; r < X.rows; r++) {
      for (let c = 0; c < d; c++) row[c] = Xs.data[r * d + c];
      row[d] = 1;
      for (let i = 0; i < n; i++) {
        const xi = row[i];
        for (let j = 0; j <= i; j++) xtx[i * n + j] += xi * row[j];
        for (let k = 0; k < K; k++) xty[i * K + k] += xi * (y[r] === k ? 1 : -1);
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) xtx[j * n + i] = xtx[i * n + j];
    const grid = opts.dev ? this.alphas : [this.alphas[Math.floor(this.alphas.length / 2)]];
    let best = -1;
    for (const alpha of grid) {
      const a = Float64Array.from(xtx);
      for (let i = 0; i < d; i++) a[i * n + i] += alpha;
      a[d * n + d] += 1e-9;
      this.W = solveSPD(a, xty, n, K);
      if (!opts.dev) {
        this.chosenAlpha = alpha;
        break;
      }
      const acc = this.score(opts.dev.X, opts.dev.y);
      if (acc > best) {
        best = acc;
        this.chosenAlpha = alpha;
      }
    }
    if (opts.dev) {
      const a = Float64Array.from(xtx);
      for (let i = 0; i < d; i++) a[i * n + i] += this.chosenAlpha;
      a[d * n + d] += 1e-9;
      this.W = solveSPD(a, xty, n, K);
    }
    return this;
  }

  predictProba(X: Matrix): Float32Array {
    const K = this.numClasses;
    const d = X.cols;
    const out = new Float32Array(X.rows * K);
    for (let r = 0; r < X.rows; r++) {
      for (let k = 0; k < K; k++) {
        let s = this.W[d * K + k];
        for (let c = 0; c < d; c++) s += (X.data[r * d + c] - this.std.mean[c]) * this.std.scale[c] * this.W[c * K + k];
        out[r * K + k] = s;
      }
    }
    return out;
  }
}
