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
 * The objective on onnxruntime. X stays raw; two optional transforms are folded into the graph so no
 * standardized or whitened n x d copy of X is ever made:
 * - `std` (standardization x' = (x - mean) * scale): the parameters live in the standardized space, and the
 *   graph uses W_raw = diag(scale) W, b_raw = b - mean^T W_raw (allocating a standardized copy cost ~60 ms
 *   at 20,000 x 256, measured);
 * - `M` (d x d, row-major; see precondition.ts): the parameters are V with W = M V, a change of variables that
 *   keeps the model and its penalty ||W||^2 but conditions the problem; the gradient is M^T dF/dW. Done in
 *   JS these two d^2 K products per evaluation cost about as much as the evaluation itself at d = 768 (a UPOS fit
 *   went from 4.5 to 3.0 s at the same ~72 evaluations when they moved into the graph).
 * With `transposeInto` (a scratch key of the pool) the graph also takes X^T with a row of ones under it, so
 * that both large products read their n-long operand in place (see objectiveGraph). It is built into the
 * pool's buffer of that key, which later objectives with the same key overwrite (objectives in use at the same
 * time need different keys). Worth it when the pool outlives the objective, so the buffer is refilled rather
 * than allocated: a one-off fit paid more for a fresh n x d copy (first-touch page faults) than it saved
 * (20,000 x 768, 17 iterations: 0.55 s with the copy, 0.40 s reading X transposed in place).
 * The loss, penalty and gradients are all computed in the graph. The session comes from `sessions`, keyed by
 * shape, so the layers of a task share one; the pool's owner releases it.
 */
export async function ortObjective(X: Matrix, y: Int32Array, K: number, sessions: ProbeSessions, std?: { mean: Float64Array; scale: Float64Array }, white?: Whitening, transposeInto?: string): Promise<SoftmaxObjective> {
  const { rows: n, cols: d, data } = X;
  const whitened = !!white;
  const transposed = transposeInto !== undefined;
  const session = await sessions.get(`softmax-objective:${n}x${d}x${K}:${whitened ? 'whitened' : 'plain'}:${transposed ? 'transposed' : 'in-place'}`, () => objectiveGraph(n, d, K, whitened, transposed));
  const onehot = new Float32Array(n * K);
  for (let r = 0; r < n; r++) onehot[r * K + y[r]] = 1;
  const fixed: Record<string, ort.Tensor> = {
    X: new ort.Tensor('float32', data, [n, d]),
    Y: new ort.Tensor('float32', onehot, [n, K]),
    yIndex: new ort.Tensor('int64', BigInt64Array.from(y, BigInt), [n, 1]),
    mean: new ort.Tensor('float32', Float32Array.from(std?.mean ?? new Float64Array(d)), [1, d]),
    scale: new ort.Tensor('float32', Float32Array.from(std?.scale ?? new Float64Array(d).fill(1)), [d, 1]),
  };
  if (transposed) fixed.XT1 = new ort.Tensor('float32', transposeWithOnes(X, sessions.scratch(transposeInto, (d + 1) * n)), [d + 1, n]);
  if (white) {
    fixed.M = new ort.Tensor('float32', white.M, [d, d]);
    fixed.MT = new ort.Tensor('float32', white.MT, [d, d]);
  }
  const Vf = new Float32Array(d * K);
  const bf = new Float32Array(K);
  const gradMaxOf = new WeakMap<Float64Array, number>();
  return {
    async evaluate(params, grad, invC) {
      // params: V [d, K] row-major, then b [K], the graph's own layout
      Vf.set(params.subarray(0, d * K));
      bf.set(params.subarray(d * K));
      const out = await session.run({ ...fixed, V: new ort.Tensor('float32', Vf, [d, K]), b: new ort.Tensor('float32', bf, [1, K]), lam: new ort.Tensor('float32', Float32Array.of(invC / n), [1]) });
      grad.set(out.gV.data as Float32Array);
      const gbias = out.gb.data as Float32Array;
      let gmax = (out.gWmax.data as Float32Array)[0];
      for (let k = 0; k < K; k++) {
        grad[d * K + k] = gbias[k];
        gmax = Math.max(gmax, Math.abs(gbias[k]));
      }
      gradMaxOf.set(grad, gmax);
      const logpy = out.logpy.data as Float32Array;
      let nll = 0;
      for (let r = 0; r < n; r++) nll -= logpy[r];
      return nll / n + (0.5 * invC * (out.wsq.data as Float32Array)[0]) / n;
    },
    gradMax: (grad) => gradMaxOf.get(grad) ?? maxAbs(grad),
  };
}

/** X^T [d, n] with a row of ones appended ([d + 1, n], row-major) into `out`. In 128 x 128 tiles, four rows
 * at a time, so both sides stay in cache: 45 ms at 33,124 x 768 (onnxruntime's Transpose took 370 ms). The
 * ones row makes the gradient product also return the bias gradient, the column sums of the residual. */
export function transposeWithOnes(X: Matrix, out: Float32Array): Float32Array {
  const { rows: n, cols: d, data } = X;
  const B = 128;
  for (let r0 = 0; r0 < n; r0 += B) {
    const r1 = Math.min(n, r0 + B);
    for (let c0 = 0; c0 < d; c0 += B) {
      const c1 = Math.min(d, c0 + B);
      let r = r0;
      for (; r + 3 < r1; r += 4) {
        const a = r * d;
        for (let c = c0; c < c1; c++) {
          const o = c * n + r;
          out[o] = data[a + c];
          out[o + 1] = data[a + d + c];
          out[o + 2] = data[a + 2 * d + c];
          out[o + 3] = data[a + 3 * d + c];
        }
      }
      for (; r < r1; r++) for (let c = c0; c < c1; c++) out[c * n + r] = data[r * d + c];
    }
  }
  out.fill(1, d * n, (d + 1) * n);
  return out;
}

function objectiveGraph(n: number, d: number, K: number, whitened: boolean, transposed: boolean): Uint8Array {
  // Examples along the rows: logits [n, K] = X W and dL/dW = X^T R. MLAS packs the right-hand operand of a
  // product on every call and reads the left one in place, so X (for the logits) and, when given, X^T (for the
  // gradient) go on the left and only the small W and R are packed: per evaluation 22 -> 15 ms at
  // 33,124 x 768 x 17, 4.8 -> 3.5 ms at x 128, 3.4 -> 2.6 ms at x 64 (measured against classes-along-rows
  // products, which packed all of X twice). Without X^T the gradient is Gemm(transA) on X: the products cost
  // 5.5 + 11 ms at 33,124 x 768 x 17 against 5.5 + 5.1 with X^T and 14 + 8.3 classes along the rows. The
  // softmax runs along the contiguous last axis, where LogSoftmax has a fast kernel.
  // X, X^T and the one-hot labels are run inputs, not initializers: embedding them in the model bytes cost
  // ~0.4 s of serialization + parsing + constant folding per fit.
  const g = new GraphBuilder('softmax_objective');
  const x = g.input('X', FLOAT, [n, d]);
  const y = g.input('Y', FLOAT, [n, K]);
  const v = g.input('V', FLOAT, [d, K]);
  const b = g.input('b', FLOAT, [1, K]);
  const lam = g.input('lam', FLOAT, [1]); // invC / n
  const meanRow = g.input('mean', FLOAT, [1, d]);
  const scaleCol = g.input('scale', FLOAT, [d, 1]);
  const mm = whitened ? g.input('M', FLOAT, [d, d]) : undefined;
  const mT = whitened ? g.input('MT', FLOAT, [d, d]) : undefined;
  const w = mm ? g.op('MatMul', [mm, v]) : v; // W = M V, standardized space
  const wRaw = g.op('Mul', [w, scaleCol]);
  const bRaw = g.op('Sub', [b, g.op('MatMul', [meanRow, wRaw])]);
  const logp = g.op('LogSoftmax', [g.op('Add', [g.op('MatMul', [x, wRaw]), bRaw])], { axis: 1 });
  // log p_i,y_i per row, summed in float64 in evaluate(): the line search compares values of f, and a float32
  // sum over the rows stopped tightly-toleranced fits early (77 instead of 86 iterations, weights off by 1e-3)
  g.output('logpy', g.op('GatherElements', [logp, g.input('yIndex', INT64, [n, 1])], { axis: 1 }));
  g.output('wsq', g.op('ReduceSumSquare', [w], { keepdims: 0 }));
  const resid = g.op('Sub', [g.op('Exp', [logp]), y]);
  const invN = g.constF(1 / n);
  let gRawX: string; // X^T R / n
  let gb: string; // bias gradient, 1^T R / n, [1, K]
  if (transposed) {
    // [X^T; 1] R / n: the raw-space weight gradient over the bias gradient (a ReduceSum over the n rows for
    // the latter took 1.4 ms per evaluation at 33,124 x 128 x 17, longer than the gradient product itself)
    const g1 = g.op('Mul', [g.op('MatMul', [g.input('XT1', FLOAT, [d + 1, n]), resid]), invN]);
    const rows = g.constI64([0]);
    gRawX = g.op('Slice', [g1, g.constI64([0]), g.constI64([d]), rows]);
    gb = g.op('Slice', [g1, g.constI64([d]), g.constI64([d + 1]), rows]);
  } else {
    gRawX = g.op('Gemm', [x, resid], { transA: 1, alpha: { float: 1 / n } });
    gb = g.op('Mul', [g.op('ReduceSum', [resid, g.constI64([0])], { keepdims: 1 }), invN]);
  }
  // dF/dW (standardized space) = diag(scale) (X^T R - mean gb) + lam W
  const meanCol = g.op('Reshape', [meanRow, g.constI64([d, 1])]);
  const gRaw = g.op('Sub', [gRawX, g.op('MatMul', [meanCol, gb])]);
  const gW = g.op('Add', [g.op('Mul', [gRaw, scaleCol]), g.op('Mul', [w, lam])]);
  g.output('gb', gb);
  // L-BFGS stops on the gradient in W even when it steps in V (testing it in V took 24% more iterations on
  // mini-gpt UPOS for the same probes)
  g.output('gWmax', g.op('ReduceMax', [g.op('Abs', [gW])], { keepdims: 0 }));
  g.output('gV', mT ? g.op('MatMul', [mT, gW]) : gW); // dF/dV = M^T dF/dW
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
