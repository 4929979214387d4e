/**
 * `probescale predict`: from a run's results (retention at several budgets), fit the retention curve and
 * give the smallest budget predicted to keep the target retention; with --verify, run the pipeline at that
 * budget and report predicted vs measured.
 */
import type { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError, UsageError } from '../../util/errors.js';
import { fitRetention, budgetForRetention, predictRetention } from '../../scaling/retention.js';
import { runPipeline } from '../pipeline.js';
import { positiveIntArg } from '../parse.js';

interface RunResults {
  model: string;
  tasks: { name: string; weight: number }[];
  parameters: { full: number; fixed: number; perLayer: number[] };
  budgets: { methods: { method: string; parameters: number; retention: number }[] }[];
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('fit retention vs kept parameters from a run and predict the smallest budget keeping --target')
    .requiredOption('--results <file>', 'results.json of a `probescale run` with 2+ budgets')
    .requiredOption('--target <r>', 'target retention, e.g. 0.95', Number)
    .option('--verify', 'run selection + compression at the predicted budget and measure retention')
    .option('--out <dir>', 'output directory for --verify', 'out/predict')
    .option('--overwrite', 'with --verify: write into --out even if it holds files probescale did not write')
    .option('--max-train <n>', 'as in the run being verified', positiveIntArg)
    .option('--max-eval <n>', 'as in the run being verified', positiveIntArg)
    .action(async (o: { results: string; target: number; verify?: boolean; out: string; maxTrain?: number; maxEval?: number; overwrite?: boolean }) => {
      if (!existsSync(o.results)) throw new ProbescaleError('results file not found', { file: o.results });
      if (!(o.target > 0 && o.target <= 1.5)) throw new UsageError(`--target must be a retention like 0.95, got ${o.target}`);
      const r = readRunResults(o.results);
      const points = [...r.budgets.map((b) => ({ x: b.methods[0].parameters / r.parameters.full, r: b.methods[0].retention })), { x: 1, r: 1 }];
      const fit = await fitRetention(points, { bootstrap: 200 });
      let x: number;
      try {
        x = budgetForRetention(fit, o.target);
      } catch (err) {
        throw new ProbescaleError(`cannot predict a budget for retention ${o.target} from this run (${(err as Error).message})`, { file: o.results, fix: 'choose a target between the retentions the run measured, or run more budgets' });
      }
      console.log(`form ${fit.form} ${JSON.stringify(fit.params)}; held-out error ${JSON.stringify(fit.heldOutError)}`);
      // no model is smaller than the embeddings/head plus one layer: a fitted curve can go below that, the answer cannot
      const oneLayer = (r.parameters.fixed + Math.min(...r.parameters.perLayer)) / r.parameters.full;
      if (x < oneLayer) {
        console.log(`the fitted curve keeps ${o.target} below ${oneLayer.toFixed(4)} of the parameters, the smallest model there is (embeddings + one layer, ${Math.round(oneLayer * r.parameters.full).toLocaleString()} parameters): the answer is that smallest model`);
      } else {
        console.log(`smallest budget predicted to keep ${o.target}: ${x.toFixed(4)} of the parameters (${Math.round(x * r.parameters.full).toLocaleString()})`);
      }
      if (!o.verify) return;
      // a budget is met by whole layers: round up to at least the smallest subnetwork (one layer)
      const budget = Math.max(x, oneLayer);
      if (budget > x) console.log(`the predicted budget holds no layer; verifying at the smallest feasible one, ${budget.toFixed(4)}`);
      const res = await runPipeline({
        model: r.model, tasks: r.tasks.map((t) => t.name).join(','), weights: r.tasks.map((t) => t.weight).join(','), budgets: (Math.ceil(budget * 1e4) / 1e4).toFixed(4),
        out: o.out, overwrite: o.overwrite, maxTrain: o.maxTrain, maxEval: o.maxEval, seed: 0, searchEvals: 40, randomSeeds: 5, bootstrap: 1000, log: () => {},
      });
      const kept = res.budgets[0].methods[0];
      const xKept = kept.parameters / r.parameters.full;
      console.log(`verified: kept ${kept.layers.length} layers = ${xKept.toFixed(4)} of the parameters; predicted retention there ${predictRetention(fit, xKept).toFixed(4)}, measured ${kept.retention.toFixed(4)}`);
      console.log(`report: ${join(o.out, 'report.html')}`);
    });
}

/** results.json of a run, checked field by field: a truncated, empty or foreign file fails naming the file. */
function readRunResults(path: string): RunResults {
  const fix = 'pass the results.json written by `probescale run` with two or more budgets';
  let r: RunResults;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as RunResults;
  } catch (err) {
    throw new ProbescaleError(`not valid JSON (${String((err as Error).message).split('\n')[0].slice(0, 80)}): empty or cut short?`, { file: path, fix });
  }
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const ok =
    r && typeof r === 'object' && typeof r.model === 'string' && Array.isArray(r.tasks) && r.tasks.every((t) => t && typeof t.name === 'string' && finite(t.weight)) &&
    r.parameters && finite(r.parameters.full) && r.parameters.full > 0 && finite(r.parameters.fixed) && Array.isArray(r.parameters.perLayer) && r.parameters.perLayer.length > 0 && r.parameters.perLayer.every(finite) &&
    Array.isArray(r.budgets) && r.budgets.every((b) => b && Array.isArray(b.methods) && b.methods.length > 0 && finite(b.methods[0].parameters) && finite(b.methods[0].retention));
  if (!ok) throw new ProbescaleError('not the results.json of a `probescale run` (fields missing or of the wrong type)', { file: path, fix });
  if (r.budgets.length < 2) throw new ProbescaleError(`the run has ${r.budgets.length} budget(s); a retention curve needs at least 2`, { file: path, fix: 'run with two or more budgets, e.g. --budget 0.4,0.6,0.8' });
  return r;
}
