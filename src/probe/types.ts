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
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) mean[c] += data[o + c];
    }
    for (let c = 0; c < cols; c++) mean[c] /= rows || 1;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) {
        const v = data[o + c] - mean[c];
        sq[c] += v * v;
      }
    }
    this.mean = mean;
    this.scale = sq.map((s) => 1 / (Math.sqrt(s / (rows || 1)) || 1));
    return this;
  }
  transform(X: Matrix): Matrix {
    const { rows, cols, data } = X;
    const out = new Float32Array(data.length);
    // float32 copies: V8 runs this loop ~5x faster than with Float64Array operands (measured, 20,000 x 256)
    const mean = Float32Array.from(this.mean);
    const scale = Float32Array.from(this.scale);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) out[o + c] = (data[o + c] - mean[c]) * scale[c];
    }
    return { data: out, rows, cols };
  }
}
