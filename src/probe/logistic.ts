/**
 * Multinomial logistic regression probe, L2-regularized, fitted with L-BFGS on standardized features.
 * With a dev split, C is chosen from a grid (warm-starting each fit from the previous one) by dev accuracy.
 */
import { lbfgs } from './lbfgs.js';
import { jsObjective, ortObjective, type SoftmaxObjective } from './softmax-objective.js';
import { covarianceCholesky, preconditioned, toWeights, weightGradMax } from './precondition.js';
import { defaultThreads } from '../util/threads.js';
import { accuracy, argmaxRows, Standardizer, type FitOptions, type Matrix, type Probe } from './types.js';

export interface LogisticOptions {
  /** inverse regularization strength (scikit-learn's C); a grid is searched on dev when several are given */
  C?: number | number[];
  maxIter?: number;
  gtol?: number;
  /** 'auto': onnxruntime for large problems, plain loops otherwise */
  backend?: 'auto' | 'js' | 'ort';
  threads?: number;
  /** whiten (exactly, by a change of variables) when searching a C grid on large problems; default true */
  precondition?: boolean;
}

export class LogisticProbe implements Probe {
  readonly name = 'logistic';
  private std = new Standardizer();
  private params!: Float64Array;
  private d = 0;
  chosenC = 1;
  iterations = 0;
  /** dev accuracy and L-BFGS iterations per C tried, in grid order */
  gridTrace: { C: number; devAccuracy: number; iterations: number }[] = [];

  constructor(readonly numClasses: number, readonly opts: LogisticOptions = {}) {}

  async fit(X: Matrix, y: Int32Array, fitOpts: FitOptions = {}): Promise<this> {
    if (X.rows === 0) throw new Error('cannot fit a probe on zero examples');
    const K = this.numClasses;
    this.std.fit(X);
    this.d = X.cols;
    const grid = Array.isArray(this.opts.C) ? this.opts.C : [this.opts.C ?? (fitOpts.dev ? [0.01, 0.1, 1, 10] : 1)].flat();
    const backend = this.opts.backend ?? 'auto';
    // onnxruntime wins from about a thousand rows on (measured: 10x at 1,430 x 64 x 17); loops for tiny problems
    const useOrt = backend === 'ort' || (backend === 'auto' && X.rows * X.cols * K > 20_000);
    // the onnxruntime objective standardizes implicitly (no n x d copy); the loops get a standardized copy
    const base: SoftmaxObjective = useOrt ? await ortObjective(X, y, K, this.opts.threads, this.std) : jsObjective(this.std.transform(X), y, K);
    const maxIter = this.opts.maxIter ?? 100;
    const gtol = this.opts.gtol ?? 1e-4;
    const search = !!fitOpts.dev && grid.length > 1;
    // a C grid on large problems is solved in whitened coordinates (same model, same penalty; see
    // precondition.ts). L-BFGS then works on V with W = L^{-T} V, and its stopping test still applies to the
    // gradient in W (testing it in V took 24% more iterations on mini-gpt UPOS for the same probes). Single
    // fits (the scikit-learn comparison) keep plain coordinates.
    const L = search && useOrt && this.opts.precondition !== false ? await covarianceCholesky(X, this.std, this.opts.threads ?? defaultThreads()) : undefined;
    const objective = L ? preconditioned(base, L, this.d, K) : base;
    const weights = (v: Float64Array) => (L ? toWeights(v, L, this.d, K) : v);
    const gradMax = L ? (g: Float64Array) => weightGradMax(g, L, this.d, K) : undefined;
    let params: Float64Array = new Float64Array((this.d + 1) * K);
    let best = { acc: -1, params, v: params, C: grid[0], iterations: 0 };
    try {
      // with a grid, each C is solved to a 10x looser tolerance (enough to rank C on dev), and only the chosen
      // C is then solved to full tolerance from there: about half the iterations at the same dev choice
      for (const C of fitOpts.dev ? grid : [grid[grid.length > 1 ? Math.floor(grid.length / 2) : 0]]) {
        const r = await lbfgs((p, g) => objective.evaluate(p, g, 1 / C), params, { maxIter, gtol: search ? 10 * gtol : gtol, gradMax });
        params = r.x;
        this.params = weights(params);
        this.iterations += r.iterations;
        if (!fitOpts.dev) {
          best = { acc: 0, params: this.params, v: params, C, iterations: r.iterations };
          break;
        }
        const acc = this.score(fitOpts.dev.X, fitOpts.dev.y);
        this.gridTrace.push({ C, devAccuracy: acc, iterations: r.iterations });
        // r.x is a fresh array per solve, so keeping references is safe
        if (acc > best.acc) best = { acc, params: this.params, v: params, C, iterations: r.iterations };
      }
      if (search) {
        const C = best.C;
        const r = await lbfgs((p, g) => objective.evaluate(p, g, 1 / C), best.v, { maxIter, gtol, gradMax });
        this.iterations += r.iterations;
        best.params = weights(r.x);
      }
    } finally {
      await objective.release();
    }
    this.params = best.params;
    this.chosenC = best.C;
    return this;
  }

  predictProba(X: Matrix): Float32Array {
    const K = this.numClasses;
    const { rows, cols, data } = X;
    const out = new Float32Array(rows * K);
    const z = new Float64Array(K);
    // standardization folded into the weights once (folded(), shared with exportLinear): the row loop is a plain
    // affine map, ~2x faster than standardizing every element (measured, 6,430 x 128 x 17)
    const { weight: W, bias } = this.folded();
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < K; k++) z[k] = bias[k];
      const o = r * cols;
      for (let c = 0; c < cols; c++) {
        const xv = data[o + c];
        const w = c * K;
        for (let k = 0; k < K; k++) z[k] += xv * W[w + k];
      }
      let max = -Infinity;
      for (let k = 0; k < K; k++) if (z[k] > max) max = z[k];
      let sum = 0;
      for (let k = 0; k < K; k++) sum += (z[k] = Math.exp(z[k] - max));
      for (let k = 0; k < K; k++) out[r * K + k] = z[k] / sum;
    }
    return out;
  }

  private foldedFor?: { params: Float64Array; weight: Float64Array; bias: Float64Array };

  /** Weights and bias on raw features, in Float64, cached for the current parameters. */
  private folded(): { weight: Float64Array; bias: Float64Array } {
    if (this.foldedFor?.params === this.params) return this.foldedFor;
    const K = this.numClasses;
    const d = this.d;
    const weight = new Float64Array(d * K);
    const bias = new Float64Array(K);
    for (let k = 0; k < K; k++) bias[k] = this.params[d * K + k];
    for (let c = 0; c < d; c++) {
      for (let k = 0; k < K; k++) {
        const w = this.params[c * K + k] * this.std.scale[c];
        weight[c * K + k] = w;
        bias[k] -= this.std.mean[c] * w;
      }
    }
    this.foldedFor = { params: this.params, weight, bias };
    return this.foldedFor;
  }

  predict(X: Matrix): Int32Array {
    return argmaxRows(this.predictProba(X), X.rows, this.numClasses);
  }

  score(X: Matrix, y: Int32Array): number {
    return accuracy(y, this.predict(X));
  }

  /** Weights in the original (unstandardized) feature space: W' = diag(scale) W, b' = b - mean' W'. */
  exportLinear(): { weight: Float32Array; bias: Float32Array; d: number; K: number } {
    const { weight, bias } = this.folded();
    return { weight: Float32Array.from(weight), bias: Float32Array.from(bias), d: this.d, K: this.numClasses };
  }
}
