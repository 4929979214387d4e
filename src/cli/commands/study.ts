/**
 * `probescale study arch`: Llama shapes at one parameter budget (hidden size x MLP/attention ratio x GQA
 * groups, depth solved from the budget) and their measured onnxruntime throughput, against a standard
 * shape of the same size (Llama-style: MLP/attention ratio 2.0 — SwiGLU at ~2.7x hidden — no GQA).
 */
import type { Command } from 'commander';
import { runArchStudy } from '../../scaling/architecture.js';
import { checkReplaceable, prepareOutputDir, writeFileAtomic } from '../../util/atomic.js';
import { positiveIntArg, threadsArg } from '../parse.js';
import { DEFAULT_STUDY, QUICK_STUDY, runStudy, summarize, type StudyOptions } from '../../scaling/small-lm.js';
import { lawFitPlot, lawResidualPlot, nllVsFlopsPlot, nllVsParamsPlot, svg } from '../../report/plots.js';
import { chooseArchitecture, DEFAULT_LAW, fitLaw, QUICK_LAW, runLawGrid, sizeForCompute, type LawRun } from '../../scaling/law-study.js';
import { existsSync, readFileSync } from 'node:fs';
import { ProbescaleError, UsageError } from '../../util/errors.js';
import { join } from 'node:path';
import { registerBian } from './study-bian.js';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_PAPER_PLAN, PARTS, paperReport, planRuns, runPlan, type Part, type PlanOptions } from '../../scaling/small-lm-paper.js';
import { registerScale } from './study-scale.js';

export function register(program: Command): void {
  const study = program.command('study').description('related studies: architecture throughput at a parameter budget; small LMs under a FLOP budget');
  registerScale(study);
  study
    .command('law')
    .description('train a grid of small Llamas (hidden x depth x MLP/attention ratio x GQA), fit the Chinchilla and conditional laws, choose an architecture at a budget and measure it')
    .option('--out <dir>', 'output directory (results.json, table.md, report.html)', 'out/law')
    .option('--quick', 'tiny grid and budget (tests)')
    .option('--budget <n>', 'non-embedding parameter budget for the architecture search (tokens = 20 x budget)', Number, 4e6)
    .option('--compute <flops>', 'instead: a training-compute budget; the law picks size, tokens and shape', Number)
    .option('--overwrite', 'write into --out even if it holds files probescale did not write')
    .option('--runs <results.json>', 'reuse the training runs of an earlier study (no training)')
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .option('--redis <url>', 'scale-out: each training run is a job on this Redis (redis://HOST:PORT) for `probescale worker`s')
    .option('--store <dir>', 'scale-out: result store shared by the workers, same path on every machine (default OUT/.store)')
    .action(async (o: { out: string; quick?: boolean; budget: number; compute?: number; runs?: string; threads?: number; overwrite?: boolean; redis?: string; store?: string; quiet?: boolean }) => {
      const t0 = performance.now();
      const opts = { ...(o.quick ? QUICK_LAW : DEFAULT_LAW), threads: o.threads, log: (l: string) => console.log(l) };
      const earlier = o.runs ? readRuns(o.runs) : undefined;
      checkReplaceable(o.out, { overwrite: o.overwrite });
      // scale-out: Redis reached (or a one-line error) before --out is created
      const { JobQueue, lawRunner } = o.redis && !earlier ? await import('../../distribute/queue.js') : { JobQueue: undefined, lawRunner: undefined };
      const queue = o.redis && !earlier ? await JobQueue!.open(o.redis, o.store ?? join(o.out, '.store')) : undefined;
      let runs: LawRun[];
      try {
        // checked after the inputs (a bad --runs writes nothing) and before hours of training
        prepareOutputDir(o.out, 'probescale study law', { overwrite: o.overwrite });
        runs = earlier ?? (await runLawGrid(opts, queue && lawRunner!(queue, !o.quiet)));
      } finally {
        await queue?.close();
      }
      const fit = await fitLaw(runs);
      const sized = o.compute ? sizeForCompute(fit.conditional, o.compute, opts.vocab) : undefined;
      const budget = sized?.budget ?? (o.quick ? 1.6e6 : o.budget);
      const tokens = sized?.tokens ?? 20 * budget;
      const choice = await chooseArchitecture(fit.conditional, budget, tokens, opts.vocab, { threads: o.threads, measure: o.quick ? 2 : 8, seq: o.quick ? 32 : 128 });
      const c = fit.conditional;
      const f = (x: number, d = 3) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(d));
      const lines = [
        `Chinchilla: L = ${f(fit.chinchilla.E)} + ${f(fit.chinchilla.A)} / N^${f(fit.chinchilla.alpha)} + ${f(fit.chinchilla.B)} / D^${f(fit.chinchilla.beta)}`,
        `Conditional: x exp(${f(c.ch)} (ln h - ln ${f(c.h0)} - ${f(c.rho)} ln N)^2 + ${f(c.cr)} (ln r - ln ${f(c.r0)})^2 + ${f(c.cg)} ln g)`,
        `Held-out configurations (${fit.heldOutError.points} points): mean relative error Chinchilla ${(fit.heldOutError.chinchilla * 100).toFixed(2)}%, conditional ${(fit.heldOutError.conditional * 100).toFixed(2)}%`,
        '',
        ...(o.compute ? [`Training compute ${o.compute.toExponential(2)} FLOPs: the law picks ${budget.toExponential(2)} non-embedding parameters and ${tokens.toExponential(2)} tokens.`] : []),
        `Architecture at ${budget.toExponential(2)} non-embedding parameters, ${tokens.toExponential(2)} tokens (batch-32 prefill throughput must be >= the standard shape's):`,
        '| shape | hidden | layers | heads/kv | FFN | MLP/attn | predicted loss | batch-32 tok/s | batch-1 ms |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...[['standard', choice.standard] as const, ['law-chosen', choice.chosen] as const].map(([name, x]) => `| ${name} | ${x.shape.hidden} | ${x.shape.layers} | ${x.shape.heads}/${x.shape.kvHeads} | ${x.shape.intermediate} | ${x.throughput.ratio.toFixed(2)} | ${x.predicted.toFixed(4)} | ${x.throughput.tokensPerS.toFixed(0)} | ${x.throughput.latencyMs.toFixed(2)} |`),
        '',
        choice.chosen.meetsConstraint ? 'The chosen shape meets the throughput constraint.' : `None of the ${o.quick ? 2 : 8} best-predicted shapes was as fast as the standard one; the best-predicted is shown.`,
        `Throughput chosen / standard: ${(choice.chosen.throughput.tokensPerS / choice.standard.throughput.tokensPerS).toFixed(2)}x (batch 32), ${(choice.standard.throughput.latencyMs / choice.chosen.throughput.latencyMs).toFixed(2)}x (batch 1)`,
      ];
      const table = lines.join('\n');
      console.log('\n' + table);
      const html = `<!doctype html><meta charset="utf-8"><title>probescale conditional scaling law</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}</style>
<h1>Conditional scaling law from our own training runs</h1>
<div style="display:flex;gap:2em"><div><h2>Measured vs predicted</h2>${await svg(lawFitPlot(fit.residuals))}</div><div><h2>Residuals</h2>${await svg(lawResidualPlot(fit.residuals))}</div></div>
<pre>${table.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;
      const seconds = (performance.now() - t0) / 1000;
      writeFileAtomic(join(o.out, 'results.json'), JSON.stringify({ options: { ...opts, log: undefined }, seconds, runs, fit, choice }, null, 1) + '\n');
      writeFileAtomic(join(o.out, 'table.md'), table + '\n');
      writeFileAtomic(join(o.out, 'report.html'), html);
      console.log(`\n${runs.length} training runs in ${(seconds / 60).toFixed(1)} min -> ${o.out}/{results.json,table.md,report.html}`);
    });
  study
    .command('small-lm')
    .description('linear / MLP / attention / transformer LMs (no, learned, rotary positions) at equal training FLOPs on Tiny Shakespeare (char), PTB and WikiText-2 (word)')
    .option('--out <dir>', 'output directory (results.json, table.md, report.html)', 'out/small-lm')
    .option('--quick', 'tiny budget, 2 datasets, 4 configurations, 2 seeds (tests)')
    .option('--seeds <n>', 'seeds per configuration', positiveIntArg)
    .option('--overwrite', 'write into --out even if it holds files probescale did not write')
    .option('--budget <flops>', 'training FLOPs per run', Number)
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    // --paper block (issue 19): the paper's split, shapes and sweeps; resumable, one file per run under --out/runs
    .option('--paper', "the paper's configurations on its split (Bhatti 2025): table, sweeps, equal FLOPs, learning rate tuning, our budget")
    .option('--parts <list>', `with --paper: which parts (${PARTS.join(',')})`, partsArg)
    .option('--scale <x>', "with --paper: fraction of the paper's training windows for table/equal/tune", fractionArg)
    .option('--sweep-scale <x>', "with --paper: the same for the sweeps", fractionArg)
    .option('--lrs <list>', 'with --paper: learning rates tried per tuned variant (paper shapes)', lrsArg)
    .option('--max-minutes <m>', 'with --paper: start no new run after this many minutes (the rest stays pending; rerun to continue)', Number)
    .option('--reverse-seeds', 'with --paper: highest seed first (a second process sharing --out then meets the first at the end)')
    .option('--only <configs>', 'with --paper: run only these configurations of the plan (comma-separated names, e.g. table/transformer3-rope-pre); the report still shows every finished run', (v: string) => v.split(',').map((x) => x.trim()))
    .option('--redis <url>', 'scale-out (not with --paper): each training run is a job on this Redis (redis://HOST:PORT) for `probescale worker`s')
    .option('--store <dir>', 'scale-out: result store shared by the workers, same path on every machine (default OUT/.store)')
    .action(async (o: { out: string; quick?: boolean; seeds?: number; budget?: number; threads?: number; overwrite?: boolean; paper?: boolean; parts?: Part[]; scale?: number; sweepScale?: number; lrs?: number[]; maxMinutes?: number; reverseSeeds?: boolean; only?: string[]; redis?: string; store?: string; quiet?: boolean }) => {
      if (o.paper && o.redis) throw new UsageError('--redis is not available with --paper (its runs are resumable files under --out, not jobs)', { fix: 'drop --redis, or run without --paper' });
      if (o.paper) return paperStudy(o);
      checkReplaceable(o.out, { overwrite: o.overwrite });
      // scale-out: Redis reached (or a one-line error) before --out is created
      const { JobQueue, smallLmRunner } = o.redis ? await import('../../distribute/queue.js') : { JobQueue: undefined, smallLmRunner: undefined };
      const queue = o.redis ? await JobQueue!.open(o.redis, o.store ?? join(o.out, '.store')) : undefined;
      const opts: StudyOptions = { ...(o.quick ? QUICK_STUDY : DEFAULT_STUDY), threads: o.threads, log: (l) => console.log(l) };
      if (o.seeds) opts.seeds = o.seeds;
      if (o.budget) opts.budget = { char: o.budget, word: o.budget };
      const t0 = performance.now();
      let result: Awaited<ReturnType<typeof runStudy>>;
      try {
        prepareOutputDir(o.out, 'probescale study small-lm', { overwrite: o.overwrite });
        result = await runStudy(opts, queue && smallLmRunner!(queue, !o.quiet));
      } finally {
        await queue?.close();
      }
      const summary = summarize(result.runs);
      const table = studyTable(result.datasets, summary);
      console.log('\n' + table);
      const points = result.runs.flatMap((r) => r.curve.map((c) => ({ dataset: r.dataset, config: r.config, flops: c.flops, nll: c.nll })));
      const rows = summary.rows.map((r) => ({ dataset: r.dataset, config: r.config, parameters: r.parameters, nll: r.nll.mean, lo: r.nll.mean - (r.nll.half || 0), hi: r.nll.mean + (r.nll.half || 0) }));
      const html = `<!doctype html><meta charset="utf-8"><title>probescale small-LM study</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style>
<h1>Small language models at equal training FLOPs</h1>
<h2>Test NLL vs training FLOPs</h2>${await svg(nllVsFlopsPlot(points))}
<h2>Test NLL vs parameters (mean over seeds, 95% CI)</h2>${await svg(nllVsParamsPlot(rows))}
<pre>${table.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;
      const seconds = (performance.now() - t0) / 1000;
      writeFileAtomic(join(o.out, 'results.json'), JSON.stringify({ options: { ...opts, log: undefined }, seconds, ...result, summary }, null, 1) + '\n');
      writeFileAtomic(join(o.out, 'table.md'), table + '\n');
      writeFileAtomic(join(o.out, 'report.html'), html);
      console.log(`\n${result.runs.length} runs in ${(seconds / 60).toFixed(1)} min -> ${o.out}/{results.json,table.md,report.html}`);
    });
  study
    .command('arch')
    .description('measure inference throughput of Llama shapes at equal parameter count')
    .option('--params <n>', 'parameter budget', positiveIntArg, 20e6)
    .option('--vocab <n>', 'vocabulary size', positiveIntArg, 8000)
    .option('--seq <n>', 'sequence length', positiveIntArg, 128)
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .option('--out <file>', 'write the table as JSON')
    .option('--overwrite', 'replace --out if it exists')
    .action(async (o: { params: number; vocab: number; seq: number; threads?: number; out?: string; overwrite?: boolean }) => {
      if (o.out && existsSync(o.out) && !o.overwrite) throw new ProbescaleError('--out exists; probescale does not replace a file it was not told to', { file: o.out, fix: 'choose a new --out or pass --overwrite' });
      const { rows } = await runArchStudy({ params: o.params, vocab: o.vocab, seq: o.seq, threads: o.threads });
      // shapes are compared with the standard one; with a budget too small for it there is no comparison
      const base = rows.find((r) => r.name === 'standard');
      console.log('| shape | hidden | layers | heads/kv | FFN | params | MLP/attn | batch-32 tok/s | vs standard | batch-1 ms |');
      console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const r of rows) {
        console.log(`| ${r.name} | ${r.shape.hidden} | ${r.shape.layers} | ${r.shape.heads}/${r.shape.kvHeads} | ${r.shape.intermediate} | ${(r.parameters / 1e6).toFixed(1)}M | ${r.ratio.toFixed(2)} | ${r.tokensPerS.toFixed(0)} | ${base ? `${(r.tokensPerS / base.tokensPerS).toFixed(2)}x` : 'n/a'} | ${r.latencyMs.toFixed(1)} |`);
      }
      if (o.out) writeFileAtomic(o.out, JSON.stringify(rows, null, 2) + '\n');
    });
  // issue 19 (Bian et al.'s law, grid and search): its own block in study-bian.ts
  registerBian(study);
}

function studyTable(datasets: Awaited<ReturnType<typeof runStudy>>['datasets'], s: ReturnType<typeof summarize>): string {
  const ci = (x: { mean: number; half: number }, d = 3) => `${x.mean.toFixed(d)} ± ${Number.isNaN(x.half) ? 'n/a' : x.half.toFixed(d)}`;
  const lines = ['| dataset | configuration | parameters | training FLOPs | test NLL (95% CI) | NLL drop per FLOP doubling |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  for (const r of s.rows) lines.push(`| ${r.dataset} | ${r.config} | ${r.parameters.toLocaleString('en-US')} | ${r.trainFlops.toExponential(2)} | ${ci(r.nll)} | ${r.dropPerDoubling.toFixed(3)} |`);
  lines.push('', '| dataset | RoPE vs | family | NLL difference (rope - other, 95% CI) | verdict |', '| --- | --- | --- | ---: | --- |');
  for (const r of s.rope) {
    const verdict = Number.isNaN(r.diff.half) ? 'too few seeds' : r.diff.mean + r.diff.half < 0 ? 'RoPE better' : r.diff.mean - r.diff.half > 0 ? 'RoPE worse' : 'no significant difference';
    lines.push(`| ${r.dataset} | ${r.versus} | ${r.family} | ${ci(r.diff)} | ${verdict} |`);
  }
  lines.push('', ...datasets.map((d) => `- ${d.name}: vocabulary ${d.vocab}, ${d.trainTokens.toLocaleString('en-US')} training / ${d.testTokens.toLocaleString('en-US')} test tokens. ${d.note}`));
  return lines.join('\n');
}

function readRuns(path: string): LawRun[] {
  let parsed: { runs?: LawRun[] };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProbescaleError(`cannot read the study results: ${(err as Error).message}`, { file: path, fix: 'pass the results.json written by an earlier `probescale study law`' });
  }
  if (!Array.isArray(parsed.runs) || !parsed.runs.length || !parsed.runs.every((r) => Array.isArray(r.points))) {
    throw new ProbescaleError('no training runs in this file', { file: path, fix: 'pass the results.json written by an earlier `probescale study law`' });
  }
  return parsed.runs;
}

function partsArg(v: string): Part[] {
  const parts = v.split(',').map((x) => x.trim());
  const bad = parts.find((x) => !(PARTS as string[]).includes(x));
  if (bad !== undefined) throw new InvalidArgumentError(`unknown part "${bad}"; choose from ${PARTS.join(',')}`);
  return parts as Part[];
}

function fractionArg(v: string): number {
  const x = Number(v);
  if (!(x > 0 && x <= 1)) throw new InvalidArgumentError(`expected a fraction in (0, 1], got "${v}"`);
  return x;
}

function lrsArg(v: string): number[] {
  const xs = v.split(',').map(Number);
  if (!xs.length || xs.some((x) => !(x > 0 && x < 1))) throw new InvalidArgumentError(`expected comma-separated learning rates in (0, 1), got "${v}"`);
  return xs;
}

/** `study small-lm --paper`: run what is missing of the plan (resumable), then report everything finished. */
async function paperStudy(o: { out: string; seeds?: number; threads?: number; overwrite?: boolean; parts?: Part[]; scale?: number; sweepScale?: number; lrs?: number[]; maxMinutes?: number; reverseSeeds?: boolean; only?: string[] }): Promise<void> {
  const plan: PlanOptions = { ...DEFAULT_PAPER_PLAN };
  if (o.parts) plan.parts = o.parts;
  if (o.seeds) plan.seeds = o.seeds;
  if (o.scale) plan.scale = o.scale;
  if (o.sweepScale) plan.sweepScale = o.sweepScale;
  if (o.lrs) plan.lrs = [...new Set([3e-4, ...o.lrs])];
  if (o.maxMinutes !== undefined && !(o.maxMinutes >= 0)) throw new ProbescaleError(`--max-minutes must be a number of minutes >= 0, got ${o.maxMinutes}`, { fix: 'e.g. --max-minutes 60' });
  let specs = planRuns(plan);
  if (o.reverseSeeds) specs = [...specs].sort((a, b) => b.seed - a.seed);
  const unknown = o.only?.find((c) => !specs.some((s) => s.config === c));
  if (unknown !== undefined) throw new ProbescaleError(`--only: "${unknown}" is not a configuration of this plan`, { fix: `choose from ${[...new Set(specs.map((s) => s.config))].join(', ')}` });
  prepareOutputDir(o.out, 'probescale study small-lm --paper', { overwrite: o.overwrite });
  const toRun = o.only ? specs.filter((s) => o.only!.includes(s.config)) : specs;
  const t0 = performance.now();
  const { ran } = await runPlan(toRun, join(o.out, 'runs'), { threads: o.threads, maxMinutes: o.maxMinutes, log: (l) => console.log(l) });
  // the report covers every finished run of the plan, including those other processes wrote meanwhile
  const { results, pending } = await runPlan(specs, join(o.out, 'runs'), { maxMinutes: 0 });
  const table = paperReport(results, plan);
  console.log('\n' + table);
  writeFileAtomic(join(o.out, 'table.md'), table + '\n');
  writeFileAtomic(join(o.out, 'results.json'), JSON.stringify({ plan, planned: specs.length, finished: results.length, pending, results }, null, 1) + '\n');
  console.log(`\n${ran} runs now; ${results.length} of the plan's ${specs.length} finished, ${pending} pending (rerun the same command to continue) in ${((performance.now() - t0) / 60000).toFixed(1)} min -> ${o.out}/{table.md,results.json,runs/}`);
}
