/**
 * `probescale study scale`: the ProbeScale law across model sizes and the prune-vs-train question.
 *   1. every model goes through the `run` pipeline once (one probing pass, feature cache, selection with
 *      ProbeScale and every baseline of select/registry.ts at each budget, retention measured on the
 *      subnetwork on test), in OUT/runs/NAME; budgets are kept fractions k of the model's layer parameters
 *   2. the law G(k, N) is fitted to ProbeScale's measured gain retention (scaling/probescale-law.ts) and
 *      validated leave-one-model-out, against the final layer and against the full model's best layer (with
 *      the decomposition G_final = R * G_best checked held out)
 *   3. each pair big:small: the big model pruned by ProbeScale to at most the small model's layer parameters
 *      against the small model trained from scratch, on the same test sentences with the same probe, per task
 *      with a paired bootstrap CI, and both subnetworks' latency measured on the same texts; and against the
 *      small model cut after each task's dev-chosen best layer (its own cheapest strong alternative); and at
 *      equal measured latency: the best on dev of the big model's chosen subsets that runs as fast as the small one
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type LoadedModel } from '../model/checkpoint.js';
import { loadModel, maxSequenceTokens } from '../engine/load.js';
import { resolveTasks } from '../data/resolve.js';
import type { Task } from '../data/types.js';
import { Engine, range } from '../engine/engine.js';
import { medianRunMs } from '../engine/timing.js';
import { FAMILIES } from '../engine/families/index.js';
import { splitFeatures, probeOneLayer, type SuiteOptions } from '../probe/suite.js';
import { pairedBootstrapDiff } from '../probe/bootstrap.js';
import { parameterCosts, subsetCost, type LayerCosts } from '../select/costs.js';
import { calibrationBatch } from '../select/calibration.js';
import type { RetentionMode } from '../select/retention.js';
import type { SentencePooling } from '../features/task-rows.js';
import type { Precision } from '../engine/graph.js';
import type { RunResults } from '../report/results.js';
import { pairVerdict as verdict, type BestLaw, type PairResult, type PairTask, type ScaleBudget, type ScaleModel, type ScaleResults } from '../report/scale-results.js';
import { runPipeline } from './run.js';

export type { ScaleResults } from '../report/scale-results.js';
import { composedLeaveOneModelOut, composedRmse, decomposeModel, fitProbeScaleLaw, gainVsBest, leaveOneModelOut, LAW_FORMULA, type LawPoint, type ModelDecomposition } from '../scaling/probescale-law.js';
import { checkCanCreate, checkReplaceable, prepareOutputDir, writeFileAtomic } from '../util/atomic.js';
import { ProbescaleError, UsageError } from '../util/errors.js';

export interface ScaleOptions {
  /** model folders or files; NAME=PATH names one, otherwise the folder's (or file's) base name */
  models: string[];
  tasks: string;
  weights?: string;
  /** kept fractions k of each model's layer (non-embedding) parameters, in (0, 1] */
  budgets: number[];
  /** "big:small" model names: big pruned to small's layer parameters vs small */
  pairs?: string[];
  out: string;
  maxTrain?: number;
  maxEval?: number;
  seed: number;
  searchEvals: number;
  randomSeeds: number;
  bootstrap: number;
  /** auto: last token for decoders (their last token has read the sentence), mean for encoders */
  pooling?: SentencePooling | 'auto';
  retention?: RetentionMode;
  threads?: number;
  precision?: Precision;
  overwrite?: boolean;
  /** reuse a model's finished run in OUT/runs/NAME when it was made with the same model, tasks, budgets and settings */
  resume?: boolean;
  allowOutside?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
  /** scale-out: each model's run sends its probing and subset evaluations as jobs to `probescale worker`s on this Redis */
  redis?: string;
  /** scale-out result store shared by every model's run (default OUT/.store) */
  store?: string;
}

interface Planned {
  name: string;
  path: string;
  model: LoadedModel;
  costs: LayerCosts;
  N: number;
  pooling: SentencePooling;
  feasible: number[];
  skipped: number[];
  /** absolute parameter budget -> k (null for a pair budget) */
  budgetTexts: { text: string; k: number | null }[];
}

const layerSum = (c: LayerCosts) => c.perLayer.reduce((a, b) => a + b, 0);

/** How many layers fit in `room` parameters, cheapest first (as select/budget.ts counts them). */
function layersThatFit(perLayer: number[], room: number): number {
  let n = 0;
  let acc = 0;
  for (const c of [...perLayer].sort((a, b) => a - b)) {
    if (acc + c > room + 1e-9) break;
    acc += c;
    n++;
  }
  return n;
}

export async function runScaleStudy(opts: ScaleOptions): Promise<ScaleResults> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  // everything is checked before --out is created
  checkReplaceable(opts.out, { overwrite: opts.overwrite });
  checkCanCreate(opts.out);
  if (opts.models.length < 1) throw new UsageError('--models is empty', { fix: 'name one or more model folders, e.g. --models /work/runs/gpt-s,models/mini-gpt' });
  if (!opts.budgets.length || opts.budgets.some((k) => !(k > 0 && k <= 1))) throw new UsageError(`--budgets must be kept fractions in (0, 1], got ${opts.budgets.join(',')}`, { fix: 'e.g. --budgets 0.1,0.2,0.3,0.5,0.7' });
  const tasks = resolveTasks(opts.tasks, { maxTrain: opts.maxTrain, maxEval: opts.maxEval, seed: opts.seed, allowOutside: opts.allowOutside });
  const weights = opts.weights ? opts.weights.split(',').map(Number) : tasks.map(() => 1);
  if (weights.length !== tasks.length || weights.some((w) => !(w >= 0)) || !weights.some((w) => w > 0)) throw new UsageError(`--weights: give one non-negative weight per task (${tasks.map((t) => t.name).join(', ')}), at least one positive`);
  const planned: Planned[] = [];
  for (const spec of opts.models) {
    const eq = spec.indexOf('=');
    const path = eq > 0 ? spec.slice(eq + 1) : spec;
    const name = eq > 0 ? spec.slice(0, eq) : basename(resolve(path)).replace(/\.bin$/, '');
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError(`--models: model name "${name}" must be letters, digits, . _ -`, { fix: 'name it with NAME=PATH' });
    if (planned.some((p) => p.name === name)) throw new UsageError(`--models: two models are named "${name}"`, { fix: 'name them apart with NAME=PATH' });
    const model = loadModel(path);
    const costs = parameterCosts(model);
    const N = layerSum(costs);
    const cheapest = Math.min(...costs.perLayer);
    const feasible = opts.budgets.filter((k) => k * N + 1e-6 >= cheapest);
    const pooling = opts.pooling && opts.pooling !== 'auto' ? opts.pooling : FAMILIES[model.arch.family].about.kind === 'decoder' ? 'last' : 'mean';
    planned.push({ name, path, model, costs, N, pooling, feasible, skipped: opts.budgets.filter((k) => !feasible.includes(k)), budgetTexts: feasible.map((k) => ({ text: String(Math.round(costs.fixed + k * N)), k })) });
  }
  const pairs = (opts.pairs ?? []).map((p) => {
    const [bigName, smallName, ...rest] = p.split(':');
    const big = planned.find((m) => m.name === bigName);
    const small = planned.find((m) => m.name === smallName);
    if (rest.length || !big || !small) throw new UsageError(`--pairs: "${p}" must be BIG:SMALL with both names among --models (${planned.map((m) => m.name).join(', ')})`);
    if (!(big.N > small.N)) throw new UsageError(`--pairs: ${bigName} (${big.N} layer parameters) is not larger than ${smallName} (${small.N})`, { fix: 'put the larger model first' });
    if (Math.min(...big.costs.perLayer) > small.N) throw new UsageError(`--pairs: not one layer of ${bigName} fits in ${smallName}'s ${small.N} layer parameters`);
    // where every layer costs the same, selection depends only on how many layers fit: a study budget that
    // holds as many layers answers the pair (and keeps --resume runs valid when pairs are added later)
    const fit = layersThatFit(big.costs.perLayer, small.N);
    const uniform = big.costs.perLayer.every((c) => c === big.costs.perLayer[0]);
    const same = uniform ? big.budgetTexts.find((b) => layersThatFit(big.costs.perLayer, Number(b.text) - big.costs.fixed) === fit) : undefined;
    const text = same?.text ?? String(Math.round(big.costs.fixed + small.N));
    if (!big.budgetTexts.some((b) => b.text === text)) big.budgetTexts.push({ text, k: null });
    return { big, small, text };
  });
  for (const p of planned) if (p.budgetTexts.length === 0) throw new UsageError(`--budgets: none of ${opts.budgets.join(',')} holds one layer of ${p.name} (${p.model.arch.layers} layers)`, { fix: 'add a larger fraction' });
  // scale-out: Redis reached and --store usable (or a one-line error) before --out is created
  const store = opts.redis ? resolve(opts.store ?? join(opts.out, '.store')) : undefined;
  if (opts.redis) {
    const { connectRedis } = await import('../distribute/queue.js');
    const { Store } = await import('../distribute/store.js');
    (await connectRedis(opts.redis)).disconnect();
    Store.check(store!);
  }
  prepareOutputDir(opts.out, 'probescale study scale', { overwrite: opts.overwrite });

  // 1. the pipeline per model
  const models: ScaleModel[] = [];
  const reused = new Set<string>();
  for (const [i, p] of planned.entries()) {
    const runDir = join(opts.out, 'runs', p.name);
    log(`\n== model ${i + 1} of ${planned.length}, ${p.name}: ${p.model.arch.layers} layers, ${p.N.toLocaleString('en-US')} layer parameters (+ ${p.costs.fixed.toLocaleString('en-US')} fixed), pooling ${p.pooling}; budgets k = ${p.feasible.join(', ')}${p.skipped.length ? ` (${p.skipped.join(', ')}: not one layer fits)` : ''}`);
    const t = performance.now();
    const budgetText = p.budgetTexts.map((b) => b.text).join(',');
    // what makes a finished run reusable: same weights, tasks, budgets and every setting that changes its numbers
    const stamp = JSON.stringify({ modelHash: p.model.contentHash(), tasks: opts.tasks, weights: opts.weights ?? null, budgets: budgetText, maxTrain: opts.maxTrain ?? null, maxEval: opts.maxEval ?? null, seed: opts.seed, searchEvals: opts.searchEvals, randomSeeds: opts.randomSeeds, bootstrap: opts.bootstrap, pooling: p.pooling, retention: opts.retention ?? null, precision: opts.precision ?? 'fp32' });
    const stampFile = join(runDir, 'scale-run.json');
    let r: RunResults;
    if (opts.resume && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(join(runDir, 'results.json'))) {
      log(`  reusing the finished run in ${runDir} (--resume: same model, tasks, budgets and settings)`);
      r = JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as RunResults;
      reused.add(p.name);
    } else {
      r = await runPipeline({
        model: p.path, tasks: opts.tasks, weights: opts.weights, budgets: budgetText, out: runDir,
        maxTrain: opts.maxTrain, maxEval: opts.maxEval, seed: opts.seed, searchEvals: opts.searchEvals, randomSeeds: opts.randomSeeds,
        bootstrap: opts.bootstrap, pooling: p.pooling, retention: opts.retention, threads: opts.threads, precision: opts.precision,
        allowOutside: opts.allowOutside, progress: opts.progress, log: (s) => log(`  ${s}`), redis: opts.redis, store,
      });
      writeFileAtomic(stampFile, stamp);
    }
    const budgets: ScaleBudget[] = r.budgets.map((b, i) => ({ ...b, k: p.budgetTexts[i].k, kKept: (subsetCost(p.costs, b.methods[0].layers) - p.costs.fixed) / p.N }));
    models.push({
      name: p.name, path: p.path, family: p.model.arch.family, layers: p.model.arch.layers, N: p.N, fixed: p.costs.fixed, total: p.costs.fixed + p.N,
      retentionMode: r.retentionMode, pooling: p.pooling, references: r.references, budgets, skipped: p.skipped, runDir, seconds: (performance.now() - t) / 1000,
    });
  }

  // 2. the law on ProbeScale's measured test gain retention at the study budgets (each point with its tasks'
  // weights, best-layer depths and R, for the composed prediction below)
  const taskList = tasks.map((t, i) => ({ name: t.name, weight: weights[i] }));
  const decomps = models.map((m) => decompose(m, taskList));
  const points: LawPoint[] = models.flatMap((m, i) => m.budgets.filter((b) => b.k !== null && b.methods[0].gain !== undefined).map((b) => ({
    model: m.name, N: m.N, k: b.kKept, g: b.methods[0].gain!,
    tasks: decomps[i].tasks.filter((t) => t.finalUndefined === undefined).map((t) => ({ weight: t.weight, depth: t.depth ?? 1, ...(t.R === undefined ? {} : { R: t.R }) })),
  })));
  const law: ScaleResults['law'] = { formula: LAW_FORMULA, points };
  const withPoints = new Set(points.map((p) => p.model));
  const noGain = models.filter((m) => !withPoints.has(m.name)).map((m) => m.name);
  const why = noGain.length ? `no defined gain retention on test for ${noGain.join(', ')} (no task's layers add anything beyond test noise): left out of the law` : undefined;
  if (points.length >= 2) {
    law.fit = await fitProbeScaleLaw(points);
    law.sizeFree = await fitProbeScaleLaw(points, { sizeFree: true });
    if (withPoints.size >= 2) law.heldOut = await leaveOneModelOut(points);
    else law.note = [why, `points from ${withPoints.size} model: no leave-one-model-out check, and b is not determined`].filter(Boolean).join('; ');
  } else law.note = [why, `${points.length} point(s): no fit`].filter(Boolean).join('; ');
  if (law.note === undefined && why) law.note = why;
  if (law.fit) log(`\nlaw: ${LAW_FORMULA}\n  a = ${law.fit.a.toFixed(3)}, b = ${law.fit.b.toFixed(3)}, rmse ${(100 * law.fit.rmse).toFixed(1)} gain points on ${law.fit.points} points from ${law.fit.sizes} size(s)`);
  for (const e of law.heldOut ?? []) log(`  held out ${e.model}: rmse ${(100 * e.rmse).toFixed(1)} points (size-free law ${(100 * e.sizeFreeRmse).toFixed(1)}) on ${e.points} points`);
  if (law.note) log(`  ${law.note}`);
  law.best = await bestLaw(models, decomps, points, log);

  // 3. prune vs train
  const pairResults: PairResult[] = [];
  const previous = opts.resume ? previousPairs(opts) : [];
  for (const { big, small, text } of pairs) {
    const bigRun = models.find((m) => m.name === big.name)!;
    const smallRun = models.find((m) => m.name === small.name)!;
    const b = bigRun.budgets.find((x) => x.budget === text)!;
    const layers = b.methods[0].layers;
    log(`\nprune vs train: ${big.name} pruned by ProbeScale to layers [${layers.join(',')}] vs ${small.name} (all ${small.model.arch.layers} layers)`);
    // --resume: both runs reused (same models and settings) and the same subset: the pair's numbers would repeat
    const before = reused.has(big.name) && reused.has(small.name) ? previous.find((x) => x.big === big.name && x.small === small.name && x.layers.join() === layers.join() && x.smallBest !== undefined && x.equalLatency !== undefined) : undefined;
    if (before) log(`  reusing its comparison from ${join(opts.out, 'results.json')} (--resume: both runs reused, same subset and settings; latency as measured then)`);
    const pr = before ?? (await comparePair(big, small, layers, tasks, weights, bigRun.runDir, smallRun.runDir, smallRun.references, bigRun.budgets.map((x) => ({ layers: x.methods[0].layers, devRetention: x.methods[0].devRetention! })), opts));
    pairResults.push(pr);
    for (const t of pr.tasks) log(`  ${t.task.padEnd(9)} pruned ${t.pruned.score.toFixed(3)} [${t.pruned.lo.toFixed(3)}, ${t.pruned.hi.toFixed(3)}]  ${small.name} ${t.small.score.toFixed(3)} [${t.small.lo.toFixed(3)}, ${t.small.hi.toFixed(3)}]  diff ${pts(t.diff.score)} [${pts(t.diff.lo)}, ${pts(t.diff.hi)}] ${t.verdict}`);
    log(`  latency (median batch): pruned ${pr.latency.prunedMs.toFixed(2)} ms, ${small.name} ${pr.latency.smallMs.toFixed(2)} ms (ratio ${pr.latency.ratio.toFixed(2)})`);
    const sb = pr.smallBest!;
    for (const t of sb.tasks) log(`  ${t.task.padEnd(9)} ${small.name} cut after its best hidden state ${t.state} (dev): ${t.truncated.score.toFixed(3)} [${t.truncated.lo.toFixed(3)}, ${t.truncated.hi.toFixed(3)}]  pruned - it ${pts(t.diff.score)} [${pts(t.diff.lo)}, ${pts(t.diff.hi)}] ${t.verdict}`);
    const el = pr.equalLatency!;
    log(el.layers ? `  at ${small.name}'s latency (${el.smallMs.toFixed(2)} ms): ${big.name} [${el.layers.join(',')}] (${el.latencyMs!.toFixed(2)} ms, best on dev of the study's choices that fast) - ${small.name} ${pts(el.weighted!.score)} [${pts(el.weighted!.lo)}, ${pts(el.weighted!.hi)}]` : `  at ${small.name}'s latency (${el.smallMs.toFixed(2)} ms): none of ${big.name}'s ${el.candidates.length} chosen subsets is as fast (fastest ${Math.min(...el.candidates.map((x) => x.latencyMs)).toFixed(2)} ms)`);
    log(`  weighted: pruned - ${small.name} ${pts(pr.weighted.score)} [${pts(pr.weighted.lo)}, ${pts(pr.weighted.hi)}], pruned - ${small.name} cut ${pts(sb.weighted.score)} [${pts(sb.weighted.lo)}, ${pts(sb.weighted.hi)}] (cut at ${sb.state} of ${small.model.arch.layers} layers: ${sb.parameters.total.toLocaleString('en-US')} parameters, latency ratio ${sb.ratio.toFixed(2)})`);
  }

  const out: ScaleResults = {
    version: 2,
    date: new Date().toISOString(),
    options: { ...opts, log: undefined },
    tasks: tasks.map((t, i) => ({ name: t.name, weight: weights[i], metric: t.metric })),
    models,
    law,
    pairs: pairResults,
    seconds: (performance.now() - t0) / 1000,
  };
  delete (out.options as { log?: unknown }).log;
  const { scaleTable, renderScaleReport } = await import('../report/scale.js');
  const table = scaleTable(out);
  writeFileAtomic(join(opts.out, 'results.json'), JSON.stringify(out, null, 1) + '\n');
  writeFileAtomic(join(opts.out, 'table.md'), table + '\n');
  writeFileAtomic(join(opts.out, 'report.html'), await renderScaleReport(out));
  log(`\n${table}\n\nresults: ${join(opts.out, 'results.json')}, table.md, report.html (${(out.seconds / 60).toFixed(1)} min)`);
  return out;
}

const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;

/** The settings a prune-vs-train comparison depends on besides the two runs (whose stamps hold the rest). */
const PAIR_SETTINGS = ['tasks', 'weights', 'maxTrain', 'maxEval', 'seed', 'bootstrap', 'pooling', 'precision', 'threads'] as const;

/** The pairs of the study already in OUT/results.json, when it was made with the same settings (else none). */
function previousPairs(opts: ScaleOptions): PairResult[] {
  const file = join(opts.out, 'results.json');
  if (!existsSync(file)) return [];
  let prev: ScaleResults;
  try {
    prev = JSON.parse(readFileSync(file, 'utf8')) as ScaleResults;
  } catch {
    return [];
  }
  const same = PAIR_SETTINGS.every((k) => JSON.stringify(prev.options?.[k] ?? null) === JSON.stringify((opts as unknown as Record<string, unknown>)[k] ?? null));
  return same && Array.isArray(prev.pairs) ? prev.pairs : [];
}

/** A model's best-layer references per task (scaling/probescale-law.ts decomposeModel) from its run's references. */
function decompose(m: ScaleModel, tasks: { name: string; weight: number }[]): ModelDecomposition {
  return decomposeModel(m.name, m.N, tasks.map((t) => {
    const x = m.references[t.name];
    return { task: t.name, weight: t.weight, ref: { classes: x.classes, embeddings: x.embeddings.test, embeddingsHi: x.embeddings.hi, final: x.final.test, finalUndefined: x.gainUndefined.test, best: x.best, layers: m.layers } };
  }));
}

/**
 * Step 2 against the best layer: ProbeScale's gain vs best at each budget, the law fitted to it (over k, and
 * over k counted up to each task's best layer) with its leave-one-model-out errors, and the composed
 * prediction of the final-layer gain, in sample and held out.
 */
async function bestLaw(models: ScaleModel[], decomps: ModelDecomposition[], finalPoints: LawPoint[], log: (s: string) => void): Promise<BestLaw> {
  const points: LawPoint[] = [];
  models.forEach((m, i) => {
    const d = decomps[i];
    for (const b of m.budgets) {
      const g = gainVsBest(d, Object.fromEntries(Object.entries(b.methods[0].scores).map(([t, v]) => [t, v.score])));
      if (g === undefined) continue;
      b.gainVsBest = g;
      if (b.k !== null) points.push({ model: m.name, N: m.N, k: b.kKept, g, tasks: d.tasks.filter((t) => t.best !== undefined).map((t) => ({ weight: t.weight, depth: t.depth! })) });
    }
  });
  const out: BestLaw = { points, models: decomps, k: {}, depth: {} };
  log(`\nagainst the best layer (dev-chosen): gain vs best = (score - embeddings) / (best - embeddings); G_final = R * G_best`);
  for (const d of decomps) {
    log(`  ${d.model}: R = ${d.R === undefined ? 'n/a (no task with a defined final-layer gain)' : d.R.toFixed(2)}; ${d.tasks.map((t) => `${t.task} best ${t.best === undefined ? 'n/a' : `state ${t.bestState}: ${t.best.toFixed(3)}`}${t.R === undefined ? '' : `, R ${t.R.toFixed(2)}`}${t.bestUndefined ? ` (${t.bestUndefined})` : ''}`).join('; ')}`);
  }
  const withPoints = new Set(points.map((p) => p.model));
  if (points.length < 2) {
    out.note = `${points.length} point(s) with a defined gain vs best: no fit`;
    log(`  ${out.note}`);
    return out;
  }
  for (const [name, depth] of [['k', false], ['depth', true]] as const) {
    const v = out[name];
    v.fit = await fitProbeScaleLaw(points, { depth });
    v.sizeFree = await fitProbeScaleLaw(points, { depth, sizeFree: true });
    v.composed = composedRmse(v.fit, finalPoints, { depth });
    const label = depth ? 'G_best(min(1, k / depth), N)' : 'G_best(k, N)';
    log(`  ${label}: a = ${v.fit.a.toFixed(3)}, b = ${v.fit.b.toFixed(3)}, rmse ${(100 * v.fit.rmse).toFixed(1)} points on ${v.fit.points} points from ${v.fit.sizes} size(s) (size-free ${(100 * v.sizeFree.rmse).toFixed(1)})${v.composed ? `; composed with R on G_final: rmse ${(100 * v.composed.rmse).toFixed(1)} on ${v.composed.points} points` : ''}`);
    if (withPoints.size < 2) continue;
    v.heldOut = await leaveOneModelOut(points, { depth });
    v.composedHeldOut = await composedLeaveOneModelOut(points, finalPoints, { depth });
    for (const e of v.heldOut) log(`    held out ${e.model}: G_best rmse ${(100 * e.rmse).toFixed(1)} (size-free ${(100 * e.sizeFreeRmse).toFixed(1)}) on ${e.points} points`);
    for (const e of v.composedHeldOut) log(`    held out ${e.model}: composed on G_final rmse ${(100 * e.rmse).toFixed(1)} (size-free ${(100 * e.sizeFreeRmse).toFixed(1)}), R = ${e.R.toFixed(2)}, ${e.points} points`);
  }
  if (withPoints.size < 2) {
    out.note = `gain vs best defined for ${withPoints.size} model: no leave-one-model-out check`;
    log(`  ${out.note}`);
  }
  return out;
}

/** Task scores of a subnetwork on test: the run's probe (C chosen on dev), predictions and scorer for pairing. */
async function subnetScores(model: LoadedModel, layers: number[], tasks: Task[], suite: SuiteOptions) {
  const tok = await model.tokenizer();
  const engine = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, threads: suite.threads, precision: suite.precision });
  const out = [];
  for (const task of tasks) {
    const [tr, dv, te] = [await splitFeatures(engine, tok, task, 'train', suite), await splitFeatures(engine, tok, task, 'dev', suite), await splitFeatures(engine, tok, task, 'test', suite)];
    out.push(await probeOneLayer(task, { X: tr.features.load(0), y: tr.rows.labels }, { X: dv.features.load(0), y: dv.rows.labels }, { X: te.features.load(0), rows: te.rows }, suite));
  }
  await engine.release();
  return out;
}

async function comparePair(big: Planned, small: Planned, layers: number[], tasks: Task[], weights: number[], bigDir: string, smallDir: string, smallRefs: ScaleModel['references'], bigChoices: { layers: number[]; devRetention: number }[], opts: ScaleOptions): Promise<PairResult> {
  const suite = (dir: string, pooling: SentencePooling): SuiteOptions => ({ cacheDir: join(dir, '.features'), bootstrap: opts.bootstrap, seed: opts.seed, progress: false, threads: opts.threads, precision: opts.precision, sentencePooling: pooling });
  const L = small.model.arch.layers;
  const a = await subnetScores(big.model, layers, tasks, suite(bigDir, big.pooling));
  const b = await subnetScores(small.model, range(L), tasks, suite(smallDir, small.pooling));
  // the small model cut after each task's best hidden state (chosen on dev in its run; state L = all of it)
  const states = tasks.map((t) => smallRefs[t.name].best.state);
  const c: typeof b = [];
  for (const s of new Set(states)) {
    const idx = tasks.map((_, i) => i).filter((i) => states[i] === s);
    const scored = s === L ? idx.map((i) => b[i]) : await subnetScores(small.model, range(s), idx.map((i) => tasks[i]), suite(smallDir, small.pooling));
    idx.forEach((i, j) => (c[i] = scored[j]));
  }
  const wsum = weights.reduce((x, y) => x + y, 0);
  // pruned minus other, paired over the same test units (both models saw the same sampled sentences)
  const against = (other: typeof b, otherName: string, pruned: typeof b = a) => {
    const paired = tasks.map((t, i) => {
      if (pruned[i].scorer.units !== other[i].scorer.units) throw new ProbescaleError(`prune vs train, task ${t.name}: ${big.name} is scored on ${pruned[i].scorer.units} test units and ${otherName} on ${other[i].scorer.units}; the comparison needs the same units`, { fix: 'use tasks whose sentences fit both models\' positions' });
      return { units: pruned[i].scorer.units, scoreA: pruned[i].scorer.forPredictions(pruned[i].pred), scoreB: other[i].scorer.forPredictions(other[i].pred) };
    });
    const diffs = paired.map((p) => pairedBootstrapDiff([{ ...p, weight: 1 }], { B: opts.bootstrap, seed: opts.seed }));
    const weighted = pairedBootstrapDiff(paired.map((p, i) => ({ ...p, weight: weights[i] / wsum })), { B: opts.bootstrap, seed: opts.seed });
    return { paired, diffs, weighted };
  };
  const full = against(b, small.name);
  const cut = against(c, `${small.name} cut at its best layers`);
  const ci = (x: (typeof b)[number]) => ({ score: x.ci.score, lo: x.ci.lo, hi: x.ci.hi });
  const rows: PairTask[] = tasks.map((t, i) => ({
    task: t.name, metric: t.metric, units: full.paired[i].units, pruned: ci(a[i]), small: ci(b[i]), diff: full.diffs[i], verdict: verdict(full.diffs[i]),
  }));
  // latency: alternate the subnetworks so load changes on a shared machine hit each; median over rounds
  const deepest = Math.max(...states);
  const batchOf = async (m: LoadedModel) => calibrationBatch(await m.tokenizer(), tasks, maxSequenceTokens(m.arch));
  const [ba, bb] = [await batchOf(big.model), await batchOf(small.model)];
  const engine = (m: LoadedModel, keep: number[]) => Engine.create(m, { layers: keep, hiddenStates: 'last', logits: false, threads: opts.threads, precision: opts.precision });
  const ea = await engine(big.model, layers);
  const eb = await engine(small.model, range(L));
  const ec = deepest < L ? await engine(small.model, range(deepest)) : undefined;
  // equal latency: every distinct subset ProbeScale chose for the big model at the study's budgets, timed in the
  // same rounds; the pair's own subset is among them and is the one already timed as `ea`
  const choices = bigChoices.filter((x, i) => x.layers.length > 0 && bigChoices.findIndex((y) => y.layers.join() === x.layers.join()) === i);
  const isPair = (x: { layers: number[] }) => x.layers.join() === layers.join();
  const ed = await Promise.all(choices.map((x) => (isPair(x) ? undefined : engine(big.model, x.layers))));
  const rounds = 5;
  const [ta, tb, tc]: number[][] = [[], [], []];
  const td: number[][] = choices.map(() => []);
  for (let r = 0; r < rounds; r++) {
    ta.push(await medianRunMs(ea, ba, 5));
    tb.push(await medianRunMs(eb, bb, 5));
    if (ec) tc.push(await medianRunMs(ec, bb, 5));
    for (const [j, e] of ed.entries()) if (e) td[j].push(await medianRunMs(e, ba, 5));
  }
  for (const e of [ea, eb, ec, ...ed]) await e?.release();
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
  const [prunedMs, smallMs] = [med(ta), med(tb)];
  const cutMs = ec ? med(tc) : smallMs;
  const cutCost = subsetCost(small.costs, range(deepest));
  const candidates = choices.map((x, j) => ({ layers: x.layers, devRetention: x.devRetention, latencyMs: isPair(x) ? prunedMs : med(td[j]) }));
  const fast = candidates.filter((x) => x.latencyMs <= smallMs).sort((x, y) => y.devRetention - x.devRetention || x.latencyMs - y.latencyMs)[0];
  let equalLatency: PairResult['equalLatency'] = { candidates, smallMs };
  if (fast) {
    const e = isPair(fast) ? a : await subnetScores(big.model, fast.layers, tasks, suite(bigDir, big.pooling));
    const at = against(b, small.name, e);
    const cost = subsetCost(big.costs, fast.layers);
    equalLatency = {
      ...equalLatency, layers: fast.layers, latencyMs: fast.latencyMs, parameters: { layers: cost - big.costs.fixed, total: cost },
      tasks: tasks.map((t, i) => ({ task: t.name, metric: t.metric, units: at.paired[i].units, pruned: ci(e[i]), small: ci(b[i]), diff: at.diffs[i], verdict: verdict(at.diffs[i]) })),
      weighted: at.weighted,
    };
  }
  return {
    big: big.name, small: small.name, layers, bigLayers: big.model.arch.layers,
    keptParameters: { layers: subsetCost(big.costs, layers) - big.costs.fixed, total: subsetCost(big.costs, layers) },
    smallParameters: { layers: small.N, total: small.N + small.costs.fixed },
    tasks: rows, weighted: full.weighted, latency: { prunedMs, smallMs, ratio: prunedMs / smallMs, rounds },
    smallBest: {
      tasks: tasks.map((t, i) => ({ task: t.name, metric: t.metric, units: cut.paired[i].units, state: states[i], pruned: ci(a[i]), truncated: ci(c[i]), diff: cut.diffs[i], verdict: verdict(cut.diffs[i]) })),
      weighted: cut.weighted, state: deepest, parameters: { layers: cutCost - small.costs.fixed, total: cutCost }, latencyMs: cutMs, ratio: prunedMs / cutMs,
    },
    equalLatency,
  };
}
