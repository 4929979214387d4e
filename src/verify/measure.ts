/**
 * Measured, not estimated: parameters counted from the written tensors, latency and peak memory from a
 * separate process running the model.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  /** every timed repeat (ms, sorted), for the spread around the median */
  timesMsBatch1: number[];
  timesMsBatch32: number[];
  seq: number;
  peakRssMb: number;
}

// from the sources the child is TypeScript (run through tsx); from the compiled package (dist/) it is plain JS
const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = existsSync(join(HERE, 'measure-child.ts')) ? join(HERE, 'measure-child.ts') : join(HERE, 'measure-child.js');

export function measureModel(model: LoadedModel, opts: { layers?: number[]; seq?: number; repeats?: number; threads?: number; precision?: Precision } = {}): Measurement {
  // tsx by its resolved location: a bare `--import tsx` resolves from the cwd and fails outside the repo
  const args = [...(CHILD.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : []), CHILD, '--model', model.source, '--seq', String(opts.seq ?? 64), '--repeats', String(opts.repeats ?? 5), '--threads', String(opts.threads ?? defaultThreads())];
  if (opts.precision) args.push('--precision', opts.precision);
  if (opts.layers) args.push('--layers', opts.layers.join(','));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measuring ${model.source} failed (${r.signal ?? `exit ${r.status}`}):\n${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { latency_ms_b1: number; latency_ms_b32: number; times_ms_b1: number[]; times_ms_b32: number[]; seq: number; peak_rss_mb: number };
  const costs = parameterCosts(model);
  const layers = opts.layers ?? costs.perLayer.map((_, l) => l);
  const parameters = subsetCost(costs, layers);
  return {
    parameters,
    layerParameters: parameters - costs.fixed,
    latencyMsBatch1: m.latency_ms_b1,
    latencyMsBatch32: m.latency_ms_b32,
    timesMsBatch1: m.times_ms_b1,
    timesMsBatch32: m.times_ms_b32,
    seq: m.seq,
    peakRssMb: m.peak_rss_mb,
  };
}
