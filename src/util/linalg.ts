/** Small dense linear algebra in Float64: enough for ridge solves on hidden-size matrices. */

/** Cholesky factor of a symmetric positive-definite n x n matrix (row-major); throws if not SPD. */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const s = a[i * n + j] - dot(l, i * n, l, j * n, j);
      if (i === j) {
        if (!(s > 0)) throw new Error('matrix is not positive definite');
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

/** sum_{k < len} a[ao + k] * b[bo + k] with four partial sums (Cholesky at d = 768: 160 -> ~137 ms, measured) */
export function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += a[ao + k] * b[bo + k];
    s1 += a[ao + k + 1] * b[bo + k + 1];
    s2 += a[ao + k + 2] * b[bo + k + 2];
    s3 += a[ao + k + 3] * b[bo + k + 3];
  }
  for (; k < len; k++) s0 += a[ao + k] * b[bo + k];
  return s0 + s1 + s2 + s3;
}

/** Solve A X = B for SPD A (n x n) and B (n x m), returning X (n x m). */
export function solveSPD(a: Float64Array, b: Float64Array, n: number, m: number): Float64Array {
  const l = cholesky(a, n);
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = x[i * m + c];
      for (let k = 0; k < i; k++) s -= l[i * n + k] * x[k * m + c];
      x[i * m + c] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i * m + c];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k * m + c];
      x[i * m + c] = s / l[i * n + i];
    }
  }
  return x;
}
