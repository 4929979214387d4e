/**
 * T5 relative position buckets, as in transformers' `T5Attention._relative_position_bucket`, including its
 * float32 log and truncation toward zero, so bucket boundaries agree with the reference exactly.
 */
const f = Math.fround;

export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let bucket = 0;
  let n = numBuckets;
  let rel = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) bucket += n;
    rel = Math.abs(rel);
  } else {
    rel = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (rel < maxExact) return bucket + rel;
  const logRatio = f(Math.log(f(rel / maxExact)));
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (n - maxExact));
  const large = Math.min(maxExact + Math.trunc(scaled), n - 1);
  return bucket + large;
}

/** Bucket ids [q, k] for key position k and query position q: relative = k - q. */
export function bucketMatrix(tq: number, tk: number, bidirectional: boolean, numBuckets: number, maxDistance: number): BigInt64Array {
  const out = new BigInt64Array(tq * tk);
  for (let q = 0; q < tq; q++) {
    for (let k = 0; k < tk; k++) out[q * tk + k] = BigInt(relativePositionBucket(k - q, bidirectional, numBuckets, maxDistance));
  }
  return out;
}
