/**
 * L-BFGS (Nocedal & Wright, Alg. 7.4/7.5) with a line search that satisfies the strong Wolfe conditions
 * (Alg. 3.5 with zoom, cubic interpolation). Optimizer state in Float64.
 */
/** Returns f(x) and writes the gradient into `grad`; may be async (onnxruntime-backed objectives are). */
export type Objective = (x: Float64Array, grad: Float64Array) => number | Promise<number>;

export interface LbfgsOptions {
  maxIter?: number;
  memory?: number;
  /** stop when max |grad| <= gtol * max(1, |f|) (scikit-learn's lbfgs uses a projected-gradient test like this) */
  gtol?: number;
  /** the size of a gradient for the gtol test (default max |g_i|); lets a reparametrized problem be stopped by
   * the gradient in its original coordinates */
  gradMax?: (g: Float64Array) => number;
  /** stop when the relative decrease of f is below ftol */
  ftol?: number;
  /** curvature pairs (s, y) to start from instead of an empty memory, e.g. those of a solve of a similar
   * problem (the same objective on a subset of the rows) */
  curvature?: Curvature;
}

/** L-BFGS memory: steps s_k and gradient changes y_k, oldest first */
export interface Curvature {
  S: Float64Array[];
  Y: Float64Array[];
}

export interface LbfgsResult {
  x: Float64Array<ArrayBuffer>;
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  /** the memory at the end, for a following solve of a similar problem */
  curvature: Curvature;
}

/** max |g_i|: the default size of a gradient for the stopping test */
export function maxAbs(g: Float64Array): number {
  let m = 0;
  for (let i = 0; i < g.length; i++) m = Math.max(m, Math.abs(g[i]));
  return m;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** y += a x */
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
}

export async function lbfgs(f: Objective, x0: Float64Array, opts: LbfgsOptions = {}): Promise<LbfgsResult> {
  const n = x0.length;
  const m = opts.memory ?? 10;
  const maxIter = opts.maxIter ?? 200;
  const gtol = opts.gtol ?? 1e-5;
  const ftol = opts.ftol ?? 1e-10;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = await f(x, g);
  let evaluations = 1;
  const S: Float64Array[] = [...(opts.curvature?.S ?? [])].slice(-m);
  const Y: Float64Array[] = [...(opts.curvature?.Y ?? [])].slice(-m);
  const rho: number[] = S.map((s, k) => 1 / dot(s, Y[k]));
  const d = new Float64Array(n);
  const alpha = new Float64Array(m);
  let converged = false;
  let iter = 0;
  for (; iter < maxIter; iter++) {
    const gmax = opts.gradMax ? opts.gradMax(g) : maxAbs(g);
    if (gmax <= gtol * Math.max(1, Math.abs(fx))) {
      converged = true;
      break;
    }
    // two-loop recursion: d = -H g (the memory's arrays hoisted into locals: indexing S[k][i] inside the
    // loops made this JS ~3x slower, ~1.5 ms per iteration at 13k parameters)
    for (let i = 0; i < n; i++) d[i] = -g[i];
    for (let k = S.length - 1; k >= 0; k--) {
      const a = (alpha[k] = rho[k] * dot(S[k], d));
      axpy(-a, Y[k], d);
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = 1 / (rho[last] * dot(Y[last], Y[last]));
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let k = 0; k < S.length; k++) axpy(alpha[k] - rho[k] * dot(Y[k], d), S[k], d);
    let dg = dot(d, g);
    if (!(dg < 0)) {
      // not a descent direction (numerical trouble): restart from steepest descent
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dg = dot(d, g);
    }
    const step0 = S.length ? 1 : Math.min(1, 1 / Math.sqrt(dot(g, g)));
    const ls = await wolfeSearch(f, x, fx, g, d, dg, step0);
    evaluations += ls.evaluations;
    if (!ls.ok) break;
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = ls.x[i] - x[i];
      y[i] = ls.g[i] - g[i];
    }
    const sy = dot(s, y);
    const fPrev = fx;
    x = ls.x;
    g = ls.g;
    fx = ls.f;
    if (sy > 1e-12) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    if ((fPrev - fx) / Math.max(Math.abs(fPrev), Math.abs(fx), 1) <= ftol) {
      converged = true;
      iter++;
      break;
    }
  }
  return { x, f: fx, iterations: iter, evaluations, converged, curvature: { S, Y } };
}

async function wolfeSearch(f: Objective, x: Float64Array<ArrayBuffer>, fx: number, g: Float64Array<ArrayBuffer>, d: Float64Array, dg0: number, step0: number) {
  const c1 = 1e-4;
  const c2 = 0.9;
  const n = x.length;
  let evaluations = 0;
  const eval_ = async (t: number) => {
    const xt = new Float64Array(n);
    for (let i = 0; i < n; i++) xt[i] = x[i] + t * d[i];
    const gt = new Float64Array(n);
    const ft = await f(xt, gt);
    evaluations++;
    return { t, x: xt, g: gt, f: ft, dg: dot(gt, d) };
  };
  type Pt = Awaited<ReturnType<typeof eval_>>;
  const zoom = async (lo: Pt, hi: Pt): Promise<Pt> => {
    for (let k = 0; k < 30; k++) {
      // cubic interpolation, safeguarded to the middle of the interval
      const d1 = lo.dg + hi.dg - (3 * (lo.f - hi.f)) / (lo.t - hi.t);
      const d2sq = d1 * d1 - lo.dg * hi.dg;
      let t = (lo.t + hi.t) / 2;
      if (d2sq >= 0) {
        const d2 = Math.sign(hi.t - lo.t) * Math.sqrt(d2sq);
        const cand = hi.t - (hi.t - lo.t) * ((hi.dg + d2 - d1) / (hi.dg - lo.dg + 2 * d2));
        const a = Math.min(lo.t, hi.t);
        const b = Math.max(lo.t, hi.t);
        if (Number.isFinite(cand) && cand > a + 0.1 * (b - a) && cand < b - 0.1 * (b - a)) t = cand;
      }
      const p = await eval_(t);
      if (p.f > fx + c1 * t * dg0 || p.f >= lo.f) hi = p;
      else {
        if (Math.abs(p.dg) <= -c2 * dg0) return p;
        if (p.dg * (hi.t - lo.t) >= 0) hi = lo;
        lo = p;
      }
      if (Math.abs(hi.t - lo.t) < 1e-16) return lo;
    }
    return lo;
  };
  let prev: Pt = { t: 0, x, g, f: fx, dg: dg0 };
  let t = step0;
  for (let i = 0; i < 25; i++) {
    const p = await eval_(t);
    if (!Number.isFinite(p.f)) {
      t /= 10;
      continue;
    }
    if (p.f > fx + c1 * t * dg0 || (i > 0 && p.f >= prev.f)) return { ok: true, ...(await zoom(prev, p)), evaluations };
    if (Math.abs(p.dg) <= -c2 * dg0) return { ok: true, ...p, evaluations };
    if (p.dg >= 0) return { ok: true, ...(await zoom(p, prev)), evaluations };
    prev = p;
    t *= 2;
  }
  return { ok: prev.t > 0, ...prev, evaluations };
}
