/**
 * The conditional scaling law of Bian, Yu, Venkataraman and Park ("Scaling Laws Meet Model Architecture:
 * Toward Inference-Efficient LLMs", arXiv 2510.18245), as we read the paper:
 *   stage 1, Chinchilla:   L_c(N, D) = E + A / N^alpha + B / D^beta   (fitted as in chinchilla.ts)
 *   stage 2, calibration:  L(N, D, d, r) = L_c(N, D) * f(d / sqrt(N)) * g(r)
 *     f(x) = a0 + a1 ln x + a2 / x        (hidden size d relative to the square root of the model size)
 *     g(r) = b0 + b1 ln r + b2 / r        (MLP-to-attention parameter ratio of a layer)
 * Each factor is U-shaped when its log and inverse coefficients are positive, with its minimum at
 * x* = a2 / a1 and r* = b2 / b1. The factors are separable (a product), so the law only fixes f * g:
 * we set b0 = 1 (the scale of the product is carried by f). Grouped-query attention is not in the law;
 * the paper handles it by a local search on measured throughput (see searchArchitecture in bian-search.ts).
 * Stage 2 is plain least squares on the normalized loss L / L_c with stage 1 held fixed; for fixed (b1, b2)
 * the a's are linear, so they are solved exactly inside an L-BFGS search over (b1, b2) from a grid of starts.
 * N = non-embedding parameters throughout.
 */
import { chinchillaLoss, conditionalLoss, fitChinchilla, fitConditional, type ChinchillaParams, type ConditionalParams, type LossPoint } from './chinchilla.js';
import { fitResiduals, grid, requirePoints } from './fit.js';
import { ProbescaleError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';

export interface BianParams {
  chinchilla: ChinchillaParams;
  /** f(x) = a0 + a1 ln x + a2 / x, x = hidden / sqrt(N) */
  a: [number, number, number];
  /** g(r) = b0 + b1 ln r + b2 / r */
  b: [number, number, number];
}

export interface BianPoint {
  N: number;
  D: number;
  hidden: number;
  mlpAttnRatio: number;
}

export const hiddenFactor = (a: BianParams['a'], x: number) => a[0] + a[1] * Math.log(x) + a[2] / x;
export const ratioFactor = (b: BianParams['b'], r: number) => b[0] + b[1] * Math.log(r) + b[2] / r;

export function bianLoss(p: BianParams, pt: BianPoint): number {
  return chinchillaLoss(p.chinchilla, pt.N, pt.D) * hiddenFactor(p.a, pt.hidden / Math.sqrt(pt.N)) * ratioFactor(p.b, pt.mlpAttnRatio);
}

/** Minima of the two factors (NaN when a factor is not U-shaped: a log or inverse coefficient <= 0). */
export function bianOptimum(p: BianParams): { x: number; r: number } {
  return { x: p.a[1] > 0 && p.a[2] > 0 ? p.a[2] / p.a[1] : NaN, r: p.b[1] > 0 && p.b[2] > 0 ? p.b[2] / p.b[1] : NaN };
}

function solve3(m: number[][], v: number[]): number[] | undefined {
  const det = (a: number[][]) => a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  const d = det(m);
  if (!Number.isFinite(d) || Math.abs(d) < 1e-300) return undefined;
  return [0, 1, 2].map((k) => det(m.map((row, i) => row.map((x, j) => (j === k ? v[i] : x)))) / d);
}

/** Stage 2 given stage 1: normalized losses y = L / L_c; for fixed b the a's are a linear least-squares fit. */
export async function fitCalibration(points: (BianPoint & { loss: number })[], chinchilla: ChinchillaParams): Promise<{ a: BianParams['a']; b: BianParams['b']; sse: number }> {
  const rows = points.map((p) => ({ y: p.loss / chinchillaLoss(chinchilla, p.N, p.D), x: p.hidden / Math.sqrt(p.N), r: p.mlpAttnRatio }));
  const innerA = (b1: number, b2: number) => {
    // y ~ g * (a0 + a1 ln x + a2 / x): columns g, g ln x, g / x
    const M = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    const v = [0, 0, 0];
    for (const { y, x, r } of rows) {
      const g = 1 + b1 * Math.log(r) + b2 / r;
      const c = [g, g * Math.log(x), g / x];
      for (let i = 0; i < 3; i++) {
        v[i] += c[i] * y;
        for (let j = 0; j < 3; j++) M[i][j] += c[i] * c[j];
      }
    }
    // a tiny ridge keeps a grid with one hidden-size level (collinear columns) solvable
    const tr = (M[0][0] + M[1][1] + M[2][2]) / 3;
    for (let i = 0; i < 3; i++) M[i][i] += 1e-10 * tr;
    return solve3(M, v) ?? [1, 0, 0];
  };
  const residuals = (q: Float64Array) => {
    const a = innerA(q[0], q[1]);
    return Float64Array.from(rows, ({ y, x, r }) => (1 + q[0] * Math.log(r) + q[1] / r) * (a[0] + a[1] * Math.log(x) + a[2] / x) - y);
  };
  const fit = await fitResiduals(residuals, grid([[-0.05, 0, 0.02, 0.1], [-0.05, 0, 0.02, 0.1]]), { maxIter: 300 });
  const [b1, b2] = fit.params;
  const a = innerA(b1, b2) as [number, number, number];
  return { a, b: [1, b1, b2], sse: 2 * fit.loss };
}

export async function fitBian(points: (BianPoint & { loss: number })[]): Promise<BianParams> {
  requirePoints('Bian et al. conditional-law fit', points.map((p) => [p.N, p.D, p.loss, p.hidden, p.mlpAttnRatio]), 8);
  const chinchilla = (await fitChinchilla(points)).params;
  const { a, b } = await fitCalibration(points, chinchilla);
  return { chinchilla, a, b };
}

/** A training run's measured points, grouped by configuration (all seeds of one shape). */
export interface ConfigPoints {
  key: string;
  points: (LossPoint & BianPoint)[];
}

export type LawName = 'chinchilla' | 'bian' | 'ours';
export const LAWS: LawName[] = ['chinchilla', 'bian', 'ours'];

/** Per law: mean |predicted - measured| / measured over the held-out points of each split; mean and spread over splits. */
export type LawErrors = Partial<Record<LawName, ErrorStat>>;

export interface ErrorStat {
  mean: number;
  /** standard deviation over splits */
  sd: number;
  /** standard error of the mean over splits */
  se: number;
  splits: number[];
}

const stat = (xs: number[]): ErrorStat => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean: m, sd, se: sd / Math.sqrt(xs.length), splits: xs };
};

export interface FittedLaws {
  chinchilla: ChinchillaParams;
  bian: BianParams;
  ours: ConditionalParams;
}

/** Chinchilla is the paper law's stage 1; `ours` (chinchilla.ts's conditional law) is the slow one to fit. */
export async function fitAllLaws(points: (LossPoint & BianPoint)[], laws: LawName[] = LAWS, oursInit?: ConditionalParams): Promise<Partial<FittedLaws> & { chinchilla: ChinchillaParams; bian: BianParams }> {
  const bian = await fitBian(points);
  const ours = laws.includes('ours') ? (await fitConditional(points, { init: oursInit })).params : undefined;
  return { chinchilla: bian.chinchilla, bian, ours };
}

export function predict(laws: Partial<FittedLaws>, law: LawName, p: LossPoint & BianPoint): number {
  if (law === 'chinchilla') return chinchillaLoss(laws.chinchilla!, p.N, p.D);
  if (law === 'bian') return bianLoss(laws.bian!, p);
  return conditionalLoss(laws.ours!, p);
}

async function splitErrors(configs: ConfigPoints[], splits: Set<string>[], laws: LawName[], log?: (l: string) => void): Promise<LawErrors> {
  const per = Object.fromEntries(laws.map((l) => [l, [] as number[]])) as Record<LawName, number[]>;
  // our 11-parameter law is slow to fit from its grid of starts (~15 s): each split starts from the full fit
  const oursInit = laws.includes('ours') ? (await fitConditional(configs.flatMap((c) => c.points))).params : undefined;
  for (const [i, held] of splits.entries()) {
    const train = configs.filter((c) => !held.has(c.key)).flatMap((c) => c.points);
    const test = configs.filter((c) => held.has(c.key)).flatMap((c) => c.points);
    const fitted = await fitAllLaws(train, laws, oursInit);
    for (const l of laws) per[l].push(test.reduce((a, p) => a + Math.abs(predict(fitted, l, p) - p.loss) / p.loss, 0) / test.length);
    log?.(`split ${i + 1}/${splits.length}: ${laws.map((l) => `${l} ${(per[l].at(-1)! * 100).toFixed(2)}%`).join(', ')}`);
  }
  return Object.fromEntries(laws.map((l) => [l, stat(per[l])]));
}

/** `repeats` random splits holding out `fraction` of the configurations (all their seeds and token counts). */
export function randomHoldOut(configs: ConfigPoints[], repeats: number, fraction: number, opts: { seed?: number; laws?: LawName[]; log?: (l: string) => void } = {}): Promise<LawErrors> {
  const k = Math.max(1, Math.round(configs.length * fraction));
  if (configs.length - k < 4) throw new ProbescaleError(`${configs.length} configurations: too few to hold ${k} out and still fit`, { fix: 'run more of the grid first' });
  const rand = mulberry32(opts.seed ?? 1);
  const splits = Array.from({ length: repeats }, () => {
    const keys = configs.map((c) => c.key);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [keys[i], keys[j]] = [keys[j], keys[i]];
    }
    return new Set(keys.slice(0, k));
  });
  return splitErrors(configs, splits, opts.laws ?? LAWS, opts.log);
}

/** Leave one configuration out: each configuration predicted from a fit on all the others. */
export function leaveOneConfigOut(configs: ConfigPoints[], opts: { laws?: LawName[]; log?: (l: string) => void } = {}): Promise<LawErrors> {
  if (configs.length < 5) throw new ProbescaleError(`${configs.length} configurations: too few to leave one out`, { fix: 'run more of the grid first' });
  return splitErrors(configs, configs.map((c) => new Set([c.key])), opts.laws ?? LAWS, opts.log);
}
