/**
 * Multinomial logistic loss and gradient, the hot path of probe fitting:
 *   L(W, b) = (1/n) * sum_i -log softmax(x_i W + b)[y_i] + (1 / (2 C n)) * ||W||^2     (b not penalized)
 * which has the same minimizer as scikit-learn's C * sum(CE) + ||W||^2 / 2.
 * Two backends with one contract: plain loops for small problems, and an onnxruntime graph (MLAS matrix
 * products on all threads) for large ones.
 */
import * as ort from 'onnxruntime-node';
import type { Matrix } from './types.js';
import { GraphBuilder, FLOAT, INT64 } from '../engine/graph.js';
import type { ProbeSessions } from './sessions.js';
import type { Whitening } from './precondition.js';
import { maxAbs } from './lbfgs.js';

export interface SoftmaxObjective {
  /** parameters: W [d, K] row-major (V, with W = M V, for a whitened onnxruntime objective), then b [K] */
  evaluate(params: Float64Array, grad: Float64Array, invC: number): Promise<number>;
  /** the size of a gradient this objective returned, for the stopping test (default: max |g_i|) */
  gradMax?(grad: Float64Array): number;
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
  };
}

function finish(params: Float64Array, grad: Float64Array, loss: number, n: number, d: number, K: number, invC: number): number {
  let reg = 0;
  for (let i = 0; i < d * K; i++) reg += params[i] * params[i];
  for (let i = 0; i < grad.length; i++) grad[i] /= n;
  for (let i = 0; i < d * K; i++) grad[i] += (invC / n) * params[i];
  return loss / n + (0.5 * invC * reg) / n;
}

/**
 * The objective on onnxruntime. X stays raw and in its own row layout; two optional transforms are folded into
 * the graph so no n x d copy of X is ever made:
 * - `std` (standardization x' = (x - mean) * scale): the parameters live in the standardized space, and the
 *   graph uses W_raw = diag(scale) W, b_raw = b - mean^T W_raw (allocating a standardized copy cost ~60 ms
 *   at 20,000 x 256, measured);
 * - `M` (d x d, row-major; see precondition.ts): the parameters are V with W = M V, a change of variables that
 *   keeps the model and its penalty ||W||^2 but conditions the problem; the gradient is M^T dF/dW. Done in
 *   JS these two d^2 K products per evaluation cost about as much as the evaluation itself at d = 768 (a UPOS fit
 *   went from 4.5 to 3.0 s at the same ~72 evaluations when they moved into the graph).
 * The loss, penalty and gradients are all computed in the graph; the JS side only transposes d x K values.
 * The session comes from `sessions`, keyed by shape, so the layers of a task share one; the pool's owner
 * releases it.
 */
export async function ortObjective(X: Matrix, y: Int32Array, K: number, sessions: ProbeSessions, std?: { mean: Float64Array; scale: Float64Array }, white?: Whitening): Promise<SoftmaxObjective> {
  const { rows: n, cols: d, data } = X;
  const whitened = !!white;
  const session = await sessions.get(`softmax-objective:${n}x${d}x${K}:${whitened ? 'whitened' : 'plain'}`, () => objectiveGraph(n, d, K, whitened));
  const onehotT = new Float32Array(n * K);
  for (let r = 0; r < n; r++) onehotT[y[r] * n + r] = 1;
  const fixed: Record<string, ort.Tensor> = {
    X: new ort.Tensor('float32', data, [n, d]),
    YT: new ort.Tensor('float32', onehotT, [K, n]),
    mean: new ort.Tensor('float32', Float32Array.from(std?.mean ?? new Float64Array(d)), [1, d]),
    scale: new ort.Tensor('float32', Float32Array.from(std?.scale ?? new Float64Array(d).fill(1)), [1, d]),
  };
  if (white) {
    fixed.M = new ort.Tensor('float32', white.M, [d, d]);
    fixed.MT = new ort.Tensor('float32', white.MT, [d, d]);
  }
  const Vf = new Float32Array(d * K);
  const bf = new Float32Array(K);
  const gradMaxOf = new WeakMap<Float64Array, number>();
  return {
    async evaluate(params, grad, invC) {
      // params: V [d, K] row-major, then b [K]; the graph takes V^T [K, d]
      for (let c = 0; c < d; c++) for (let k = 0; k < K; k++) Vf[k * d + c] = params[c * K + k];
      for (let k = 0; k < K; k++) bf[k] = params[d * K + k];
      const out = await session.run({ ...fixed, VT: new ort.Tensor('float32', Vf, [K, d]), b: new ort.Tensor('float32', bf, [K, 1]), lam: new ort.Tensor('float32', Float32Array.of(invC / n), [1]) });
      const gV = out.gVT.data as Float32Array;
      const gbias = out.gb.data as Float32Array;
      for (let c = 0; c < d; c++) for (let k = 0; k < K; k++) grad[c * K + k] = gV[k * d + c];
      let gmax = (out.gWmax.data as Float32Array)[0];
      for (let k = 0; k < K; k++) {
        grad[d * K + k] = gbias[k];
        gmax = Math.max(gmax, Math.abs(gbias[k]));
      }
      gradMaxOf.set(grad, gmax);
      const nll = (out.logZ.data as Float32Array)[0] - (out.zy.data as Float32Array)[0];
      return nll / n + (0.5 * invC * (out.wsq.data as Float32Array)[0]) / n;
    },
    gradMax: (grad) => gradMaxOf.get(grad) ?? maxAbs(grad),
  };
}

function objectiveGraph(n: number, d: number, K: number, whitened: boolean): Uint8Array {
  // Classes along the rows, examples along the columns: logits^T [K, n] = W^T X^T and dL/dW^T = R^T X, with
  // X in its own row layout. With K ~ 2-50 classes both products are then wide instead of skinny, which MLAS
  // runs faster per evaluation than X W and X^T R (measured 3.9 vs 5.3 ms at 20,000 x 256, 10.7 vs 12.9 at
  // 20,000 x 768, 2.8 vs 4.6 at 33,144 x 64). X and the one-hot labels are run inputs, not initializers:
  // embedding them in the model bytes cost ~0.4 s of serialization + parsing + constant folding per fit.
  const g = new GraphBuilder('softmax_objective');
  const x = g.input('X', FLOAT, [n, d]);
  const yT = g.input('YT', FLOAT, [K, n]);
  const vT = g.input('VT', FLOAT, [K, d]);
  const b = g.input('b', FLOAT, [K, 1]);
  const lam = g.input('lam', FLOAT, [1]); // invC / n
  const meanRow = g.input('mean', FLOAT, [1, d]);
  const scaleRow = g.input('scale', FLOAT, [1, d]);
  const meanCol = g.op('Reshape', [meanRow, g.constI64([d, 1])]);
  const mT = whitened ? g.input('MT', FLOAT, [d, d]) : undefined;
  const mm = whitened ? g.input('M', FLOAT, [d, d]) : undefined;
  const wT = mT ? g.op('MatMul', [vT, mT]) : vT; // W^T = V^T M^T, standardized space
  const wRawT = g.op('Mul', [wT, scaleRow]);
  const bRaw = g.op('Sub', [b, g.op('MatMul', [wRawT, meanCol])]);
  const logits = g.op('Add', [g.op('Gemm', [wRawT, x], { transB: 1 }), bRaw]);
  // softmax over the classes written out: ONNX LogSoftmax on axis 0 of this layout transposes internally, and
  // exp(logp) was a second Exp over K x n (measured 4.9 -> 4.3 ms per evaluation at 33,124 x 128 x 17)
  const classes = g.constI64([0]);
  const z = g.op('Sub', [logits, g.op('ReduceMax', [logits, classes], { keepdims: 1 })]);
  const e = g.op('Exp', [z]);
  const sumE = g.op('ReduceSum', [e, classes], { keepdims: 1 });
  // nll = sum_i (log sum_k e_ik - z_i,y_i): both sums (and the penalty) are combined in float64 in evaluate(),
  // since summing them in float32 stopped fits early (the line search compares values of f)
  g.output('logZ', g.op('ReduceSum', [g.op('Log', [sumE])], { keepdims: 0 }));
  g.output('zy', g.op('ReduceSum', [g.op('Mul', [yT, z])], { keepdims: 0 }));
  g.output('wsq', g.op('ReduceSumSquare', [wT], { keepdims: 0 }));
  const resid = g.op('Mul', [g.op('Sub', [g.op('Div', [e, sumE]), yT]), g.constF(1 / n)]);
  const gb = g.op('ReduceSum', [resid, g.constI64([1])], { keepdims: 1 }); // [K, 1]
  // dF/dW^T (standardized space) = (R^T X - gb mean^T) diag(scale) + lam W^T
  const gRawT = g.op('Sub', [g.op('MatMul', [resid, x]), g.op('MatMul', [gb, meanRow])]);
  const gWT = g.op('Add', [g.op('Mul', [gRawT, scaleRow]), g.op('Mul', [wT, lam])]);
  g.output('gb', g.op('Reshape', [gb, g.constI64([K])]));
  // L-BFGS stops on the gradient in W even when it steps in V (testing it in V took 24% more iterations on
  // mini-gpt UPOS for the same probes)
  g.output('gWmax', g.op('ReduceMax', [g.op('Abs', [gWT])], { keepdims: 0 }));
  g.output('gVT', mm ? g.op('MatMul', [gWT, mm]) : gWT); // dF/dV^T = dF/dW^T M
  return g.toBytes();
}

/** Class predictions argmax(x W + b) for a fixed X on onnxruntime, for scoring many weight settings on one dev
 * set (in JS this cost ~0.2 s per call at 6,500 x 768 x 17, several times a fit). */
export async function ortArgmax(X: Matrix, K: number, sessions: ProbeSessions) {
  const { rows: n, cols: d, data } = X;
  const session = await sessions.get(`linear-argmax:${n}x${d}x${K}`, () => {
    const g = new GraphBuilder('linear_argmax');
    const x = g.input('X', FLOAT, [n, d]);
    const wT = g.input('WT', FLOAT, [K, d]);
    const b = g.input('b', FLOAT, [1, K]);
    g.output('pred', g.op('ArgMax', [g.op('Add', [g.op('Gemm', [x, wT], { transB: 1 }), b])], { axis: 1, keepdims: 0 }), INT64);
    return g.toBytes();
  });
  const feedX = new ort.Tensor('float32', data, [n, d]);
  return {
    /** weightT: [K, d] row-major on raw features */
    async predict(weightT: Float32Array, bias: ArrayLike<number>): Promise<Int32Array> {
      const out = await session.run({ X: feedX, WT: new ort.Tensor('float32', weightT, [K, d]), b: new ort.Tensor('float32', Float32Array.from(bias), [1, K]) });
      return Int32Array.from(out.pred.data as BigInt64Array, Number);
    },
  };
}
