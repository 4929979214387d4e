/**
 * probescale's side of the forward benchmark, run in its own process so peak RSS is its own.
 * Same protocol as bench/peers/torch_forward.py: seeded random ids, full mask, all hidden states kept.
 * Prints one JSON line.
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../../src/engine/load.js';
import { Engine } from '../../src/engine/engine.js';
import { peakRssMb } from '../../src/util/memory.js';
import type { Precision } from '../../src/engine/graph.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    iters: { type: 'string', default: '3' },
    logits: { type: 'boolean', default: false },
    external: { type: 'string', default: 'auto' },
    precision: { type: 'string', default: 'fp32' },
  },
});
const B = Number(values.batch);
const T = Number(values.seq);
const model = loadModel(values.model!);
const externalData = values.external === 'auto' ? undefined : values.external === 'on';
const engine = await Engine.create(model, { threads: Number(values.threads), hiddenStates: 'all', logits: values.logits, externalData, precision: values.precision as Precision });
let s = 12345;
const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => 3 + Math.floor(rand() * (model.arch.vocab - 3))));
for (let i = 0; i < Number(values.warmup); i++) await engine.run({ inputIds: ids });
const iters = Number(values.iters);
const t0 = performance.now();
let outputs = 0;
for (let i = 0; i < iters; i++) outputs = Object.keys(await engine.run({ inputIds: ids })).length;
const sec = (performance.now() - t0) / 1000 / iters;
console.log(
  JSON.stringify({
    peer: 'probescale',
    family: model.arch.family,
    precision: values.precision!,
    threads: Number(values.threads),
    batch: B,
    seq: T,
    iters,
    outputs,
    seconds_per_batch: sec,
    tokens_per_s: (B * T) / sec,
    peak_rss_mb: peakRssMb(),
  }),
);
