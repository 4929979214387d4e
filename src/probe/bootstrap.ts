/**
 * Percentile bootstrap confidence intervals. Units (examples, or sentences for span F1) are resampled
 * with replacement B times; the score function gets the resampled unit indices.
 */
import { mulberry32 } from './random.js';

export interface Interval {
  score: number;
  lo: number;
  hi: number;
}

export function bootstrapCI(units: number, score: (idx: Int32Array) => number, opts: { B?: number; level?: number; seed?: number } = {}): Interval {
  const B = opts.B ?? 1000;
  const level = opts.level ?? 0.95;
  const rand = mulberry32(opts.seed ?? 0);
  const all = Int32Array.from({ length: units }, (_, i) => i);
  const full = score(all);
  const samples = new Float64Array(B);
  const idx = new Int32Array(units);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < units; i++) idx[i] = Math.floor(rand() * units);
    samples[b] = score(idx);
  }
  samples.sort();
  const q = (p: number) => samples[Math.min(B - 1, Math.max(0, Math.floor(p * B)))];
  return { score: full, lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}
