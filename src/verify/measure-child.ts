/**
 * Runs in its own process so its peak RSS belongs to one model alone: load the model, build the engine,
 * time batch-1 and batch-32 forwards (median of repeats after a warm-up), print one JSON line.
 */
import { parseArgs } from 'node:util';
import { loadModel, maxSequenceTokens } from '../engine/load.js';
import { Engine } from '../engine/engine.js';
import { runTimesMs } from '../engine/timing.js';
import { peakRssMb } from '../util/memory.js';
import type { Precision } from '../engine/graph.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, layers: { type: 'string' }, seq: { type: 'string', default: '64' }, repeats: { type: 'string', default: '5' }, threads: { type: 'string', default: '0' }, precision: { type: 'string', default: 'fp32' } } });
// die with the parent: if it is killed (even SIGKILL) this process is reparented, and must not keep a core busy
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 200).unref();
const model = loadModel(values.model!);
const layers = values.layers ? values.layers.split(',').map(Number) : undefined;
const engine = await Engine.create(model, { layers, hiddenStates: 'last', logits: false, threads: Number(values.threads) || undefined, precision: values.precision as Precision });
const T = Math.min(Number(values.seq), maxSequenceTokens(model.arch)); // never past the position table
const repeats = Number(values.repeats);
const row = Array.from({ length: T }, (_, t) => 3 + ((t * 7919) % Math.max(1, model.arch.vocab - 3)));

// one warm-up run, then every repeat timed: the median is reported with the spread (min, max) of the repeats
async function timesMs(batch: number): Promise<number[]> {
  return runTimesMs(engine, { inputIds: Array.from({ length: batch }, () => row) }, repeats);
}

const b1 = await timesMs(1);
const b32 = await timesMs(32);
const median = (t: number[]) => t[Math.floor(t.length / 2)];
console.log(JSON.stringify({ latency_ms_b1: median(b1), latency_ms_b32: median(b32), times_ms_b1: b1, times_ms_b32: b32, seq: T, peak_rss_mb: peakRssMb() }));
