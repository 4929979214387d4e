/**
 * report.html as a reader sees it, in headless Chromium (scripts/report-check.ts, the same check as
 * `npm run check:report`): a real report from a small `run` on stories260K (2 tasks, 2 budgets, tiny samples)
 * passes — every method of each budget's table has its own visible, non-overlapping row in that budget's panel,
 * the written model's blocks are marked on the per-layer plot, the full-page screenshot is not blank — and
 * copies of it with one row label removed, two rows on top of each other, the kept-block mark removed, or the
 * page hidden each fail with the problem named, so the check cannot pass vacuously.
 * Without Chromium: skipped with the reason locally; under CI (`CI` set) a failure (.ci/run installs it).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPipeline } from '../src/pipeline/run.js';
import type { RunResults } from '../src/report/results.js';
import { checkReport, findChromium, processesWith } from '../scripts/report-check.js';
import { STORIES, tempDir } from './helpers.js';

const CHROMIUM = findChromium();
const MISSING = 'headless Chromium not found (apt-get install -y --no-install-recommends chromium, or set CHROME_PATH)';
if (!CHROMIUM && process.env.CI) {
  test('report render check: Chromium is installed', () => {
    // one line, no stack: the fix is in the message
    throw Object.assign(new Error(`${MISSING}; CI is set, so the report check must run (.ci/run installs it)`), { stack: undefined });
  });
} else if (!CHROMIUM) test('report.html in headless Chromium', { skip: `${MISSING}; skipped outside CI` }, () => {});

if (CHROMIUM) describe('report.html in headless Chromium', () => {
  let dir = '';
  let report = '';
  let html = '';
  let r: RunResults;
  before(async () => {
    dir = tempDir('report-render');
    r = await runPipeline({ model: join(STORIES, 'stories260K.bin'), tasks: 'upos,trec', budgets: '0.4,0.6', out: join(dir, 'run'), seed: 0, searchEvals: 12, randomSeeds: 2, bootstrap: 50, maxTrain: 80, maxEval: 40, progress: false, log: () => {} });
    report = join(dir, 'run', 'report.html');
    html = readFileSync(report, 'utf8');
  });
  after(() => {
    // no browser process (identified by its profile folder under dir) outlives the checks
    assert.deepEqual(processesWith(dir), [], 'Chromium processes left behind');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the real report changed by `edit` (which must change it), checked. */
  async function checkVariant(name: string, edit: (html: string) => string, screenshot = false) {
    const changed = edit(html);
    assert.notEqual(changed, html, `${name}: the edit changed nothing`);
    const file = join(dir, `${name}.html`);
    writeFileSync(file, changed);
    return checkReport(file, { outDir: join(dir, `check-${name}`), chromium: CHROMIUM, screenshot });
  }
  /** The methods plot's part of the page, edited by `edit`. */
  const inMethodsPlot = (edit: (svg: string) => string) => (page: string) => {
    const [head, rest] = page.split('Every method at every budget');
    const end = rest.indexOf('</svg>');
    return `${head}Every method at every budget${edit(rest.slice(0, end))}${rest.slice(end)}`;
  };

  test('a real report passes: every method has its own row per budget, kept blocks marked, screenshot not blank', async () => {
    const v = await checkReport(report, { outDir: join(dir, 'check'), chromium: CHROMIUM });
    assert.deepEqual(v.problems, []);
    assert.deepEqual(Object.keys(v.methods), r.budgets.map((b) => b.budget));
    for (const b of r.budgets) assert.deepEqual([...v.methods[b.budget]].sort(), b.methods.map((m) => m.method).sort(), `budget ${b.budget}`);
    assert.equal(v.rows, r.budgets.reduce((n, b) => n + b.methods.length, 0), 'one row per method and budget');
    assert.ok(v.rows >= 20, `${v.rows} rows: ProbeScale, 8 baselines and random at each of 2 budgets`);
    assert.deepEqual(v.kept, r.compressed.layers);
    assert.deepEqual(v.marked, r.compressed.layers);
    assert.ok(v.png && existsSync(v.png) && v.pixelStdev! > 5, `screenshot ${v.png}, stdev ${v.pixelStdev}`);
    // latency: the median of the repeats with their [fastest, slowest], for both models
    for (const m of [r.compressed.measured.full, r.compressed.measured.compressed]) {
      for (const [median, times] of [[m.latencyMsBatch1, m.timesMsBatch1], [m.latencyMsBatch32, m.timesMsBatch32]] as const) {
        assert.ok(times.length >= 3 && times[0] <= median && median <= times.at(-1)!, `${median} within [${times[0]}, ${times.at(-1)}]`);
        assert.ok(html.includes(`${median.toFixed(2)} <span class="ci">[${times[0].toFixed(2)}, ${times.at(-1)!.toFixed(2)}]</span>`), 'latency cell with its spread');
      }
    }
  });

  test('the check fails on a missing row, overlapping rows, an unmarked kept block and a blank page', async () => {
    // sleb's row label in the second budget's panel is gone (as when a method hides under another's dot)
    const noRow = await checkVariant('no-row', inMethodsPlot((svg) => {
      const at = svg.indexOf('>sleb</text>', svg.indexOf('>sleb</text>') + 1);
      return svg.slice(0, at) + '></text>' + svg.slice(at + '>sleb</text>'.length);
    }));
    assert.deepEqual(noRow.problems, [`budget ${r.budgets[1].budget}: method "sleb" has no row in the plot`]);

    // drop-top drawn on probescale's row in the first panel
    const overlap = await checkVariant('overlap', inMethodsPlot((svg) => {
      const ours = /transform="(translate\([^)]*\))"[^>]*>probescale<\/text>/.exec(svg)!;
      return svg.replace(/transform="translate\([^)]*\)"([^>]*>drop-top<\/text>)/, `transform="${ours[1]}"$1`);
    }));
    assert.deepEqual(overlap.problems, [`method rows overlap: "probescale" (budget ${r.budgets[0].budget}) and "drop-top" (budget ${r.budgets[0].budget})`]);

    // the per-layer plot without its kept-block mark
    const unmarked = await checkVariant('unmarked', (page) => page.replace(/>block \d+<\/text>/g, '></text>'));
    assert.deepEqual(unmarked.problems, [`kept blocks [${r.compressed.layers.join(', ')}] but the per-layer plot marks []`]);

    // a page that renders nothing visible: the screenshot is one flat colour (and no row label is visible)
    const blank = await checkVariant('blank', (page) => page.replace('</head>', '<style>html{background:#fff}body{visibility:hidden}</style></head>'), true);
    assert.ok(blank.problems.some((p) => /^the screenshot is blank \(pixel stdev 0\.0\)$/.test(p)), blank.problems.join('; '));
    assert.ok(blank.problems.some((p) => /row label of "probescale" is not visible/.test(p)), blank.problems.join('; '));
  });
});
