/**
 * report.html: one self-contained page (inline SVG plots, no scripts, no network) showing the per-layer
 * probe curves, retention against kept parameters for ProbeScale and every baseline, the chosen layers,
 * the verification of the written model, and — honestly — the cells where a baseline beat ProbeScale.
 */
import { fittedCurvePlot, methodsPlot, probeCurves, svg, type CurvePoint, type MethodPoint } from './plots.js';
import { predictRetention } from '../scaling/retention.js';
import type { RunResults } from './results.js';
import { distinctSubsets, pairedHalfWidth, unitsScored } from './text.js';
import { layersAddLine } from '../probe/layers.js';

const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
const num = (v: number) => v.toLocaleString('en-US');
/** median latency with the [min, max] of the repeats (results.json from before the spread was kept: median only) */
const lat = (median: number, times?: number[]) => `${median.toFixed(2)}${times?.length ? ` <span class="ci">[${times[0].toFixed(2)}, ${times[times.length - 1].toFixed(2)}]</span>` : ''}`;

export async function renderReport(r: RunResults): Promise<string> {
  // results.json from before gain retention: raw only
  const mode = r.retentionMode ?? 'raw';
  const value = (m: RunResults['budgets'][number]['methods'][number]) => (mode === 'gain' ? m.gain : m.retention);
  const diffOf = (m: RunResults['budgets'][number]['methods'][number]) => (mode === 'gain' ? m.probescaleMinusGain : m.probescaleMinus);
  const ciText = (c?: [number, number]) => (c ? ` <span class="ci">[${pct(c[0])}, ${pct(c[1])}]</span>` : '');
  const curves: CurvePoint[] = r.probes.flatMap((p) => p.layers.map((l) => ({ task: p.task, layer: l.layer, score: l.score, lo: l.lo, hi: l.hi })));
  // every method, each budget in its own panel (ProbeScale first), with its bootstrap CI
  const methodPoints: MethodPoint[] = r.budgets.flatMap((b) =>
    b.methods
      .filter((m) => value(m) !== undefined)
      .map((m) => {
        const ci = mode === 'gain' ? m.gainCI : m.retentionCI;
        const sd = mode === 'gain' ? m.gainSd : m.sd;
        const v = value(m)!;
        return { budget: b.budget, method: m.method, retention: v, lo: ci?.[0] ?? (sd !== undefined ? v - sd : v), hi: ci?.[1] ?? (sd !== undefined ? v + sd : v), ours: m.method === 'probescale' };
      }),
  );
  let curveSvg = '';
  if (r.scaling) {
    // results.json written before the contract stored `raw` as an object of indices: Object.values reads both
    const fit = { ...r.scaling.fit, raw: Float64Array.from(Object.values(r.scaling.fit.raw)) };
    const xs = Array.from({ length: 60 }, (_, i) => 0.05 + (0.95 * i) / 59);
    curveSvg = await svg(fittedCurvePlot(xs.map((x) => ({ x, r: predictRetention(fit, x) })), r.scaling.fit.points, `test ${r.scaling.mode ?? 'raw'} retention`));
  }
  const losses: string[] = [];
  for (const b of r.budgets) {
    const ps = b.methods.find((m) => m.method === 'probescale')!;
    const psv = value(ps);
    if (psv === undefined) continue;
    for (const m of b.methods) {
      const mv = value(m);
      if (m === ps || mv === undefined || mv <= psv + 1e-9) continue;
      const d = diffOf(m);
      const sig = d ? (d.hi < 0 ? ' (beyond test noise: paired 95% CI of the difference excludes 0)' : ` (within test noise: paired 95% CI ${pts(d.lo)} to ${pts(d.hi)} points)`) : '';
      losses.push(`budget ${esc(b.budget)}: ${esc(m.method)} ${pct(mv)} &gt; ProbeScale ${pct(psv)}${sig}`);
    }
  }
  // baselines ProbeScale beat by more than test noise
  const wins = r.budgets.flatMap((b) => b.methods.filter((m) => (diffOf(m)?.lo ?? 0) > 0).map((m) => `${esc(b.budget)}: ${esc(m.method)}`));
  const cells = r.budgets.reduce((n, b) => n + b.methods.length - 1, 0);

  const budgetRows = r.budgets
    .map((b) => {
      const methods = [...b.methods].sort((x, y) => (value(y) ?? -Infinity) - (value(x) ?? -Infinity));
      return `<h3>Budget ${esc(b.budget)} (${esc(b.kind)}): up to ${b.keptLayers} layer${b.keptLayers === 1 ? '' : 's'} fit</h3>
<p>Additive optimum (exact knapsack${b.additive.exact ? '' : ', gridded'}): layers [${b.additive.layers.join(', ')}], dev retention ${pct(b.additive.devRetention)}.
Search over subnetworks (${esc(b.search.method)}, ${b.search.evaluated} subnetworks run): layers [${b.search.layers.join(', ')}], dev retention ${pct(b.search.devRetention)}.
Chosen: <b>${esc(b.winner)}</b>.</p>
<table><tr><th>method</th><th>layers</th><th>parameters</th><th>raw retention [95% CI]</th><th>gain retention [95% CI]</th><th>ProbeScale minus this, ${mode} points [paired 95% CI]</th>${r.tasks.map((t) => `<th>${esc(t.name)} (${esc(t.metric)})</th>`).join('')}</tr>
${methods
  .map(
    (m) =>
      `<tr${m.method === 'probescale' ? ' class="ours"' : ''}><td>${esc(m.method)}</td><td>${m.layers.length ? `[${m.layers.join(', ')}]` : 'seeded'}</td><td>${num(m.parameters)}</td><td>${pct(m.retention)}${m.sd !== undefined ? ` ± ${pct(m.sd)}` : ciText(m.retentionCI)}</td><td>${m.gain !== undefined ? `${pct(m.gain)}${m.gainSd !== undefined ? ` ± ${pct(m.gainSd)}` : ciText(m.gainCI)}` : 'n/a'}</td><td>${diffOf(m) ? `${pts(diffOf(m)!.diff)} <span class="ci">[${pts(diffOf(m)!.lo)}, ${pts(diffOf(m)!.hi)}]</span>` : ''}</td>${r.tasks
        .map((t) => {
          const s = m.scores[t.name];
          return `<td>${s.score.toFixed(3)}${s.lo !== undefined && s.hi !== undefined ? ` <span class="ci">[${s.lo.toFixed(3)}, ${s.hi.toFixed(3)}]</span>` : ''}</td>`;
        })
        .join('')}</tr>`,
  )
  .join('\n')}
</table>${perTaskTable(r, b)}`;
    })
    .join('\n');

  const v = r.compressed.verification;
  const mFull = r.compressed.measured.full;
  const mComp = r.compressed.measured.compressed;
  const verifyRows = r.tasks
    .map((t) => `<tr><td>${esc(t.name)}</td><td>${v[t.name].embeddings?.toFixed(3) ?? ''}</td><td>${v[t.name].fullFinal.toFixed(3)}</td><td>${v[t.name].fullBest.toFixed(3)}</td><td>${v[t.name].score.toFixed(3)}</td><td>${pct(v[t.name].retentionVsFinal)}</td><td>${v[t.name].gainVsFinal !== undefined ? pct(v[t.name].gainVsFinal!) : `<span class="ci">not defined: ${esc(v[t.name].gainUndefined ?? 'not measured')}</span>`}</td><td>${pct(v[t.name].retentionVsBest)}</td></tr>`)
    .join('\n');

  const refRows = r.references
    ? r.tasks
        .map((t) => {
          const x = r.references[t.name];
          const add = x.layersAdd.test;
          const p = r.probes.find((q) => q.task === t.name);
          return `<tr><td>${esc(t.name)} (${esc(t.metric)})</td><td class="units">${p ? esc(unitsScored(p)) : ''}</td><td>${x.classes}</td><td>${x.majority.toFixed(3)}</td><td>${x.embeddings.test.toFixed(3)} <span class="ci">[${x.embeddings.lo.toFixed(3)}, ${x.embeddings.hi.toFixed(3)}]</span></td><td>${x.final.test.toFixed(3)} <span class="ci">[${x.final.lo.toFixed(3)}, ${x.final.hi.toFixed(3)}]</span></td><td>${x.best.state}: ${x.best.test.toFixed(3)} <span class="ci">[${x.best.lo.toFixed(3)}, ${x.best.hi.toFixed(3)}]</span></td><td>${pts(add.score)} <span class="ci">[${pts(add.lo)}, ${pts(add.hi)}]</span></td><td>${x.gainUndefined.test ? `not defined: ${esc(x.gainUndefined.test)}` : x.gainUndefined.dev ? `yes on test; left out of selection on dev: ${esc(x.gainUndefined.dev)}` : 'yes'}</td></tr>`;
        })
        .join('\n')
    : '';
  const probeTables = r.probes
    .map(
      (p) => `<h3>${esc(p.task)} <span class="ci">(${esc(p.metric)}; expected layer ${p.summary.expectedLayer.toFixed(2)} on test)</span></h3>
<p>${esc(layersAddLine(p.summary, 3))}</p>
<table><tr><th>layer</th><th>test</th><th>95% CI</th><th>dev</th><th>delta</th>${p.layers[0].selectivity !== undefined ? '<th>control</th><th>selectivity</th>' : ''}</tr>
${p.layers
  .map(
    (l, i) =>
      `<tr><td>${l.layer}</td><td>${l.score.toFixed(3)}</td><td>[${l.lo.toFixed(3)}, ${l.hi.toFixed(3)}]</td><td>${l.dev.toFixed(3)}</td><td>${p.summary.deltas[i].toFixed(3)}</td>${l.selectivity !== undefined ? `<td>${l.control!.toFixed(3)}</td><td>${l.selectivity.toFixed(3)}</td>` : ''}</tr>`,
  )
  .join('\n')}</table>`,
    )
    .join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probescale report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child,td.units{text-align:left}tr.ours td{font-weight:600;background:#eef6ff}.ci{color:#777;font-weight:normal;font-size:.9em}
.plots{display:flex;flex-wrap:wrap;gap:2em}.note{background:#fff8e6;border-left:4px solid #f0b400;padding:.5em 1em}
</style></head><body>
<h1>probescale report</h1>
<p>Model <code>${esc(r.model)}</code> (${num(r.parameters.full)} parameters: ${num(r.parameters.fixed)} in embeddings/norms/head, ${r.parameters.perLayer.length} layers of ${num(r.parameters.perLayer[0])}${outsideNote(r.parameters)}).
Tasks: ${r.tasks.map((t) => `${esc(t.name)} (weight ${t.weight})`).join(', ')}. Generated ${esc(r.date)} in ${r.seconds.toFixed(0)} s.</p>
<p>Raw retention = task score of the kept layers / score of the same probe type on the full model's final representation. Gain retention = (score - embeddings only) / (final layer - embeddings only): the share of what the layers add that the kept layers keep (0 = no better than the embeddings alone, 100% = as good as the full model); it is averaged over the tasks whose layers add something beyond test noise. Both on the test split (probes trained on train, regularization chosen on dev; selection used dev only). This run selected by <b>${mode}</b> retention; plots and “did not win” use it.</p>
${r.references ? `<h2>Reference points per task</h2>
<p>Test scores: always predicting the most frequent training label; the subnetwork with no layers (embeddings, final norm where there is one); the full model's final layer; the best probed hidden state, chosen on dev (0 = embeddings, i = output of block i - 1). “Layers add” is final minus embeddings with a paired bootstrap 95% CI.</p>
<table><tr><th>task</th><th>test units scored</th><th>classes</th><th>majority class</th><th>embeddings only</th><th>final layer</th><th>best hidden state (dev)</th><th>layers add (points)</th><th>gain retention defined</th></tr>
${refRows}</table>
${noiseNote(r)}` : ''}
<p>Layer numbering: tables list kept layers as <b>blocks</b> 0 to ${r.parameters.perLayer.length - 1}; the per-layer probes are indexed by <b>hidden state</b>, where state 0 is the embeddings and state i the output of block i - 1 (so keeping block b keeps what produced state b + 1). The written model's blocks are marked on the probe plot.</p>
<div class="plots"><div><h2>Probe score per hidden state</h2>${await svg(probeCurves(curves, r.compressed.layers))}</div>
<div><h2>Every method at every budget</h2>${methodPoints.length ? await svg(methodsPlot(methodPoints, `test ${mode} retention (weighted), 95% CI`)) : `<p class="note">No ${mode} retention to plot (see the reference points: no task's layers add anything beyond noise on test).</p>`}<p class="ci">Random subsets: mean ± sd over seeds. Every method's row is drawn, so baselines that chose the same subset are all visible.</p></div></div>
${r.scaling ? `<h2>Retention curve (${esc(r.scaling.mode ?? 'raw')} retention)</h2>
<p>Fitted on ProbeScale's test retention at each budget, the embeddings-only subnetwork and the full model: form <b>${esc(r.scaling.fit.form)}</b>
(${Object.entries(r.scaling.fit.params).map(([k, v]) => `${esc(k)} = ${v.toFixed(4)}${r.scaling!.fit.ci?.[k] ? ` [${r.scaling!.fit.ci[k][0].toFixed(3)}, ${r.scaling!.fit.ci[k][1].toFixed(3)}]` : ''}`).join(', ')});
leave-one-budget-out mean absolute error: ${Object.entries(r.scaling.fit.heldOutError).map(([k, v]) => `${esc(k)} ${v.toFixed(4)}`).join(', ')}.
${r.scaling.for95 !== undefined ? `Predicted smallest size keeping 95%: <b>${pct(r.scaling.for95)}</b> of the parameters${r.scaling.for98 !== undefined ? `, 98%: <b>${pct(r.scaling.for98)}</b>` : ''} (check it with <code>probescale predict --target 0.95 --verify</code>).` : 'The fitted curve does not reach 95%.'}
${r.scaling.floor !== undefined ? `The smallest feasible model (fixed cost + one layer, ${pct(r.scaling.smallestFeasible)} of the parameters) is predicted to keep ${pct(r.scaling.floor)}${r.scaling.floor >= 0.95 ? ': <b>the curve’s floor is above 95%, so a 95% target does not constrain the size</b>' : ''}.` : ''}
With ${r.scaling.fit.points.length} points the fit is indicative only${r.scaling.fit.ci ? '' : ' and too few for bootstrap confidence intervals (6 needed; run more budgets)'}.</p>${curveSvg}` : ''}
<h2>Where ProbeScale did not win</h2>
<p class="note">${losses.length ? `A baseline beat ProbeScale in ${losses.length} of ${cells} cells:<br>${losses.join('<br>')}` : `ProbeScale's retention was at least every baseline's in all ${cells} cells (ties count as not losing; see the tables for ties).`}
<br>ProbeScale beat a baseline by more than test noise (paired bootstrap over test units, 95% CI of the difference above 0) in ${wins.length} of ${cells - r.budgets.length} comparisons${wins.length ? `: ${wins.join(', ')}` : ''} (random subsets are reported as mean ± sd and not tested).</p>
<h2>Selection per budget</h2>
${budgetRows}
<h2>Verification of the written model</h2>
<p>The model in <code>${esc(r.compressed.dir)}</code> (layers [${r.compressed.layers.join(', ')}]${r.compressed.healed ? ', healed' : ''}${r.compressed.vocabTrimmed ? ', vocabulary trimmed' : ''}) was loaded back and scored with its stored task heads on each test split.${r.compressed.healing ? ` Healing bridges: dev retention ${pct(r.compressed.healing.devRetentionHealed)} with, ${pct(r.compressed.healing.devRetentionUnhealed)} without, so they were ${r.compressed.healing.used ? 'kept' : 'dropped'}.` : ''}</p>
<table><tr><th>task</th><th>embeddings only</th><th>full, final layer</th><th>full, best layer</th><th>compressed</th><th>raw retention vs final</th><th>gain retention</th><th>raw retention vs best</th></tr>
${verifyRows}</table>
<table><tr><th></th><th>parameters</th><th>layer parameters</th><th>latency batch 1 (ms)</th><th>latency batch 32 (ms)</th><th>peak RSS (MB)</th></tr>
<tr><td>full</td><td>${num(mFull.parameters)}</td><td>${num(mFull.layerParameters)}</td><td>${lat(mFull.latencyMsBatch1, mFull.timesMsBatch1)}</td><td>${lat(mFull.latencyMsBatch32, mFull.timesMsBatch32)}</td><td>${mFull.peakRssMb.toFixed(0)}</td></tr>
<tr><td>compressed</td><td>${num(mComp.parameters)}</td><td>${num(mComp.layerParameters)}</td><td>${lat(mComp.latencyMsBatch1, mComp.timesMsBatch1)}</td><td>${lat(mComp.latencyMsBatch32, mComp.timesMsBatch32)}</td><td>${mComp.peakRssMb.toFixed(0)}</td></tr>
${r.compressed.quantized ? `<tr><td>compressed, int8 (model_quantized.onnx)</td><td>${num(mComp.parameters)}</td><td>${num(mComp.layerParameters)}</td><td>${lat(r.compressed.quantized.measured.latencyMsBatch1, r.compressed.quantized.measured.timesMsBatch1)}</td><td>${lat(r.compressed.quantized.measured.latencyMsBatch32, r.compressed.quantized.measured.timesMsBatch32)}</td><td>${r.compressed.quantized.measured.peakRssMb.toFixed(0)}</td></tr>` : ''}
</table>
${r.compressed.compute ? `<p>Compute: the written model needs ${pct(r.compressed.compute.flopRatio)} of the full model's FLOPs per token; its measured batch-32 latency is ${pct(r.compressed.compute.latencyRatioBatch32)} of the full model's.</p>` : ''}
${r.compressed.size?.files ? sizeTable(r) : ''}
<p>Latency: median of ${mFull.timesMsBatch1?.length ?? 5} forward passes of ${mFull.seq}-token sequences after a warm-up, with the fastest and slowest repeat in brackets, each model in its own process (which also gives its peak RSS). On a shared machine the spread shows how far one median can be trusted.</p>
<h2>Per-layer probes</h2>
${probeTables}
</body></html>
`;
}

/** Bytes next to parameters, and the size ratio against the original checkpoint factor by factor. */
function sizeTable(r: RunResults): string {
  const s = r.compressed.size!;
  const mb = (b: number) => (b / 2 ** 20).toFixed(2);
  const pc = (x: number) => `${(100 * x).toFixed(1)}%`;
  const files = Object.values(s.files);
  const cells = (f: (typeof files)[number]) => [pc(s.selection), pc(s.vocabulary), pc(f.precision), pc(f.layout), f.int8 !== undefined ? pc(f.int8) : '', `<b>${pc(f.total)}</b>`];
  return `<table><tr><th>file</th><th>holds</th><th>parameters</th><th>MB on disk</th><th>layer selection</th><th>vocabulary</th><th>precision</th><th>file layout</th><th>int8</th><th>= of the original's bytes</th></tr>
<tr><td>original checkpoint</td><td>${esc(s.original.dtype)}</td><td>${s.original.parameters.toLocaleString('en-US')}</td><td>${mb(s.originalBytes)}</td><td colspan="6"></td></tr>
${files.map((f) => `<tr><td>written ${esc(f.file)}</td><td>${esc(f.precisionName)}</td><td>${r.compressed.parameters.toLocaleString('en-US')}</td><td>${mb(f.bytes)}</td>${cells(f).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</table>
<p>Each file's bytes over the original checkpoint's are the product of its row: layer selection and vocabulary trimming (parameters kept), precision (tensor bytes per parameter written over the original's ${s.original.bytesPerParameter.toFixed(2)}: fp32 ONNX from an f16 checkpoint is 200%), file layout (bytes on disk per tensor byte over the original's: headers; the ONNX graph also holds transposed weight copies) and int8 (model_quantized.onnx over model.onnx).</p>`;
}

/** What the full count holds beyond the selectable layers (T5's decoder, never written by an encoder subset). */
function outsideNote(p: { full: number; fixed: number; perLayer: number[] }): string {
  const rest = p.full - p.fixed - p.perLayer.reduce((a, b) => a + b, 0);
  return rest > 0 ? `, and ${num(rest)} in a decoder that tasks do not read and the written model leaves out` : '';
}

/** One budget, task by task: every distinct subset's score, raw and gain retention, and ProbeScale minus it on
 * that task alone (paired), all with 95% CIs. Results written before per-task retention existed: nothing. */
function perTaskTable(r: RunResults, b: RunResults['budgets'][number]): string {
  if (!b.methods.some((m) => m.perTask)) return '';
  const d3 = (v: number) => v.toFixed(3);
  const diff = (d?: { diff: number; lo: number; hi: number }) => (d ? `${pts(d.diff)} <span class="ci">[${pts(d.lo)}, ${pts(d.hi)}]</span>${d.lo > 0 ? ' better' : d.hi < 0 ? ' worse' : ''}` : '');
  const rows = r.tasks.flatMap((t) =>
    distinctSubsets(b.methods).map(({ names, m }, i) => {
      const s = m.scores[t.name];
      const pt = m.perTask?.[t.name];
      const ours = names[0] === 'probescale';
      return `<tr${ours ? ' class="ours"' : ''}><td>${i === 0 ? esc(t.name) : ''}</td><td>${esc(names.join(', '))}</td><td>${m.layers.length ? `[${m.layers.join(', ')}]` : 'seeded'}</td><td>${d3(s.score)}${s.lo !== undefined && s.hi !== undefined ? ` <span class="ci">[${d3(s.lo)}, ${d3(s.hi)}]</span>` : ' (mean)'}</td><td>${pt ? `${pct(pt.raw)} <span class="ci">[${pct(pt.rawCI[0])}, ${pct(pt.rawCI[1])}]</span>` : ''}</td><td>${pt?.gain !== undefined ? `${pct(pt.gain)} <span class="ci">[${pct(pt.gainCI![0])}, ${pct(pt.gainCI![1])}]</span>` : pt ? 'n/a' : ''}</td><td>${ours ? '' : diff(pt?.probescaleMinus)}</td><td>${ours ? '' : diff(pt?.probescaleMinusGain)}</td></tr>`;
    }),
  );
  return `<p>Per task (baselines that kept the same layers share a row; ProbeScale minus this subset on that task alone, paired bootstrap over its test units):</p>
<table><tr><th>task</th><th>method</th><th>layers</th><th>score [95% CI]</th><th>raw retention</th><th>gain retention</th><th>ProbeScale minus this, raw points</th><th>ProbeScale minus this, gain points</th></tr>
${rows.join('\n')}</table>`;
}

/** Per task: the smallest difference between two subsets this test set tells apart from noise. */
function noiseNote(r: RunResults): string {
  const lines = r.tasks.flatMap((t) => {
    const raw = pairedHalfWidth(r, t.name, 'raw');
    if (raw === undefined) return [];
    const gain = pairedHalfWidth(r, t.name, 'gain');
    const x = r.references[t.name];
    return [`${esc(t.name)}: final layer's score CI ±${(50 * (x.final.hi - x.final.lo)).toFixed(1)} points; ProbeScale-minus-baseline differences resolve ±${(100 * raw).toFixed(1)} raw points${gain !== undefined ? ` and ±${(100 * gain).toFixed(1)} gain points` : ''} (median 95% CI half-width), so a 3-point raw difference is ${raw < 0.03 ? 'beyond' : 'within'} noise${gain !== undefined ? ` and a 3-point gain difference ${gain < 0.03 ? 'beyond' : 'within'} noise` : ''}`];
  });
  return lines.length ? `<p>How large a difference this test set can resolve, per task:<br>${lines.join('<br>')}.</p>` : '';
}
