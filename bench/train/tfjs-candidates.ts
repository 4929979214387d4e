/**
 * Training-engine candidates that install from the npm registry, measured on this machine:
 * TensorFlow.js with its WASM backend (SIMD; threads where the runtime allows) and its plain-JS CPU
 * backend. (tfjs-node is out: its installer downloads libtensorflow from outside the registry.)
 * Two figures each: fp32 matmul GFLOP/s, and one training step (forward + backward + Adam) of a 4-layer
 * transformer LM (d_model 128, 4 heads, seq 64, batch 32, char vocab 65). One JSON line per backend.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// One CommonJS instance of tfjs-core for core, backends and gradients (mixing its ESM and CJS builds
// gives two kernel/gradient registries).
const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs') as typeof TF; // the umbrella bundle registers every gradient
require('@tensorflow/tfjs-backend-cpu');
const { setWasmPaths, setThreadsCount } = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');

const V = 65, C = 128, H = 4, L = 4, T = 64, B = 32, F = 4 * C;

function initParams(): Record<string, TF.Variable> {
  const p: Record<string, TF.Variable> = {};
  const v = (name: string, shape: number[], std: number) => (p[name] = tf.variable(std ? tf.randomNormal(shape, 0, std, 'float32', 1) : tf.ones(shape), true, name));
  v('wte', [V, C], 0.02);
  v('wpe', [T, C], 0.02);
  for (let l = 0; l < L; l++) {
    v(`ln1.${l}`, [C], 0);
    v(`qkv.${l}`, [C, 3 * C], 0.02);
    v(`proj.${l}`, [C, C], 0.02);
    v(`ln2.${l}`, [C], 0);
    v(`fc.${l}`, [C, F], 0.02);
    v(`out.${l}`, [F, C], 0.02);
  }
  v('lnf', [C], 0);
  return p;
}

function rms(x: TF.Tensor, g: TF.Tensor): TF.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), g);
}

function loss(p: Record<string, TF.Variable>, ids: TF.Tensor2D, targets: TF.Tensor2D): TF.Scalar {
  const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
  const bias = tf.mul(tf.sub(1, mask), -1e9);
  // Embedding as one-hot @ wte: the WASM backend lacks UnsortedSegmentSum, the gradient of Gather.
  let x = tf.add(tf.reshape(tf.matMul(tf.oneHot(tf.reshape(ids, [B * T]), V), p.wte), [B, T, C]), p.wpe) as TF.Tensor3D; // [B, T, C]
  const D = C / H;
  for (let l = 0; l < L; l++) {
    const h = tf.reshape(rms(x, p[`ln1.${l}`]), [B * T, C]);
    const qkv = tf.reshape(tf.matMul(h, p[`qkv.${l}`]), [B, T, 3, H, D]);
    const [q, k, v] = tf.split(qkv, 3, 2).map((t) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]));
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), bias));
    const ctx = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, C]);
    x = tf.add(x, tf.reshape(tf.matMul(ctx, p[`proj.${l}`]), [B, T, C]));
    const m = tf.reshape(rms(x, p[`ln2.${l}`]), [B * T, C]);
    x = tf.add(x, tf.reshape(tf.matMul(tf.relu(tf.matMul(m, p[`fc.${l}`])), p[`out.${l}`]), [B, T, C]));
  }
  const logits = tf.matMul(tf.reshape(rms(x, p.lnf), [B * T, C]), p.wte, false, true);
  return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.reshape(targets, [B * T]), V), logits) as TF.Scalar;
}

async function measure(backend: string): Promise<Record<string, unknown>> {
  await tf.setBackend(backend);
  await tf.ready();
  // matmul GFLOP/s
  const n = 512;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  tf.matMul(a, b).dataSync();
  const reps = backend === 'cpu' ? 3 : 10;
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
  const gflops = (2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9;
  // training step
  const params = initParams();
  const opt = tf.train.adam(1e-3);
  const ids = tf.randomUniform([B, T], 0, V, 'int32', 2) as TF.Tensor2D;
  const targets = tf.randomUniform([B, T], 0, V, 'int32', 3) as TF.Tensor2D;
  const step = () => tf.tidy(() => opt.minimize(() => loss(params, ids, targets), true)!.dataSync()[0]);
  const first = step();
  const steps = backend === 'cpu' ? 2 : 5;
  t0 = performance.now();
  let last = first;
  for (let i = 0; i < steps; i++) last = step();
  const sec = (performance.now() - t0) / 1000 / steps;
  return { engine: `tfjs-${backend}`, matmul_gflops: gflops, train_step_s: sec, tokens_per_s: (B * T) / sec, loss_first: first, loss_last: last };
}

const which = process.argv[2] ?? 'wasm';
if (which === 'wasm') setThreadsCount(2);
console.log(JSON.stringify(await measure(which)));
