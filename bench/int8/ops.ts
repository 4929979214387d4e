/**
 * Which onnxruntime operator runs a dynamically quantized linear layer fastest on this CPU?
 * One GEMM of the BERT-base FFN shape (batch 32 x 128 tokens = 4096 rows, 768 -> 3072), each variant in its own
 * session, min of N runs; the *_FFN variants (both FFN GEMMs, no activation) are the int8 bench's ceilings. `node --import tsx bench/int8/ops.ts [runs]`
 */
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { pathToFileURL } from 'node:url';
import { GraphBuilder, FLOAT } from '../../src/engine/graph.js';

const { onnx } = onnxProto;
const M = 4096, K = 768, N = 3072;

function rand(n: number, s: number): Float32Array {
  const a = new Float32Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; a[i] = ((x / 2 ** 32) - 0.5) * s; }
  return a;
}
const W = rand(K * N, 0.1);
const X = rand(M * K, 2);
function quant(): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(K * N), scale = new Float32Array(N);
  for (let n = 0; n < N; n++) { let m = 0; for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(W[k * N + n])); scale[n] = m / 127 || 1; }
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) q[k * N + n] = Math.round(W[k * N + n] / scale[n]);
  return { q, scale };
}
const { q, scale } = quant();
// the FFN's second GEMM (3072 -> 768), for the two-GEMM ceiling variants
const W2 = rand(N * K, 0.05);
const q2 = new Int8Array(N * K), scale2 = new Float32Array(K);
for (let k = 0; k < K; k++) { let m = 0; for (let n = 0; n < N; n++) m = Math.max(m, Math.abs(W2[n * K + k])); scale2[k] = m / 127 || 1; }
for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) q2[n * K + k] = Math.round(W2[n * K + k] / scale2[k]);

type Variant = (g: GraphBuilder, x: string, init: (name: string, t: onnxProto.onnx.ITensorProto) => string) => string;
const I8 = onnx.TensorProto.DataType.INT8;
const variants: Record<string, Variant> = {
  fp32_MatMul: (g, x) => g.op('MatMul', [x, g.weight('W', W, [K, N])]),
  DynamicQuantizeMatMul: (g, x, init) => {
    const b = init('Wq', { dataType: I8, dims: [K, N], rawData: new Uint8Array(q.buffer) });
    return g.opN('DynamicQuantizeMatMul', [x, b, g.weight('s', scale, [N])], 1, {}, 'dqmm', 'com.microsoft')[0];
  },
  DQL_MatMulIntegerToFloat: (g, x, init) => {
    const b = init('Wq', { dataType: I8, dims: [K, N], rawData: new Uint8Array(q.buffer) });
    const [xq, xs, xz] = g.opN('DynamicQuantizeLinear', [x], 3);
    return g.opN('MatMulIntegerToFloat', [xq, b, xs, g.weight('s', scale, [N]), xz], 1, {}, 'mmitf', 'com.microsoft')[0];
  },
  DQL_MatMulInteger_Cast_Mul: (g, x, init) => {
    const b = init('Wq', { dataType: I8, dims: [K, N], rawData: new Uint8Array(q.buffer) });
    const [xq, xs, xz] = g.opN('DynamicQuantizeLinear', [x], 3);
    const acc = g.op('MatMulInteger', [xq, b, xz]);
    return g.op('Mul', [g.op('Cast', [acc], { to: FLOAT }), g.op('Mul', [xs, g.weight('s', scale, [N])])]);
  },
  // The ceilings: an FFN without its activation (768 -> 3072 -> 768), so the large product stays inside the
  // graph (reused buffers) as in a model, instead of a fresh 50 MB graph output per run.
  fp32_FFN: (g, x) => g.op('MatMul', [g.op('MatMul', [x, g.weight('W', W, [K, N])]), g.weight('W2', W2, [N, K])]),
  int8_FFN: (g, x, init) => {
    const mm = (a: string, wq: Int8Array, sc: Float32Array, k: number, n: number, name: string) => {
      const b = init(name, { dataType: I8, dims: [k, n], rawData: new Uint8Array(wq.buffer) });
      const [aq, as, az] = g.opN('DynamicQuantizeLinear', [a], 3);
      return g.opN('MatMulIntegerToFloat', [aq, b, as, g.weight(`${name}.s`, sc, [n]), az], 1, {}, 'mmitf', 'com.microsoft')[0];
    };
    return mm(mm(x, q, scale, K, N, 'Wq'), q2, scale2, N, K, 'W2q');
  },
  bf16_MatMul: (g, x) => {
    const xb = g.op('Cast', [x], { to: onnx.TensorProto.DataType.BFLOAT16 });
    const wb = g.op('Cast', [g.weight('W', W, [K, N])], { to: onnx.TensorProto.DataType.BFLOAT16 });
    return g.op('Cast', [g.op('MatMul', [xb, wb])], { to: FLOAT });
  },
};

export interface GemmRate {
  variant: string;
  minMs?: number;
  medianMs?: number;
  /** GFLOP/s (fp32) or GOP/s (int8) at the fastest run: 2 M K N / time */
  gops?: number;
  error?: string;
}

/** Time each variant's GEMM (own session, one warm-up, `runs` timed runs). */
export async function measureGemms(threads: number, runs: number, only?: string[]): Promise<GemmRate[]> {
  const out: GemmRate[] = [];
  for (const [name, v] of Object.entries(variants)) {
    if (only && !only.includes(name)) continue;
    const g = new GraphBuilder(name);
    const extra: onnxProto.onnx.ITensorProto[] = [];
    const x = g.input('x', FLOAT, [M, K]);
    g.output('y', v(g, x, (n, t) => { extra.push({ ...t, name: n }); return n; }), FLOAT);
    let bytes = g.toBytes();
    if (extra.length) {
      const m = onnx.ModelProto.decode(bytes);
      m.graph!.initializer!.push(...extra);
      m.opsetImport!.push({ domain: 'com.microsoft', version: 1 });
      bytes = onnx.ModelProto.encode(m).finish();
    }
    try {
      const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      const feed = { x: new ort.Tensor('float32', X, [M, K]) };
      await s.run(feed);
      const all: number[] = [];
      for (let i = 0; i < runs; i++) { const t = performance.now(); await s.run(feed); all.push(performance.now() - t); }
      all.sort((a, b) => a - b);
      const gemms = name.endsWith('_FFN') ? 2 : 1;
      out.push({ variant: name, minMs: all[0], medianMs: all[all.length >> 1], gops: (gemms * 2 * M * K * N) / (all[0] / 1e3) / 1e9 });
      await s.release();
    } catch (e) {
      out.push({ variant: name, error: (e as Error).message.split('\n')[0].slice(0, 200) });
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rates = await measureGemms(Number(process.env.THREADS ?? 2), Number(process.argv[2] ?? 10));
  for (const r of rates) {
    console.log(r.error ? `${r.variant.padEnd(28)} not runnable: ${r.error}` : `${r.variant.padEnd(28)} min ${r.minMs!.toFixed(1)} ms  median ${r.medianMs!.toFixed(1)} ms  ${r.gops!.toFixed(0)} GOP/s (at min)`);
  }
}
