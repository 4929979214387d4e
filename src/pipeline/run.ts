/**
 * The whole ProbeScale pipeline, composed from the modules in flow order:
 *   probe every layer -> relevance -> per budget: additive optimum, search by running subnetworks,
 *   heuristic baselines at equal size -> test retention for all -> write the chosen model with task heads
 *   -> verify the written model by measurement -> results.json + report.html
 */
import { join } from 'node:path';
import { loadModel } from '../engine/load.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { SentencePooling, WordPooling } from '../features/task-rows.js';
import type { Task, TokenExample, SentenceExample } from '../data/types.js';
import { Engine, range } from '../engine/engine.js';
import { splitFeatures } from '../probe/suite.js';
import { LogisticProbe } from '../probe/logistic.js';
import { flopCosts, subsetCost } from '../select/costs.js';
import type { RetentionMode } from '../select/retention.js';
import { curvePoints, smallestFeasible } from './curve.js';
import { selectionInputs, selectLayers } from './select.js';
import { describeCompatibility } from '../compress/hf-files.js';
import { materialize } from '../compress/materialize.js';
import { sizeFactorLines, sizeReport } from '../compress/size.js';
import { fitBridges } from '../compress/heal.js';
import { verifyWritten } from '../verify/heads.js';
import { measureModel } from '../verify/measure.js';
import { fitRetention, budgetForRetention, predictRetention } from '../scaling/retention.js';
import type { CompressedResult, RunResults, Scaling } from '../report/results.js';
import { openDistributor } from './probe.js';
import { checkCanCreate, checkReplaceable, lockDir, prepareOutputDir, writeFileAtomic } from '../util/atomic.js';
import type { Precision } from '../engine/graph.js';
import { startProgress } from '../util/progress.js';
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
  const inputs = await selectionInputs({ ...opts, model: opts.model });
  const { model, tok, tasks, weights, paramCosts } = inputs;
  const L = model.arch.layers;
  // scale-out: Redis reached (or a one-line error) before --out exists; the queue module loads only then
  const dist = opts.redis ? await openDistributor(opts, model) : undefined;
  // the queue stays open until the subset evaluations are done (they go through it too)
  try {
    prepareOutputDir(opts.out, 'probescale run', { overwrite: opts.overwrite });
    const pooling = opts.pooling ?? 'mean';
    // 1. probe, references, selection per budget with every baseline (pipeline/select.ts); with --redis every
    // feature entry (the workers' and this process's subsets) lives in the shared store
    const { selection, ev, refs, suite, calib, objective, embeddings: embNow } = await selectLayers(inputs, { ...opts, cacheDir: dist?.featuresDir ?? join(opts.out, '.features'), log }, dist && { distributor: dist, label: opts.redis! });
    const { probes, budgets: results, retentionMode: mode } = selection;
    const fullParams = selection.parameters.full;
    const progress = (label: string, total: number, unit: string) => startProgress(label, total, { unit, enabled: opts.progress !== false });

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
    // bytes next to parameters; each written file's size against the original checkpoint, factor by factor
    const size = sizeReport(model, written);
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;
    log(`size: original checkpoint ${mb(size.originalBytes)} (${size.original.dtype}); written model.safetensors ${mb(written.bytes.safetensors)} (${written.dtype.safetensors}), model.onnx ${mb(written.bytes.onnx)} (fp32)${written.bytes.onnxQuantized !== undefined ? `, model_quantized.onnx ${mb(written.bytes.onnxQuantized)} (int8)` : ''}`);
    for (const line of sizeFactorLines(size)) log(`  ${line}`);
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
      reference: selection.reference,
      references: selection.references,
      embeddingsOnly: selection.embeddingsOnly,
      probes,
      relevance: selection.relevance,
      blockInfluence: selection.blockInfluence,
      parameters: selection.parameters,
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
