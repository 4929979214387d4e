/**
 * Multinomial logistic loss and gradient, the hot path of probe fitting:
 *   L(W, b) = (1/n) * sum_i -log softmax(x_i W + b)[y_i] + (1 / (2 C n)) * ||W||^2     (b not penalized)
 * which has the same minimizer as scikit-learn's C * sum(CE) + ||W||^2 / 2.
 * Two backends with one contract: plain loops for small problems, and an onnxruntime graph (X held as a
 * constant, MLAS matrix products on all threads) for large ones.
 */
import * as ort from 'onnxruntime-node';
import type { Matrix } from './types.js';
import { GraphBuilder, FLOAT } from '../engine/graph.js';

export interface SoftmaxObjective {
  /** parameters: W [d, K] row-major, then b [K] */
  evaluate(params: Float64Array, grad: Float64Array, invC: number): Promise<number>;
  release(): Promise<void>;
}

export function jsObjective(X: Matrix, y: Int32Array, K: number): SoftmaxObjective {
  const { rows: n, cols: d, data } = X;
  return {
    async evaluate(params, grad, invC) {
      grad.fill(0);
      const z = new Float64Array(K);
      let loss = 0;
      for (let r = 0; r < n; r++) {
        const off = r * d;
        for (let k = 0; k < K; k++) z[k] = params[d * K + k];
        for (let c = 0; c < d; c++) {
          const xv = data[off + c];
          if (xv === 0) continue;
          const w = c * K;
          for (let k = 0; k < K; k++) z[k] += xv * params[w + k];
        }
        let max = -Infinity;
        for (let k = 0; k < K; k++) if (z[k] > max) max = z[k];
        let sum = 0;
        for (let k = 0; k < K; k++) sum += (z[k] = Math.exp(z[k] - max));
        loss += Math.log(sum) - Math.log(z[y[r]]);
        for (let k = 0; k < K; k++) z[k] /= sum;
        z[y[r]] -= 1;
        for (let c = 0; c < d; c++) {
          const xv = data[off + c];
          if (xv === 0) continue;
          const w = c * K;
          for (let k = 0; k < K; k++) grad[w + k] += xv * z[k];
        }
        for (let k = 0; k < K; k++) grad[d * K + k] += z[k];
      }
      return finish(params, grad, loss, n, d, K, invC);
    },
    async release() {},
  };
}

function finish(params: Float64Array, grad: Float64Array, loss: number, n: number, d: number, K: number, invC: number): number {
  let reg = 0;
  for (let i = 0; i < d * K; i++) reg += params[i] * params[i];
  for (let i = 0; i < grad.length; i++) grad[i] /= n;
  for (let i = 0; i < d * K; i++) grad[i] += (invC / n) * params[i];
  return loss / n + (0.5 * invC * reg) / n;
}

export async function ortObjective(X: Matrix, y: Int32Array, K: number, threads = 0): Promise<SoftmaxObjective> {
  const { rows: n, cols: d } = X;
  const g = new GraphBuilder('softmax_objective');
  const onehot = new Float32Array(n * K);
  for (let r = 0; r < n; r++) onehot[r * K + y[r]] = 1;
  const x = g.weight('X', X.data, [n, d]);
  const xT = g.op('Transpose', [x], { perm: [1, 0] }); // constant-folded once at session creation
  const Y = g.weight('Y', onehot, [n, K]);
  const W = g.input('W', FLOAT, [d, K]);
  const b = g.input('b', FLOAT, [K]);
  const logp = g.op('LogSoftmax', [g.op('Add', [g.op('MatMul', [x, W]), b])], { axis: 1 });
  g.output('loss', g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [Y, logp])], { keepdims: 0 })]));
  const resid = g.op('Sub', [g.op('Exp', [logp]), Y]);
  g.output('gW', g.op('MatMul', [xT, resid]));
  g.output('gb', g.op('ReduceSum', [resid, g.constI64([0])], { keepdims: 0 }));
  const session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const Wf = new Float32Array(d * K);
  const bf = new Float32Array(K);
  return {
    async evaluate(params, grad, invC) {
      for (let i = 0; i < d * K; i++) Wf[i] = params[i];
      for (let k = 0; k < K; k++) bf[k] = params[d * K + k];
      const out = await session.run({ W: new ort.Tensor('float32', Wf, [d, K]), b: new ort.Tensor('float32', bf, [K]) });
      const gW = out.gW.data as Float32Array;
      const gb = out.gb.data as Float32Array;
      for (let i = 0; i < d * K; i++) grad[i] = gW[i];
      for (let k = 0; k < K; k++) grad[d * K + k] = gb[k];
      return finish(params, grad, (out.loss.data as Float32Array)[0], n, d, K, invC);
    },
    release: () => session.release(),
  };
}
