/**
 * `select` as a library call: choose the layers to keep under each budget. Probe every layer (or take
 * probe results already computed), measure the references (the full model's final layer and the subnetwork
 * with no layers, on dev and test), then per budget: the additive optimum (knapsack over layer relevance),
 * the search that runs subnetworks on dev, every heuristic baseline of select/registry.ts at the same size
 * and random subsets, all scored on test in raw and gain retention with bootstrap CIs and paired
 * differences to ProbeScale. Nothing is written except the feature cache: `run` calls this step and then
 * compresses, verifies and reports.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { loadModel, maxSequenceTokens } from '../engine/load.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { SentencePooling, WordPooling } from '../features/task-rows.js';
import type { Task } from '../data/types.js';
import { resolveTasks } from '../data/resolve.js';
import { Engine, range } from '../engine/engine.js';
import { probeTask, type SuiteOptions, type TaskResult } from '../probe/suite.js';
import { summarizeLayers } from '../probe/layers.js';
import { layerRelevance } from '../select/relevance.js';
import { knapsack } from '../select/knapsack.js';
import { parameterCosts, flopCosts, fullCost, subsetCost, type LayerCosts } from '../select/costs.js';
import { latencyCosts } from '../select/latency.js';
import { capacity, parseBudget, type Budget } from '../select/budget.js';
import { makeEvaluator, type Evaluator, type References, type SubsetScore } from '../select/evaluate.js';
import { gainDegenerate, RETENTION_MODES, type RetentionMode } from '../select/retention.js';
import { searchSubset } from '../select/search.js';
import { baselineSubsets, RANDOM_BASELINE } from '../select/registry.js';
import { calibrationBatch, layerGeometry, slebSubset } from '../select/calibration.js';
import type { BudgetResult, MethodResult, Reference, RunResults, TaskReferences, TaskRetention } from '../report/results.js';
import type { openDistributor } from './probe.js';
import { ProbescaleError, UsageError } from '../util/errors.js';
import type { Precision } from '../engine/graph.js';
import { startProgress, type Progress } from '../util/progress.js';

export interface SelectOptions {
  /** a loaded model (loadModel) or its path: Hugging Face folder or llama2.c .bin */
  model: LoadedModel | string;
  /** loaded tasks, or built-in task names / task spec files as on the command line ('upos,sst2') */
  tasks: Task[] | string;
  /** one non-negative weight per task, in the same order (default: equal) */
  weights?: number[] | string;
  /** budgets as on the command line: '0.4,0.6', or a list (0.4 = 40% of parameters, 120000 parameters, 'flops:0.5', 'latency:0.5') */
  budgets: string | (string | number)[];
  /** probe results of these tasks on this model, in the same order (from `probe` or an earlier run's results.json);
   * probed here when absent. They must come from the same pooling and task data as this call's. */
  probes?: TaskResult[];
  /** feature cache folder (created if missing; entries are content-addressed, shared safely between calls) */
  cacheDir: string;
  /** with task names: subsample training / dev / test units (test defaults to maxEval) */
  maxTrain?: number;
  maxEval?: number;
  maxTest?: number;
  allowOutside?: boolean;
  /** default 0 */
  seed?: number;
  threads?: number;
  precision?: Precision;
  /** sentence pooling (default mean; last suits decoders) */
  pooling?: SentencePooling;
  /** word pooling over sub-tokens (default first) */
  wordPooling?: WordPooling;
  /** subnetworks the search may run per budget (default 40) */
  searchEvals?: number;
  /** random-subset baselines per budget (default 5) */
  randomSeeds?: number;
  /** bootstrap resamples for CIs (default 1000) */
  bootstrap?: number;
  /** what selection uses (default gain, falling back to raw with a log line when gain is undefined on dev) */
  retention?: RetentionMode;
  /** progress on stderr for long steps (default true; setProgressMode('off') silences it everywhere) */
  progress?: boolean;
  /** the step log (default: none) */
  log?: (line: string) => void;
}

/** What selection found: the fields of results.json (RunResults) that do not depend on the written model. */
export type Selection = Pick<RunResults, 'retentionMode' | 'reference' | 'references' | 'embeddingsOnly' | 'probes' | 'relevance' | 'blockInfluence' | 'parameters' | 'budgets'>;

/** Inputs checked and loaded, nothing computed or written yet. */
export interface SelectionInputs {
  model: LoadedModel;
  tok: TextTokenizer;
  tasks: Task[];
  weights: number[];
  budgets: Budget[];
  paramCosts: LayerCosts;
  flops: LayerCosts;
}

/** Everything `run` needs after selection: the evaluator (still open: healing scores subsets on dev) and the references. */
export interface SelectionState {
  selection: Selection;
  ev: Evaluator;
  refs: References;
  suite: SuiteOptions;
  calib: ReturnType<typeof calibrationBatch>;
  objective: (r: SubsetScore) => number;
  /** test scores of the subnetwork with no layers (retention against the final references) */
  embeddings: SubsetScore;
}

/** Checks every argument and loads model, tasks and costs; throws a one-line error before anything is computed. */
export async function selectionInputs(opts: Pick<SelectOptions, 'model' | 'tasks' | 'weights' | 'budgets' | 'retention' | 'maxTrain' | 'maxEval' | 'maxTest' | 'seed' | 'allowOutside'>): Promise<SelectionInputs> {
  const model = typeof opts.model === 'string' ? loadModel(opts.model) : opts.model;
  const tok = await model.tokenizer();
  const tasks = typeof opts.tasks === 'string' ? resolveTasks(opts.tasks, { maxTrain: opts.maxTrain, maxEval: opts.maxEval, maxTest: opts.maxTest, seed: opts.seed ?? 0, allowOutside: opts.allowOutside }) : opts.tasks;
  if (!tasks.length) throw new UsageError('no tasks given', { fix: 'name at least one task' });
  const weights = opts.weights === undefined ? tasks.map(() => 1) : typeof opts.weights === 'string' ? opts.weights.split(',').map(Number) : opts.weights;
  if (weights.length === tasks.length && weights.every((w) => w >= 0) && !weights.some((w) => w > 0)) {
    throw new UsageError(`--weights are all 0: retention would be 0/0`, { fix: 'give at least one task a positive weight' });
  }
  if (weights.length !== tasks.length || weights.some((w) => !(w >= 0 && Number.isFinite(w)))) {
    throw new UsageError(`--weights has ${weights.length} value(s) for ${tasks.length} task(s) (${tasks.map((t) => t.name).join(', ')})`, { fix: 'give one non-negative weight per task, in the same order' });
  }
  if (opts.retention !== undefined && !RETENTION_MODES.includes(opts.retention)) throw new UsageError(`--retention must be raw or gain, got "${opts.retention}"`);
  const budgets = (typeof opts.budgets === 'string' ? opts.budgets.split(',') : opts.budgets.map(String)).map((b) => parseBudget(b));
  if (!budgets.length) throw new UsageError('no budget given', { fix: 'give at least one budget, e.g. 0.6' });
  const paramCosts = parameterCosts(model);
  const flops = flopCosts(model, 64, Math.max(...tasks.map((t) => t.labels.length)));
  // fail before any work if a budget cannot hold a single layer
  for (const b of budgets) if (b.kind !== 'latency') capacity(b, b.kind === 'parameters' ? paramCosts : flops);
  return { model, tok, tasks, weights, budgets, paramCosts, flops };
}

/**
 * Choose a layer subset per budget (ProbeScale) and score it with every baseline at the same size. Returns the
 * typed per-budget results (BudgetResult: ProbeScale first, then each baseline, then the random mean) and the
 * references they are measured against. Writes no model.
 */
export async function select(opts: SelectOptions): Promise<Selection> {
  const inputs = await selectionInputs(opts);
  const state = await selectLayers(inputs, opts);
  await state.ev.release();
  return state.selection;
}

type Dist = Awaited<ReturnType<typeof openDistributor>>;

/** The selection step of `run` (which keeps the evaluator open for healing); `dist`: scale-out jobs on Redis. */
export async function selectLayers(inputs: SelectionInputs, opts: Omit<SelectOptions, 'model' | 'tasks' | 'weights' | 'budgets'>, dist?: { distributor: Dist; label: string }): Promise<SelectionState> {
  const { model, tok, tasks, weights, budgets, paramCosts, flops } = inputs;
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? 0;
  const bootstrap = opts.bootstrap ?? 1000;
  const searchEvals = opts.searchEvals ?? 40;
  const randomSeeds = opts.randomSeeds ?? 5;
  const L = model.arch.layers;
  let mode: RetentionMode = opts.retention ?? 'gain';
  // with --redis every feature entry (the workers' and this process's subsets) lives in the shared store
  const suite: SuiteOptions = { cacheDir: opts.cacheDir, bootstrap, seed, progress: opts.progress !== false, threads: opts.threads, precision: opts.precision, sentencePooling: opts.pooling ?? 'mean', wordPooling: opts.wordPooling };
  const progress = (label: string, total: number, unit: string) => startProgress(label, total, { unit, enabled: opts.progress !== false });

  // 1. probe every layer of the full model (unless the caller already did)
  let probes: TaskResult[] = [];
  if (opts.probes) {
    const ok = opts.probes.length === tasks.length && opts.probes.every((p, i) => p.task === tasks[i].name && p.layers.length === L + 1);
    if (!ok) throw new ProbescaleError(`the probe results given are for ${opts.probes.map((p) => `${p.task} (${p.layers.length} states)`).join(', ')}, not for ${tasks.map((t) => t.name).join(', ')} on this model (${L + 1} states)`, { fix: 'pass the probe results of the same tasks, in the same order, on the same model, or leave probes out' });
    probes = opts.probes;
  } else {
    log(`probing ${L + 1} representations of ${model.source} on ${tasks.map((t) => t.name).join(', ')}${dist ? ` (scale-out: jobs on ${dist.label})` : ''}`);
    const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads: opts.threads, precision: opts.precision });
    const one = (t: Task) => probeTask(engine, tok, t, { ...suite, control: t.kind === 'token', distribute: dist?.distributor });
    // scale-out: every task's jobs are queued at once
    if (dist) probes.push(...(await Promise.all(tasks.map(one))));
    else for (const t of tasks) probes.push(await one(t));
    await engine.release();
  }

  // references per task: the same head type on the full model's final representation and on the subnetwork
  // with no layers (the embeddings), on dev (selection) and test (reporting); until those are measured, the
  // per-layer probes stand in
  const refs: References = {};
  probes.forEach((p) => (refs[p.task] = {
    dev: { final: p.layers[L].dev, embeddings: p.layers[0].dev, classes: p.classes },
    test: { final: p.layers[L].score, embeddings: p.layers[0].score, classes: p.classes },
  }));
  const ev = makeEvaluator(model, tok, tasks, weights, suite, () => refs, dist?.distributor.subsetRunner(tasks));
  // with --redis the four reference subnetworks go out as jobs at once (in-process: no-op, evaluated below)
  await Promise.all([ev.prefetch([range(L), []], 'test'), ev.prefetch([range(L), []], 'dev')]);
  const fullTest = await ev.evaluate(range(L), 'test');
  const fullDev = await ev.evaluate(range(L), 'dev');
  const embTest = await ev.evaluate([], 'test');
  const embDev = await ev.evaluate([], 'dev');
  const addTest = ev.layersAdd('test', bootstrap, seed);
  const addDev = ev.layersAdd('dev', bootstrap, seed);
  for (const t of tasks) {
    refs[t.name].test = { ...refs[t.name].test, final: fullTest.scores[t.name].score, embeddings: embTest.scores[t.name].score, layersAdd: addTest[t.name] };
    refs[t.name].dev = { ...refs[t.name].dev, final: fullDev.scores[t.name].score, embeddings: embDev.scores[t.name].score, layersAdd: addDev[t.name] };
  }
  const reference: Reference = Object.fromEntries(tasks.map((t) => [t.name, { dev: refs[t.name].dev.final, test: refs[t.name].test.final }]));
  const references: Record<string, TaskReferences> = Object.fromEntries(probes.map((p) => {
    // the best layer chosen on dev, as in the probe summary (the test argmax would report the luckiest of L+1
    // estimates); recomputed from the layers, so probes read from an older probe.json get it too
    const best = summarizeLayers(p.layers);
    const f = fullTest.scores[p.task];
    const e = embTest.scores[p.task];
    return [p.task, {
      majority: p.majority, classes: p.classes,
      embeddings: { dev: refs[p.task].dev.embeddings, test: e.score, lo: e.lo!, hi: e.hi! },
      embeddingsProbe: p.layers[0].score,
      final: { dev: refs[p.task].dev.final, test: f.score, lo: f.lo!, hi: f.hi! },
      best: { state: best.bestLayer, test: best.bestScore, lo: best.bestLo, hi: best.bestHi },
      layersAdd: { dev: addDev[p.task], test: addTest[p.task] },
      gainUndefined: { dev: gainDegenerate(refs[p.task].dev), test: gainDegenerate(refs[p.task].test) },
    } satisfies TaskReferences];
  }));
  logReferences(log, tasks, references);
  // scores are cached, retention is recomputed with the references as they are now (layersAdd included)
  const [fullNow, embNow, embDevNow] = [await ev.evaluate(range(L), 'test'), await ev.evaluate([], 'test'), await ev.evaluate([], 'dev')];
  if (mode === 'gain' && embDevNow.gain === undefined) {
    const why = `on dev, no task's layers add anything measurable over the embeddings (${tasks.map((t) => `${t.name}: ${references[t.name].gainUndefined.dev}`).join('; ')})`;
    if (opts.retention === 'gain') throw new ProbescaleError(`--retention gain: ${why}`, { fix: 'use --retention raw, more evaluation sentences (--max-eval), or tasks whose probe scores climb through the layers' });
    // the default asked for gain where it is defined; say loudly that this run falls back
    log(`gain retention is not defined: ${why}; selecting by raw retention instead (pass --retention raw to choose it, or evaluate on more sentences)`);
    mode = 'raw';
  }
  log(`selecting by ${mode} retention on dev${mode === 'gain' ? ` (tasks: ${tasks.filter((t) => !references[t.name].gainUndefined.dev).map((t) => t.name).join(', ')})` : ''}`);
  const objective = (r: SubsetScore) => (mode === 'raw' ? r.retention : r.gain!);
  // the search ranks subsets by the chosen retention
  let searchProgress: Progress | undefined;
  const selectionEv = { evaluate: async (layers: number[], split: 'dev' | 'test') => {
    const r = await ev.evaluate(layers, split);
    searchProgress?.increment();
    return { ...r, retention: objective(r) };
  }, prefetch: ev.prefetch, width: ev.width };

  const relevance = layerRelevance(probes.map((p, i) => ({ task: p.task, scores: p.layers.map((l) => l.dev), weight: weights[i] })));
  const calib = calibrationBatch(tok, tasks, maxSequenceTokens(model.arch));
  const geometry = await layerGeometry(model, calib, opts.threads);
  // the whole checkpoint (T5: with the decoder, which a subset of encoder blocks does not write)
  const fullParams = fullCost(paramCosts);
  if (paramCosts.outside) log(`T5: budgets are fractions of the whole checkpoint (${fullParams.toLocaleString()} parameters); the decoder's ${paramCosts.outside.toLocaleString()} are not probed, so the written model is the encoder alone (T5EncoderModel)`);

  const results: BudgetResult[] = new Array(budgets.length);
  const slebCache = new Map<number, number[]>();
  // smaller budgets first, and each search also starts from the subsets chosen at the smaller budgets of its
  // kind (they fit): ProbeScale's dev retention never falls as a budget grows. Results keep the order given.
  const asFraction = (b: Budget) => (b.absolute ? b.value / fullParams : b.value);
  const order = budgets.map((b, i) => i).sort((i, j) => budgets[i].kind.localeCompare(budgets[j].kind) || asFraction(budgets[i]) - asFraction(budgets[j]));
  const chosenBefore = new Map<Budget['kind'], number[][]>();
  for (const bi of order) {
    const budget = budgets[bi];
    const costs = budget.kind === 'parameters' ? paramCosts : budget.kind === 'flops' ? flops : await latencyCosts(model, calib, opts.threads, opts.precision);
    const cap = capacity(budget, costs);
    const k = cap.maxLayers;
    log(`budget ${budget.text}: ${k} of ${L} layers fit`);
    const add = knapsack(relevance.aggregate, costs.perLayer, cap.forLayers);
    const heuristics = await baselineSubsets({
      L, k, geometry,
      devScores: probes[0].layers.map((_, i) => probes.reduce((s, p, j) => s + weights[j] * p.layers[i].dev, 0)),
      sleb: async (n) => {
        if (!slebCache.has(n)) slebCache.set(n, (await slebSubset(model, calib, n, opts.threads)).layers);
        return slebCache.get(n)!;
      },
    });
    // the search starts from the best on dev of the additive optimum, every heuristic's subset and the smaller
    // budgets' choices
    searchProgress = progress(`budget ${budget.text}: search on dev`, searchEvals, 'subsets');
    const before = chosenBefore.get(budget.kind) ?? [];
    const search = await searchSubset(selectionEv, costs, cap.total, k, [add.layers, ...heuristics.map((h) => h.layers), ...before], searchEvals);
    searchProgress.stop();
    searchProgress = undefined;
    // scored after the search, which (as a starting subset) has usually scored it already
    const addDevScore = await ev.evaluate(add.layers, 'dev');
    const winner = search.best.retention > objective(addDevScore) ? 'search' : 'additive';
    const chosen = winner === 'search' ? search.best.layers : add.layers;
    chosenBefore.set(budget.kind, [...before, chosen]);
    const candidates = [{ method: 'probescale', layers: chosen }, ...heuristics];
    const methods: MethodResult[] = [];
    // every subset scored on test below, sent out at once with --redis
    const randoms = Array.from({ length: randomSeeds }, (_, s) => RANDOM_BASELINE.subset(L, k, seed * 1000 + s + 1));
    await ev.prefetch([...candidates.filter((c) => c.layers.length > 0).map((c) => c.layers), ...randoms], 'test');
    const testing = progress(`budget ${budget.text}: ProbeScale and baselines on test`, candidates.length + randomSeeds, 'subsets');
    for (const c of candidates) {
      testing.increment();
      if (c.layers.length === 0) continue;
      const r = await ev.evaluate(c.layers, 'test');
      const rawCI = ev.retentionCI(c.layers, 'test', 'raw', bootstrap, seed)!;
      const gainCI = ev.retentionCI(c.layers, 'test', 'gain', bootstrap, seed);
      const perTask: Record<string, TaskRetention> = {};
      for (const t of tasks) {
        const raw = ev.retentionCI(c.layers, 'test', 'raw', bootstrap, seed, t.name)!;
        const gain = ev.retentionCI(c.layers, 'test', 'gain', bootstrap, seed, t.name);
        perTask[t.name] = { raw: raw.score, rawCI: [raw.lo, raw.hi], gain: gain?.score, gainCI: gain && [gain.lo, gain.hi] };
      }
      methods.push({
        method: c.method, layers: c.layers, parameters: subsetCost(paramCosts, c.layers),
        retention: r.retention, retentionCI: [rawCI.lo, rawCI.hi], gain: r.gain, gainCI: gainCI && [gainCI.lo, gainCI.hi], scores: r.scores, perTask,
        devRetention: c.method === 'probescale' ? (winner === 'search' ? search.best.retention : objective(addDevScore)) : undefined,
      });
    }
    // is the difference to each baseline larger than test-set noise? (paired: same resampled test units)
    for (const m of methods.slice(1)) {
      const c = ev.compare(chosen, m.layers, bootstrap, seed, 'raw');
      m.probescaleMinus = { diff: c.score, lo: c.lo, hi: c.hi, above: c.above };
      if (fullNow.gain !== undefined) {
        const g = ev.compare(chosen, m.layers, bootstrap, seed, 'gain');
        m.probescaleMinusGain = { diff: g.score, lo: g.lo, hi: g.hi, above: g.above };
      }
      for (const t of tasks) {
        const pt = m.perTask![t.name];
        const c = ev.compare(chosen, m.layers, bootstrap, seed, 'raw', t.name);
        pt.probescaleMinus = { diff: c.score, lo: c.lo, hi: c.hi, above: c.above };
        if (pt.gain !== undefined) {
          const g = ev.compare(chosen, m.layers, bootstrap, seed, 'gain', t.name);
          pt.probescaleMinusGain = { diff: g.score, lo: g.lo, hi: g.hi, above: g.above };
        }
      }
    }
    const rand: SubsetScore[] = [];
    for (let s = 0; s < randomSeeds; s++) {
      rand.push(await ev.evaluate(randoms[s], 'test'));
      testing.increment();
    }
    testing.stop();
    const mean = rand.reduce((a, r) => a + r.retention, 0) / rand.length;
    const sd = Math.sqrt(rand.reduce((a, r) => a + (r.retention - mean) ** 2, 0) / Math.max(1, rand.length - 1));
    const gains = rand.map((r) => r.gain).filter((g): g is number => g !== undefined);
    const gainMean = gains.length ? gains.reduce((a, g) => a + g, 0) / gains.length : undefined;
    const gainSd = gainMean === undefined ? undefined : Math.sqrt(gains.reduce((a, g) => a + (g - gainMean) ** 2, 0) / Math.max(1, gains.length - 1));
    const randScores: SubsetScore['scores'] = {};
    for (const t of tasks) randScores[t.name] = { score: rand.reduce((a, r) => a + r.scores[t.name].score, 0) / rand.length };
    methods.push({ method: `${RANDOM_BASELINE.name} (${rand.length} seeds)`, layers: [], parameters: subsetCost(paramCosts, rand[0].layers), retention: mean, sd, gain: gainMean, gainSd, scores: randScores });
    results[bi] = {
      budget: budget.text, kind: budget.kind, allowed: cap.total, keptLayers: k,
      additive: { layers: add.layers, devRetention: objective(addDevScore), exact: add.exact },
      search: { layers: search.best.layers, devRetention: search.best.retention, method: search.method, evaluated: search.evaluated },
      winner, methods,
    };
    for (const m of methods) log(methodLine(m, mode));
  }

  const selection: Selection = {
    retentionMode: mode, reference, references, embeddingsOnly: { retention: embNow.retention, gain: embNow.gain }, probes, relevance,
    blockInfluence: geometry.blockInfluence, parameters: { full: fullParams, perLayer: paramCosts.perLayer, fixed: paramCosts.fixed }, budgets: results,
  };
  return { selection, ev, refs, suite, calib, objective, embeddings: embNow };
}

const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(100 * v).toFixed(1)}%`);
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;

function logReferences(log: (s: string) => void, tasks: Task[], refs: Record<string, TaskReferences>): void {
  log('references on test (embeddings = the subnetwork with no layers; gain retention = (score - embeddings) / (final - embeddings)):');
  for (const t of tasks) {
    const r = refs[t.name];
    const add = r.layersAdd.test;
    log(`  ${t.name.padEnd(8)} ${t.metric}: majority class ${r.majority.toFixed(3)}, embeddings ${r.embeddings.test.toFixed(3)}, final layer ${r.final.test.toFixed(3)} [${r.final.lo.toFixed(3)}, ${r.final.hi.toFixed(3)}], best hidden state (dev) ${r.best.state} ${r.best.test.toFixed(3)}; layers add ${pts(add.score)} pts [${pts(add.lo)}, ${pts(add.hi)}]`);
    if (r.gainUndefined.test) log(`           gain retention not defined on test: ${r.gainUndefined.test}`);
    else if (r.gainUndefined.dev) log(`           left out of gain-based selection (dev): ${r.gainUndefined.dev}`);
  }
}

function methodLine(m: MethodResult, mode: RetentionMode): string {
  const ci = (c?: [number, number]) => (c ? ` [${(100 * c[0]).toFixed(1)}, ${(100 * c[1]).toFixed(1)}]` : '');
  const raw = `raw ${pct(m.retention)}${m.sd !== undefined ? ` ± ${(100 * m.sd).toFixed(1)}` : ci(m.retentionCI)}`;
  const gain = `gain ${pct(m.gain)}${m.gainSd !== undefined ? ` ± ${(100 * m.gainSd).toFixed(1)}` : ci(m.gainCI)}`;
  const d = mode === 'gain' ? m.probescaleMinusGain : m.probescaleMinus;
  const vs = d ? `   probescale ${pts(d.diff)} ${mode} pts [${pts(d.lo)}, ${pts(d.hi)}]${d.lo > 0 ? ' better' : d.hi < 0 ? ' worse' : ''}` : '';
  return `  ${m.method.padEnd(18)} layers [${m.layers.join(',')}]  test retention ${raw}, ${gain}${vs}`;
}
