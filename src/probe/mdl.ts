/**
 * Minimum description length, online code (Voita & Titov 2020). The training examples are split at
 * fractions 0.1%, 0.2%, 0.4%, ..., 100%; the first block is sent with a uniform code (log2 K bits each),
 * each later block with a probe trained on all earlier blocks (-log2 p(y) bits each). A representation
 * from which labels are easy to learn compresses them better than the uniform code.
 */
import type { FitOptions, Matrix, ProbeFactory } from './types.js';

export const MDL_FRACTIONS = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1];

export interface MdlResult {
  onlineBits: number;
  uniformBits: number;
  /** uniformBits / onlineBits: > 1 means the representation makes the labels compressible */
  compression: number;
  blocks: { end: number; bits: number }[];
}

function rowsOf(X: Matrix, start: number, end: number): Matrix {
  return { data: X.data.subarray(start * X.cols, end * X.cols), rows: end - start, cols: X.cols };
}

/** X and y must already be in a random order (the caller shuffles with its seed). `fitOptions` go to every
 * block's fit (e.g. a task's session pool, whose per-block-size sessions then serve all its layers). */
export async function mdlOnlineCode(X: Matrix, y: Int32Array, K: number, factory: ProbeFactory, fractions = MDL_FRACTIONS, fitOptions: FitOptions = {}): Promise<MdlResult> {
  const n = X.rows;
  const ends = [...new Set(fractions.map((f) => Math.max(1, Math.min(n, Math.round(f * n)))))].sort((a, b) => a - b);
  const uniformBits = n * Math.log2(K);
  let online = ends[0] * Math.log2(K);
  const blocks = [{ end: ends[0], bits: online }];
  for (let b = 1; b < ends.length; b++) {
    const start = ends[b - 1];
    const end = ends[b];
    const probe = await factory(K).fit(rowsOf(X, 0, start), y.subarray(0, start), fitOptions);
    const p = probe.predictProba(rowsOf(X, start, end));
    let bits = 0;
    for (let i = start; i < end; i++) bits -= Math.log2(Math.max(p[(i - start) * K + y[i]], 1e-12));
    online += bits;
    blocks.push({ end, bits });
  }
  return { onlineBits: online, uniformBits, compression: uniformBits / online, blocks };
}
