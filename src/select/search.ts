/**
 * Search over subsets scored by running them (evaluate.ts), because removing a layer changes every layer
 * after it and the additive relevance is only an estimate. A budget is a ceiling, not a size: fewer layers
 * can score higher (an encoder whose upper layers rewrite for masked-LM loses a word task's information), so
 * subsets of every size up to the affordable k count. All of them are tried when there are few; otherwise
 * first-improvement local search (swap one kept layer for a dropped one, then drop one, then add one where it
 * fits) from the best on dev of several starting subsets (the additive optimum, the heuristic baselines', and
 * the caller's choices at smaller budgets) within an evaluation budget. Guarantee: the chosen subset fits and
 * is at least as good on dev as every start that fits; first improvement (move at once) matters because one
 * full swap neighbourhood (k (L - k) subsets, 32 for 4 of 12) can exceed the whole budget.
 */
import type { Evaluator, SubsetScore } from './evaluate.js';
import { subsetCost, type LayerCosts } from './costs.js';

/** every subset of 1..k of n layers that is affordable and allowed, or undefined when there are more than
 * `limit`; a subset over budget is not extended (adding a layer never lowers the cost) */
function subsetsUpTo(n: number, k: number, limit: number, affordable: (s: number[]) => boolean, allowed: (s: number[]) => boolean): number[][] | undefined {
  const out: number[][] = [];
  const rec = (start: number, acc: number[]) => {
    if (out.length > limit) return;
    if (acc.length > 0 && !affordable(acc)) return;
    if (acc.length > 0 && allowed(acc)) out.push([...acc]);
    if (acc.length === k) return;
    for (let i = start; i < n; i++) rec(i + 1, [...acc, i]);
  };
  rec(0, []);
  return out.length > limit ? undefined : out.sort((a, b) => a.length - b.length || a.join().localeCompare(b.join()));
}

export interface SearchResult {
  best: SubsetScore;
  method: 'exhaustive' | 'local';
  evaluated: number;
  trace: { layers: number[]; retention: number }[];
}

/** `allowed`: subsets the caller can use beyond fitting the budget (e.g. a T5 that must keep a decoder block) */
export async function searchSubset(ev: Pick<Evaluator, 'evaluate'> & Partial<Pick<Evaluator, 'prefetch' | 'width'>>, costs: LayerCosts, totalBudget: number, k: number, starts: number[][], maxEvals = 40, allowed: (s: number[]) => boolean = () => true): Promise<SearchResult> {
  const L = costs.perLayer.length;
  const affordable = (s: number[]) => subsetCost(costs, s) <= totalBudget + 1e-9;
  const fits = (s: number[]) => affordable(s) && allowed(s);
  const trace: SearchResult['trace'] = [];
  const score = async (s: number[]) => {
    const r = await ev.evaluate(s, 'dev');
    trace.push({ layers: s, retention: r.retention });
    return r;
  };
  // scale-out: the subsets this search will score are sent out together (prefetch); the order and the
  // choice below are the same as when each is scored when asked for
  const prefetch = (subsets: number[][]) => ev.prefetch?.(subsets, 'dev');
  const all = subsetsUpTo(L, k, maxEvals, affordable, allowed);
  if (all) {
    let best: SubsetScore | undefined;
    await prefetch(all);
    for (const s of all) {
      const r = await score(s);
      if (!best || r.retention > best.retention) best = r;
    }
    return { best: best!, method: 'exhaustive', evaluated: trace.length, trace };
  }
  const seen = new Set<string>();
  const firsts = starts.map((st) => [...st].sort((a, b) => a - b)).filter((s) => s.length > 0 && s.length <= k && fits(s));
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
    const kept = best.layers;
    const push = (cand: number[]) => {
      if (cand.length > 0 && cand.length <= k && fits(cand) && !seen.has(cand.join()) && !cands.some((c) => c.join() === cand.join())) cands.push(cand);
    };
    const dropped = Array.from({ length: L }, (_, i) => i).filter((i) => !kept.includes(i));
    for (const out of kept) for (const inn of dropped) push([...kept.filter((x) => x !== out), inn].sort((a, b) => a - b));
    for (const out of kept) push(kept.filter((x) => x !== out));
    for (const inn of dropped) push([...kept, inn].sort((a, b) => a - b));
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
