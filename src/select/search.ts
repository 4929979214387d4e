/**
 * Search over subsets scored by running them (evaluate.ts), because removing a layer changes every layer
 * after it and the additive relevance is only an estimate. All subsets of the affordable size are tried
 * when there are few; otherwise first-improvement local search (swap one kept layer for a dropped one)
 * from the best of several starting subsets on dev — the additive optimum and the heuristic baselines'
 * subsets — within an evaluation budget. Starting from the best start means the chosen subset is at least
 * as good on dev as every heuristic; first improvement (move at once) matters because one full swap
 * neighbourhood (k (L - k) subsets, 32 for 4 of 12) can exceed the whole budget.
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

export async function searchSubset(ev: Pick<Evaluator, 'evaluate'> & Partial<Pick<Evaluator, 'prefetch' | 'width'>>, costs: LayerCosts, totalBudget: number, k: number, starts: number[][], maxEvals = 40): Promise<SearchResult> {
  const L = costs.perLayer.length;
  const fits = (s: number[]) => subsetCost(costs, s) <= totalBudget + 1e-9;
  const trace: SearchResult['trace'] = [];
  const score = async (s: number[]) => {
    const r = await ev.evaluate(s, 'dev');
    trace.push({ layers: s, retention: r.retention });
    return r;
  };
  // scale-out: the subsets this search will score are sent out together (prefetch); the order and the
  // choice below are the same as when each is scored when asked for
  const prefetch = (subsets: number[][]) => ev.prefetch?.(subsets, 'dev');
  const all = combinations(L, k, maxEvals);
  if (all) {
    let best: SubsetScore | undefined;
    await prefetch(all.filter(fits));
    for (const s of all.filter(fits)) {
      const r = await score(s);
      if (!best || r.retention > best.retention) best = r;
    }
    return { best: best!, method: 'exhaustive', evaluated: trace.length, trace };
  }
  const seen = new Set<string>();
  const firsts = starts.map((st) => [...st].sort((a, b) => a - b)).filter((s) => s.length === k && fits(s));
  await prefetch(firsts);
  let best: SubsetScore | undefined;
  for (const s of firsts) {
    if (seen.has(s.join())) continue;
    seen.add(s.join());
    const r = await score(s);
    if (!best || r.retention > best.retention) best = r;
  }
  if (!best) throw new Error('searchSubset: no starting subset of the affordable size fits the budget');
  // with several workers the next `width` swaps in scan order are scored at once; the first improvement
  // among them is the one a one-at-a-time scan would have taken (the rest are spare work, at most width - 1)
  const width = Math.max(1, (await ev.width?.()) ?? 1);
  for (let improved = true; improved && trace.length < maxEvals; ) {
    improved = false;
    const cands: number[][] = [];
    for (const out of best.layers) {
      for (let inn = 0; inn < L; inn++) {
        const cand = [...best.layers.filter((x) => x !== out), inn].sort((a, b) => a - b);
        if (best.layers.includes(inn) || !fits(cand) || seen.has(cand.join())) continue;
        cands.push(cand);
      }
    }
    for (let i = 0; i < cands.length && trace.length < maxEvals; i++) {
      if (width > 1 && i % width === 0) await prefetch(cands.slice(i, i + Math.min(width, maxEvals - trace.length)));
      const cand = cands[i];
      seen.add(cand.join());
      const r = await score(cand);
      if (r.retention > best.retention) {
        best = r;
        improved = true;
        break;
      }
    }
  }
  return { best, method: 'local', evaluated: trace.length, trace };
}
