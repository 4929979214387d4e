/**
 * `npm run bench`: every benchmark against its peer in the same run, printed as ratios.
 * Requires Debian's python3-torch and python3-sklearn for the peers, on OpenBLAS
 * (apt-get install python3-torch python3-sklearn libopenblas0-pthread). Every PyTorch peer reports its BLAS and
 * GEMM speed first (bench/peer-check.ts); a peer on the reference BLAS, or far below our GEMM, gets no ratio.
 * Flags: --quick (fewer iterations; skips the TF.js candidates), --only forward|int8|probe|train|scaleout
 */
import { parseArgs } from 'node:util';
import { runForwardBench } from './forward/index.js';
import { runLogisticBench } from './probe/logistic-vs-sklearn.js';
import { runProbingOverhead } from './probe/overhead.js';
import { runMemoryBench } from './probe/memory.js';
import { runTrainEngineBench } from './train/index.js';
import { runOrtTrainBench } from './train/ort-gpt2.js';
import { runInt8Bench } from './int8/index.js';
import { machine } from './util.js';
import { runScaleOutBench } from './scaleout/index.js';
import { ratioCell, verdictLines } from './peer-check.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, threads: { type: 'string', default: '2' } } });
const threads = Number(values.threads);
console.log(`probescale bench — ${new Date().toISOString().slice(0, 10)} — ${machine()}\n`);

if (!values.only || values.only === 'forward') {
  console.log(`## Forward throughput (batch 32 x 128 tokens, all hidden states, ${threads} threads)\n`);
  const rows = await runForwardBench({ threads, iters: values.quick ? 1 : 3, batch: 32, seq: 128 });
  // the peer's BLAS and GEMM speed come before any ratio
  for (const r of rows) {
    if (r.note) console.log(`${r.model}: ${r.note}`);
    if (r.peer) for (const l of verdictLines(r.peer)) console.log(`${r.model}: ${l}`);
  }
  console.log('');
  console.log('| model | probescale tok/s | PyTorch tok/s | ratio | probescale peak RSS MB | PyTorch peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const f = (v: unknown, d = 0) => (v === undefined ? 'n/a' : Number(v).toFixed(d));
    const raw = r.torch ? Number(r.ours.tokens_per_s) / Number(r.torch.tokens_per_s) : undefined;
    console.log(`| ${r.model} | ${f(r.ours.tokens_per_s)} | ${f(r.torch?.tokens_per_s)} | ${ratioCell(r.peer, raw)} | ${f(r.ours.peak_rss_mb)} | ${f(r.torch?.peak_rss_mb)} |`);
  }
  console.log('');
}

if (!values.only || values.only === 'int8') await runInt8Bench({ threads, iters: values.quick ? 1 : 3 });

if (!values.only || values.only === 'probe') {
  await runLogisticBench(threads);
  await runProbingOverhead(threads, values.quick);
  runMemoryBench();
}

if (!values.only || values.only === 'train') {
  await runOrtTrainBench(threads);
  if (!values.quick) await runTrainEngineBench(threads); // the other candidates (TF.js), for the engine-choice table
}

// only when asked for: needs Debian's redis-server (it starts its own on a free localhost port)
if (values.only === 'scaleout') await runScaleOutBench({ quick: values.quick });
