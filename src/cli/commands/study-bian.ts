/**
 * Issue 19, Bian et al.'s conditional scaling law (helper "law"'s block of `probescale study`):
 *   study law-grid   train the grid into a directory of per-run files (resumable, skips what is done)
 *   study law-fit    fit Chinchilla, the paper's law and ours on the grid; random hold-out and
 *                    leave-one-configuration-out errors; the paper's architecture search at a budget
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { positiveIntArg, threadsArg } from '../parse.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRID_PLAN, GRID_SETUP, planGrid, readGrid, runGrid } from '../../scaling/bian-grid.js';
import { analyzeGrid, searchSpecs, type GridAnalysis } from '../../scaling/bian-study.js';
import { LAWS, type ErrorStat, type LawName } from '../../scaling/bian.js';
import type { SearchResult } from '../../scaling/bian-search.js';
import { prepareOutputDir, writeFileAtomic } from '../../util/atomic.js';
import { ProbescaleError } from '../../util/errors.js';

const numberList = (v: string): number[] => {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !(x > 0))) throw new InvalidArgumentError(`expected comma-separated positive numbers like 30000,60000, got "${v}"`);
  return xs;
};

const clockArg = (v: string): number => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(v.trim());
  const t = m ? (() => { const d = new Date(); d.setUTCHours(Number(m[1]), Number(m[2]), 0, 0); if (d.getTime() < Date.now() - 12 * 3600e3) d.setUTCDate(d.getUTCDate() + 1); return d.getTime(); })() : Date.parse(v);
  if (!Number.isFinite(t)) throw new InvalidArgumentError(`expected a UTC time like 02:55 or an ISO date, got "${v}"`);
  return t;
};

export function registerBian(study: Command): void {
  study
    .command('law-grid')
    .description("train the conditional-law grid (Bian et al.): hidden-size and MLP/attention sweeps at several sizes, one result file per run, runs already present are skipped")
    .requiredOption('--runs-dir <dir>', 'directory of per-run result files (created; grown by later runs)')
    .option('--sizes <list>', 'target non-embedding parameter counts', numberList, GRID_PLAN.sizes)
    .option('--seeds <n>', 'seeds per configuration', positiveIntArg, GRID_PLAN.seeds)
    .option('--tokens-per-param <k>', 'training tokens = k x non-embedding parameters', Number, GRID_SETUP.tokensPerParam)
    .option('--until <time>', 'start no run after this UTC time (HH:MM or ISO); the rest waits for a later session', clockArg)
    .option('--search <results.json>', 'first train the standard, chosen and loss-optimal shapes of an earlier `study law-fit` on its equal token budget')
    .option('--search-seeds <n>', 'seeds for the --search shapes', positiveIntArg, 3)
    .option('--plan', 'print the runs and exit')
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .action(async (o: { runsDir: string; sizes: number[]; seeds: number; tokensPerParam: number; until?: number; plan?: boolean; threads?: number; search?: string; searchSeeds: number }) => {
      if (!(o.tokensPerParam > 0)) throw new InvalidArgumentError('--tokens-per-param must be > 0');
      const first = o.search ? searchSpecs(readSearch(o.search), o.searchSeeds) : [];
      const specs = [...first, ...planGrid({ ...GRID_PLAN, sizes: o.sizes, seeds: o.seeds })];
      const setup = { ...GRID_SETUP, tokensPerParam: o.tokensPerParam };
      if (o.plan) {
        for (const s of specs) console.log(`${s.tag} N~${s.target} seed ${s.seed}: ${JSON.stringify(s.shape)}`);
        return;
      }
      const t0 = performance.now();
      const done = await runGrid(specs, o.runsDir, { setup, threads: o.threads, deadline: o.until, log: (l) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`) });
      console.log(`${done.length} runs trained in ${((performance.now() - t0) / 60000).toFixed(1)} min -> ${o.runsDir}`);
    });
  registerBianFit(study);
}

function readSearch(path: string): SearchResult {
  let parsed: { search?: SearchResult };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProbescaleError(`cannot read the law-fit results: ${(err as Error).message}`, { file: path, fix: 'pass the results.json of an earlier `probescale study law-fit --budget ...`' });
  }
  if (!parsed.search?.standard?.shape) throw new ProbescaleError('no search result in this file', { file: path, fix: 'pass the results.json of an earlier `probescale study law-fit` run with a search' });
  return parsed.search;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const g4 = (x: number) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4));
const errCell = (e?: ErrorStat) => (e ? `${pct(e.mean)} ± ${pct(e.sd)} (SE ${pct(e.se)})` : 'not run');

export function lawTable(a: GridAnalysis): string {
  const c = a.laws.chinchilla;
  const b = a.laws.bian;
  const o = a.laws.ours;
  const names: Record<LawName, string> = { chinchilla: 'Chinchilla L(N, D)', bian: 'Bian et al. (paper)', ours: 'ours (chinchilla.ts)' };
  const laws = LAWS.filter((l) => a.inSample[l] !== undefined);
  const lines = [
    `Grid: ${a.runs} runs, ${a.configurations} configurations, ${a.points} (N, D, loss) points; sizes ${a.sizes.join(', ')}; seeds ${a.seeds.join(', ')}.`,
    '',
    `Chinchilla (stage 1): L = ${g4(c.E)} + ${g4(c.A)} / N^${g4(c.alpha)} + ${g4(c.B)} / D^${g4(c.beta)}`,
    `Bian et al.: L = L_chinchilla x (${g4(b.a[0])} + ${g4(b.a[1])} ln x + ${g4(b.a[2])} / x) x (1 + ${g4(b.b[1])} ln r + ${g4(b.b[2])} / r),  x = hidden / sqrt(N)`,
    `  minima: x* = ${Number.isFinite(a.optimum.x) ? f3(a.optimum.x) : 'none (not U-shaped)'}, r* = ${Number.isFinite(a.optimum.r) ? f3(a.optimum.r) : 'none (not U-shaped)'}`,
    ...(o ? [`ours: L = L_chinchilla' x exp(${g4(o.ch)} (ln h - ln ${g4(o.h0)} - ${g4(o.rho)} ln N)^2 + ${g4(o.cr)} (ln r - ln ${g4(o.r0)})^2 + ${g4(o.cg)} ln g)  (all 11 refitted jointly)`] : []),
    '',
    `| law | in-sample mean rel. error | random hold-out (${a.randomHoldOut.repeats} x ${Math.round(a.randomHoldOut.fraction * 100)}% of configurations): mean ± sd | leave-one-configuration-out: mean ± sd (SE) |`,
    '| --- | ---: | ---: | ---: |',
    ...laws.map((l) => `| ${names[l]} | ${pct(a.inSample[l]!)} | ${errCell(a.randomHoldOut[l])} | ${errCell(a.leaveOneOut?.[l])} |`),
    '',
    '| size | sweep | hidden | layers | x = hidden/sqrt(N) | MLP/attn | N | final loss (mean ± sd, seeds) | Bian predicted |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...a.sweeps.map((r) => `| ${r.size} | ${r.sweep} | ${r.hidden} | ${r.layers} | ${f3(r.x)} | ${r.ratio.toFixed(2)} | ${r.N} | ${f3(r.loss.mean)} ± ${f3(r.loss.sd)} (${r.loss.n}) | ${f3(r.predicted)} |`),
  ];
  if (a.search) {
    const s = a.search;
    const row = (name: string, x: SearchResult['standard']) =>
      `| ${name} | ${x.shape.hidden} | ${x.shape.layers} | ${x.shape.heads}/${x.shape.kvHeads} | ${x.shape.intermediate} | ${x.N} | ${f3(x.x)} | ${x.ratio.toFixed(2)} | ${f3(x.predicted)} | ${x.throughput!.decode.toFixed(0)} (${(x.throughput!.decode / s.standard.throughput!.decode).toFixed(2)}x) | ${x.throughput!.prefill.toFixed(0)} (${(x.throughput!.prefill / s.standard.throughput!.prefill).toFixed(2)}x) |`;
    lines.push(
      '',
      `Search at ${s.budget} non-embedding parameters, ${s.tokens} tokens: ${s.candidates.length} shapes within 10% of the standard's N, ${s.feasible} predicted no worse than it. Throughput: random weights, 1 thread, fastest of ${s.repeats}; decode = batch 1 with a key/value cache after a 16-token prompt (64 tokens); prefill = batch 8 x 64.`,
      '| shape | hidden | layers | heads/kv | FFN | N | x | MLP/attn | predicted loss | decode tok/s | prefill tok/s |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('standard (LLaMA-3.2-shaped)', s.standard),
      row('chosen (max decode s.t. predicted <= standard, then GQA)', s.chosen),
      row('loss-optimal (then GQA)', s.lossOptimal),
      ...(s.gqaSteps.length ? ['', 'GQA local search: ' + s.gqaSteps.map((g) => `${g.for} g=${g.groups}: decode ${g.decode.toFixed(0)} tok/s, predicted ${f3(g.predicted)} -> ${g.kept ? 'kept' : 'stop'}`).join('; ')] : []),
    );
  }
  if (a.trained) {
    // each search size has its own standard (same token budget); rows grouped by budget, standard first
    const stdOf = (t: (typeof a.trained)[number]) => a.trained!.find((s) => s.tag === 'search-standard' && s.tokens === t.tokens);
    const rows = [...a.trained].sort((x, y) => x.tokens - y.tokens || Number(y.tag === 'search-standard') - Number(x.tag === 'search-standard'));
    lines.push(
      '',
      'Search shapes trained on their standard\'s token budget (`law-grid --search`; predicted by the law fitted now; "vs standard" = the same budget\'s standard):',
      '| role | hidden | layers | heads/kv | FFN | N | tokens | predicted | measured final loss (mean ± sd, seeds) | vs standard |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const t of rows) {
      const std = stdOf(t);
      const vsStandard = std && t !== std ? `${(((t.loss.mean - std.loss.mean) / std.loss.mean) * 100).toFixed(2)}%` : '';
      lines.push(`| ${t.tag.replace('search-', '')} | ${t.shape.hidden} | ${t.shape.layers} | ${t.shape.heads}/${t.shape.kvHeads} | ${t.shape.intermediate} | ${t.N} | ${t.tokens} | ${f3(t.predicted)} | ${f3(t.loss.mean)} ± ${f3(t.loss.sd)} (${t.loss.n}) | ${vsStandard} |`);
    }
  }
  return lines.join('\n');
}

export function registerBianFit(study: Command): void {
  study
    .command('law-fit')
    .description('fit Chinchilla, Bian et al.\'s conditional law and ours on a law-grid directory; random hold-out and leave-one-configuration-out errors; the paper\'s architecture search')
    .requiredOption('--runs-dir <dir>', 'a directory written by `study law-grid`')
    .option('--out <dir>', 'output directory (results.json, table.md)', 'out/law-fit')
    .option('--overwrite', 'write into --out even if it holds files probescale did not write')
    .option('--repeats <n>', 'random hold-out splits', positiveIntArg, 10)
    .option('--fraction <f>', 'fraction of configurations held out per random split', Number, 0.2)
    .option('--no-loco', 'skip leave-one-configuration-out')
    .option('--laws <list>', `laws to validate (${LAWS.join(',')})`, (v: string) => v.split(',').map((x) => x.trim()) as LawName[], LAWS)
    .option('--budget <n>', 'run the architecture search at this many non-embedding parameters')
    .option('--tokens <n>', 'training tokens of the search budget (default: the grid\'s tokens per parameter x budget)', Number)
    .option('--timing-repeats <n>', 'timed repeats per shape in the search (the fastest counts)', positiveIntArg, 5)
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .action(async (o: { runsDir: string; out: string; overwrite?: boolean; repeats: number; fraction: number; loco: boolean; laws: LawName[]; budget?: string; tokens?: number; threads?: number; timingRepeats: number }) => {
      if (!(o.fraction > 0 && o.fraction < 1)) throw new InvalidArgumentError('--fraction must be between 0 and 1');
      const bad = o.laws.find((l) => !LAWS.includes(l));
      if (bad) throw new InvalidArgumentError(`unknown law "${bad}" in --laws (known: ${LAWS.join(', ')})`);
      const budget = o.budget === undefined ? undefined : Number(o.budget);
      if (budget !== undefined && !(budget > 0)) throw new InvalidArgumentError('--budget must be a positive number');
      const results = readGrid(o.runsDir);
      prepareOutputDir(o.out, 'probescale study law-fit', { overwrite: o.overwrite });
      const t0 = performance.now();
      const setup = results[0]?.setup ?? GRID_SETUP;
      const analysis = await analyzeGrid(results, {
        repeats: o.repeats,
        fraction: o.fraction,
        loco: o.loco,
        laws: o.laws.includes('bian') ? o.laws : ['bian', ...o.laws],
        search: budget ? { budget, tokens: o.tokens ?? Math.round(setup.tokensPerParam * budget), headDim: GRID_PLAN.headDim, vocab: setup.vocab, threads: o.threads, repeats: o.timingRepeats } : undefined,
        log: (l) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`),
      });
      const table = lawTable(analysis);
      console.log('\n' + table);
      writeFileAtomic(join(o.out, 'results.json'), JSON.stringify({ runsDir: o.runsDir, seconds: (performance.now() - t0) / 1000, ...analysis }, null, 1) + '\n');
      writeFileAtomic(join(o.out, 'table.md'), table + '\n');
      console.log(`\n-> ${o.out}/{results.json,table.md}`);
    });
}
