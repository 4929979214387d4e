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
 *
 * Two references. Gain against the final layer cannot be fitted where a task's best layer is early (deprel
 * on the small encoders: one or two kept layers keep 190-300% of what the final layer adds over the
 * embeddings, and the law is capped at 100%). So gain is also measured against the full model's best probed
 * layer, chosen on dev and scored on test ("gain vs best" = (s - e) / (b - e)), and per task the final-layer
 * gain splits exactly as
 *
 *   G_final = R * G_best,   R = (b - e) / (f - e)
 *
 * R needs only the full model's probes (no pruning), so it is measured, not fitted; the law above is fitted to
 * G_best, which a subset reaches by keeping the layers up to the best one, and the composed prediction
 * R * G_best(k, N) is validated leave-one-model-out on the measured G_final. With one law for every task the
 * weighted G_final of several tasks is the weighted mean of their R times G_best, so a model's R is the mean of
 * its tasks' R (task weights, over the tasks with a defined final-layer gain).
 *
 * Depth. A subset that keeps the layers up to a task's best state j of L reproduces that state, so G_best
 * saturates once k reaches about d = j / L, also measured on the full model. The depth variant counts k in the
 * layers up to the best one, G_best = G(min(1, k / d), N) per task (d = 1, the law above, where the final layer
 * is the best); both variants are fitted and validated, and the report says which held out better.
 *
 * A best reference is a number only when the best layer's 95% CI lies wholly above the embeddings' (the suite
 * table's test): gain vs best divides by best - embeddings, and a dev-chosen layer barely above the floor would
 * turn noise into large ratios. Where it is not but the final layer's gain is defined, the final layer stands in.
 */
import { fitResiduals, grid } from './fit.js';
import { ProbescaleError } from '../util/errors.js';

/** A task that a point's gain averages: its weight, the depth of its best layer (best state / layers; 1 = the
 * final layer) and R = (best - e) / (final - e) (on final-layer points). */
export interface PointTask {
  weight: number;
  depth: number;
  R?: number;
}

/** One measured point: a model of N non-embedding parameters keeping fraction k of them, gain retention g. */
export interface LawPoint {
  model: string;
  N: number;
  k: number;
  g: number;
  /** the tasks g averages over (the depth variant and the composed prediction need them) */
  tasks?: PointTask[];
}

export interface LawOptions {
  /** count k in the layers up to each task's best one: G(min(1, k / depth), N), averaged over the point's tasks */
  depth?: boolean;
  /** times each task's R: the composed prediction of the final-layer gain from the law on G_best */
  composed?: boolean;
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

/** The law's prediction for one point: plain G(k, N), or averaged over its tasks with depth and / or R. */
export function predictPoint(p: LawParams, pt: LawPoint, o: LawOptions = {}): number {
  if (!(o.depth || o.composed) || !pt.tasks?.length) return predictGain(p, pt.k, pt.N);
  let s = 0;
  let w = 0;
  for (const t of pt.tasks) {
    s += t.weight * (o.composed ? (t.R ?? Number.NaN) : 1) * predictGain(p, o.depth ? Math.min(1, pt.k / t.depth) : pt.k, pt.N);
    w += t.weight;
  }
  return w > 0 ? s / w : predictGain(p, pt.k, pt.N);
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
export async function fitProbeScaleLaw(points: LawPoint[], opts: { sizeFree?: boolean; depth?: boolean } = {}): Promise<LawFit> {
  check(points, 'ProbeScale law');
  const sizes = new Set(points.map((p) => p.N)).size;
  const fixB = opts.sizeFree || sizes < 2;
  const residuals = (x: Float64Array) => Float64Array.from(points, (p) => predictPoint({ a: x[0], b: fixB ? 0 : x[1] }, p, { depth: opts.depth }) - p.g);
  const starts = fixB ? grid([[-2, -1, 0, 1, 2, 3]]) : grid([[-2, -1, 0, 1, 2, 3], [-1, -0.3, 0, 0.3, 1]]);
  const r = await fitResiduals(residuals, starts);
  const a = r.params[0];
  const b = fixB ? 0 : r.params[1];
  const res = residuals(fixB ? Float64Array.of(a) : Float64Array.of(a, b));
  return { a, b, rmse: Math.sqrt(res.reduce((s, v) => s + v * v, 0) / res.length), points: points.length, sizes };
}

const rms = (e: number[]) => Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);

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
export async function leaveOneModelOut(points: LawPoint[], opts: { depth?: boolean } = {}): Promise<HeldOutError[]> {
  check(points, 'leave-one-model-out');
  const models = [...new Set(points.map((p) => p.model))];
  if (models.length < 2) throw new ProbescaleError(`leave-one-model-out: points from ${models.length} model(s), need at least 2`, { fix: 'add models with a defined gain retention' });
  const out: HeldOutError[] = [];
  for (const m of models) {
    const train = points.filter((p) => p.model !== m);
    const test = points.filter((p) => p.model === m);
    if (train.length < 2) continue;
    const fit = await fitProbeScaleLaw(train, opts);
    const free = await fitProbeScaleLaw(train, { ...opts, sizeFree: true });
    const err = test.map((p) => predictPoint(fit, p, opts) - p.g);
    const errFree = test.map((p) => predictPoint(free, p, opts) - p.g);
    out.push({ model: m, N: test[0].N, points: test.length, rmse: rms(err), mae: err.reduce((s, v) => s + Math.abs(v), 0) / err.length, sizeFreeRmse: rms(errFree), fit: { a: fit.a, b: fit.b } });
  }
  return out;
}

/** The law's prediction for a model of N layer parameters over k in [0, 1] (the report's curves). */
export function lawCurve(p: LawParams, N: number, steps = 40): { k: number; g: number }[] {
  return Array.from({ length: steps + 1 }, (_, i) => ({ k: i / steps, g: predictGain(p, i / steps, N) }));
}

/** One task's references on test, as the run reports them (report/results.ts TaskReferences, trimmed). */
export interface TaskReferencePoint {
  classes: number;
  /** the subnetwork that keeps no layer: gain's 0, and the upper end of its 95% CI */
  embeddings: number;
  embeddingsHi: number;
  /** the full model's final representation */
  final: number;
  /** why the final-layer gain is not a number (the run's gainUndefined.test), or undefined */
  finalUndefined?: string;
  /** the full model's best probed state chosen on dev (0 = embeddings), its test score and 95% CI; absent in
   * runs written before the run reported it */
  best?: { state: number; test: number; lo: number; hi: number };
  /** the model's number of layers: state L is the final representation */
  layers: number;
}

/**
 * The best-layer reference of a task on test: the final one itself when dev chose the last state (R = 1
 * there exactly, defined when the final-layer gain is), otherwise that state's probe when its 95% CI lies
 * wholly above the embeddings'; or why it is degenerate.
 */
export function bestReference(r: TaskReferencePoint): { value: number; state: number } | { why: string } {
  if (!r.best) return { why: 'the run carries no best-layer reference (written before runs reported one): run it again without --resume' };
  if (r.classes < 2) return { why: `only ${r.classes} class in the training labels: every score is trivial` };
  if (r.best.state === 0) return { why: 'the best state chosen on dev is the embeddings themselves: the layers add nothing to keep' };
  if (r.best.state === r.layers) return r.finalUndefined === undefined ? { value: r.final, state: r.layers } : { why: `the best state chosen on dev is the final layer: ${r.finalUndefined}` };
  const f = (v: number) => v.toFixed(3);
  if (!(r.best.lo > r.embeddingsHi) || !(r.best.test > r.embeddings)) return { why: `the best layer's 95% CI (state ${r.best.state}: ${f(r.best.test)} [${f(r.best.lo)}, ${f(r.best.hi)}]) is not wholly above the embeddings' (${f(r.embeddings)}, upper end ${f(r.embeddingsHi)})` };
  return { value: r.best.test, state: r.best.state };
}

/** Per task of one model: the best-layer reference and R = (best - e) / (final - e) where both are numbers. */
export interface TaskDecomposition {
  task: string;
  weight: number;
  embeddings: number;
  final: number;
  /** the best-layer reference (undefined when neither it nor the final one is a number) and the state it is */
  best?: number;
  bestState?: number;
  /** bestState / layers: the share of the layers up to the best one (1 when the final layer is the reference) */
  depth?: number;
  /** why the dev-chosen best layer is degenerate; with a defined final-layer gain the final layer stands in */
  bestUndefined?: string;
  finalUndefined?: string;
  /** R = (best - e) / (final - e), defined with the final-layer gain; > 1 when an earlier layer is better */
  R?: number;
}

export interface ModelDecomposition {
  model: string;
  N: number;
  tasks: TaskDecomposition[];
  /** weighted mean of R over the tasks with a defined final-layer gain (undefined when there is none) */
  R?: number;
}

/**
 * A model's references per task. Where the dev-chosen best layer is degenerate but the final layer is above
 * the embeddings beyond noise, the final layer stands in as the best (R = 1): for that task the decomposition
 * is the final-layer law itself, not a division by noise.
 */
export function decomposeModel(model: string, N: number, refs: { task: string; weight: number; ref: TaskReferencePoint }[]): ModelDecomposition {
  const tasks = refs.map(({ task, weight, ref }): TaskDecomposition => {
    const b = bestReference(ref);
    const base = { task, weight, embeddings: ref.embeddings, final: ref.final, ...(ref.finalUndefined === undefined ? {} : { finalUndefined: ref.finalUndefined }) };
    const finalOk = ref.finalUndefined === undefined;
    if ('value' in b) return { ...base, best: b.value, bestState: b.state, depth: b.state / ref.layers, ...(finalOk ? { R: (b.value - ref.embeddings) / (ref.final - ref.embeddings) } : {}) };
    if (finalOk) return { ...base, best: ref.final, bestState: ref.layers, depth: 1, bestUndefined: `${b.why}; the final layer stands in (R = 1)`, R: 1 };
    return { ...base, bestUndefined: b.why };
  });
  const withR = tasks.filter((t) => t.R !== undefined && t.weight > 0);
  const w = withR.reduce((s, t) => s + t.weight, 0);
  return { model, N, tasks, ...(w > 0 ? { R: withR.reduce((s, t) => s + t.weight * t.R!, 0) / w } : {}) };
}

/** Gain vs best of a subset's task scores: weighted mean over the tasks whose best reference is defined. */
export function gainVsBest(d: ModelDecomposition, scores: Record<string, number>): number | undefined {
  let sum = 0;
  let wsum = 0;
  for (const t of d.tasks) {
    if (t.best === undefined || !(t.weight > 0) || scores[t.task] === undefined) continue;
    sum += (t.weight * (scores[t.task] - t.embeddings)) / (t.best - t.embeddings);
    wsum += t.weight;
  }
  return wsum > 0 ? sum / wsum : undefined;
}

export interface ComposedHeldOut {
  model: string;
  N: number;
  /** the held-out model's measured final-layer gain points */
  points: number;
  /** the model's R (task-weighted) */
  R: number;
  /** rmse and mean abs error of the composed prediction, G_best's law fitted without this model, on its G_final */
  rmse: number;
  mae: number;
  /** the same with the size-free G_best law */
  sizeFreeRmse: number;
  fit: LawParams;
}

/** Final-layer points whose every task has its R (and depth): the ones the composed prediction can be checked on. */
function composable(finalPoints: LawPoint[]): LawPoint[] {
  return finalPoints.filter((p) => p.tasks?.length && p.tasks.every((t) => t.R !== undefined && t.depth > 0));
}

/** In-sample: the law fitted on every G_best point, composed with each task's R, against the measured G_final points. */
export function composedRmse(fit: LawParams, finalPoints: LawPoint[], opts: { depth?: boolean } = {}): { rmse: number; points: number } | undefined {
  const usable = composable(finalPoints);
  if (!usable.length) return undefined;
  return { rmse: rms(usable.map((p) => predictPoint(fit, p, { ...opts, composed: true }) - p.g)), points: usable.length };
}

/**
 * Leave-one-model-out for the composed prediction: per model with G_final points (and R), the G_best law is
 * fitted on the other models' G_best points and composed with its R, against its measured G_final.
 */
export async function composedLeaveOneModelOut(bestPoints: LawPoint[], finalPoints: LawPoint[], opts: { depth?: boolean } = {}): Promise<ComposedHeldOut[]> {
  const usable = composable(finalPoints);
  const out: ComposedHeldOut[] = [];
  for (const m of [...new Set(usable.map((p) => p.model))]) {
    const train = bestPoints.filter((p) => p.model !== m);
    if (train.length < 2) continue;
    const test = usable.filter((p) => p.model === m);
    const fit = await fitProbeScaleLaw(train, opts);
    const free = await fitProbeScaleLaw(train, { ...opts, sizeFree: true });
    const err = test.map((p) => predictPoint(fit, p, { ...opts, composed: true }) - p.g);
    const errFree = test.map((p) => predictPoint(free, p, { ...opts, composed: true }) - p.g);
    const tasks = test[0].tasks!;
    const R = tasks.reduce((s, t) => s + t.weight * t.R!, 0) / tasks.reduce((s, t) => s + t.weight, 0);
    out.push({ model: m, N: test[0].N, points: test.length, R, rmse: rms(err), mae: err.reduce((s, v) => s + Math.abs(v), 0) / err.length, sizeFreeRmse: rms(errFree), fit: { a: fit.a, b: fit.b } });
  }
  return out;
}
