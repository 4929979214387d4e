/**
 * Issue 19, Bian et al.'s conditional scaling law (helper "law"'s block of `probescale study`):
 *   study law-grid   train the grid into a directory of per-run files (resumable, skips what is done)
 *   study law-fit    fit Chinchilla, the paper's law and ours on the grid; random hold-out and
 *                    leave-one-configuration-out errors; the paper's architecture search at a budget
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { positiveIntArg, threadsArg } from '../parse.js';
import { GRID_PLAN, GRID_SETUP, planGrid, runGrid } from '../../scaling/bian-grid.js';

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
    .option('--plan', 'print the runs and exit')
    .option('--threads <n>', 'onnxruntime threads', threadsArg)
    .action(async (o: { runsDir: string; sizes: number[]; seeds: number; tokensPerParam: number; until?: number; plan?: boolean; threads?: number }) => {
      if (!(o.tokensPerParam > 0)) throw new InvalidArgumentError('--tokens-per-param must be > 0');
      const specs = planGrid({ ...GRID_PLAN, sizes: o.sizes, seeds: o.seeds });
      const setup = { ...GRID_SETUP, tokensPerParam: o.tokensPerParam };
      if (o.plan) {
        for (const s of specs) console.log(`${s.tag} N~${s.target} seed ${s.seed}: ${JSON.stringify(s.shape)}`);
        return;
      }
      const t0 = performance.now();
      const done = await runGrid(specs, o.runsDir, { setup, threads: o.threads, deadline: o.until, log: (l) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`) });
      console.log(`${done.length} runs trained in ${((performance.now() - t0) / 60000).toFixed(1)} min -> ${o.runsDir}`);
    });
}
