/** The one interface every probe shares (scikit-learn style). */
import type { Matrix } from '../features/matrix.js';
export type { Matrix };

export interface FitOptions {
  /** Held-out data used to choose the regularization strength (and to stop early). */
  dev?: { X: Matrix; y: Int32Array };
}

export interface Probe {
  readonly name: string;
  fit(X: Matrix, y: Int32Array, opts?: FitOptions): Promise<this>;
  /** rows x K class probabilities (or scores for the ridge classifier) */
  predictProba(X: Matrix): Float32Array;
  predict(X: Matrix): Int32Array;
  /** accuracy */
  score(X: Matrix, y: Int32Array): number;
}

export type ProbeFactory = (numClasses: number) => Probe;

export function argmaxRows(p: Float32Array, rows: number, K: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (p[r * K + k] > p[r * K + best]) best = k;
    out[r] = best;
  }
  return out;
}

export function accuracy(yTrue: Int32Array, yPred: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return yTrue.length ? ok / yTrue.length : 0;
}

/** Per-column mean and std from training rows; applied to any matrix. */
export class Standardizer {
  mean!: Float64Array;
  scale!: Float64Array;
  fit(X: Matrix): this {
    const { rows, cols, data } = X;
    const mean = new Float64Array(cols);
    const sq = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += data[r * cols + c];
    for (let c = 0; c < cols; c++) mean[c] /= rows || 1;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sq[c] += (data[r * cols + c] - mean[c]) ** 2;
    this.mean = mean;
    this.scale = sq.map((s) => 1 / (Math.sqrt(s / (rows || 1)) || 1));
    return this;
  }
  transform(X: Matrix): Matrix {
    const out = new Float32Array(X.data.length);
    const { cols } = X;
    for (let i = 0; i < out.length; i++) {
      const c = i % cols;
      out[i] = (X.data[i] - this.mean[c]) * this.scale[c];
    }
    return { data: out, rows: X.rows, cols };
  }
}
