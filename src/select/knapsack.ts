/**
 * Exact optimum of the additive formulation: choose layers maximizing the sum of their (task-weighted)
 * relevance with total cost within the budget. 0/1 knapsack by dynamic programming over layers; costs are
 * divided by their greatest common divisor so homogeneous models (all layers equal) solve exactly in
 * O(L * k). When that grid would be too fine, costs are rounded UP onto a grid of `maxCells` cells, so any
 * returned subset is still feasible (the answer is then optimal on the grid; `exact` says which).
 */
export interface KnapsackResult {
  layers: number[];
  value: number;
  cost: number;
  exact: boolean;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function knapsack(values: number[], costs: number[], capacity: number, maxCells = 200_000): KnapsackResult {
  const n = values.length;
  if (capacity < 0) throw new Error('negative capacity');
  const integral = costs.every((c) => Number.isInteger(c)) && Number.isInteger(Math.floor(capacity));
  let unit = integral ? costs.reduce((g, c) => gcd(g, c), 0) || 1 : 0;
  let exact = integral && Math.floor(capacity) / unit <= maxCells;
  if (!exact) unit = capacity / maxCells || 1;
  const w = costs.map((c) => (exact ? c / unit : Math.ceil(c / unit - 1e-9)));
  const W = Math.floor(capacity / unit + 1e-9);
  // best[c] = best value with total weight <= c; keep[i][c] marks the choice for reconstruction.
  const best = new Float64Array(W + 1);
  const keep: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const k = new Uint8Array(W + 1);
    for (let c = W; c >= w[i]; c--) {
      const cand = best[c - w[i]] + values[i];
      if (cand > best[c] + 1e-12) {
        best[c] = cand;
        k[c] = 1;
      }
    }
    keep.push(k);
  }
  const layers: number[] = [];
  let c = W;
  for (let i = n - 1; i >= 0; i--) {
    if (keep[i][c]) {
      layers.push(i);
      c -= w[i];
    }
  }
  layers.reverse();
  return { layers, value: layers.reduce((s, l) => s + values[l], 0), cost: layers.reduce((s, l) => s + costs[l], 0), exact };
}
