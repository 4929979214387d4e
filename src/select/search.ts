/**
 * Search over subsets scored by running them (evaluate.ts), because removing a layer changes every layer
 * after it and the additive relevance is only an estimate. All subsets of the affordable size are tried
 * when there are few; otherwise best-improvement local search (swap one kept layer for a dropped one)
 * starts from the additive optimum, within an evaluation budget.
 */
import type { Evaluator, SubsetScore } from './evaluate.js';
import { subsetCost, type LayerCosts } from './costs.js';

function combinations(n: number, k: number, limit: number): number[][] | undefined {
  const out: number[][] = [];
  const rec = (start: number, acc: number[]) => {
    if (out.length > limit) return;
    if (acc.length === k) {
      out.push([...acc]);
      return;
    }
    for (let i = start; i <= n - (k - acc.length); i++) rec(i + 1, [...acc, i]);
  };
  rec(0, []);
  return out.length > limit ? undefined : out;
}

export interface SearchResult {
  best: SubsetScore;
  method: 'exhaustive' | 'local';
  evaluated: number;
  trace: { layers: number[]; retention: number }[];
}

export async function searchSubset(ev: Evaluator, costs: LayerCosts, totalBudget: number, k: number, start: number[], maxEvals = 40): Promise<SearchResult> {
  const L = costs.perLayer.length;
  const fits = (s: number[]) => subsetCost(costs, s) <= totalBudget + 1e-9;
  const trace: SearchResult['trace'] = [];
  const score = async (s: number[]) => {
    const r = await ev.evaluate(s, 'dev');
    trace.push({ layers: s, retention: r.retention });
    return r;
  };
  const all = combinations(L, k, maxEvals);
  if (all) {
    let best: SubsetScore | undefined;
    for (const s of all.filter(fits)) {
      const r = await score(s);
      if (!best || r.retention > best.retention) best = r;
    }
    return { best: best!, method: 'exhaustive', evaluated: trace.length, trace };
  }
  let best = await score(start);
  for (let improved = true; improved && trace.length < maxEvals; ) {
    improved = false;
    let bestMove: SubsetScore | undefined;
    for (const out of best.layers) {
      for (let inn = 0; inn < L && trace.length < maxEvals; inn++) {
        if (best.layers.includes(inn)) continue;
        const cand = [...best.layers.filter((x) => x !== out), inn].sort((a, b) => a - b);
        if (!fits(cand)) continue;
        const r = await score(cand);
        if (r.retention > (bestMove?.retention ?? best.retention)) bestMove = r;
      }
    }
    if (bestMove) {
      best = bestMove;
      improved = true;
    }
  }
  return { best, method: 'local', evaluated: trace.length, trace };
}
