/**
 * The report as a reader sees it, in headless Chromium (Debian's `chromium`): `checkReport` renders a
 * report.html, checks in the live page that every method of each budget's method table has its own visible,
 * non-overlapping row label in that budget's panel of "Every method at every budget", that the written model's
 * kept blocks (and only those) are marked on the per-layer plot, then saves a full-page screenshot and checks it
 * is not blank. Called by scripts/check-report.ts (`npm run check:report`) and test/report-render.test.ts.
 * A dev tool, not part of the library: it needs a system Chromium and `sharp` (a devDependency).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export interface ReportVerdict {
  /** empty when the report passed */
  problems: string[];
  /** method names per budget, from the page's method tables */
  methods: Record<string, string[]>;
  /** method row labels found in the methods plot (all panels) */
  rows: number;
  /** the report's note when it has no methods plot because no method's retention is defined on test (rows 0) */
  note?: string;
  /** blocks marked on the per-layer plot, and the written model's blocks the page states */
  marked: number[];
  kept: number[];
  /** the screenshot (absent with screenshot: false) and its largest per-channel pixel standard deviation */
  png?: string;
  pixelStdev?: number;
}

export interface CheckOptions {
  /** where report-checked.html and report.png go (created) */
  outDir: string;
  /** the browser binary (default: findChromium()) */
  chromium?: string;
  /** false: only the in-page checks (one browser launch instead of two) */
  screenshot?: boolean;
  /** per browser launch (default 120 s: the machine may be loaded) */
  timeoutMs?: number;
}

/** Headless Chromium: $CHROME_PATH, else chromium / chromium-browser / google-chrome on PATH; undefined if none. */
export function findChromium(): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (process.env.CHROME_PATH) return executable(process.env.CHROME_PATH) ? process.env.CHROME_PATH : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const hit = dirs.map((d) => join(d, name)).find(executable);
    if (hit) return hit;
  }
  return undefined;
}

// Runs inside the page after load; writes its verdict as JSON into <pre id="probescale-check">, which
// --dump-dom prints. Method rows are matched per budget: panel i of the faceted plot is the row header whose
// title is budget i.
const PAGE_CHECK = `<script>
addEventListener('load', () => {
  const v = { problems: [], methods: {}, rows: 0, marked: [], kept: [], height: 0, note: undefined };
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el); return r.width >= 1 && r.height >= 1 && s.visibility !== 'hidden' && s.display !== 'none' && Number(s.opacity) > 0; };
  const shrink = (r) => ({ x: r.x + 1, y: r.y + 1, w: r.width - 2, h: r.height - 2 });
  const overlap = (p, q) => { const a = shrink(p), b = shrink(q); return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; };
  // vega-lite cuts long labels with an ellipsis
  const same = (label, m) => label === m || (label.endsWith('\u2026') && m.startsWith(label.slice(0, -1)));
  // the method table of each budget: the first table after "Budget X (...)" whose header starts with "method"
  for (const h of document.querySelectorAll('h3')) {
    const b = /^Budget (\\S+) \\(/.exec(h.textContent.trim());
    if (!b) continue;
    let t = h.nextElementSibling;
    while (t && t.tagName !== 'TABLE' && t.tagName !== 'H3') t = t.nextElementSibling;
    const head = t?.tagName === 'TABLE' ? t.querySelector('tr') : null;
    if (!head || head.cells[0]?.textContent.trim() !== 'method' || !/raw retention/.test(head.textContent)) { v.problems.push('budget ' + b[1] + ': no method table'); continue; }
    v.methods[b[1]] = [...t.querySelectorAll('tr')].slice(1).map((r) => r.cells[0]?.textContent.trim()).filter(Boolean);
  }
  if (!Object.keys(v.methods).length) v.problems.push('no method table found');
  const plots = [...document.querySelectorAll('.plots > div')];
  const plotOf = (re) => plots.find((d) => re.test(d.querySelector('h2')?.textContent ?? ''));
  const methodsPlot = plotOf(/Every method at every budget/);
  if (!methodsPlot) v.problems.push('no "Every method at every budget" plot');
  // the report says so instead of drawing when the run's retention is defined for no method on test
  else if (!methodsPlot.querySelector('svg') && methodsPlot.querySelector('p.note')) v.note = methodsPlot.querySelector('p.note').textContent.trim();
  else {
    // the facet's row headers: one y axis (method labels) and one title (the budget) per panel, matched by height
    const header = methodsPlot.querySelector('.role-row-header');
    const axes = header ? [...header.querySelectorAll('.role-axis')] : [];
    const titles = header ? [...header.querySelectorAll('.role-title-text text')] : [];
    const panels = {};
    for (const t of titles) {
      const r = t.getBoundingClientRect(), y = r.y + r.height / 2;
      const axis = axes.find((a) => { const q = a.getBoundingClientRect(); return q.y - 1 <= y && y <= q.y + q.height + 1; });
      if (axis) panels[t.textContent.trim()] = axis;
    }
    const all = [];
    for (const [budget, methods] of Object.entries(v.methods)) {
      const axis = panels[budget];
      if (!axis) { v.problems.push('budget ' + budget + ': no panel in "Every method at every budget"'); continue; }
      const labels = [...axis.querySelectorAll('.role-axis-label text')].map((el) => ({ el, text: el.textContent.trim() }));
      for (const m of methods) {
        const hits = labels.filter((l) => same(l.text, m));
        if (!hits.length) v.problems.push('budget ' + budget + ': method "' + m + '" has no row in the plot');
        else if (hits.length > 1) v.problems.push('budget ' + budget + ': method "' + m + '" has ' + hits.length + ' rows');
        else if (!visible(hits[0].el)) v.problems.push('budget ' + budget + ': the row label of "' + m + '" is not visible');
        else all.push({ budget, text: m, r: hits[0].el.getBoundingClientRect() });
      }
    }
    v.rows = all.length;
    // 1 px of slack each side for anti-aliasing: adjacent rows may touch, not overlap
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++)
      if (overlap(all[i].r, all[j].r)) v.problems.push('method rows overlap: "' + all[i].text + '" (budget ' + all[i].budget + ') and "' + all[j].text + '" (budget ' + all[j].budget + ')');
  }
  const layerPlot = plotOf(/Probe score per hidden state/);
  if (!layerPlot) v.problems.push('no "Probe score per hidden state" plot');
  else {
    const marks = [...layerPlot.querySelectorAll('text')].filter((t) => /^block \\d+$/.test(t.textContent.trim()));
    const frame = layerPlot.querySelector('svg').getBoundingClientRect();
    for (const t of marks) {
      const r = t.getBoundingClientRect();
      if (!visible(t) || r.x < frame.x || r.right > frame.right + 1 || r.y < frame.y || r.bottom > frame.bottom + 1) v.problems.push('the mark "' + t.textContent.trim() + '" is not visible inside the plot');
    }
    v.marked = marks.map((t) => Number(t.textContent.trim().slice(6))).sort((a, b) => a - b);
  }
  // what the page says the written model kept: "The model in <code>DIR</code> (layers [0, 2]"
  const k = /The model in [\\s\\S]*?\\(layers \\[([\\d, ]*)\\]/.exec(document.body.textContent);
  if (!k) v.problems.push('the page does not state the written model\\'s layers');
  else {
    v.kept = k[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (layerPlot && v.marked.join() !== v.kept.join()) v.problems.push('kept blocks [' + v.kept.join(', ') + '] but the per-layer plot marks [' + v.marked.join(', ') + ']');
  }
  v.height = Math.ceil(document.documentElement.scrollHeight);
  const pre = document.createElement('pre'); pre.id = 'probescale-check'; pre.textContent = JSON.stringify(v); document.body.append(pre);
});
</script>`;

/** Live (not zombie) processes whose command line contains `marker`, from /proc (none where there is no /proc). */
export function processesWith(marker: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') out.push(Number(pid));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * Runs Chromium headless with a fresh profile folder under `parent` (also its HOME, so nothing is written to the
 * user's ~/.config), in its own process group, which is killed when the browser exits or times out. Chromium's
 * crash handlers leave that group (setsid); they are found by the profile path in their command line, given a
 * moment to exit with the browser, then killed by pid. The profile folder is removed, so no file or process
 * outlives the call.
 */
async function runChromium(chromium: string, args: string[], parent: string, timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null; timedOut: boolean }> {
  const profile = mkdtempSync(join(parent, '.chromium-profile-'));
  // --no-sandbox: Chromium's sandbox cannot start as root in a container (CI, this machine)
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking', '--disable-component-update', '--disable-breakpad', '--mute-audio', `--user-data-dir=${profile}`, '--virtual-time-budget=5000'];
  const env = { ...process.env, HOME: profile, XDG_CONFIG_HOME: join(profile, '.config'), XDG_CACHE_HOME: join(profile, '.cache') };
  try {
    return await new Promise((res, rej) => {
      const child = spawn(chromium, [...flags, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already gone
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err) => {
        clearTimeout(timer);
        rej(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        // renderer/zygote helpers left behind by the browser process
        killGroup();
        res({ stdout, stderr, code, timedOut });
      });
    });
  } finally {
    for (let i = 0; i < 30 && processesWith(profile).length; i++) await new Promise((r) => setTimeout(r, 100));
    for (const pid of processesWith(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    rmSync(profile, { recursive: true, force: true });
  }
}

const unescapeHtml = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Checks one report.html in headless Chromium; never throws for a bad report (see `problems`), only for a missing browser or file. */
export async function checkReport(report: string, opts: CheckOptions): Promise<ReportVerdict> {
  const chromium = opts.chromium ?? findChromium();
  if (!chromium) throw new Error('no headless Chromium found (set CHROME_PATH or `apt-get install -y chromium`)');
  if (!existsSync(report)) throw new Error(`${report} does not exist; pass a report.html written by probescale run`);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const outDir = resolve(opts.outDir);
  mkdirSync(outDir, { recursive: true });
  const page = join(outDir, 'report-checked.html');
  const html = readFileSync(report, 'utf8');
  writeFileSync(page, /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${PAGE_CHECK}</body>`) : html + PAGE_CHECK);

  const dom = await runChromium(chromium, ['--window-size=1280,2000', '--dump-dom', `file://${page}`], outDir, timeoutMs);
  const found = /<pre id="probescale-check">([^<]*)<\/pre>/.exec(dom.stdout);
  if (!found) {
    const why = dom.timedOut ? `did not finish within ${timeoutMs / 1000} s` : `gave no verdict (exit ${dom.code}): ${dom.stderr.trim().split('\n').slice(-2).join(' ')}`;
    return { problems: [`Chromium ${why}`], methods: {}, rows: 0, marked: [], kept: [] };
  }
  const v = JSON.parse(unescapeHtml(found[1])) as ReportVerdict & { height: number };
  const verdict: ReportVerdict = { problems: v.problems, methods: v.methods, rows: v.rows, note: v.note, marked: v.marked, kept: v.kept };
  if (opts.screenshot === false) return verdict;

  // the whole page in one image: the window as tall as the page (capped where Chromium's textures end)
  const png = join(outDir, 'report.png');
  rmSync(png, { force: true });
  const height = Math.min(Math.max(v.height, 600), 16_000);
  const shot = await runChromium(chromium, [`--window-size=1280,${height}`, `--screenshot=${png}`, `file://${resolve(report)}`], outDir, timeoutMs);
  if (!existsSync(png)) {
    verdict.problems.push(`no screenshot was written (${shot.timedOut ? `timed out after ${timeoutMs / 1000} s` : `Chromium exit ${shot.code}`})`);
    return verdict;
  }
  const sharp = (await import('sharp')).default;
  const stats = await sharp(png).stats();
  verdict.png = png;
  verdict.pixelStdev = Math.max(...stats.channels.map((c) => c.stdev));
  // a page of text and plots spreads its pixels far more than this; one flat colour gives 0
  if (verdict.pixelStdev < 5) verdict.problems.push(`the screenshot is blank (pixel stdev ${verdict.pixelStdev.toFixed(1)})`);
  return verdict;
}
