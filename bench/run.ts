/**
 * `npm run bench`: every benchmark against its peer in the same run, printed as ratios.
 * Requires Debian's python3-torch and python3-sklearn for the peers (apt-get install python3-torch python3-sklearn).
 * Flags: --quick (fewer iterations; skips the TF.js candidates), --only forward|probe|train
 */
import { parseArgs } from 'node:util';
import { runForwardBench } from './forward/index.js';
import { runLogisticBench } from './probe/logistic-vs-sklearn.js';
import { runProbingOverhead } from './probe/overhead.js';
import { runMemoryBench } from './probe/memory.js';
import { runTrainEngineBench } from './train/index.js';
import { runOrtTrainBench } from './train/ort-gpt2.js';
import { machine } from './util.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, threads: { type: 'string', default: '2' } } });
const threads = Number(values.threads);
console.log(`probescale bench — ${new Date().toISOString().slice(0, 10)} — ${machine()}\n`);

if (!values.only || values.only === 'forward') {
  console.log(`## Forward throughput (batch 32 x 128 tokens, all hidden states, ${threads} threads)\n`);
  console.log('| model | probescale tok/s | PyTorch tok/s | ratio | probescale peak RSS MB | PyTorch peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of await runForwardBench({ threads, iters: values.quick ? 1 : 3, batch: 32, seq: 128 })) {
    const f = (v: unknown, d = 0) => (v === undefined ? 'n/a' : Number(v).toFixed(d));
    console.log(`| ${r.model} | ${f(r.ours.tokens_per_s)} | ${f(r.torch?.tokens_per_s)} | ${r.ratio === undefined ? 'n/a' : r.ratio.toFixed(2) + 'x'} | ${f(r.ours.peak_rss_mb)} | ${f(r.torch?.peak_rss_mb)} |`);
    if (r.note) console.log(`\n${r.note}\n`);
  }
  console.log('');
}

if (!values.only || values.only === 'probe') {
  await runLogisticBench(threads);
  await runProbingOverhead(threads, values.quick);
  runMemoryBench();
}

if (!values.only || values.only === 'train') {
  await runOrtTrainBench(threads);
  if (!values.quick) runTrainEngineBench(threads); // the other candidates (TF.js), for the engine-choice table
}
