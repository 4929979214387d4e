/**
 * Analysis of the conditional-law grid (issue 19): fit Chinchilla, Bian et al.'s law and our own
 * conditional law on every grid run, validate all three on the same held-out configurations (random
 * splits and leave-one-configuration-out), tabulate the measured U-shapes, run the paper's search at a
 * budget, and put the trained search shapes (if the grid directory holds them) beside their predictions.
 */
import { bianLoss, bianOptimum, fitAllLaws, leaveOneConfigOut, randomHoldOut, LAWS, predict, type FittedLaws, type LawErrors, type LawName } from './bian.js';
import { configPoints, type GridResult, type GridRunSpec } from './bian-grid.js';
import { searchArchitecture, type Candidate, type SearchResult } from './bian-search.js';
import { ProbescaleError } from '../util/errors.js';

export interface SweepRow {
  size: number;
  sweep: string;
  hidden: number;
  layers: number;
  x: number;
  ratio: number;
  N: number;
  /** final held-out loss over seeds */
  loss: { mean: number; sd: number; n: number };
  predicted: number;
}

export interface TrainedShape {
  /** the role the earlier search that queued it gave it (search-standard, search-chosen, search-lossOptimal) */
  tag: string;
  shape: Candidate['shape'];
  N: number;
  tokens: number;
  /** by the law fitted now (the search that queued it may have used an earlier fit) */
  predicted: number;
  loss: { mean: number; sd: number; n: number };
}

export interface GridAnalysis {
  runs: number;
  configurations: number;
  points: number;
  sizes: number[];
  seeds: number[];
  laws: Partial<FittedLaws> & Pick<FittedLaws, 'chinchilla' | 'bian'>;
  optimum: { x: number; r: number };
  inSample: Partial<Record<LawName, number>>;
  randomHoldOut: LawErrors & { repeats: number; fraction: number };
  leaveOneOut?: LawErrors;
  sweeps: SweepRow[];
  search?: SearchResult;
  trained?: TrainedShape[];
}

const meanSd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: m, sd: xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) : NaN, n: xs.length };
};

export const isSearchRun = (r: GridResult) => r.spec.tag.startsWith('search-');

export interface AnalysisOptions {
  repeats: number;
  fraction: number;
  loco: boolean;
  laws?: LawName[];
  search?: { budget: number; tokens: number; headDim: number; vocab: number; threads?: number; repeats?: number };
  log?: (l: string) => void;
}

export async function analyzeGrid(all: GridResult[], o: AnalysisOptions): Promise<GridAnalysis> {
  const results = all.filter((r) => !isSearchRun(r));
  if (results.length < 5) throw new ProbescaleError(`${results.length} grid runs: too few to fit and validate the laws`, { fix: 'run `probescale study law-grid` longer' });
  const laws = o.laws ?? LAWS;
  const configs = configPoints(results);
  const points = configs.flatMap((c) => c.points);
  o.log?.(`fitting on ${results.length} runs, ${configs.length} configurations, ${points.length} points`);
  const fitted = await fitAllLaws(points, laws);
  const inSample = Object.fromEntries(laws.map((l) => [l, points.reduce((a, p) => a + Math.abs(predict(fitted, l, p) - p.loss) / p.loss, 0) / points.length]));
  o.log?.('random hold-out splits');
  const random = await randomHoldOut(configs, o.repeats, o.fraction, { laws, log: o.log });
  o.log?.('leave one configuration out');
  const loco = o.loco ? await leaveOneConfigOut(configs, { laws, log: o.log }) : undefined;
  const bySweep = new Map<string, GridResult[]>();
  for (const r of results) {
    const k = JSON.stringify([r.spec.target, r.spec.tag, r.spec.shape]);
    bySweep.set(k, [...(bySweep.get(k) ?? []), r]);
  }
  const sweeps: SweepRow[] = [...bySweep.values()].map((rs) => {
    const last = rs[0].points.at(-1)!;
    return {
      size: rs[0].spec.target,
      sweep: rs[0].spec.tag,
      hidden: rs[0].spec.shape.hidden,
      layers: rs[0].spec.shape.layers,
      x: rs[0].spec.shape.hidden / Math.sqrt(rs[0].nonEmbedding),
      ratio: rs[0].mlpAttnRatio,
      N: rs[0].nonEmbedding,
      loss: meanSd(rs.map((r) => r.points.at(-1)!.loss)),
      predicted: bianLoss(fitted.bian, last),
    };
  });
  sweeps.sort((a, b) => a.size - b.size || a.sweep.localeCompare(b.sweep) || a.x - b.x || a.ratio - b.ratio);
  const out: GridAnalysis = {
    runs: results.length,
    configurations: configs.length,
    points: points.length,
    sizes: [...new Set(results.map((r) => r.spec.target))].sort((a, b) => a - b),
    seeds: [...new Set(results.map((r) => r.spec.seed))].sort((a, b) => a - b),
    laws: fitted,
    optimum: bianOptimum(fitted.bian),
    inSample,
    randomHoldOut: { ...random, repeats: o.repeats, fraction: o.fraction },
    leaveOneOut: loco,
    sweeps,
  };
  if (o.search) {
    o.log?.(`search at ${o.search.budget} parameters, ${o.search.tokens} tokens`);
    out.search = await searchArchitecture(fitted.bian, o.search.budget, o.search.tokens, { headDim: o.search.headDim, vocab: o.search.vocab, threads: o.search.threads, repeats: o.search.repeats, log: o.log });
  }
  // shapes an earlier search queued (`law-grid --search`), trained on one equal token budget
  const groups = new Map<string, GridResult[]>();
  for (const r of all.filter(isSearchRun)) {
    const k = JSON.stringify([r.spec.tag, r.spec.shape, r.spec.tokens]);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  if (groups.size) {
    out.trained = [...groups.values()].map((rs) => {
      const last = rs[0].points.at(-1)!;
      return { tag: rs[0].spec.tag, shape: rs[0].spec.shape, N: rs[0].nonEmbedding, tokens: last.D, predicted: bianLoss(fitted.bian, last), loss: meanSd(rs.map((r) => r.points.at(-1)!.loss)) };
    });
  }
  return out;
}

/** The search's three shapes as grid runs on an equal token budget (`study law-grid --search`). */
export function searchSpecs(search: SearchResult, seeds: number): GridRunSpec[] {
  const out: GridRunSpec[] = [];
  const seen = new Set<string>();
  for (let seed = 1; seed <= seeds; seed++) {
    for (const name of ['standard', 'chosen', 'lossOptimal'] as const) {
      const shape = search[name].shape;
      const k = JSON.stringify([shape, seed]);
      if (seen.has(k)) continue; // chosen and loss-optimal can be the same shape
      seen.add(k);
      out.push({ shape, seed, tag: `search-${name}`, target: search.budget, tokens: search.tokens });
    }
  }
  return out;
}
