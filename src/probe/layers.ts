/**
 * Summaries of a probe score curve over layers (layer 0 = embeddings): differential scores, the expected
 * layer of Tenney et al. (2019) — the center of gravity of the (positive) score gains, E[l] = sum l * d_l /
 * sum d_l with d_l = s_l - s_{l-1} clipped at 0 — the best layer, the first layer reaching 95% of it, and
 * whether the best layer is above the embeddings by more than both 95% CIs.
 */

/** What the summary needs of a layer's probe result (src/probe/suite.ts LayerResult). */
export interface LayerScores {
  layer: number;
  /** dev score (the split layers are chosen on) */
  dev: number;
  /** test score and its bootstrap 95% CI (the split results are reported on) */
  score: number;
  lo: number;
  hi: number;
}

export interface LayerSummary {
  /** test score differences to the previous probed layer (0 for the first), in the order given */
  deltas: number[];
  /** on test: a weighted mean over every gain, not a maximum, so it picks no layer by its own noise and
   * describes the same curve (and deltas) the tables print */
  expectedLayer: number;
  /** the layer with the highest DEV score (ties: the lower layer). Choosing the argmax of 7-13 noisy test
   * scores would report the luckiest estimate; choosing on dev leaves its test score unbiased. */
  bestLayer: number;
  bestDev: number;
  /** the best layer's test score and 95% CI */
  bestScore: number;
  bestLo: number;
  bestHi: number;
  /** on dev: the first layer whose dev score is >= 95% of the best dev score. It is a choice of a layer
   * against a maximum, like bestLayer, so it is made on the same split (and is never after bestLayer). */
  first95: number;
  /** "layers add beyond both CIs": the best layer's test CI lower bound is above the embeddings' (layer 0)
   * test CI upper bound (touching is no). Absent when layer 0 was not probed. */
  layersAddBeyondCIs?: boolean;
  /** layer 0's test score and CI, the other side of that comparison (absent when it was not probed) */
  embeddings?: { score: number; lo: number; hi: number };
}

export function summarizeLayers(layers: LayerScores[]): LayerSummary {
  if (layers.length === 0) throw new Error('summarizeLayers: no layers');
  const deltas = layers.map((r, i) => (i === 0 ? 0 : r.score - layers[i - 1].score));
  const pos = deltas.map((d) => Math.max(0, d));
  const total = pos.reduce((a, b) => a + b, 0);
  const expectedLayer = total > 0 ? pos.reduce((a, d, i) => a + layers[i].layer * d, 0) / total : layers[0].layer;
  let best = layers[0];
  for (const r of layers) if (r.dev > best.dev || (r.dev === best.dev && r.layer < best.layer)) best = r;
  const first95 = [...layers].sort((a, b) => a.layer - b.layer).find((r) => r.dev >= 0.95 * best.dev)!.layer;
  const emb = layers.find((r) => r.layer === 0);
  return {
    deltas,
    expectedLayer,
    bestLayer: best.layer,
    bestDev: best.dev,
    bestScore: best.score,
    bestLo: best.lo,
    bestHi: best.hi,
    first95,
    ...(emb ? { layersAddBeyondCIs: best.lo > emb.hi, embeddings: { score: emb.score, lo: emb.lo, hi: emb.hi } } : {}),
  };
}

/** One line a user can read: the dev-chosen best layer with its test CI against the embeddings'. */
export function layersAddLine(s: LayerSummary, digits = 4): string {
  const ci = (lo: number, hi: number) => `[${lo.toFixed(digits)}, ${hi.toFixed(digits)}]`;
  // a summary written before the best layer was chosen on dev (results.json from an older probescale) has no CI
  if (s.bestLo === undefined) return `best layer ${s.bestLayer} (chosen on test by an older probescale); layers add beyond both CIs: not in this result`;
  const best = `best layer ${s.bestLayer} (chosen on dev) test ${s.bestScore.toFixed(digits)} ${ci(s.bestLo, s.bestHi)}`;
  if (!s.embeddings || s.layersAddBeyondCIs === undefined) return `${best}; layers add beyond both CIs: not measured (layer 0, the embeddings, was not probed)`;
  return `${best} vs embeddings ${s.embeddings.score.toFixed(digits)} ${ci(s.embeddings.lo, s.embeddings.hi)}; layers add beyond both CIs: ${s.layersAddBeyondCIs ? 'yes' : 'no'}`;
}
