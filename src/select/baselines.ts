/**
 * Heuristic layer subsets, each keeping `k` of `L` layers (in order) so they compare at equal budget.
 * Pure rules here; the ones that need hidden states take statistics computed by calibration.ts.
 */

export const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

/** Keep the bottom k (drop top layers; Sajjad et al.'s strongest simple rule). */
export const dropTop = (L: number, k: number) => range(0, k);

/** Keep the top k. */
export const dropBottom = (L: number, k: number) => range(L - k, L);

/** Evenly spaced layers, first and last included (exactly every other layer when k = L/2). */
export function alternate(L: number, k: number): number[] {
  if (k <= 0) return [];
  if (k === 1) return [L - 1];
  return [...new Set(Array.from({ length: k }, (_, i) => Math.round((i * (L - 1)) / (k - 1))))];
}

/** Keep both ends, drop the middle (Sajjad et al.'s symmetric dropping). */
export const keepEnds = (L: number, k: number) => [...range(0, Math.ceil(k / 2)), ...range(L - Math.floor(k / 2), L)];

/** A seeded random subset. */
export function randomSubset(L: number, k: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 4294967296;
  const idx = range(0, L);
  for (let i = L - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** ShortGPT: keep the k layers with the largest Block Influence, BI_l = 1 - E[cos(x_in, x_out)]. */
export function blockInfluence(bi: number[], k: number): number[] {
  return bi
    .map((v, l) => [v, l] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, l]) => l)
    .sort((a, b) => a - b);
}

/**
 * Gromov et al.: drop the block of n = L - k consecutive layers whose input and output are closest in angle,
 * angular[l][n] = E[arccos(cos(x_l, x_{l+n}))] / pi over tokens, x_l = input of layer l.
 */
export function angularDrop(angular: (l: number, n: number) => number, L: number, k: number): { layers: number[]; start: number } {
  const n = L - k;
  if (n <= 0) return { layers: range(0, L), start: -1 };
  let best = Infinity;
  let start = 0;
  for (let l = 0; l + n <= L; l++) {
    const d = angular(l, n);
    if (d < best) {
      best = d;
      start = l;
    }
  }
  return { layers: [...range(0, start), ...range(start + n, L)], start };
}

/** LEC-style truncation: keep every layer up to the best-probed one, cut to k if the budget is smaller. */
export function truncateAtBest(aggregateScores: number[], k: number): number[] {
  // aggregateScores[i] is the score of hidden_states.i; layer i-1 produced it.
  let bestState = 0;
  aggregateScores.forEach((s, i) => {
    if (s > aggregateScores[bestState]) bestState = i;
  });
  return range(0, Math.min(bestState, k));
}
