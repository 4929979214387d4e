/**
 * `npm run check:report [-- report.html] [--out DIR]`: the report as a reader sees it, in headless Chromium
 * (the checks are checkReport in scripts/report-check.ts, which test/report-render.test.ts also runs).
 * Without a report it first runs the pipeline on the bundled stories260K with small samples (~1-3 min).
 * Exit 0 passed, 1 a problem found, 2 no report or no Chromium.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runPipeline } from '../src/pipeline/run.js';
import { setProgressMode } from '../src/util/progress.js';
import { checkReport, findChromium } from './report-check.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'out/report-check' } } });
const out = resolve(values.out!);
const chromium = findChromium();
if (!chromium) {
  console.error('check-report: no headless Chromium found; install it with `apt-get install -y chromium` or set CHROME_PATH');
  process.exit(2);
}
let report = positionals[0] ? resolve(positionals[0]) : '';
if (report && !existsSync(report)) {
  console.error(`check-report: ${report} does not exist; pass a report.html written by probescale run`);
  process.exit(2);
}
if (!report) {
  setProgressMode('off');
  const run = join(out, 'run');
  mkdirSync(out, { recursive: true });
  console.log(`running the pipeline on stories260K into ${run}`);
  await runPipeline({ model: 'models/stories260K/stories260K.bin', tasks: 'upos,trec', budgets: '0.4,0.6,0.8', out: run, overwrite: true, seed: 0, searchEvals: 12, randomSeeds: 3, bootstrap: 100, maxTrain: 200, maxEval: 100, log: () => {} });
  report = join(run, 'report.html');
}
const v = await checkReport(report, { outDir: out, chromium });
if (v.png) console.log(`screenshot: ${v.png} (pixel stdev ${v.pixelStdev!.toFixed(1)})`);
for (const [budget, methods] of Object.entries(v.methods)) console.log(`budget ${budget}: ${methods.join(', ')}`);
if (v.note) console.log(`no methods plot: ${v.note}`);
console.log(`"Every method at every budget": ${v.rows} method rows over ${Object.keys(v.methods).length} budgets; kept blocks [${v.kept.join(', ')}], marked on the per-layer plot [${v.marked.join(', ')}]`);
if (v.problems.length) {
  for (const p of v.problems) console.error(`problem: ${p}`);
  process.exit(1);
}
console.log('report check passed');
