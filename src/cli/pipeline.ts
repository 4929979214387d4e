/**
 * The whole ProbeScale pipeline, composed from the modules in flow order:
 *   probe every layer -> relevance -> per budget: additive optimum, search by running subnetworks,
 *   heuristic baselines at equal size -> test retention for all -> write the chosen model with task heads
 *   -> verify the written model by measurement -> results.json + report.html
 */
import { join } from 'node:path';
import { loadModel, type LoadedModel } from '../model/checkpoint.js';
import { maxSequenceTokens } from '../model/config.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { SentencePooling } from '../features/task-rows.js';
import type { Task, TokenExample, SentenceExample } from '../data/types.js';
import { Engine, range } from '../engine/engine.js';
import { medianRunMs } from '../engine/timing.js';
import { probeTask, splitFeatures, type SuiteOptions, type TaskResult } from '../probe/suite.js';
import { LogisticProbe } from '../probe/logistic.js';
import { makeScorer } from '../probe/scoring.js';
import { layerRelevance } from '../select/relevance.js';
import { knapsack } from '../select/knapsack.js';
import { parameterCosts, flopCosts, subsetCost, type LayerCosts } from '../select/costs.js';
import { capacity, parseBudget, type Budget } from '../select/budget.js';
import { makeEvaluator, type SubsetScore } from '../select/evaluate.js';
import { searchSubset } from '../select/search.js';
import * as baselines from '../select/baselines.js';
import { layerGeometry, slebSubset } from '../select/calibration.js';
import { checkpointBytes, materialize } from '../compress/materialize.js';
import { fitBridges } from '../compress/heal.js';
import { measureModel, type Measurement } from '../verify/measure.js';
import { checkCanCreate, checkReplaceable, lockDir, prepareOutputDir, writeFileAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { resolveTasks } from './tasks.js';
import { fitRetention, budgetForRetention } from '../scaling/retention.js';
import type { TensorToWrite } from '../model/safetensors.js';
import type { Precision } from '../engine/graph.js';

export interface PipelineOptions {
  model: string;
  tasks: string;
  weights?: string;
  budgets: string;
  out: string;
  maxTrain?: number;
  maxEval?: number;
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
  /** also write OUT/model/model_quantized.onnx (int8 linear layers) and verify it: retention, bytes, latency, peak RSS */
  quantize?: 'int8';
  /** sentence pooling for sentence-level tasks (default mean; 'last' suits decoders, whose last token has seen the whole sentence) */
  pooling?: SentencePooling;
  searchEvals: number;
  randomSeeds: number;
  bootstrap: number;
  log?: (line: string) => void;
}

export interface MethodResult {
  method: string;
  layers: number[];
  parameters: number;
  /** test retention (weighted) and per-task test scores */
  retention: number;
  scores: SubsetScore['scores'];
  devRetention?: number;
  sd?: number;
  /** ProbeScale's test retention minus this method's, paired bootstrap 95% CI; above = share of resamples > 0 */
  probescaleMinus?: { diff: number; lo: number; hi: number; above: number };
}

export interface BudgetResult {
  budget: string;
  kind: Budget['kind'];
  allowed: number;
  keptLayers: number;
  additive: { layers: number[]; devRetention: number; exact: boolean };
  search: { layers: number[]; devRetention: number; method: string; evaluated: number };
  winner: 'additive' | 'search';
  methods: MethodResult[];
}

/** A batch of task text for calibration statistics (Block Influence, angular distance, SLEB, healing). */
function calibrationBatch(tok: TextTokenizer, tasks: Task[], maxTokens: number, n = 32): { inputIds: number[][] } {
  const texts: string[] = [];
  for (const t of tasks) {
    for (const ex of t.splits.train.slice(0, Math.ceil(n / tasks.length))) texts.push('words' in ex ? (ex as TokenExample).words.join(' ') : (ex as SentenceExample).text);
  }
  return { inputIds: texts.slice(0, n).map((s) => tok.encode(s).slice(0, Math.min(128, maxTokens))) };
}

async function latencyCosts(model: LoadedModel, batch: { inputIds: number[][] }, threads?: number, precision?: Precision): Promise<LayerCosts> {
  const time = async (layers: number[]) => {
    const e = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, threads, precision });
    const ms = await medianRunMs(e, batch, 5);
    await e.release();
    return ms;
  };
  const L = model.arch.layers;
  const full = await time(range(L));
  const none = await time([]);
  return { perLayer: new Array(L).fill(Math.max((full - none) / L, 1e-6)), fixed: none, unit: 'ms/batch' };
}

export async function runPipeline(opts: PipelineOptions) {
  const log = opts.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  // validate everything before creating anything: a failed run leaves no empty --out behind
  checkReplaceable(opts.out, { overwrite: opts.overwrite });
  checkCanCreate(opts.out);
  const model = loadModel(opts.model);
  const tok = await model.tokenizer();
  const tasks = resolveTasks(opts.tasks, { maxTrain: opts.maxTrain, maxEval: opts.maxEval, seed: opts.seed, allowOutside: opts.allowOutside });
  const weights = opts.weights ? opts.weights.split(',').map(Number) : tasks.map(() => 1);
  if (weights.length === tasks.length && weights.every((w) => w >= 0) && !weights.some((w) => w > 0)) {
    throw new UsageError(`--weights are all 0: retention would be 0/0`, { fix: 'give at least one task a positive weight' });
  }
  if (weights.length !== tasks.length || weights.some((w) => !(w >= 0 && Number.isFinite(w)))) {
    throw new UsageError(`--weights has ${weights.length} value(s) for ${tasks.length} task(s) (${tasks.map((t) => t.name).join(', ')})`, { fix: 'give one non-negative weight per task, in the same order' });
  }
  const budgets = opts.budgets.split(',').map((b) => parseBudget(b));
  const L = model.arch.layers;
  const paramCosts = parameterCosts(model);
  const flops = flopCosts(model, 64, Math.max(...tasks.map((t) => t.labels.length)));
  // fail before any work if a budget cannot hold a single layer
  for (const b of budgets) if (b.kind !== 'latency') capacity(b, b.kind === 'parameters' ? paramCosts : flops);
  prepareOutputDir(opts.out, 'probescale run', { overwrite: opts.overwrite });
  const pooling = opts.pooling ?? 'mean';
  const suite: SuiteOptions = { cacheDir: join(opts.out, '.features'), bootstrap: opts.bootstrap, seed: opts.seed, progress: process.stderr.isTTY, threads: opts.threads, precision: opts.precision, sentencePooling: pooling };

  // 1. probe every layer of the full model
  log(`probing ${L + 1} representations of ${model.source} on ${tasks.map((t) => t.name).join(', ')}`);
  const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads: opts.threads, precision: opts.precision });
  const probes: TaskResult[] = [];
  for (const t of tasks) probes.push(await probeTask(engine, tok, t, { ...suite, control: t.kind === 'token' }));
  await engine.release();

  // reference: the same head type on the full model's final representation (dev and test), and the best layer
  const reference: Record<string, Record<'dev' | 'test', number>> = {};
  probes.forEach((p) => (reference[p.task] = { dev: p.layers[L].dev, test: p.layers[L].score }));
  const ev = makeEvaluator(model, tok, tasks, weights, suite, () => reference);
  const fullTest = await ev.evaluate(range(L), 'test');
  for (const t of tasks) reference[t.name].test = fullTest.scores[t.name].score;
  const fullDev = await ev.evaluate(range(L), 'dev');
  for (const t of tasks) reference[t.name].dev = fullDev.scores[t.name].score;

  const relevance = layerRelevance(probes.map((p, i) => ({ task: p.task, scores: p.layers.map((l) => l.dev), weight: weights[i] })));
  const calib = calibrationBatch(tok, tasks, maxSequenceTokens(model.arch));
  const geometry = await layerGeometry(model, calib, opts.threads);
  const fullParams = subsetCost(paramCosts, range(L));

  const results: BudgetResult[] = [];
  const slebCache = new Map<number, number[]>();
  for (const budget of budgets) {
    const costs = budget.kind === 'parameters' ? paramCosts : budget.kind === 'flops' ? flops : await latencyCosts(model, calib, opts.threads, opts.precision);
    const cap = capacity(budget, costs);
    const k = cap.maxLayers;
    log(`budget ${budget.text}: ${k} of ${L} layers fit`);
    const add = knapsack(relevance.aggregate, costs.perLayer, cap.forLayers);
    const addDev = await ev.evaluate(add.layers, 'dev');
    if (!slebCache.has(k)) slebCache.set(k, (await slebSubset(model, calib, k, opts.threads)).layers);
    const heuristics: { method: string; layers: number[] }[] = [
      { method: 'drop-top', layers: baselines.dropTop(L, k) },
      { method: 'drop-bottom', layers: baselines.dropBottom(L, k) },
      { method: 'alternate', layers: baselines.alternate(L, k) },
      { method: 'keep-ends', layers: baselines.keepEnds(L, k) },
      { method: 'block-influence', layers: baselines.blockInfluence(geometry.blockInfluence, k) },
      { method: 'angular', layers: baselines.angularDrop(geometry.angular, L, k).layers },
      { method: 'truncate-best', layers: baselines.truncateAtBest(probes[0].layers.map((_, i) => probes.reduce((s, p, j) => s + weights[j] * p.layers[i].dev, 0)), k) },
      { method: 'sleb', layers: slebCache.get(k)! },
    ];
    // the search starts from the best on dev of the additive optimum and every heuristic's subset
    const search = await searchSubset(ev, costs, cap.total, k, [add.layers, ...heuristics.map((h) => h.layers)], opts.searchEvals);
    const winner = search.best.retention > addDev.retention ? 'search' : 'additive';
    const chosen = winner === 'search' ? search.best.layers : add.layers;
    const candidates = [{ method: 'probescale', layers: chosen }, ...heuristics];
    const methods: MethodResult[] = [];
    for (const c of candidates) {
      if (c.layers.length === 0) continue;
      const r = await ev.evaluate(c.layers, 'test');
      methods.push({ method: c.method, layers: c.layers, parameters: subsetCost(paramCosts, c.layers), retention: r.retention, scores: r.scores, devRetention: c.method === 'probescale' ? (winner === 'search' ? search.best.retention : addDev.retention) : undefined });
    }
    // is the difference to each baseline larger than test-set noise? (paired: same resampled test units)
    for (const m of methods.slice(1)) {
      const c = ev.compare(chosen, m.layers, opts.bootstrap, opts.seed);
      m.probescaleMinus = { diff: c.score, lo: c.lo, hi: c.hi, above: c.above };
    }
    const rand: SubsetScore[] = [];
    for (let s = 0; s < opts.randomSeeds; s++) rand.push(await ev.evaluate(baselines.randomSubset(L, k, opts.seed * 1000 + s + 1), 'test'));
    const mean = rand.reduce((a, r) => a + r.retention, 0) / rand.length;
    const sd = Math.sqrt(rand.reduce((a, r) => a + (r.retention - mean) ** 2, 0) / Math.max(1, rand.length - 1));
    const randScores: SubsetScore['scores'] = {};
    for (const t of tasks) randScores[t.name] = { score: rand.reduce((a, r) => a + r.scores[t.name].score, 0) / rand.length };
    methods.push({ method: `random (${rand.length} seeds)`, layers: [], parameters: subsetCost(paramCosts, rand[0].layers), retention: mean, sd, scores: randScores });
    results.push({
      budget: budget.text, kind: budget.kind, allowed: cap.total, keptLayers: k,
      additive: { layers: add.layers, devRetention: addDev.retention, exact: add.exact },
      search: { layers: search.best.layers, devRetention: search.best.retention, method: search.method, evaluated: search.evaluated },
      winner, methods,
    });
    const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
    for (const m of methods) {
      const d = m.probescaleMinus;
      const vs = d ? `   probescale ${pts(d.diff)} pts [${pts(d.lo)}, ${pts(d.hi)}]${d.lo > 0 ? ' better' : d.hi < 0 ? ' worse' : ''}` : '';
      log(`  ${m.method.padEnd(18)} layers [${m.layers.join(',')}]  test retention ${(100 * m.retention).toFixed(1)}%${m.sd !== undefined ? ` ± ${(100 * m.sd).toFixed(1)}` : ''}${vs}`);
    }
  }

  // 2. write the chosen model of the first budget, with a trained head per task
  const primary = results[0];
  const keep = primary.methods[0].layers;
  // healing bridges are kept only if they help on dev: a linear map fitted on average calibration tokens can
  // wash out what a task reads (measured: mini-gpt keeping 1 of 12 layers, coordination inversion fell to chance)
  let bridges = opts.heal ? await fitBridges(model, keep, calib, opts.threads) : undefined;
  let healing: { devRetentionHealed: number; devRetentionUnhealed: number; used: boolean } | undefined;
  if (bridges) {
    const healed = await ev.evaluate(keep, 'dev', bridges);
    const plain = await ev.evaluate(keep, 'dev');
    healing = { devRetentionHealed: healed.retention, devRetentionUnhealed: plain.retention, used: healed.retention > plain.retention };
    log(`healing bridges: dev retention ${(100 * healed.retention).toFixed(1)}% with, ${(100 * plain.retention).toFixed(1)}% without -> ${healing.used ? 'kept' : 'dropped'}`);
    if (!healing.used) bridges = undefined;
  }
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
    headInfo[t.name] = { kind: t.kind, labels: t.labels, metric: t.metric, C: probe.chosenC, input: t.kind === 'edge' ? 'concat(span1 mean, span2 mean)' : t.kind === 'token' ? 'first sub-token of each word' : `${pooling === 'mean' ? 'mean over tokens' : `${pooling} token`}`, layout: 'logits = features @ weight + bias' };
  }
  await sub.release();
  const used = opts.trimVocab ? new Set(tasks.flatMap((t) => ['train', 'dev', 'test'].flatMap((s) => splitTokens(tok, t, s as 'train')))) : undefined;
  const modelDir = join(opts.out, 'model');
  // concurrent runs on one --out: one at a time replaces OUT/model, verifies it and writes the results
  const unlock = await lockDir(opts.out, log);
  const written = await materialize(model, keep, modelDir, { head: headTensors, headInfo: { tasks: headInfo }, bridges, vocab: used ? { used, specials: [0, 1, 2, 3].filter((i) => i < model.arch.vocab) } : undefined, overwrite: opts.overwrite, quantize: opts.quantize });
  log(`wrote ${modelDir}: layers [${keep.join(',')}], ${written.parameters.toLocaleString()} parameters (backbone${bridges ? ' + healing bridges' : ''}; task heads in head.safetensors)`);

  // 3. verify the written model: load it back, apply the stored heads on test, measure cost
  const verification = await verifyWritten(modelDir, tasks, reference, probes, suite, headTensors);
  const measured = { full: measureModel(model, { precision: opts.precision }), compressed: measureModel(loadModel(modelDir), { precision: opts.precision }) };
  // the int8 export: the verifying engine builds the same int8 graph from the written weights as model_quantized.onnx
  let quantized: { file: string; verification: typeof verification; measured: typeof measured.compressed } | undefined;
  if (opts.quantize) {
    quantized = {
      file: join(modelDir, 'model_quantized.onnx'),
      verification: await verifyWritten(modelDir, tasks, reference, probes, { ...suite, precision: opts.quantize }, headTensors),
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

  // 4. retention curve over the budgets (plus the full model at x = 1, r = 1)
  const curvePoints = [...results.map((b) => ({ x: b.methods[0].parameters / fullParams, r: b.methods[0].retention })), { x: 1, r: 1 }];
  let scaling: { fit: Awaited<ReturnType<typeof fitRetention>>; for95?: number } | undefined;
  if (curvePoints.length >= 3) {
    const fit = await fitRetention(curvePoints, { bootstrap: 200, seed: opts.seed });
    let for95: number | undefined;
    try {
      for95 = budgetForRetention(fit, 0.95);
    } catch {
      for95 = undefined;
    }
    scaling = { fit, for95 };
  }

  const out = {
    model: opts.model,
    modelHash: model.contentHash(),
    date: new Date().toISOString(),
    tasks: tasks.map((t, i) => ({ name: t.name, kind: t.kind, metric: t.metric, weight: weights[i], description: t.description, source: t.source })),
    reference,
    probes,
    relevance,
    blockInfluence: geometry.blockInfluence,
    parameters: { full: fullParams, perLayer: paramCosts.perLayer, fixed: paramCosts.fixed },
    budgets: results,
    scaling,
    compressed: { dir: modelDir, layers: keep, healed: !!bridges, healing, vocabTrimmed: !!used, parameters: written.parameters, verification, measured, compute, size, quantized },
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileAtomic(join(opts.out, 'results.json'), JSON.stringify(out, null, 2) + '\n');
  const { renderReport } = await import('../report/html.js'); // vega is heavy: loaded only when a report is written
  writeFileAtomic(join(opts.out, 'report.html'), await renderReport(out));
  unlock();
  log(`\nresults: ${join(opts.out, 'results.json')}\nreport:  ${join(opts.out, 'report.html')}\n(${out.seconds.toFixed(0)} s)`);
  return out;
}

function splitTokens(tok: TextTokenizer, t: Task, split: 'train' | 'dev' | 'test'): number[] {
  return t.splits[split].flatMap((ex) => ('words' in ex ? tok.encode((ex as TokenExample).words.join(' ')) : tok.encode((ex as SentenceExample).text + ('textB' in ex ? ` ${(ex as { textB: string }).textB}` : ''))));
}

/** Score the written model with its stored heads on each task's test split. */
async function verifyWritten(dir: string, tasks: Task[], reference: Record<string, Record<'dev' | 'test', number>>, probes: TaskResult[], suite: SuiteOptions, heads: Record<string, TensorToWrite>) {
  const written = loadModel(dir);
  const tok = await written.tokenizer();
  const engine = await Engine.create(written, { hiddenStates: 'last', logits: false, threads: suite.threads, precision: suite.precision });
  const out: Record<string, { score: number; fullFinal: number; fullBest: number; retentionVsFinal: number; retentionVsBest: number }> = {};
  for (const t of tasks) {
    const te = await splitFeatures(engine, tok, t, 'test', { ...suite, cacheDir: join(suite.cacheDir, 'verify') });
    const X = te.features.load(0);
    const W = heads[`head.${t.name}.weight`].data as Float32Array;
    const b = heads[`head.${t.name}.bias`].data as Float32Array;
    const K = t.labels.length;
    const pred = new Int32Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      let best = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = b[k];
        for (let c = 0; c < X.cols; c++) s += X.data[r * X.cols + c] * W[c * K + k];
        if (s > best) (best = s), (pred[r] = k);
      }
    }
    const score = makeScorer(t, te.rows).score(pred);
    const p = probes.find((x) => x.task === t.name)!;
    const fullBest = Math.max(...p.layers.map((l) => l.score));
    out[t.name] = { score, fullFinal: reference[t.name].test, fullBest, retentionVsFinal: score / reference[t.name].test, retentionVsBest: score / fullBest };
  }
  await engine.release();
  return out;
}

export type { Measurement };
