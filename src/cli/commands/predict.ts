/**
 * `probescale predict`: from a run's results (retention at several budgets), fit the retention curve and
 * give the smallest budget predicted to keep the target retention; with --verify, run the pipeline at that
 * budget and report predicted vs measured.
 */
import type { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../../util/errors.js';
import { fitRetention, budgetForRetention, predictRetention } from '../../scaling/retention.js';
import { runPipeline } from '../pipeline.js';
import { loadModel } from '../../model/checkpoint.js';
import { parameterCosts } from '../../select/costs.js';
import { positiveIntArg } from '../parse.js';

interface RunResults {
  model: string;
  tasks: { name: string; weight: number }[];
  parameters: { full: number };
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
    .option('--max-train <n>', 'as in the run being verified', positiveIntArg)
    .option('--max-eval <n>', 'as in the run being verified', positiveIntArg)
    .action(async (o: { results: string; target: number; verify?: boolean; out: string; maxTrain?: number; maxEval?: number }) => {
      if (!existsSync(o.results)) throw new ProbescaleError('results file not found', { file: o.results });
      if (!(o.target > 0 && o.target <= 1.5)) throw new ProbescaleError(`--target must be a retention like 0.95, got ${o.target}`);
      const r = JSON.parse(readFileSync(o.results, 'utf8')) as RunResults;
      const points = [...r.budgets.map((b) => ({ x: b.methods[0].parameters / r.parameters.full, r: b.methods[0].retention })), { x: 1, r: 1 }];
      const fit = await fitRetention(points, { bootstrap: 200 });
      const x = budgetForRetention(fit, o.target);
      console.log(`form ${fit.form} ${JSON.stringify(fit.params)}; held-out error ${JSON.stringify(fit.heldOutError)}`);
      console.log(`smallest budget predicted to keep ${o.target}: ${x.toFixed(4)} of the parameters (${Math.round(x * r.parameters.full).toLocaleString()})`);
      if (!o.verify) return;
      // a budget is met by whole layers: round up to at least the smallest subnetwork (one layer)
      const costs = parameterCosts(loadModel(r.model));
      const oneLayer = (costs.fixed + Math.min(...costs.perLayer)) / r.parameters.full;
      const budget = Math.max(x, oneLayer);
      if (budget > x) console.log(`the predicted budget holds no layer; verifying at the smallest feasible one, ${budget.toFixed(4)}`);
      const res = await runPipeline({
        model: r.model, tasks: r.tasks.map((t) => t.name).join(','), weights: r.tasks.map((t) => t.weight).join(','), budgets: (Math.ceil(budget * 1e4) / 1e4).toFixed(4),
        out: o.out, maxTrain: o.maxTrain, maxEval: o.maxEval, seed: 0, searchEvals: 40, randomSeeds: 5, bootstrap: 1000, log: () => {},
      });
      const kept = res.budgets[0].methods[0];
      const xKept = kept.parameters / r.parameters.full;
      console.log(`verified: kept ${kept.layers.length} layers = ${xKept.toFixed(4)} of the parameters; predicted retention there ${predictRetention(fit, xKept).toFixed(4)}, measured ${kept.retention.toFixed(4)}`);
      console.log(`report: ${join(o.out, 'report.html')}`);
    });
}
