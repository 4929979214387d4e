/**
 * The whole ProbeScale pipeline, composed from the modules in flow order:
 *   probe every layer -> relevance -> per budget: additive optimum, search by running subnetworks,
 *   heuristic baselines at equal size -> test retention for all -> write the chosen model with task heads
 *   -> verify the written model by measurement -> results.json + report.html
 */
import { join } from 'node:path';
import { loadModel } from '../model/checkpoint.js';
import { maxSequenceTokens } from '../model/config.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { SentencePooling, WordPooling } from '../features/task-rows.js';
import type { Task, TokenExample, SentenceExample } from '../data/types.js';
import { resolveTasks } from '../data/resolve.js';
import { Engine, range } from '../engine/engine.js';
import { probeTask, splitFeatures, type SuiteOptions, type TaskResult } from '../probe/suite.js';
import { LogisticProbe } from '../probe/logistic.js';
import { layerRelevance } from '../select/relevance.js';
import { knapsack } from '../select/knapsack.js';
import { parameterCosts, flopCosts, fullCost, subsetCost } from '../select/costs.js';
import { latencyCosts } from '../select/latency.js';
import { capacity, parseBudget } from '../select/budget.js';
import { makeEvaluator, type References, type SubsetScore } from '../select/evaluate.js';
import { gainDegenerate, RETENTION_MODES, type RetentionMode } from '../select/retention.js';
import { curvePoints, smallestFeasible } from './curve.js';
import { searchSubset } from '../select/search.js';
import { baselineSubsets, RANDOM_BASELINE } from '../select/registry.js';
import { calibrationBatch, layerGeometry, slebSubset } from '../select/calibration.js';
import { describeCompatibility } from '../compress/hf-files.js';
import { checkpointBytes, materialize } from '../compress/materialize.js';
import { fitBridges } from '../compress/heal.js';
import { verifyWritten } from '../verify/heads.js';
import { measureModel } from '../verify/measure.js';
import { fitRetention, budgetForRetention, predictRetention } from '../scaling/retention.js';
import type { BudgetResult, CompressedResult, MethodResult, Reference, RunResults, Scaling, TaskReferences, TaskRetention } from '../report/results.js';
import { openDistributor } from './probe.js';
import { checkCanCreate, checkReplaceable, lockDir, prepareOutputDir, writeFileAtomic } from '../util/atomic.js';
import { ProbescaleError, UsageError } from '../util/errors.js';
import type { Precision } from '../engine/graph.js';
import { startProgress, type Progress } from '../util/progress.js';
import type { TensorToWrite } from '../model/safetensors.js';

export type { BudgetResult, MethodResult, RunResults } from '../report/results.js';

export interface PipelineOptions {
  model: string;
  tasks: string;
  weights?: string;
  budgets: string;
  out: string;
  maxTrain?: number;
  maxEval?: number;
  /** test units per task (default: maxEval); a number at least the split's size (e.g. Number.MAX_SAFE_INTEGER) = the whole test split */
  maxTest?: number;
  seed: number;
  heal?: boolean;
  trimVocab?: boolean;
  /** use --out (and replace OUT/model) even if it holds files probescale did not write */
  overwrite?: boolean;
  /** task specs may name data files outside their own folder */
  allowOutside?: boolean;
  threads?: number;
  /** linear-layer precision of every forward pass that probes, selects and verifies (calibration statistics and healing fits stay fp32) */
  precision?: Precision;
  /** also write OUT/model/onnx/model_quantized.onnx (int8 linear layers) and verify it: retention, bytes, latency, peak RSS */
  quantize?: 'int8';
  /** sentence pooling for sentence-level tasks (default mean; 'last' suits decoders, whose last token has seen the whole sentence) */
  pooling?: SentencePooling;
  /** word pooling over sub-tokens for token tasks (default first; mean suits decoders, whose first
   * sub-token has not seen the rest of the word) */
  wordPooling?: WordPooling;
  searchEvals: number;
  randomSeeds: number;
  bootstrap: number;
  /** what selection, the retention curve and its 95% answer use (default gain: raw retention is inflated by
   * what the embeddings alone already score; see select/retention.ts) */
  retention?: RetentionMode;
  /** progress on stderr for long steps (bar on a terminal, periodic lines otherwise); false: none */
  progress?: boolean;
  log?: (line: string) => void;
  /** scale-out: the probing step's feature shards and per-layer fits run as jobs on Redis for `probescale worker`s
   * (selection, baselines, compression and verification stay here) */
  redis?: string;
  /** scale-out result store, the same path on every machine (default OUT/.store) */
  store?: string;
  /** sequences per feature shard job (default 256) */
  shardSequences?: number;
}

export async function runPipeline(opts: PipelineOptions): Promise<RunResults> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  // validate everything before creating anything: a failed run leaves no empty --out behind
  checkReplaceable(opts.out, { overwrite: opts.overwrite });
  checkCanCreate(opts.out);
  const model = loadModel(opts.model);
  const tok = await model.tokenizer();
  const tasks = resolveTasks(opts.tasks, { maxTrain: opts.maxTrain, maxEval: opts.maxEval, maxTest: opts.maxTest, seed: opts.seed, allowOutside: opts.allowOutside });
  const weights = opts.weights ? opts.weights.split(',').map(Number) : tasks.map(() => 1);
  if (weights.length === tasks.length && weights.every((w) => w >= 0) && !weights.some((w) => w > 0)) {
    throw new UsageError(`--weights are all 0: retention would be 0/0`, { fix: 'give at least one task a positive weight' });
  }
  if (weights.length !== tasks.length || weights.some((w) => !(w >= 0 && Number.isFinite(w)))) {
    throw new UsageError(`--weights has ${weights.length} value(s) for ${tasks.length} task(s) (${tasks.map((t) => t.name).join(', ')})`, { fix: 'give one non-negative weight per task, in the same order' });
  }
  if (opts.retention !== undefined && !RETENTION_MODES.includes(opts.retention)) throw new UsageError(`--retention must be raw or gain, got "${opts.retention}"`);
  let mode: RetentionMode = opts.retention ?? 'gain';
  const budgets = opts.budgets.split(',').map((b) => parseBudget(b));
  const L = model.arch.layers;
  const paramCosts = parameterCosts(model);
  const flops = flopCosts(model, 64, Math.max(...tasks.map((t) => t.labels.length)));
  // fail before any work if a budget cannot hold a single layer
  for (const b of budgets) if (b.kind !== 'latency') capacity(b, b.kind === 'parameters' ? paramCosts : flops);
  // scale-out: Redis reached (or a one-line error) before --out exists; the queue module loads only then
  const dist = opts.redis ? await openDistributor(opts, model) : undefined;
  // the queue stays open until the subset evaluations are done (they go through it too)
  try {
    const probes: TaskResult[] = [];
    const pooling = opts.pooling ?? 'mean';
    prepareOutputDir(opts.out, 'probescale run', { overwrite: opts.overwrite });
    // with --redis every feature entry (the workers' and this process's subsets) lives in the shared store
    const suite: SuiteOptions = { cacheDir: dist?.featuresDir ?? join(opts.out, '.features'), bootstrap: opts.bootstrap, seed: opts.seed, progress: opts.progress !== false, threads: opts.threads, precision: opts.precision, sentencePooling: pooling, wordPooling: opts.wordPooling };

    // 1. probe every layer of the full model
    log(`probing ${L + 1} representations of ${model.source} on ${tasks.map((t) => t.name).join(', ')}${dist ? ` (scale-out: jobs on ${opts.redis})` : ''}`);
    const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads: opts.threads, precision: opts.precision });
    const one = (t: Task) => probeTask(engine, tok, t, { ...suite, control: t.kind === 'token', distribute: dist });
    // scale-out: every task's jobs are queued at once
    if (dist) probes.push(...(await Promise.all(tasks.map(one))));
    else for (const t of tasks) probes.push(await one(t));
    await engine.release();

    // references per task: the same head type on the full model's final representation and on the subnetwork
    // with no layers (the embeddings), on dev (selection) and test (reporting); until those are measured, the
    // per-layer probes stand in
    const refs: References = {};
    probes.forEach((p) => (refs[p.task] = {
      dev: { final: p.layers[L].dev, embeddings: p.layers[0].dev, classes: p.classes },
      test: { final: p.layers[L].score, embeddings: p.layers[0].score, classes: p.classes },
    }));
    const ev = makeEvaluator(model, tok, tasks, weights, suite, () => refs, dist?.subsetRunner(tasks));
    // with --redis the four reference subnetworks go out as jobs at once (in-process: no-op, evaluated below)
    await Promise.all([ev.prefetch([range(L), []], 'test'), ev.prefetch([range(L), []], 'dev')]);
    const fullTest = await ev.evaluate(range(L), 'test');
    const fullDev = await ev.evaluate(range(L), 'dev');
    const embTest = await ev.evaluate([], 'test');
    const embDev = await ev.evaluate([], 'dev');
    const addTest = ev.layersAdd('test', opts.bootstrap, opts.seed);
    const addDev = ev.layersAdd('dev', opts.bootstrap, opts.seed);
    for (const t of tasks) {
      refs[t.name].test = { ...refs[t.name].test, final: fullTest.scores[t.name].score, embeddings: embTest.scores[t.name].score, layersAdd: addTest[t.name] };
      refs[t.name].dev = { ...refs[t.name].dev, final: fullDev.scores[t.name].score, embeddings: embDev.scores[t.name].score, layersAdd: addDev[t.name] };
    }
    const reference: Reference = Object.fromEntries(tasks.map((t) => [t.name, { dev: refs[t.name].dev.final, test: refs[t.name].test.final }]));
    const references: Record<string, TaskReferences> = Object.fromEntries(probes.map((p) => {
      const best = p.layers.reduce((a, b) => (b.score > a.score ? b : a));
      const f = fullTest.scores[p.task];
      const e = embTest.scores[p.task];
      return [p.task, {
        majority: p.majority, classes: p.classes,
        embeddings: { dev: refs[p.task].dev.embeddings, test: e.score, lo: e.lo!, hi: e.hi! },
        embeddingsProbe: p.layers[0].score,
        final: { dev: refs[p.task].dev.final, test: f.score, lo: f.lo!, hi: f.hi! },
        best: { state: best.layer, test: best.score, lo: best.lo, hi: best.hi },
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
    const progress = (label: string, total: number, unit: string) => startProgress(label, total, { unit, enabled: opts.progress !== false });

    const relevance = layerRelevance(probes.map((p, i) => ({ task: p.task, scores: p.layers.map((l) => l.dev), weight: weights[i] })));
    const calib = calibrationBatch(tok, tasks, maxSequenceTokens(model.arch));
    const geometry = await layerGeometry(model, calib, opts.threads);
    // the whole checkpoint (T5: with the decoder, which a subset of encoder blocks does not write)
    const fullParams = fullCost(paramCosts);
    if (paramCosts.outside) log(`T5: budgets are fractions of the whole checkpoint (${fullParams.toLocaleString()} parameters); the decoder's ${paramCosts.outside.toLocaleString()} are not probed, so the written model is the encoder alone (T5EncoderModel)`);

    const results: BudgetResult[] = [];
    const slebCache = new Map<number, number[]>();
    for (const budget of budgets) {
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
      // the search starts from the best on dev of the additive optimum and every heuristic's subset
      searchProgress = progress(`budget ${budget.text}: search on dev`, opts.searchEvals, 'subsets');
      const search = await searchSubset(selectionEv, costs, cap.total, k, [add.layers, ...heuristics.map((h) => h.layers)], opts.searchEvals);
      searchProgress.stop();
      searchProgress = undefined;
      // scored after the search, which (as a starting subset) has usually scored it already
      const addDevScore = await ev.evaluate(add.layers, 'dev');
      const winner = search.best.retention > objective(addDevScore) ? 'search' : 'additive';
      const chosen = winner === 'search' ? search.best.layers : add.layers;
      const candidates = [{ method: 'probescale', layers: chosen }, ...heuristics];
      const methods: MethodResult[] = [];
      // every subset scored on test below, sent out at once with --redis
      const randoms = Array.from({ length: opts.randomSeeds }, (_, s) => RANDOM_BASELINE.subset(L, k, opts.seed * 1000 + s + 1));
      await ev.prefetch([...candidates.filter((c) => c.layers.length > 0).map((c) => c.layers), ...randoms], 'test');
      const testing = progress(`budget ${budget.text}: ProbeScale and baselines on test`, candidates.length + opts.randomSeeds, 'subsets');
      for (const c of candidates) {
        testing.increment();
        if (c.layers.length === 0) continue;
        const r = await ev.evaluate(c.layers, 'test');
        const rawCI = ev.retentionCI(c.layers, 'test', 'raw', opts.bootstrap, opts.seed)!;
        const gainCI = ev.retentionCI(c.layers, 'test', 'gain', opts.bootstrap, opts.seed);
        const perTask: Record<string, TaskRetention> = {};
        for (const t of tasks) {
          const raw = ev.retentionCI(c.layers, 'test', 'raw', opts.bootstrap, opts.seed, t.name)!;
          const gain = ev.retentionCI(c.layers, 'test', 'gain', opts.bootstrap, opts.seed, t.name);
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
        const c = ev.compare(chosen, m.layers, opts.bootstrap, opts.seed, 'raw');
        m.probescaleMinus = { diff: c.score, lo: c.lo, hi: c.hi, above: c.above };
        if (fullNow.gain !== undefined) {
          const g = ev.compare(chosen, m.layers, opts.bootstrap, opts.seed, 'gain');
          m.probescaleMinusGain = { diff: g.score, lo: g.lo, hi: g.hi, above: g.above };
        }
        for (const t of tasks) {
          const pt = m.perTask![t.name];
          const c = ev.compare(chosen, m.layers, opts.bootstrap, opts.seed, 'raw', t.name);
          pt.probescaleMinus = { diff: c.score, lo: c.lo, hi: c.hi, above: c.above };
          if (pt.gain !== undefined) {
            const g = ev.compare(chosen, m.layers, opts.bootstrap, opts.seed, 'gain', t.name);
            pt.probescaleMinusGain = { diff: g.score, lo: g.lo, hi: g.hi, above: g.above };
          }
        }
      }
      const rand: SubsetScore[] = [];
      for (let s = 0; s < opts.randomSeeds; s++) {
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
      results.push({
        budget: budget.text, kind: budget.kind, allowed: cap.total, keptLayers: k,
        additive: { layers: add.layers, devRetention: objective(addDevScore), exact: add.exact },
        search: { layers: search.best.layers, devRetention: search.best.retention, method: search.method, evaluated: search.evaluated },
        winner, methods,
      });
      for (const m of methods) log(methodLine(m, mode));
    }

    // 2. write the chosen model of the first budget, with a trained head per task
    const primary = results[0];
    const keep = primary.methods[0].layers;
    // healing bridges are kept only if they help on dev: a linear map fitted on average calibration tokens can
    // wash out what a task reads (measured: mini-gpt keeping 1 of 12 layers, coordination inversion fell to chance)
    const healingSteps = opts.heal ? progress('healing', 3, 'steps (fit the bridges, dev with them, dev without)') : undefined;
    let bridges = opts.heal ? await fitBridges(model, keep, calib, opts.threads) : undefined;
    healingSteps?.increment();
    let healing: { devRetentionHealed: number; devRetentionUnhealed: number; used: boolean } | undefined;
    if (bridges) {
      const healed = await ev.evaluate(keep, 'dev', bridges);
      healingSteps?.increment();
      const plain = await ev.evaluate(keep, 'dev');
      healingSteps?.increment();
      healing = { devRetentionHealed: objective(healed), devRetentionUnhealed: objective(plain), used: objective(healed) > objective(plain) };
      log(`healing bridges: dev ${mode} retention ${(100 * healing.devRetentionHealed).toFixed(1)}% with, ${(100 * healing.devRetentionUnhealed).toFixed(1)}% without -> ${healing.used ? 'kept' : 'dropped'}`);
      if (!healing.used) bridges = undefined;
    }
    healingSteps?.stop();
    await ev.release();
    const headTensors: Record<string, TensorToWrite> = {};
    const headInfo: Record<string, unknown> = {};
    const sub = await Engine.create(model, { layers: keep, hiddenStates: 'last', logits: false, bridges, threads: opts.threads, precision: opts.precision });
    for (const t of tasks) {
      const tr = await splitFeatures(sub, tok, t, 'train', suite);
      const dv = await splitFeatures(sub, tok, t, 'dev', suite);
      const probe = await new LogisticProbe(t.labels.length).fit(tr.features.load(0), tr.rows.labels, { dev: { X: dv.features.load(0), y: dv.rows.labels } });
      const lin = probe.exportLinear();
      headTensors[`head.${t.name}.weight`] = { dtype: 'F32', shape: [lin.d, lin.K], data: lin.weight };
      headTensors[`head.${t.name}.bias`] = { dtype: 'F32', shape: [lin.K], data: lin.bias };
      headInfo[t.name] = { kind: t.kind, labels: t.labels, metric: t.metric, C: probe.chosenC, input: t.kind === 'edge' ? 'concat(span1 mean, span2 mean)' : t.kind === 'token' ? `${opts.wordPooling === 'mean' ? 'mean of the sub-tokens' : 'first sub-token'} of each word` : `${pooling === 'mean' ? 'mean over tokens' : `${pooling} token`}`, layout: 'logits = features @ weight + bias' };
    }
    await sub.release();
    const used = opts.trimVocab ? new Set(tasks.flatMap((t) => ['train', 'dev', 'test'].flatMap((s) => splitTokens(tok, t, s as 'train')))) : undefined;
    const modelDir = join(opts.out, 'model');
    // concurrent runs on one --out: one at a time replaces OUT/model, verifies it and writes the results
    const unlock = await lockDir(opts.out, log);
    const written = await materialize(model, keep, modelDir, { head: headTensors, headInfo: { tasks: headInfo }, bridges, vocab: used ? { used, specials: [0, 1, 2, 3].filter((i) => i < model.arch.vocab) } : undefined, overwrite: opts.overwrite, quantize: opts.quantize });
    log(`wrote ${modelDir}: layers [${keep.join(',')}], ${written.parameters.toLocaleString()} parameters (backbone${bridges ? ' + healing bridges' : ''}; task heads in head.safetensors)`);
    log(`  ${describeCompatibility(written.compat)}`);

    // 3. verify the written model: load it back, apply the stored heads on test, measure cost
    const verifying = progress('verifying the written model', tasks.length + 2, 'steps (tasks, then latency of both models)');
    const verification = await verifyWritten(modelDir, tasks, Object.fromEntries(tasks.map((t) => [t.name, refs[t.name].test])), probes, suite, headTensors, () => verifying.increment());
    const fullMeasured = measureModel(model, { precision: opts.precision });
    verifying.increment();
    const measured = { full: fullMeasured, compressed: measureModel(loadModel(modelDir), { precision: opts.precision }) };
    verifying.increment();
    verifying.stop();
    // the int8 export: the verifying engine builds the same int8 graph from the written weights as model_quantized.onnx
    let quantized: CompressedResult['quantized'];
    if (opts.quantize) {
      quantized = {
        file: join(modelDir, 'onnx', 'model_quantized.onnx'),
        verification: await verifyWritten(modelDir, tasks, Object.fromEntries(tasks.map((t) => [t.name, refs[t.name].test])), probes, { ...suite, precision: opts.quantize }, headTensors),
        measured: measureModel(loadModel(modelDir), { precision: opts.quantize }),
      };
    }
    // compute: the FLOP ratio next to the measured batch-32 latency ratio (the measuring child runs without logits,
    // so no head cost; a kept healing bridge adds one C x C product per token)
    const runFlops = flopCosts(model, measured.full.seq, 0);
    const bridgeFlops = 2 * model.arch.hidden * model.arch.hidden * Object.keys(bridges ?? {}).length;
    const compute = {
      flopRatio: (subsetCost(runFlops, keep) + bridgeFlops) / subsetCost(runFlops, range(L)),
      latencyRatioBatch32: measured.compressed.latencyMsBatch32 / measured.full.latencyMsBatch32,
    };
    const apart = Math.abs(compute.latencyRatioBatch32 / compute.flopRatio - 1);
    log(`compute: FLOP ratio ${(100 * compute.flopRatio).toFixed(1)}%, measured batch-32 latency ratio ${(100 * compute.latencyRatioBatch32).toFixed(1)}%${apart > 0.15 ? ` (${(100 * apart).toFixed(0)}% apart: embeddings, masks and per-run overhead do not shrink with the layers, and on a shared machine the two timings are noisy)` : ' (within 15%)'}`);
    // bytes next to parameters; the size ratio against the original checkpoint, factor by factor
    const originalBytes = checkpointBytes(model.source);
    const size = {
      originalBytes,
      written: written.bytes,
      selection: written.parametersBeforeTrim / fullParams,
      vocabulary: written.parameters / written.parametersBeforeTrim,
      quantization: written.bytes.onnxQuantized !== undefined ? written.bytes.onnxQuantized / written.bytes.onnx : undefined,
      total: (written.bytes.onnxQuantized ?? written.bytes.onnx) / originalBytes,
    };
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;
    log(`size: original checkpoint ${mb(originalBytes)}; written model.safetensors ${mb(written.bytes.safetensors)}, model.onnx ${mb(written.bytes.onnx)}${written.bytes.onnxQuantized !== undefined ? `, model_quantized.onnx ${mb(written.bytes.onnxQuantized)}` : ''}`);
    log(`size ratio ${(100 * size.total).toFixed(1)}% of the original = layer selection ${(100 * size.selection).toFixed(1)}% x vocabulary ${(100 * size.vocabulary).toFixed(1)}%${size.quantization !== undefined ? ` x int8 ${(100 * size.quantization).toFixed(1)}%` : ''} of the parameters/bytes (the ONNX file also holds transposed copies, so the product need not equal the total exactly)`);
    if (quantized) {
      for (const t of tasks) log(`  int8 ${t.name}: retention vs final ${(100 * quantized.verification[t.name].retentionVsFinal).toFixed(1)}% (fp32 written model ${(100 * verification[t.name].retentionVsFinal).toFixed(1)}%)`);
      const q = quantized.measured, c = measured.compressed;
      log(`  int8 latency batch 1 ${q.latencyMsBatch1.toFixed(2)} ms (fp32 ${c.latencyMsBatch1.toFixed(2)}), batch 32 ${q.latencyMsBatch32.toFixed(2)} ms (fp32 ${c.latencyMsBatch32.toFixed(2)}), peak RSS ${q.peakRssMb.toFixed(0)} MB (fp32 ${c.peakRssMb.toFixed(0)})`);
    }

    // 4. retention curve over the budgets, in the selection's retention (plus the embeddings-only subnetwork and
    // the full model at x = 1, r = 1, both measured)
    let scaling: Scaling | undefined;
    const smallest = smallestFeasible(paramCosts.fixed, paramCosts.perLayer, fullParams);
    const points = curvePoints({ budgets: results, parameters: { full: fullParams, fixed: paramCosts.fixed }, embeddingsOnly: { retention: embNow.retention, gain: embNow.gain } }, mode);
    if (points && points.length >= 3) {
      const fit = await fitRetention(points, { bootstrap: 200, seed: opts.seed });
      const at = (target: number) => {
        try {
          return Math.max(budgetForRetention(fit, target), smallest);
        } catch {
          return undefined;
        }
      };
      scaling = { mode, fit: { ...fit, raw: [...fit.raw] }, for95: at(0.95), for98: at(0.98), smallestFeasible: smallest, floor: predictRetention(fit, smallest) };
    }

    const out: RunResults = {
      model: opts.model,
      modelHash: model.contentHash(),
      date: new Date().toISOString(),
      tasks: tasks.map((t, i) => ({ name: t.name, kind: t.kind, metric: t.metric, weight: weights[i], description: t.description, source: t.source })),
      retentionMode: mode,
      reference,
      references,
      embeddingsOnly: { retention: embNow.retention, gain: embNow.gain },
      probes,
      relevance,
      blockInfluence: geometry.blockInfluence,
      parameters: { full: fullParams, perLayer: paramCosts.perLayer, fixed: paramCosts.fixed },
      budgets: results,
      scaling,
      compressed: { dir: modelDir, compat: written.compat, layers: keep, healed: !!bridges, healing, vocabTrimmed: !!used, parameters: written.parameters, verification, measured, compute, size, quantized },
      seconds: (performance.now() - t0) / 1000,
    };
    writeFileAtomic(join(opts.out, 'results.json'), JSON.stringify(out, null, 2) + '\n');
    const { renderReport } = await import('../report/html.js'); // vega is heavy: loaded only when a report is written
    writeFileAtomic(join(opts.out, 'report.html'), await renderReport(out));
    unlock();
    log(`\nresults: ${join(opts.out, 'results.json')}\nreport:  ${join(opts.out, 'report.html')}\n(${out.seconds.toFixed(0)} s)`);
    return out;
  } finally {
    await dist?.close();
  }
}

function splitTokens(tok: TextTokenizer, t: Task, split: 'train' | 'dev' | 'test'): number[] {
  return t.splits[split].flatMap((ex) => ('words' in ex ? tok.encode((ex as TokenExample).words.join(' ')) : tok.encode((ex as SentenceExample).text + ('textB' in ex ? ` ${(ex as { textB: string }).textB}` : ''))));
}

const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(100 * v).toFixed(1)}%`);
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;

function logReferences(log: (s: string) => void, tasks: Task[], refs: Record<string, TaskReferences>): void {
  log('references on test (embeddings = the subnetwork with no layers; gain retention = (score - embeddings) / (final - embeddings)):');
  for (const t of tasks) {
    const r = refs[t.name];
    const add = r.layersAdd.test;
    log(`  ${t.name.padEnd(8)} ${t.metric}: majority class ${r.majority.toFixed(3)}, embeddings ${r.embeddings.test.toFixed(3)}, final layer ${r.final.test.toFixed(3)} [${r.final.lo.toFixed(3)}, ${r.final.hi.toFixed(3)}], best hidden state ${r.best.state} ${r.best.test.toFixed(3)}; layers add ${pts(add.score)} pts [${pts(add.lo)}, ${pts(add.hi)}]`);
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
