/**
 * Measured, not estimated: parameters counted from the written tensors, latency and peak memory from a
 * separate process running the model.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import type { LoadedModel } from '../model/checkpoint.js';
import { parameterCosts, subsetCost } from '../select/costs.js';
import { defaultThreads } from '../util/threads.js';
import type { Precision } from '../engine/graph.js';

export interface Measurement {
  parameters: number;
  layerParameters: number;
  latencyMsBatch1: number;
  latencyMsBatch32: number;
  seq: number;
  peakRssMb: number;
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'measure-child.ts');

export function measureModel(model: LoadedModel, opts: { layers?: number[]; seq?: number; repeats?: number; threads?: number; precision?: Precision } = {}): Measurement {
  const args = ['--import', 'tsx', CHILD, '--model', model.source, '--seq', String(opts.seq ?? 64), '--repeats', String(opts.repeats ?? 5), '--threads', String(opts.threads ?? defaultThreads())];
  if (opts.precision) args.push('--precision', opts.precision);
  if (opts.layers) args.push('--layers', opts.layers.join(','));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measuring ${model.source} failed (${r.signal ?? `exit ${r.status}`}):\n${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { latency_ms_b1: number; latency_ms_b32: number; seq: number; peak_rss_mb: number };
  const costs = parameterCosts(model);
  const layers = opts.layers ?? costs.perLayer.map((_, l) => l);
  const parameters = subsetCost(costs, layers);
  return {
    parameters,
    layerParameters: parameters - costs.fixed,
    latencyMsBatch1: m.latency_ms_b1,
    latencyMsBatch32: m.latency_ms_b32,
    seq: m.seq,
    peakRssMb: m.peak_rss_mb,
  };
}
