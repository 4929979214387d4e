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
  return { score: full, ...percentileInterval(samples, level) };
}

/** Percentile interval of bootstrap samples (sorts them in place). */
function percentileInterval(samples: Float64Array, level: number): { lo: number; hi: number } {
  const B = samples.length;
  samples.sort();
  const q = (p: number) => samples[Math.min(B - 1, Math.max(0, Math.floor(p * B)))];
  return { lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}

/** One task of a paired comparison: both systems' scores on the same resampled test units. */
export interface PairedTask {
  units: number;
  weight: number;
  scoreA: (idx: Int32Array) => number;
  scoreB: (idx: Int32Array) => number;
}

/**
 * Paired percentile bootstrap of a weighted difference sum_t w_t (A_t - B_t) over tasks with separate test
 * sets: each task's units are resampled on their own, and both systems are scored on the same resample, so
 * the interval reflects the difference (not two overlapping marginal intervals). `above`: the share of
 * resamples with a positive difference.
 */
export function pairedBootstrapDiff(tasks: PairedTask[], opts: { B?: number; level?: number; seed?: number } = {}): Interval & { above: number } {
  const B = opts.B ?? 1000;
  const level = opts.level ?? 0.95;
  const rand = mulberry32(opts.seed ?? 0);
  const diff = (idx: Int32Array[]) => tasks.reduce((s, t, i) => s + t.weight * (t.scoreA(idx[i]) - t.scoreB(idx[i])), 0);
  const full = diff(tasks.map((t) => Int32Array.from({ length: t.units }, (_, i) => i)));
  const idx = tasks.map((t) => new Int32Array(t.units));
  const samples = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    tasks.forEach((t, i) => {
      for (let u = 0; u < t.units; u++) idx[i][u] = Math.floor(rand() * t.units);
    });
    samples[b] = diff(idx);
  }
  const above = samples.reduce((n, v) => n + (v > 0 ? 1 : 0), 0) / B;
  return { score: full, ...percentileInterval(samples, level), above };
}

/** One task of a joint bootstrap: several systems' scores on the same resampled units. */
export interface JointTask {
  units: number;
  scorers: ((idx: Int32Array) => number)[];
}

/**
 * Percentile bootstrap of any statistic of several systems' per-task scores, all scored on the same
 * resampled units of each task (e.g. a subset's retention against the full model and the embeddings, whose
 * scores move together on a resample). `stat(s)` gets s[task][system]; resamples where it is NaN are skipped.
 */
export function jointBootstrap(tasks: JointTask[], stat: (scores: number[][]) => number, opts: { B?: number; level?: number; seed?: number } = {}): Interval {
  const B = opts.B ?? 1000;
  const level = opts.level ?? 0.95;
  const rand = mulberry32(opts.seed ?? 0);
  const of = (idx: Int32Array[]) => stat(tasks.map((t, i) => t.scorers.map((f) => f(idx[i]))));
  const full = of(tasks.map((t) => Int32Array.from({ length: t.units }, (_, i) => i)));
  const idx = tasks.map((t) => new Int32Array(t.units));
  const samples: number[] = [];
  for (let b = 0; b < B; b++) {
    tasks.forEach((t, i) => {
      for (let u = 0; u < t.units; u++) idx[i][u] = Math.floor(rand() * t.units);
    });
    const v = of(idx);
    if (!Number.isNaN(v)) samples.push(v);
  }
  if (samples.length === 0) return { score: full, lo: NaN, hi: NaN };
  return { score: full, ...percentileInterval(Float64Array.from(samples), level) };
}
