/**
 * The report as a reader sees it, in headless Chromium (Debian's `chromium`): renders report.html, saves a
 * full-page screenshot, and checks in the live page that every method of every budget has a visible,
 * non-overlapping row label in "Every method at every budget", that the kept blocks are marked on the
 * per-layer plot, and that the screenshot is not blank.
 * Usage: node --import tsx scripts/check-report.ts [report.html] [--out DIR]
 * Without a report it first runs the pipeline on the bundled stories260K with small samples (~1-3 min).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runPipeline } from '../src/pipeline/run.js';
import { setProgressMode } from '../src/util/progress.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'out/report-check' } } });
const out = resolve(values.out!);
mkdirSync(out, { recursive: true });
let report = positionals[0] ? resolve(positionals[0]) : '';
if (!report) {
  setProgressMode('off');
  const run = join(out, 'run');
  console.log(`running the pipeline on stories260K into ${run}`);
  await runPipeline({ model: 'models/stories260K/stories260K.bin', tasks: 'upos,trec', budgets: '0.4,0.6,0.8', out: run, overwrite: true, seed: 0, searchEvals: 12, randomSeeds: 3, bootstrap: 100, maxTrain: 200, maxEval: 100, log: () => {} });
  report = join(run, 'report.html');
}
if (!existsSync(report)) {
  console.error(`check-report: ${report} does not exist; pass a report.html written by probescale run`);
  process.exit(2);
}
const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((c) => spawnSync('which', [c]).status === 0);
if (!chromium) {
  console.error('check-report: no headless Chromium found; install it with `apt-get install -y chromium`');
  process.exit(2);
}

// The checks run inside the page; their verdict is written into the DOM, which --dump-dom prints.
const probe = `<script>
const shrink = (r) => ({ x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2 });
addEventListener('load', () => {
  const verdict = { problems: [], labels: 0, rows: 0, kept: 0 };
  const plots = [...document.querySelectorAll('.plots > div')];
  const methodsPlot = plots.find((d) => /Every method at every budget/.test(d.querySelector('h2')?.textContent ?? ''));
  const layerPlot = plots.find((d) => /Probe score per hidden state/.test(d.querySelector('h2')?.textContent ?? ''));
  const methods = new Set();
  for (const table of document.querySelectorAll('table')) {
    const head = table.querySelector('tr');
    if (head?.cells[0]?.textContent?.trim() !== 'method' || !/raw retention/.test(head.textContent)) continue;
    for (const row of [...table.querySelectorAll('tr')].slice(1)) { const m = row.cells[0]?.textContent?.trim(); if (m) methods.add(m.replace(/ \\(.*$/, '')); }
  }
  if (!methods.size) verdict.problems.push('no method table found');
  if (!methodsPlot) verdict.problems.push('no "Every method at every budget" plot');
  else {
    const labels = [...methodsPlot.querySelectorAll('.role-axis-label text')];
    const boxes = labels.map((t) => ({ text: t.textContent.trim(), r: t.getBoundingClientRect() }));
    verdict.labels = boxes.length;
    for (const m of methods) {
      const b = boxes.filter((x) => x.text === m || x.text.startsWith(m));
      if (!b.length) verdict.problems.push('method "' + m + '" has no row label in the plot');
      else if (b.some((x) => x.r.width < 1 || x.r.height < 1)) verdict.problems.push('a row label of "' + m + '" has no size');
      verdict.rows = (verdict.rows ?? 0) + b.length;
    }
    // method rows must not overlap each other (tick labels may touch; 1 px of slack for anti-aliasing)
    const rows = boxes.filter((b) => [...methods].some((m) => b.text === m || b.text.startsWith(m)));
    for (let i = 0; i < rows.length; i++) for (let j = i + 1; j < rows.length; j++) {
      const a = shrink(rows[i].r), c = shrink(rows[j].r);
      if (a.x < c.x + c.width && c.x < a.x + a.width && a.y < c.y + c.height && c.y < a.y + a.height) verdict.problems.push('method rows overlap: "' + rows[i].text + '" and "' + rows[j].text + '"');
    }
  }
  if (!layerPlot) verdict.problems.push('no "Probe score per hidden state" plot');
  else verdict.kept = [...layerPlot.querySelectorAll('text')].filter((t) => /^block \\d+$/.test(t.textContent.trim())).length;
  if (layerPlot && !verdict.kept) verdict.problems.push('no kept block marked on the per-layer plot');
  verdict.methods = [...methods];
  const pre = document.createElement('pre'); pre.id = 'probescale-check'; pre.textContent = JSON.stringify(verdict); document.body.append(pre);
});
</script>`;
const page = join(out, 'report-checked.html');
writeFileSync(page, readFileSync(report, 'utf8').replace(/<\/body>|$/i, (m) => probe + m));
const common = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1280,6000', '--virtual-time-budget=5000'];
const dom = spawnSync(chromium, [...common, '--dump-dom', `file://${page}`], { encoding: 'utf8', maxBuffer: 1 << 28 });
const m = /<pre id="probescale-check">([^<]*)<\/pre>/.exec(dom.stdout ?? '');
if (!m) {
  console.error(`check-report: Chromium gave no verdict (exit ${dom.status}): ${(dom.stderr ?? '').split('\n').slice(-3).join(' ')}`);
  process.exit(1);
}
const verdict = JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')) as { problems: string[]; methods: string[]; kept: number; labels: number; rows: number };
const png = join(out, 'report.png');
spawnSync(chromium, [...common, `--screenshot=${png}`, `file://${report}`], { encoding: 'utf8' });
if (!existsSync(png)) verdict.problems.push('no screenshot was written');
else {
  const sharp = (await import('sharp')).default;
  const stats = await sharp(png).stats();
  const spread = Math.max(...stats.channels.map((c) => c.stdev));
  if (spread < 5) verdict.problems.push(`the screenshot is blank (pixel stdev ${spread.toFixed(1)})`);
  console.log(`screenshot: ${png} (pixel stdev ${spread.toFixed(1)})`);
}
console.log(`methods in the tables: ${verdict.methods.join(', ')}`);
console.log(`"Every method at every budget": ${verdict.rows} method rows among ${verdict.labels} axis labels, none overlapping; kept blocks marked on the per-layer plot: ${verdict.kept}`);
if (verdict.problems.length) {
  for (const p of verdict.problems) console.error(`problem: ${p}`);
  process.exit(1);
}
console.log('report check passed');
