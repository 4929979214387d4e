/**
 * Multinomial logistic regression probe, L2-regularized, fitted with L-BFGS on standardized features.
 * With a dev split, C is chosen from a grid by dev accuracy (each C warm-started from the previous one, on a
 * random subset of the rows when there are many), then the chosen C is solved on every row to full tolerance.
 */
import { lbfgs, type Curvature } from './lbfgs.js';
import { jsObjective, ortArgmax, ortObjective, type SoftmaxObjective } from './softmax-objective.js';
import { whitening, toWeights, type Whitening } from './precondition.js';
import { mulberry32 } from './random.js';
import { defaultThreads } from '../util/threads.js';
import { ProbeSessions } from './sessions.js';
import { accuracy, argmaxRows, softmaxAt, StandardizedProbe, type FitOptions, type Matrix } from './types.js';

export interface LogisticOptions {
  /** inverse regularization strength (scikit-learn's C); a grid is searched on dev when several are given */
  C?: number | number[];
  maxIter?: number;
  gtol?: number;
  /** 'auto': onnxruntime for large problems, plain loops otherwise */
  backend?: 'auto' | 'js' | 'ort';
  /** onnxruntime threads when the fit makes its own sessions (FitOptions.sessions brings its own) */
  threads?: number;
  /** whiten (exactly, by a change of variables) when searching a C grid on onnxruntime-sized problems; default:
   * when it pays (see whiteningPays) */
  precondition?: boolean;
  /** rows the C grid is searched on (a seeded random subset when there are more; default 8,192) */
  searchRows?: number;
  seed?: number;
}

export class LogisticProbe extends StandardizedProbe {
  readonly name = 'logistic';
  private params!: Float64Array;
  private d = 0;
  chosenC = 1;
  iterations = 0;
  /** dev accuracy and L-BFGS iterations per C tried, in grid order */
  gridTrace: { C: number; devAccuracy: number; iterations: number }[] = [];

  constructor(numClasses: number, readonly opts: LogisticOptions = {}) {
    super(numClasses);
  }

  async fit(X: Matrix, y: Int32Array, fitOpts: FitOptions = {}): Promise<this> {
    if (X.rows === 0) throw new Error('cannot fit a probe on zero examples');
    const own = fitOpts.sessions ? undefined : new ProbeSessions(this.opts.threads ?? defaultThreads());
    try {
      return await this.fitWith(X, y, fitOpts.dev, fitOpts.sessions ?? own!, !own);
    } finally {
      await own?.release();
    }
  }

  /** `shared`: the pool serves later fits too, so copies of X kept in its buffers get reused */
  private async fitWith(X: Matrix, y: Int32Array, dev: FitOptions['dev'], sessions: ProbeSessions, shared: boolean): Promise<this> {
    const K = this.numClasses;
    const n = X.rows;
    const d = (this.d = X.cols);
    this.std.fit(X);
    const grid = Array.isArray(this.opts.C) ? this.opts.C : [this.opts.C ?? (dev ? [0.01, 0.1, 1, 10] : 1)].flat();
    const maxIter = this.opts.maxIter ?? 100;
    const gtol = this.opts.gtol ?? 1e-4;
    const search = !!dev && grid.length > 1;
    // C is ranked on at most `searchRows` training rows, so the grid costs a fraction of the full solve that
    // follows (on mini-gpt UPOS, 32k rows: 9.7 vs 11.2 s for 13 layers); the fitted probe is the full solve.
    // A subset leans towards stronger regularization than all rows want: fine for a x10 grid (same test
    // accuracy on mini-gpt UPOS), not for fine-grained C choices (bench/RESULTS.md).
    const m = search ? Math.min(n, this.opts.searchRows ?? 8192) : n;
    const sub = m < n ? sampleRows(X, y, m, mulberry32(this.opts.seed ?? 0), sessions.scratch('search-rows', m * d)) : { X, y };
    // a C grid on large problems is solved in whitened coordinates (same model, same penalty; see
    // precondition.ts). L-BFGS then works on V with W = M V (M = L^{-T}), and its stopping test still applies to the
    // gradient in W (testing it in V took 24% more iterations on mini-gpt UPOS for the same probes). Single
    // fits (the scikit-learn comparison) keep plain coordinates. Any invertible M is exact, so the subsample's
    // covariance serves the full solve too.
    const whiten = search && this.useOrt(sub.X) && (this.opts.precondition ?? whiteningPays(n, m, d, K));
    const white = whiten ? await whitening(sub.X, this.std, sessions) : undefined;
    const toW = (v: Float64Array) => (white ? toWeights(v, white.M, d, K) : v);
    let v: Float64Array = new Float64Array((d + 1) * K);
    let C = grid[grid.length > 1 ? Math.floor(grid.length / 2) : 0];
    const full = await this.objective(X, y, sessions, white, shared ? 'objective:XT1' : undefined);
    let curvature: Curvature | undefined;
    if (search) {
      const objective = sub.X === X ? full : await this.objective(sub.X, sub.y, sessions, white, shared ? 'search-objective:XT1' : undefined);
      const scorer = this.useOrt(dev.X) ? await ortArgmax(dev.X, K, sessions) : undefined;
      // each C solved to a 10x looser tolerance (enough to rank C on dev), warm-started from the previous
      // one. The per-example penalty matches the full problem's: on m rows, C acts as C n / m. So the subset's
      // curvature pairs describe the full problem too, and seed the full solve's memory (GPT-2-small-shape
      // UPOS layers: 35-39 -> 33-35 iterations).
      let best = { acc: -1, v, C, curvature };
      for (const c of grid) {
        const r = await lbfgs((p, g) => objective.evaluate(p, g, m / (n * c)), v, { maxIter, gtol: 10 * gtol, gradMax: objective.gradMax });
        this.iterations += r.iterations;
        const prev = this.gridTrace.at(-1);
        if (r.iterations === 0 && prev) {
          // already within tolerance at this C (common for weak penalties): the same probe, the same dev score
          this.gridTrace.push({ C: c, devAccuracy: prev.devAccuracy, iterations: 0 });
          continue;
        }
        v = r.x;
        this.params = toW(v);
        const { weightT, bias } = this.folded();
        const acc = scorer ? accuracy(dev.y, await scorer.predict(weightT, bias)) : this.score(dev.X, dev.y);
        this.gridTrace.push({ C: c, devAccuracy: acc, iterations: r.iterations });
        // r.x is a fresh array per solve, so keeping references is safe
        if (acc > best.acc) best = { acc, v, C: c, curvature: r.curvature };
      }
      v = best.v;
      C = best.C;
      curvature = best.curvature;
    }
    // the fitted probe: every training row, full tolerance, at the chosen C
    const r = await lbfgs((p, g) => full.evaluate(p, g, 1 / C), v, { maxIter, gtol, gradMax: full.gradMax, curvature });
    this.iterations += r.iterations;
    this.params = toW(r.x);
    this.chosenC = C;
    return this;
  }

  /** onnxruntime wins from about a thousand rows on (measured: 10x at 1,430 x 64 x 17); loops for tiny problems */
  private useOrt(X: Matrix): boolean {
    const backend = this.opts.backend ?? 'auto';
    return backend === 'ort' || (backend === 'auto' && X.rows * X.cols * this.numClasses > 20_000);
  }

  /** The onnxruntime objective standardizes implicitly (no standardized copy); the loops get a standardized
   * copy. `transposeInto`: the pool buffer for the onnxruntime objective's copy of X^T (none: X is read
   * transposed in place). */
  private async objective(X: Matrix, y: Int32Array, sessions: ProbeSessions, white?: Whitening, transposeInto?: string): Promise<SoftmaxObjective> {
    const K = this.numClasses;
    // the whitening is only ever computed for onnxruntime-sized problems
    return this.useOrt(X) ? ortObjective(X, y, K, sessions, this.std, white, transposeInto) : jsObjective(this.std.transform(X), y, K);
  }

  predictProba(X: Matrix): Float32Array {
    const K = this.numClasses;
    const out = this.logits(X);
    for (let r = 0; r < X.rows; r++) softmaxAt(out, r * K, K);
    return out;
  }

  /** rows x K logits on raw features: four rows per pass over each class's contiguous float32 weights (the
   * standardization folded in once), each weight load shared by four dot products: 1.9x faster than one row
   * at a time (measured, 6,500 x 768 x 17: ~120 -> ~62 ms), which was 2x faster than accumulating all classes
   * per feature */
  private logits(X: Matrix): Float32Array {
    const K = this.numClasses;
    const { rows, cols: d, data } = X;
    const { weightT, bias } = this.folded();
    const out = new Float32Array(rows * K);
    let r = 0;
    for (; r + 3 < rows; r += 4) {
      const o0 = r * d;
      const o1 = o0 + d;
      const o2 = o1 + d;
      const o3 = o2 + d;
      for (let k = 0; k < K; k++) {
        const w = k * d;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let c = 0; c < d; c++) {
          const wv = weightT[w + c];
          s0 += data[o0 + c] * wv;
          s1 += data[o1 + c] * wv;
          s2 += data[o2 + c] * wv;
          s3 += data[o3 + c] * wv;
        }
        out[r * K + k] = bias[k] + s0;
        out[(r + 1) * K + k] = bias[k] + s1;
        out[(r + 2) * K + k] = bias[k] + s2;
        out[(r + 3) * K + k] = bias[k] + s3;
      }
    }
    for (; r < rows; r++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += data[r * d + c] * weightT[k * d + c];
        out[r * K + k] = bias[k] + s;
      }
    }
    return out;
  }

  private foldedFor?: { params: Float64Array; weight: Float64Array; weightT: Float32Array; bias: Float64Array };

  /** Weights and bias on raw features (W' = diag(scale) W, b' = b - mean' W'), cached for the current parameters. */
  private folded(): { weight: Float64Array; weightT: Float32Array; bias: Float64Array } {
    if (this.foldedFor?.params === this.params) return this.foldedFor;
    const K = this.numClasses;
    const d = this.d;
    const weight = new Float64Array(d * K);
    const weightT = new Float32Array(K * d);
    const bias = new Float64Array(K);
    for (let k = 0; k < K; k++) bias[k] = this.params[d * K + k];
    for (let c = 0; c < d; c++) {
      for (let k = 0; k < K; k++) {
        const w = this.params[c * K + k] * this.std.scale[c];
        weight[c * K + k] = w;
        weightT[k * d + c] = w;
        bias[k] -= this.std.mean[c] * w;
      }
    }
    this.foldedFor = { params: this.params, weight, weightT, bias };
    return this.foldedFor;
  }

  /** the argmax of the logits: predictProba's without the exponentials */
  override predict(X: Matrix): Int32Array {
    return argmaxRows(this.logits(X), X.rows, this.numClasses);
  }

  /** predict() on onnxruntime with a pooled session, for the large dev and test matrices a task's layers share
   * (6,500 x 768 x 17: a few ms, against ~65 ms in JS); small inputs stay in JS */
  async predictWith(X: Matrix, sessions: ProbeSessions): Promise<Int32Array> {
    if (!this.useOrt(X)) return this.predict(X);
    const { weightT, bias } = this.folded();
    return (await ortArgmax(X, this.numClasses, sessions)).predict(weightT, bias);
  }

  /** Weights in the original (unstandardized) feature space: W' = diag(scale) W, b' = b - mean' W'. */
  exportLinear(): { weight: Float32Array; bias: Float32Array; d: number; K: number } {
    const { weight, bias } = this.folded();
    return { weight: Float32Array.from(weight), bias: Float32Array.from(bias), d: this.d, K: this.numClasses };
  }
}

/**
 * Whitening pays when its one-off cost (the covariance of the m search rows, m d^2 multiply-adds on
 * onnxruntime at ~25 G/s, and the inverse Cholesky factor: 2d^3/3 in JS at ~1.5 G/s, d^3/6 from d = 256 on
 * where the products move to onnxruntime) is below the ~150 objective evaluations it typically saves (each
 * ~0.5 ms + 4ndK multiply-adds). Measured at hidden 768: sst2 (2,000 rows, 2 classes) 190 -> 22 iterations,
 * 0.20 -> 0.15 s per fit; UPOS (33k rows, 17 classes) 180 -> 38 iterations from zero.
 */
export function whiteningPays(n: number, m: number, d: number, K: number): boolean {
  const factorSeconds = (m * d * d) / 2.5e10 + (d < 256 ? (2 * d ** 3) / 3 : d ** 3 / 6) / 1.5e9;
  const savedSeconds = 150 * (5e-4 + (4 * n * d * K) / 2.5e10);
  return factorSeconds < savedSeconds;
}

/** m of the n rows, chosen at random, kept in their original order; the rows are copied into `data`. */
function sampleRows(X: Matrix, y: Int32Array, m: number, rand: () => number, data: Float32Array): { X: Matrix; y: Int32Array } {
  const { rows: n, cols } = X;
  const keep = new Uint8Array(n);
  // Floyd's algorithm: m distinct indices in m draws
  for (let j = n - m; j < n; j++) {
    const t = Math.floor(rand() * (j + 1));
    keep[keep[t] ? j : t] = 1;
  }
  const ys = new Int32Array(m);
  for (let r = 0, o = 0; r < n; r++) {
    if (!keep[r]) continue;
    data.set(X.data.subarray(r * cols, (r + 1) * cols), o * cols);
    ys[o++] = y[r];
  }
  return { X: { data, rows: m, cols }, y: ys };
}
