/**
 * `probescale predict`: from a run's results (retention at several budgets), fit the retention curve and
 * give the smallest budget predicted to keep the target retention (raw or gain); with --verify, run the
 * pipeline at that budget and report predicted vs measured.
 */
import { Option, type Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError, UsageError } from '../../util/errors.js';
import { predictRetention } from '../../scaling/retention.js';
import { predictBudget } from '../../scaling/predict.js';
import { runPipeline } from '../../pipeline/run.js';
import { curvePoints, smallestFeasible } from '../../pipeline/curve.js';
import type { RetentionMode } from '../../select/retention.js';
import { positiveIntArg } from '../parse.js';
import type { RunResults } from '../../report/results.js';

export function register(program: Command): void {
  program
    .command('predict')
    .description('fit retention vs kept parameters from a run and predict the smallest budget keeping --target')
    .requiredOption('--results <file>', 'results.json of a `probescale run` with 2+ budgets')
    .requiredOption('--target <r>', 'target retention, e.g. 0.95', Number)
    .addOption(new Option('--retention <kind>', 'what the target is in (default: what the run selected by; gain = share of what the layers add over the embeddings, raw = score / final layer)').choices(['raw', 'gain']))
    .option('--verify', 'run selection + compression at the predicted budget and measure retention')
    .option('--out <dir>', 'output directory for --verify', 'out/predict')
    .option('--overwrite', 'with --verify: write into --out even if it holds files probescale did not write')
    .option('--max-train <n>', 'as in the run being verified', positiveIntArg)
    .option('--max-eval <n>', 'as in the run being verified', positiveIntArg)
    .option('--json', 'print the answer (and the verification) as one line of JSON')
    .action(async (o: { results: string; target: number; retention?: RetentionMode; verify?: boolean; out: string; maxTrain?: number; maxEval?: number; json?: boolean; quiet?: boolean; overwrite?: boolean }) => {
      if (!existsSync(o.results)) throw new ProbescaleError('results file not found', { file: o.results });
      if (!(o.target > 0 && o.target <= 1.5)) throw new UsageError(`--target must be a retention like 0.95, got ${o.target}`);
      const r = readRunResults(o.results);
      // results.json written before gain retention existed holds raw retention only
      const mode: RetentionMode = o.retention ?? r.retentionMode ?? 'raw';
      const points = curvePoints(r, mode);
      if (!points) throw new ProbescaleError(`${o.results} has no gain retention (no task's layers add anything beyond test noise, or it predates gain retention)`, { file: o.results, fix: 'use --retention raw, or rerun probescale run' });
      const smallest = smallestFeasible(r.parameters.fixed, r.parameters.perLayer, r.parameters.full);
      let p: Awaited<ReturnType<typeof predictBudget>>;
      try {
        p = await predictBudget(points, o.target, smallest);
      } catch (err) {
        throw new ProbescaleError(`cannot predict a budget for ${mode} retention ${o.target} from this run (${(err as Error).message})`, { file: o.results, fix: 'choose a target between the retentions the run measured, or run more budgets' });
      }
      const answer = {
        mode, target: o.target, answer: p.answer, answerParameters: Math.round(p.answer * r.parameters.full), curveAnswer: p.curveAnswer,
        smallestFeasible: p.smallestFeasible, floor: p.floor, warnings: p.warnings, fit: { form: p.fit.form, params: p.fit.params, heldOutError: p.fit.heldOutError, ci: p.fit.ci },
      };
      if (!o.json) {
        console.log(`${mode} retention curve: form ${p.fit.form} ${JSON.stringify(p.fit.params)}; held-out error ${JSON.stringify(p.fit.heldOutError)}`);
        for (const w of p.warnings) console.log(`warning: ${w}`);
        console.log(`smallest budget predicted to keep ${mode} retention ${o.target}: ${p.answer.toFixed(4)} of the parameters (${answer.answerParameters.toLocaleString()})${p.answer > p.curveAnswer ? `: the fitted curve keeps ${o.target} below ${p.smallestFeasible.toFixed(4)} of the parameters, the smallest model there is (embeddings + one layer); the answer is that smallest model` : ''}`);
      }
      if (!o.verify) {
        if (o.json) process.stdout.write(JSON.stringify(answer) + '\n');
        return;
      }
      const res = await runPipeline({
        model: r.model, tasks: r.tasks.map((t) => t.name).join(','), weights: r.tasks.map((t) => t.weight).join(','), budgets: (Math.ceil(p.answer * 1e4) / 1e4).toFixed(4),
        out: o.out, overwrite: o.overwrite, maxTrain: o.maxTrain, maxEval: o.maxEval, seed: 0, searchEvals: 40, randomSeeds: 5, bootstrap: 1000, retention: mode, log: () => {}, progress: !o.quiet,
      });
      const kept = res.budgets[0].methods[0];
      const xKept = kept.parameters / r.parameters.full;
      const measured = mode === 'raw' ? kept.retention : kept.gain;
      const verified = { layers: kept.layers, kept: xKept, predicted: predictRetention(p.fit, xKept), measured: measured ?? null, report: join(o.out, 'report.html') };
      if (o.json) {
        process.stdout.write(JSON.stringify({ ...answer, verified }) + '\n');
        return;
      }
      console.log(`verified: kept ${kept.layers.length} layers = ${xKept.toFixed(4)} of the parameters; predicted ${mode} retention there ${verified.predicted.toFixed(4)}, measured ${measured === undefined ? 'n/a (gain not defined on this run)' : measured.toFixed(4)}`);
      console.log(`report: ${verified.report}`);
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
