/**
 * Budgets: "0.4" (fraction of the model's parameters), "120000" (parameters), "flops:0.5" (fraction of
 * FLOPs per token), "latency:0.5" (fraction of measured latency). A budget becomes a capacity for layers
 * after the fixed part (embeddings, norms, head) is paid; one no layer fits into is an error that says
 * the smallest feasible budget.
 */
import { ProbescaleError, UsageError } from '../util/errors.js';
import { fullCost, type LayerCosts } from './costs.js';

export interface Budget {
  kind: 'parameters' | 'flops' | 'latency';
  /** fraction of the full model's cost, or an absolute amount when `absolute` */
  value: number;
  absolute: boolean;
  text: string;
}

export function parseBudget(text: string): Budget {
  const m = /^(?:(params|parameters|flops|latency):)?([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)$/i.exec(text.trim());
  if (!m) throw new UsageError(`cannot read budget "${text}"`, { fix: 'use a fraction like 0.4, a parameter count like 120000, or flops:0.5 / latency:0.5' });
  const kind = !m[1] || /^param/i.test(m[1]) ? 'parameters' : (m[1].toLowerCase() as 'flops' | 'latency');
  const value = Number(m[2]);
  if (!(value > 0)) throw new UsageError(`--budget must be positive, got "${text}"`, { fix: "use a fraction like 0.4 or a parameter count" });
  const absolute = value > 1;
  if (absolute && kind !== 'parameters') throw new UsageError(`a ${kind} budget is a fraction in (0, 1], got ${value}`);
  return { kind, value, absolute, text };
}

export interface Capacity {
  /** total allowed, in the costs' unit */
  total: number;
  /** left for layers after the fixed part */
  forLayers: number;
  /** most layers any subset can keep (cheapest layers first) */
  maxLayers: number;
}

export function capacity(budget: Budget, costs: LayerCosts): Capacity {
  const full = fullCost(costs);
  const total = budget.absolute ? budget.value : budget.value * full;
  const forLayers = total - costs.fixed;
  const sorted = [...costs.perLayer].sort((a, b) => a - b);
  let maxLayers = 0;
  let acc = 0;
  for (const c of sorted) {
    if (acc + c > forLayers + 1e-9) break;
    acc += c;
    maxLayers++;
  }
  if (maxLayers === 0) {
    const need = costs.fixed + sorted[0];
    throw new ProbescaleError(
      `budget ${budget.text} is infeasible: it allows ${fmt(total)} ${costs.unit} but the embeddings/head alone take ${fmt(costs.fixed)} and the cheapest layer ${fmt(sorted[0])}`,
      { fix: `raise the budget to at least ${budget.absolute ? Math.ceil(need) : (need / full).toFixed(3)} (one layer)` },
    );
  }
  return { total, forLayers, maxLayers };
}

function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(2);
}
