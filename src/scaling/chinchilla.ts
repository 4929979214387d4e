/**
 * Loss scaling laws fitted as in Hoffmann et al. (2022), Approach 3: minimize the Huber loss (delta 1e-3)
 * between log L and the log of the law, parametrized as a log-sum-exp so every term stays positive,
 *   L(N, D) = E + A / N^alpha + B / D^beta,   log L = LSE(a - alpha ln N, b - beta ln D, e)
 * with L-BFGS from the best points of a grid of initialisations.
 *
 * Conditional extension (architecture terms, our parametrization in the spirit of Bian et al. 2025):
 *   log L = log L_chinchilla(N, D) + c_h (ln(h / (h0 N^rho)))^2 + c_r (ln(r / r0))^2 + c_g ln(g),   c_h, c_r >= 0
 * h: hidden size, whose best value grows as h0 * N^rho; r: MLP-to-attention parameter ratio, best at r0;
 * g: query heads per key/value head (1 = multi-head attention; > 1 = grouped-query attention).
 */
import { fitResiduals, grid, huber, requirePoints } from './fit.js';

export interface LossPoint {
  N: number;
  D: number;
  loss: number;
  hidden?: number;
  mlpAttnRatio?: number;
  groups?: number;
}

export interface ChinchillaParams {
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
}

export interface ConditionalParams extends ChinchillaParams {
  ch: number;
  h0: number;
  rho: number;
  cr: number;
  r0: number;
  cg: number;
}

const lse = (xs: number[]) => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};

function logChinchilla(p: Float64Array, N: number, D: number): number {
  const [a, b, e, alpha, beta] = p;
  return lse([a - alpha * Math.log(N), b - beta * Math.log(D), e]);
}

/** ch and cr enter squared: a penalty for leaving the optimum can never turn into a reward (a maximum). */
function logConditional(p: Float64Array, pt: LossPoint): number {
  const [, , , , , sh, lh0, rho, sr, lr0, cg] = p;
  let v = logChinchilla(p, pt.N, pt.D);
  if (pt.hidden) v += sh * sh * (Math.log(pt.hidden) - lh0 - rho * Math.log(pt.N)) ** 2;
  if (pt.mlpAttnRatio) v += sr * sr * (Math.log(pt.mlpAttnRatio) - lr0) ** 2;
  if (pt.groups) v += cg * Math.log(pt.groups);
  return v;
}

const DELTA = 1e-3;

/** The best `keep` grid points by objective value become L-BFGS starts. */
function bestStarts(starts: Float64Array[], objective: (p: Float64Array) => number, keep: number): Float64Array[] {
  return starts
    .map((p) => ({ p, f: objective(p) }))
    .sort((x, y) => x.f - y.f)
    .slice(0, keep)
    .map((s) => s.p);
}

export async function fitChinchilla(points: LossPoint[]): Promise<{ params: ChinchillaParams; loss: number }> {
  requirePoints('Chinchilla fit', points.map((p) => [p.N, p.D, p.loss]), 6);
  const residuals = (p: Float64Array) => Float64Array.from(points, (pt) => logChinchilla(p, pt.N, pt.D) - Math.log(pt.loss));
  const objective = (p: Float64Array) => residuals(p).reduce((s, r) => s + huber(r, DELTA), 0);
  const starts = grid([[0, 5, 10, 15, 20, 25], [0, 5, 10, 15, 20, 25], [-1, -0.5, 0, 0.5, 1, 1.5], [0, 0.5, 1, 1.5, 2], [0, 0.5, 1, 1.5, 2]]);
  const fit = await fitResiduals(residuals, bestStarts(starts, objective, 12), { huberDelta: DELTA });
  const [a, b, e, alpha, beta] = fit.params;
  return { params: { A: Math.exp(a), B: Math.exp(b), E: Math.exp(e), alpha, beta }, loss: fit.loss };
}

/** `init`: start L-BFGS from these parameters only (validation splits warm-started from the full fit). */
export async function fitConditional(points: LossPoint[], opts: { init?: ConditionalParams } = {}): Promise<{ params: ConditionalParams; loss: number }> {
  requirePoints('conditional scaling-law fit', points.map((p) => [p.N, p.D, p.loss, p.hidden ?? 1, p.mlpAttnRatio ?? 1, p.groups ?? 1]), 12);
  const residuals = (p: Float64Array) => Float64Array.from(points, (pt) => logConditional(p, pt) - Math.log(pt.loss));
  const objective = (p: Float64Array) => residuals(p).reduce((s, r) => s + huber(r, DELTA), 0);
  let starts: Float64Array[];
  if (opts.init) {
    const q = opts.init;
    // sqrt of the penalties, nudged off 0 where the squared parametrization has no gradient
    starts = [Float64Array.from([Math.log(q.A), Math.log(q.B), Math.log(q.E), q.alpha, q.beta, Math.max(Math.sqrt(q.ch), 1e-3), Math.log(q.h0), q.rho, Math.max(Math.sqrt(q.cr), 1e-3), Math.log(q.r0), q.cg])];
  } else {
    const b0 = (await fitChinchilla(points)).params;
    const chin = [Math.log(b0.A), Math.log(b0.B), Math.log(b0.E), b0.alpha, b0.beta];
    // sqrt(ch), sqrt(cr) start away from 0, where the squared parametrization has no gradient
    starts = bestStarts(grid([[0.03, 0.1, 0.22], [Math.log(1), Math.log(10)], [0, 0.25, 0.5], [0.03, 0.1, 0.22], [0, Math.log(2), Math.log(4)], [0, 0.01]]).map((arch) => Float64Array.from([...chin, ...arch])), objective, 8);
  }
  const fit = await fitResiduals(residuals, starts, { huberDelta: DELTA, maxIter: 1000 });
  const p = fit.params;
  return {
    params: { A: Math.exp(p[0]), B: Math.exp(p[1]), E: Math.exp(p[2]), alpha: p[3], beta: p[4], ch: p[5] * p[5], h0: Math.exp(p[6]), rho: p[7], cr: p[8] * p[8], r0: Math.exp(p[9]), cg: p[10] },
    loss: fit.loss,
  };
}

export function chinchillaLoss(p: ChinchillaParams, N: number, D: number): number {
  return p.E + p.A / Math.pow(N, p.alpha) + p.B / Math.pow(D, p.beta);
}

export function conditionalLoss(p: ConditionalParams, pt: Omit<LossPoint, 'loss'>): number {
  let v = Math.log(chinchillaLoss(p, pt.N, pt.D));
  if (pt.hidden) v += p.ch * (Math.log(pt.hidden) - Math.log(p.h0) - p.rho * Math.log(pt.N)) ** 2;
  if (pt.mlpAttnRatio) v += p.cr * (Math.log(pt.mlpAttnRatio) - Math.log(p.r0)) ** 2;
  if (pt.groups) v += p.cg * Math.log(pt.groups);
  return Math.exp(v);
}
