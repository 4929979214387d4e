/**
 * Summaries of a probe score curve over layers (index 0 = embeddings): differential scores, the expected
 * layer of Tenney et al. (2019) — the center of gravity of the (positive) score gains, E[l] = sum l * d_l /
 * sum d_l with d_l = s_l - s_{l-1} clipped at 0 — the best layer and the first layer reaching 95% of it.
 */
export interface LayerSummary {
  deltas: number[];
  expectedLayer: number;
  bestLayer: number;
  bestScore: number;
  first95: number;
}

export function summarizeLayers(scores: number[]): LayerSummary {
  const deltas = scores.map((s, l) => (l === 0 ? 0 : s - scores[l - 1]));
  const pos = deltas.map((d) => Math.max(0, d));
  const total = pos.reduce((a, b) => a + b, 0);
  const expectedLayer = total > 0 ? pos.reduce((a, d, l) => a + l * d, 0) / total : 0;
  let bestLayer = 0;
  scores.forEach((s, l) => {
    if (s > scores[bestLayer]) bestLayer = l;
  });
  const bestScore = scores[bestLayer];
  const first95 = scores.findIndex((s) => s >= 0.95 * bestScore);
  return { deltas, expectedLayer, bestLayer, bestScore, first95 };
}
