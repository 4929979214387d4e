/**
 * Least-squares / Huber curve fitting for small parametric laws: L-BFGS from a grid of starting points,
 * central-difference gradients (laws have a handful of parameters and data sets a few hundred points).
 */
import { lbfgs } from '../probe/lbfgs.js';
import { ProbescaleError } from '../util/errors.js';

export type Residuals = (params: Float64Array) => Float64Array;

export function huber(r: number, delta: number): number {
  const a = Math.abs(r);
  return a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
}

export interface FitResult {
  params: Float64Array;
  loss: number;
  /** index of the starting point that won */
  start: number;
}

/** Minimize sum(loss(residual_i)) over params, keeping the best of all starts. */
export async function fitResiduals(residuals: Residuals, starts: Float64Array[], opts: { huberDelta?: number; maxIter?: number } = {}): Promise<FitResult> {
  const lossOf = (p: Float64Array) => {
    const r = residuals(p);
    let s = 0;
    for (const v of r) s += opts.huberDelta ? huber(v, opts.huberDelta) : 0.5 * v * v;
    return Number.isFinite(s) ? s : 1e300;
  };
  let best: FitResult | undefined;
  for (const [i, x0] of starts.entries()) {
    const r = await lbfgs(
      (p, g) => {
        const f = lossOf(p);
        for (let j = 0; j < p.length; j++) {
          const h = 1e-6 * Math.max(1, Math.abs(p[j]));
          const q = Float64Array.from(p);
          q[j] = p[j] + h;
          const fp = lossOf(q);
          q[j] = p[j] - h;
          const fm = lossOf(q);
          g[j] = (fp - fm) / (2 * h);
        }
        return f;
      },
      x0,
      { maxIter: opts.maxIter ?? 500, gtol: 1e-9, ftol: 1e-14 },
    );
    if (!best || r.f < best.loss) best = { params: r.x, loss: r.f, start: i };
  }
  if (!best) throw new ProbescaleError('no starting points for the fit');
  return best;
}

/** Every combination of the given per-parameter starting values. */
export function grid(values: number[][]): Float64Array[] {
  return values.reduce<number[][]>((acc, vs) => acc.flatMap((a) => vs.map((v) => [...a, v])), [[]]).map((p) => Float64Array.from(p));
}

export function requirePoints(what: string, xs: number[][], min: number): void {
  if (xs.length < min) throw new ProbescaleError(`${what}: ${xs.length} data point(s), need at least ${min}`, { fix: 'add more runs (e.g. more budgets, sizes or token counts)' });
  xs.forEach((row, i) => {
    row.forEach((v) => {
      if (!(v > 0) || !Number.isFinite(v)) throw new ProbescaleError(`${what}: point ${i + 1} has a non-positive or non-finite value (${v}); every value must be > 0`);
    });
  });
}
