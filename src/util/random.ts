/** Seeded randomness (mulberry32) so splits, subsamples, probes and baselines are reproducible. */
export interface Rng {
  (): number;
  /** The generator's whole state (one uint32): saved in training checkpoints so a resumed run draws the same numbers. */
  state: number;
}

export function mulberry32(seed: number): Rng {
  let s = seed >>> 0;
  const next = (() => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  Object.defineProperty(next, 'state', { get: () => s, set: (v: number) => (s = v >>> 0) });
  return next;
}
