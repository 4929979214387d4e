/**
 * Whitening as an exact change of variables, so L-BFGS sees a well-conditioned problem while the model, its
 * L2 penalty and therefore C keep their meaning. With L L^T = the covariance of the standardized features
 * (plus a small jitter), write W = M V with M = L^{-T}: the logits x W = (L^{-1} x) V are those of whitened
 * features, and the penalty is still ||W||^2 in the standardized space, so the minimizer is the same W.
 * Hidden states are strongly correlated; measured on mini-gpt UPOS features (32k x 128) this needs ~3x fewer
 * iterations to the same tolerance. Any invertible M keeps the problem exact (the objective graph and
 * toWeights apply the same M); a poor one only slows it.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder, FLOAT } from '../engine/graph.js';
import { cholesky, dot } from '../util/linalg.js';
import { transposeWeight } from '../engine/ops.js';
import type { Matrix } from './types.js';
import type { ProbeSessions } from './sessions.js';

/** The whitening map, in float32 as the objective graph and toWeights both use it. */
export interface Whitening {
  /** M = L^{-T}: d x d, row-major, upper triangular */
  M: Float32Array;
  /** M^T = L^{-1} */
  MT: Float32Array;
}

/** The whitening map of the standardized features' covariance, or undefined if it is singular. */
export async function whitening(X: Matrix, std: { mean: Float64Array; scale: Float64Array }, sessions: ProbeSessions): Promise<Whitening | undefined> {
  const { rows: n, cols: d } = X;
  // centred X^T X on onnxruntime (n d^2 multiply-adds: seconds in JS at d = 768, milliseconds in MLAS)
  const session = await sessions.get(`covariance:${n}x${d}`, () => {
    const g = new GraphBuilder('covariance');
    const x = g.input('X', FLOAT, [n, d]);
    const m = g.input('m', FLOAT, [1, d]);
    const xc = g.op('Sub', [x, m]);
    g.output('S', g.op('Gemm', [xc, xc], { transA: 1, alpha: 1 / n }));
    return g.toBytes();
  });
  const out = await session.run({ X: new ort.Tensor('float32', X.data, [n, d]), m: new ort.Tensor('float32', Float32Array.from(std.mean), [1, d]) });
  const raw = out.S.data as Float32Array;
  const S = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) S[i * d + j] = raw[i * d + j] * std.scale[i] * std.scale[j];
  // jitter: constant or duplicated dimensions make the covariance singular. 1e-2 of the unit variance also
  // bounds how ill-conditioned the penalty becomes in V (measured on mini-gpt UPOS: 1,361 iterations with
  // 1e-2, 1,852 with 1e-3, 1,277 with 1e-1 but slower overall, 2,395 unwhitened)
  for (let i = 0; i < d; i++) S[i * d + i] += 1e-2;
  try {
    return await inverseCholesky(S, d, sessions);
  } catch {
    return undefined;
  }
}

/**
 * M = L^{-T} and M^T = L^{-1} for the Cholesky factor L of a symmetric positive-definite S (only its lower
 * triangle is read). The factorization and the triangular inverse cost ~d^3/3 multiply-adds each, ~0.17 s
 * together in JS at d = 768. From d = 256 on, S is split in two blocks: the JS work on the diagonal blocks is a
 * quarter of the whole, and the large products run on onnxruntime in float32 (ample for a preconditioner: the
 * Schur complement stays >= the jitter, far above float32 error). Throws if S is not positive definite.
 */
export async function inverseCholesky(S: Float64Array, d: number, sessions: ProbeSessions): Promise<Whitening> {
  if (d < 256) {
    const M = Float32Array.from(inverseTranspose(cholesky(S, d), d));
    return { M, MT: transposeWeight(M, d, d) };
  }
  const h = d >> 1;
  const h2 = d - h;
  // [S11 .; S21 S22] = [L11 0; L21 L22] [L11 0; L21 L22]^T. With P = L11^{-1}, Q = L22^{-1}:
  //   L21 = S21 P^T,  L22 L22^T = S22 - L21 L21^T,  L^{-1} = [P 0; B Q] with B = -Q L21 P
  const S11 = new Float64Array(h * h);
  const S21 = new Float32Array(h2 * h);
  const S22 = new Float32Array(h2 * h2);
  for (let i = 0; i < h; i++) S11.set(S.subarray(i * d, i * d + h), i * h);
  for (let i = 0; i < h2; i++) {
    S21.set(S.subarray((h + i) * d, (h + i) * d + h), i * h);
    S22.set(S.subarray((h + i) * d + h, (h + i + 1) * d), i * h2);
  }
  const PT = Float32Array.from(inverseTranspose(cholesky(S11, h), h));
  const schur = await sessions.get(`cholesky-schur:${h}x${h2}`, () => {
    const g = new GraphBuilder('cholesky_schur');
    const l21 = g.op('MatMul', [g.input('S21', FLOAT, [h2, h]), g.input('PT', FLOAT, [h, h])]);
    g.output('L21', l21);
    g.output('schur', g.op('Gemm', [l21, l21, g.input('S22', FLOAT, [h2, h2])], { transB: 1, alpha: { float: -1 }, beta: { float: 1 } }));
    return g.toBytes();
  });
  const a = await schur.run({ S21: new ort.Tensor('float32', S21, [h2, h]), PT: new ort.Tensor('float32', PT, [h, h]), S22: new ort.Tensor('float32', S22, [h2, h2]) });
  const QT = Float32Array.from(inverseTranspose(cholesky(Float64Array.from(a.schur.data as Float32Array), h2), h2));
  const offDiagonal = await sessions.get(`cholesky-offdiagonal:${h}x${h2}`, () => {
    const g = new GraphBuilder('cholesky_offdiagonal');
    const pT = g.input('PT', FLOAT, [h, h]);
    const qT = g.input('QT', FLOAT, [h2, h2]);
    const ql = g.op('Gemm', [qT, g.input('L21', FLOAT, [h2, h])], { transA: 1 });
    const b = g.op('Gemm', [ql, pT], { transB: 1, alpha: { float: -1 } });
    g.output('B', b);
    g.output('BT', g.op('Transpose', [b], { perm: [1, 0] }));
    g.output('P', g.op('Transpose', [pT], { perm: [1, 0] }));
    g.output('Q', g.op('Transpose', [qT], { perm: [1, 0] }));
    return g.toBytes();
  });
  const o = await offDiagonal.run({ PT: new ort.Tensor('float32', PT, [h, h]), QT: new ort.Tensor('float32', QT, [h2, h2]), L21: a.L21 });
  const [B, BT, P, Q] = ['B', 'BT', 'P', 'Q'].map((k) => o[k].data as Float32Array);
  // M = [P^T B^T; 0 Q^T], M^T = [P 0; B Q]
  const M = new Float32Array(d * d);
  const MT = new Float32Array(d * d);
  for (let i = 0; i < h; i++) {
    M.set(PT.subarray(i * h, (i + 1) * h), i * d);
    M.set(BT.subarray(i * h2, (i + 1) * h2), i * d + h);
    MT.set(P.subarray(i * h, (i + 1) * h), i * d);
  }
  for (let i = 0; i < h2; i++) {
    M.set(QT.subarray(i * h2, (i + 1) * h2), (h + i) * d + h);
    MT.set(B.subarray(i * h, (i + 1) * h), (h + i) * d);
    MT.set(Q.subarray(i * h2, (i + 1) * h2), (h + i) * d + h);
  }
  return { M, MT };
}

/** W = M V for the weight block (d x K, row-major); the bias (last K entries) is copied. The same map the
 * objective graph applies, so the fitted weights are exactly those it optimized. */
export function toWeights(v: Float64Array, M: Float32Array, d: number, K: number): Float64Array {
  const w = Float64Array.from(v);
  const acc = new Float64Array(K);
  for (let i = 0; i < d; i++) {
    acc.fill(0);
    // M is upper triangular: row i has entries from column i on
    for (let j = i; j < d; j++) {
      const m = M[i * d + j];
      if (m === 0) continue;
      for (let k = 0; k < K; k++) acc[k] += m * v[j * K + k];
    }
    for (let k = 0; k < K; k++) w[i * K + k] = acc[k];
  }
  return w;
}

/** M = L^{-T} (row-major, upper triangular): the d x d matrix the objective graph applies as W = M V. */
export function inverseTranspose(L: Float64Array, d: number): Float64Array {
  // row j of M is column j of L^{-1}: the forward substitution L x = e_j, whose inner products run over
  // contiguous rows of L and the x built so far
  const M = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const o = j * d;
    M[o + j] = 1 / L[j * d + j];
    for (let i = j + 1; i < d; i++) M[o + i] = -dot(L, i * d + j, M, o + j, i - j) / L[i * d + i];
  }
  return M;
}
