/**
 * DeBERTa-v2/v3 relative positions, as transformers' build_relative_position / make_log_bucket_position
 * compute them (float32 log, ceil), so bucket boundaries agree with the reference.
 */
const f = Math.fround;

export function logBucketPosition(relative: number, bucketSize: number, maxPosition: number): number {
  const sign = Math.sign(relative);
  const mid = Math.floor(bucketSize / 2);
  const absPos = relative < mid && relative > -mid ? mid - 1 : Math.abs(relative);
  const logPos = Math.ceil(f(f(f(Math.log(f(absPos / mid))) / f(Math.log(f((maxPosition - 1) / mid)))) * (mid - 1))) + mid;
  return absPos <= mid ? relative : logPos * sign;
}

/** [T, T] relative position of query i to key j: i - j, log-bucketed when bucketSize > 0. */
export function debertaRelativePositions(T: number, bucketSize: number, maxPosition: number): BigInt64Array {
  const out = new BigInt64Array(T * T);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) out[i * T + j] = BigInt(bucketSize > 0 && maxPosition > 0 ? logBucketPosition(i - j, bucketSize, maxPosition) : i - j);
  }
  return out;
}
