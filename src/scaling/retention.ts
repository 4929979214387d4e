/**
 * Retention against kept size, x = kept parameters (or FLOPs) / full model's, in (0, 1]. Two forms:
 *   power:    r(x) = 1 - a * (x^-b - 1)                          (saturating power law, r(1) = 1)
 *   logistic: r(x) = lo + (1 - lo) / (1 + exp(-k (ln x - m)))   (logistic in log-size)
 * The form is chosen by leave-one-budget-out error; bootstrap over points gives parameter CIs; the
 * smallest size reaching a target retention is found by bisection on the fitted curve.
 */
import { ProbescaleError } from '../util/errors.js';
import { mulberry32 } from '../probe/random.js';
import { fitResiduals, grid, requirePoints } from './fit.js';

export type RetentionForm = 'power' | 'logistic';

export const FORMS: Record<RetentionForm, { eval: (p: Float64Array, x: number) => number; starts: Float64Array[]; names: string[] }> = {
  power: {
    eval: (p, x) => 1 - Math.exp(p[0]) * (Math.pow(x, -Math.exp(p[1])) - 1),
    starts: grid([[Math.log(0.01), Math.log(0.1), Math.log(0.5)], [Math.log(0.3), Math.log(1), Math.log(3)]]),
    names: ['a', 'b'],
  },
  logistic: {
    eval: (p, x) => {
      const lo = 1 / (1 + Math.exp(-p[0]));
      return lo + (1 - lo) / (1 + Math.exp(-Math.exp(p[1]) * (Math.log(x) - p[2])));
    },
    starts: grid([[-2, 0, 1], [Math.log(1), Math.log(4)], [-2, -1, -0.3]]),
    names: ['lo', 'k', 'm'],
  },
};

/** Parameters in their natural scale (the optimizer works on logs/logits to keep them in range). */
function natural(form: RetentionForm, p: Float64Array): Record<string, number> {
  return form === 'power' ? { a: Math.exp(p[0]), b: Math.exp(p[1]) } : { lo: 1 / (1 + Math.exp(-p[0])), k: Math.exp(p[1]), m: p[2] };
}

export const MIN_BOOTSTRAP_POINTS = 6;

export interface RetentionFit {
  form: RetentionForm;
  params: Record<string, number>;
  raw: Float64Array;
  /** mean absolute leave-one-out error of each form */
  heldOutError: Record<RetentionForm, number>;
  ci?: Record<string, [number, number]>;
  points: { x: number; r: number }[];
}

async function fitForm(form: RetentionForm, pts: { x: number; r: number }[]) {
  const f = FORMS[form];
  return fitResiduals((p) => Float64Array.from(pts, ({ x, r }) => f.eval(p, x) - r), f.starts);
}

export async function fitRetention(points: { x: number; r: number }[], opts: { bootstrap?: number; seed?: number } = {}): Promise<RetentionFit> {
  // kept fractions must be positive; retention may be 0 or below (gain retention of the embeddings is 0)
  requirePoints('retention curve', points.map((p) => [p.x]), 3);
  points.forEach((p, i) => {
    if (!Number.isFinite(p.r)) throw new ProbescaleError(`retention curve: point ${i + 1} has a non-finite retention (${p.r})`);
  });
  if (points.some((p) => p.x > 1 + 1e-9)) throw new ProbescaleError('retention curve: kept fractions must be <= 1');
  const heldOutError = {} as Record<RetentionForm, number>;
  for (const form of Object.keys(FORMS) as RetentionForm[]) {
    let err = 0;
    for (let i = 0; i < points.length; i++) {
      const rest = points.filter((_, j) => j !== i);
      const fit = await fitForm(form, rest);
      err += Math.abs(FORMS[form].eval(fit.params, points[i].x) - points[i].r);
    }
    heldOutError[form] = err / points.length;
  }
  const form = (Object.keys(heldOutError) as RetentionForm[]).reduce((a, b) => (heldOutError[b] < heldOutError[a] ? b : a));
  const best = await fitForm(form, points);
  const result: RetentionFit = { form, params: natural(form, best.params), raw: best.params, heldOutError, points };
  // resampling 3-5 points mostly yields degenerate fits: bootstrap only from 6 points on
  const B = points.length >= MIN_BOOTSTRAP_POINTS ? opts.bootstrap ?? 0 : 0;
  if (B > 0) {
    const rand = mulberry32(opts.seed ?? 0);
    const samples: Record<string, number[]> = {};
    for (let b = 0; b < B; b++) {
      const resample = points.map(() => points[Math.floor(rand() * points.length)]);
      if (new Set(resample.map((p) => p.x)).size < FORMS[form].names.length) continue;
      const fit = await fitForm(form, resample);
      for (const [k, v] of Object.entries(natural(form, fit.params))) (samples[k] ??= []).push(v);
    }
    result.ci = Object.fromEntries(Object.entries(samples).map(([k, vs]) => {
      vs.sort((a, b) => a - b);
      return [k, [vs[Math.floor(0.025 * vs.length)], vs[Math.min(vs.length - 1, Math.floor(0.975 * vs.length))]]];
    }));
  }
  return result;
}

export function predictRetention(fit: RetentionFit, x: number): number {
  return FORMS[fit.form].eval(fit.raw, x);
}

/** Smallest kept fraction whose predicted retention reaches `target` (bisection; the curves are monotone). */
export function budgetForRetention(fit: RetentionFit, target: number): number {
  if (predictRetention(fit, 1) < target) throw new ProbescaleError(`the fitted curve never reaches retention ${target} (at the full size it predicts ${predictRetention(fit, 1).toFixed(3)})`);
  let lo = 1e-6;
  let hi = 1;
  if (predictRetention(fit, lo) >= target) return lo;
  for (let i = 0; i < 100; i++) {
    const mid = Math.sqrt(lo * hi);
    if (predictRetention(fit, mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}
