/**
 * The ProbeScale law across model sizes: gain retention G of the subset ProbeScale keeps, as a function of
 * the model's size N (non-embedding parameters: the sum of its layers' parameters) and the kept fraction k of
 * those layer parameters:
 *
 *   G(k, N) = 1 - (1 - k)^e(N),   e(N) = exp(a) * (N / 1e6)^b
 *
 * G(0) = 0 (embeddings only) and G(1) = 1 (the full model) hold by construction, as they do by the definition
 * of gain retention; e > 1 means few layers keep most of what the layers add (concave in k), and b > 0 means
 * a larger model keeps more of it at the same kept fraction. Fitted by least squares (scaling/fit.ts) and
 * validated leave-one-model-out: fit on every other model, predict the held-out one's points.
 */
import { fitResiduals, grid } from './fit.js';
import { ProbescaleError } from '../util/errors.js';

/** One measured point: a model of N non-embedding parameters keeping fraction k of them, gain retention g. */
export interface LawPoint {
  model: string;
  N: number;
  k: number;
  g: number;
}

export interface LawParams {
  a: number;
  b: number;
}

export const LAW_FORMULA = 'G(k, N) = 1 - (1 - k)^(exp(a) * (N / 1e6)^b), N = non-embedding (layer) parameters, k = kept fraction of them';
const N0 = 1e6;

export function lawExponent(p: LawParams, N: number): number {
  return Math.exp(p.a) * (N / N0) ** p.b;
}

export function predictGain(p: LawParams, k: number, N: number): number {
  return 1 - Math.max(0, 1 - k) ** lawExponent(p, N);
}

export interface LawFit extends LawParams {
  /** root mean square residual on the fitted points (gain retention, 1 = 100 points) */
  rmse: number;
  points: number;
  /** distinct model sizes in the fit: with one, b is not determined by the data (it stays at its start) */
  sizes: number;
}

function check(points: LawPoint[], what: string): void {
  if (points.length < 2) throw new ProbescaleError(`${what}: ${points.length} point(s) with a defined gain retention, need at least 2`, { fix: 'add budgets or models whose layers add something measurable over the embeddings' });
  for (const p of points) {
    if (!(p.N > 0) || !(p.k > 0 && p.k <= 1) || !Number.isFinite(p.g)) throw new ProbescaleError(`${what}: bad point for ${p.model} (N ${p.N}, k ${p.k}, gain ${p.g}): need N > 0, 0 < k <= 1, a finite gain`);
  }
}

/**
 * Least-squares fit of (a, b). `sizeFree`: b fixed at 0 (one exponent for every size), the reference a
 * size-dependent law has to beat held out.
 */
export async function fitProbeScaleLaw(points: LawPoint[], opts: { sizeFree?: boolean } = {}): Promise<LawFit> {
  check(points, 'ProbeScale law');
  const sizes = new Set(points.map((p) => p.N)).size;
  const fixB = opts.sizeFree || sizes < 2;
  const residuals = (x: Float64Array) => Float64Array.from(points, (p) => predictGain({ a: x[0], b: fixB ? 0 : x[1] }, p.k, p.N) - p.g);
  const starts = fixB ? grid([[-2, -1, 0, 1, 2, 3]]) : grid([[-2, -1, 0, 1, 2, 3], [-1, -0.3, 0, 0.3, 1]]);
  const r = await fitResiduals(residuals, starts);
  const a = r.params[0];
  const b = fixB ? 0 : r.params[1];
  const res = residuals(fixB ? Float64Array.of(a) : Float64Array.of(a, b));
  return { a, b, rmse: Math.sqrt(res.reduce((s, v) => s + v * v, 0) / res.length), points: points.length, sizes };
}

export interface HeldOutError {
  model: string;
  N: number;
  points: number;
  /** root mean square and mean absolute error of the law fitted without this model, on its points */
  rmse: number;
  mae: number;
  /** the same for the size-free law (b = 0) fitted without this model */
  sizeFreeRmse: number;
  fit: LawParams;
}

/** Leave-one-model-out: one error per model that has points, each from a fit on the other models' points. */
export async function leaveOneModelOut(points: LawPoint[]): Promise<HeldOutError[]> {
  check(points, 'leave-one-model-out');
  const models = [...new Set(points.map((p) => p.model))];
  if (models.length < 2) throw new ProbescaleError(`leave-one-model-out: points from ${models.length} model(s), need at least 2`, { fix: 'add models with a defined gain retention' });
  const out: HeldOutError[] = [];
  for (const m of models) {
    const train = points.filter((p) => p.model !== m);
    const test = points.filter((p) => p.model === m);
    if (train.length < 2) continue;
    const fit = await fitProbeScaleLaw(train);
    const free = await fitProbeScaleLaw(train, { sizeFree: true });
    const err = test.map((p) => predictGain(fit, p.k, p.N) - p.g);
    const errFree = test.map((p) => predictGain(free, p.k, p.N) - p.g);
    const rms = (e: number[]) => Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);
    out.push({ model: m, N: test[0].N, points: test.length, rmse: rms(err), mae: err.reduce((s, v) => s + Math.abs(v), 0) / err.length, sizeFreeRmse: rms(errFree), fit: { a: fit.a, b: fit.b } });
  }
  return out;
}

/** The law's prediction for a model of N layer parameters over k in [0, 1] (the report's curves). */
export function lawCurve(p: LawParams, N: number, steps = 40): { k: number; g: number }[] {
  return Array.from({ length: steps + 1 }, (_, i) => ({ k: i / steps, g: predictGain(p, i / steps, N) }));
}
