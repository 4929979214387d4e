/**
 * The scale study's table (markdown) and report (HTML with plots): every model x budget x method with raw and
 * gain retention and their CIs, the law's fit with its leave-one-model-out error (against the final and the best
 * layer, with the composed prediction R * G_best), and the prune-vs-train pairs (also against the small model
 * cut at its best layers, and at the small model's measured latency). Studies written before version 2 (no
 * law.best) or before those comparisons render without those parts.
 */
import type * as vl from 'vega-lite';
import { pairVerdict, type ScaleBudget, type ScaleResults } from './scale-results.js';
import { lawCurve } from '../scaling/probescale-law.js';
import { svg } from './plots.js';

const pct = (v: number | undefined) => (v === undefined ? 'n/a' : (100 * v).toFixed(1));
const ci = (c?: [number, number]) => (c ? ` [${pct(c[0])}, ${pct(c[1])}]` : '');
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
const num = (v: number) => v.toLocaleString('en-US');

type Scored = { score: number; lo: number; hi: number };
const score = (s: Scored, withCi = true) => (withCi ? `${s.score.toFixed(3)} [${s.lo.toFixed(3)}, ${s.hi.toFixed(3)}]` : s.score.toFixed(3));

/** One prune-vs-train table: a row per task (the pruned model, the network it is compared with, the paired
 * difference), then the task-weighted difference. */
function diffTable(L: string[], head: { big: string; other: string; minus: string }, rows: { task: string; units: number; pruned: string; other: string; diff: Scored; verdict: string }[], weighted: Scored): void {
  L.push(`| task | test units | ${head.big} pruned | ${head.other} | pruned - ${head.minus} (pts) | verdict |`, '| --- | ---: | ---: | ---: | ---: | --- |');
  for (const t of rows) L.push(`| ${t.task} | ${t.units} | ${t.pruned} | ${t.other} | ${pts(t.diff.score)} [${pts(t.diff.lo)}, ${pts(t.diff.hi)}] | ${t.verdict} |`);
  L.push(`| weighted | | | | ${pts(weighted.score)} [${pts(weighted.lo)}, ${pts(weighted.hi)}] | ${pairVerdict(weighted)} |`);
}

export function scaleTable(r: ScaleResults): string {
  const L: string[] = [];
  L.push(`Tasks: ${r.tasks.map((t) => `${t.name} (${t.metric}, weight ${t.weight})`).join(', ')}. k = kept fraction of the layer (non-embedding) parameters; retention in % of the full model (raw = score / final layer, gain = (score - embeddings) / (final - embeddings)), test, 95% bootstrap CI.`);
  L.push('', '| model | family | layers | N (layer params) | fixed params | selection by | tasks with a defined gain (test) |', '| --- | --- | ---: | ---: | ---: | --- | --- |');
  for (const m of r.models) {
    const defined = Object.entries(m.references).filter(([, x]) => !x.gainUndefined.test).map(([t]) => t);
    L.push(`| ${m.name} | ${m.family} | ${m.layers} | ${num(m.N)} | ${num(m.fixed)} | ${m.retentionMode} | ${defined.join(', ') || 'none'} |`);
  }
  L.push('', 'Per task references (test): embeddings-only subnetwork -> full model, what the layers add (paired 95% CI):', '');
  const best = r.law.best;
  const dec = (model: string, task: string) => best?.models.find((d) => d.model === model)?.tasks.find((t) => t.task === task);
  L.push(`| model | task | majority | embeddings | final layer | layers add (pts) | gain defined |${best ? ' best layer (dev): test [95% CI] | R = (best - emb) / (final - emb) | gain vs best |' : ''}`, `| --- | --- | ---: | ---: | ---: | ---: | --- |${best ? ' ---: | ---: | --- |' : ''}`);
  for (const m of r.models) {
    for (const [t, x] of Object.entries(m.references)) {
      const d = dec(m.name, t);
      const extra = best ? ` ${x.best ? `${x.best.state}: ${x.best.test.toFixed(3)} [${x.best.lo.toFixed(3)}, ${x.best.hi.toFixed(3)}]` : 'n/a'} | ${d?.R === undefined ? 'n/a' : d.R.toFixed(2)} | ${d?.bestUndefined ? (d.best === undefined ? `no: ${d.bestUndefined}` : `final layer stands in: ${d.bestUndefined.replace(/; the final layer stands in.*/, '')}`) : d?.best !== undefined ? 'yes' : 'no'} |` : '';
      L.push(`| ${m.name} | ${t} | ${x.majority.toFixed(3)} | ${x.embeddings.test.toFixed(3)} | ${x.final.test.toFixed(3)} | ${pts(x.layersAdd.test.score)} [${pts(x.layersAdd.test.lo)}, ${pts(x.layersAdd.test.hi)}] | ${x.gainUndefined.test ? 'no' : 'yes'} |${extra}`);
    }
  }
  const methods = r.models[0]?.budgets[0]?.methods.map((x) => x.method.replace(/ \(.*/, '')) ?? [];
  for (const kind of ['gain', 'raw'] as const) {
    L.push('', `**${kind} retention (%)** per model and budget (ProbeScale with its CI; baselines; random = mean over seeds):`, '');
    L.push(`| model | k | layers fit (ProbeScale keeps) | ${methods.join(' | ')} |`, `| --- | ---: | ---: | ${methods.map(() => '---:').join(' | ')} |`);
    for (const m of r.models) {
      for (const b of m.budgets) {
        // a baseline whose rule keeps no layer (truncate-best when the embeddings probe best) has no row: '-'
        const cells = methods.map((name) => b.methods.find((x) => x.method.replace(/ \(.*/, '') === name)).map((x, i) => {
          if (!x) return '-';
          const v = kind === 'gain' ? x.gain : x.retention;
          const c = kind === 'gain' ? x.gainCI : x.retentionCI;
          const d = kind === 'gain' ? x.probescaleMinusGain : x.probescaleMinus;
          const mark = d && d.lo > 0 ? ' ▼' : d && d.hi < 0 ? ' ▲' : '';
          return i === 0 ? `**${pct(v)}**${ci(c)}` : `${pct(v)}${mark}`;
        });
        L.push(`| ${m.name} | ${b.k === null ? `pair (${num(b.allowed)})` : b.k} | ${b.keptLayers}/${m.layers} (${pct(b.kKept)}%) | ${cells.join(' | ')} |`);
      }
    }
  }
  L.push('', '▼: ProbeScale above this baseline beyond noise (paired bootstrap CI of the difference above 0); ▲: below it beyond noise.');
  L.push('', 'Smallest measured kept fraction at which ProbeScale keeps 95% / 98% (test point estimate; "none" = no budget of the study did):', '');
  L.push(`| model | raw 95% | raw 98% | gain 95% | gain 98% |${best ? ' gain vs best 95% | gain vs best 98% |' : ''}`, `| --- | ---: | ---: | ---: | ---: |${best ? ' ---: | ---: |' : ''}`);
  for (const m of r.models) {
    const value = (b: ScaleBudget, kind: 'raw' | 'gain' | 'best') => (kind === 'raw' ? b.methods[0].retention : kind === 'gain' ? b.methods[0].gain : b.gainVsBest);
    const at = (kind: 'raw' | 'gain' | 'best', target: number) => {
      const hit = m.budgets.filter((b) => b.k !== null && (value(b, kind) ?? -Infinity) >= target).sort((a, b) => a.kKept - b.kKept)[0];
      return kind !== 'raw' && m.budgets.every((b) => value(b, kind) === undefined) ? 'n/a (gain undefined)' : hit ? `${pct(hit.kKept)}% (${hit.methods[0].layers.length}/${m.layers} layers)` : 'none';
    };
    L.push(`| ${m.name} | ${at('raw', 0.95)} | ${at('raw', 0.98)} | ${at('gain', 0.95)} | ${at('gain', 0.98)} |${best ? ` ${at('best', 0.95)} | ${at('best', 0.98)} |` : ''}`);
  }
  if (best) {
    L.push('', "ProbeScale's subset per model and budget, test: raw retention, gain vs the final layer (95% CI), gain vs the best layer (point estimate: the best layer's probe predictions are not kept, so no paired CI):", '');
    L.push('| model | k | layers kept | raw | gain vs final | gain vs best |', '| --- | ---: | --- | ---: | ---: | ---: |');
    for (const m of r.models) for (const b of m.budgets.filter((x) => x.k !== null)) L.push(`| ${m.name} | ${b.k} | [${b.methods[0].layers.join(', ')}] | ${pct(b.methods[0].retention)} | ${pct(b.methods[0].gain)}${ci(b.methods[0].gainCI)} | ${pct(b.gainVsBest)} |`);
  }
  const law = r.law;
  L.push('', `**Law**: ${law.formula}.`);
  if (law.fit) {
    L.push(`Fit on ${law.fit.points} points from ${law.fit.sizes} model size(s): a = ${law.fit.a.toFixed(3)}, b = ${law.fit.b.toFixed(3)} (exponent at 1M layer parameters ${Math.exp(law.fit.a).toFixed(2)}), rmse ${pct(law.fit.rmse)} gain points; size-free law (b = 0): a = ${law.sizeFree!.a.toFixed(3)}, rmse ${pct(law.sizeFree!.rmse)}.`);
  }
  if (law.heldOut?.length) {
    L.push('', '| held-out model | N | points | rmse (gain pts) | mean abs error | size-free law rmse | a, b without it |', '| --- | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const e of law.heldOut) L.push(`| ${e.model} | ${num(e.N)} | ${e.points} | ${pct(e.rmse)} | ${pct(e.mae)} | ${pct(e.sizeFreeRmse)} | ${e.fit.a.toFixed(2)}, ${e.fit.b.toFixed(2)} |`);
  }
  if (law.note) L.push('', `Note: ${law.note}.`);
  if (best) {
    L.push('', `**Law against the best layer**: the same form fitted to gain vs the full model's best layer (chosen on dev), G_best, over k ("k") and over k counted in the layers up to each task's best one, G(min(1, k / depth), N) ("depth"); the final-layer gain is predicted by composing it with each task's R = (best - emb) / (final - emb), measured on the full model.`);
    for (const [name, v] of [['k', best.k], ['depth', best.depth]] as const) {
      if (!v.fit) continue;
      L.push('', `G_best, ${name}: fit on ${v.fit.points} points from ${v.fit.sizes} model size(s): a = ${v.fit.a.toFixed(3)}, b = ${v.fit.b.toFixed(3)} (exponent at 1M layer parameters ${Math.exp(v.fit.a).toFixed(2)}), rmse ${pct(v.fit.rmse)} points of gain vs best; size-free law: a = ${v.sizeFree!.a.toFixed(3)}, rmse ${pct(v.sizeFree!.rmse)}.${v.composed ? ` Composed with R on the measured final-layer gain: rmse ${pct(v.composed.rmse)} gain points on ${v.composed.points} points${law.fit ? ` (the final-layer law fitted directly: ${pct(law.fit.rmse)})` : ''}.` : ''}`);
    }
    const names = [...new Set([...(law.heldOut ?? []), ...(best.k.heldOut ?? []), ...(best.k.composedHeldOut ?? []), ...(best.depth.heldOut ?? []), ...(best.depth.composedHeldOut ?? [])].map((e) => e.model))];
    if (names.length) {
      L.push('', 'Leave-one-model-out rmse in points of gain (size-free law in parentheses; G_final columns on the same points):', '');
      L.push('| held-out model | N | R | G_final: law on G_final | G_best: law, k | G_final: R x law, k | G_best: law, depth | G_final: R x law, depth |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      const cols = [law.heldOut, best.k.heldOut, best.k.composedHeldOut, best.depth.heldOut, best.depth.composedHeldOut];
      const cell = (e?: { rmse: number; sizeFreeRmse: number; points: number }) => (e ? `${pct(e.rmse)} (${pct(e.sizeFreeRmse)}), ${e.points} pts` : '-');
      for (const n of names) {
        const R = best.models.find((d) => d.model === n)?.R;
        L.push(`| ${n} | ${num(r.models.find((m) => m.name === n)?.N ?? 0)} | ${R === undefined ? 'n/a' : R.toFixed(2)} | ${cols.map((c) => cell(c?.find((e) => e.model === n))).join(' | ')} |`);
      }
      // models held out in every G_final column, so the three G_final columns compare the same points
      const common = names.filter((n) => [cols[0], cols[2], cols[4]].every((c) => c?.some((e) => e.model === n)));
      const rmsOver = (c: typeof cols[number], only?: string[]) => {
        const v = (c ?? []).filter((e) => !only || only.includes(e.model)).map((e) => e.rmse);
        return v.length ? pct(Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length)) : '-';
      };
      L.push(`| root mean square over the models of each column | | | ${cols.map((c) => rmsOver(c)).join(' | ')} |`);
      if (common.length) L.push(`| the same over the ${common.length} models in every G_final column | | | ${rmsOver(cols[0], common)} | | ${rmsOver(cols[2], common)} | | ${rmsOver(cols[4], common)} |`);
    }
    if (best.note) L.push('', `Note (best layer): ${best.note}.`);
  }
  for (const p of r.pairs) {
    L.push('', `**Prune vs train: ${p.big} pruned to ${p.small}'s layer parameters** — ProbeScale kept layers [${p.layers.join(',')}] of ${p.bigLayers}: ${num(p.keptParameters.layers)} layer / ${num(p.keptParameters.total)} total parameters vs ${p.small}'s ${num(p.smallParameters.layers)} / ${num(p.smallParameters.total)}. Median batch latency: pruned ${p.latency.prunedMs.toFixed(2)} ms, ${p.small} ${p.latency.smallMs.toFixed(2)} ms (ratio ${p.latency.ratio.toFixed(2)}).`, '');
    diffTable(L, { big: p.big, other: p.small, minus: p.small }, p.tasks.map((t) => ({ ...t, pruned: score(t.pruned), other: score(t.small) })), p.weighted);
    const c = p.smallBest;
    if (!c) continue;
    L.push('', `Against ${p.small} cut after each task's best hidden state (chosen on dev; at most its parameters, so generous to it): serving every task needs ${c.state} of its layers, ${num(c.parameters.layers)} layer / ${num(c.parameters.total)} total parameters, median batch latency ${c.latencyMs.toFixed(2)} ms (pruned / it ${c.ratio.toFixed(2)}).`, '');
    diffTable(L, { big: p.big, other: `${p.small} cut (hidden state)`, minus: 'cut' }, c.tasks.map((t) => ({ ...t, pruned: score(t.pruned, false), other: `${score(t.truncated)} (${t.state})` })), c.weighted);
    const e = p.equalLatency;
    if (!e) continue;
    const timed = e.candidates.map((x) => `[${x.layers.join(',')}] ${x.latencyMs.toFixed(2)} ms`).join(', ');
    if (!e.layers) {
      L.push('', `At ${p.small}'s measured latency (${e.smallMs.toFixed(2)} ms): none of ${p.big}'s chosen subsets is as fast (${timed}).`);
      continue;
    }
    L.push('', `At ${p.small}'s measured latency (${e.smallMs.toFixed(2)} ms), the best on dev of ${p.big}'s chosen subsets that runs as fast: [${e.layers.join(',')}], ${e.latencyMs!.toFixed(2)} ms, ${num(e.parameters!.layers)} layer / ${num(e.parameters!.total)} total parameters (the study's choices, timed in the same rounds: ${timed}).`, '');
    diffTable(L, { big: p.big, other: p.small, minus: p.small }, e.tasks!.map((t) => ({ ...t, pruned: score(t.pruned), other: score(t.small, false) })), e.weighted!);
  }
  return L.join('\n');
}

/** Gain retention against kept fraction: ProbeScale's measured points per model and the fitted law's curves
 * (against the final layer, or against the best layer where the study has it). */
export function lawPlot(r: ScaleResults, reference: 'final' | 'best' = 'final'): vl.TopLevelSpec {
  const points = ((reference === 'best' ? r.law.best?.points : r.law.points) ?? []).map((p) => ({ model: p.model, k: p.k, g: p.g }));
  // against the best layer the curves are the k variant's (the depth variant's differ per task)
  const fit = reference === 'best' ? r.law.best?.k.fit : r.law.fit;
  const curves = fit ? r.models.filter((m) => points.some((p) => p.model === m.name)).flatMap((m) => lawCurve(fit, m.N).map((c) => ({ model: m.name, ...c }))) : [];
  const x = { field: 'k', type: 'quantitative' as const, title: 'kept fraction of layer parameters (k)', scale: { domain: [0, 1] }, axis: { format: '%' } };
  const y = { field: 'g', type: 'quantitative' as const, title: reference === 'best' ? 'gain vs best layer (test)' : 'gain retention (test)', axis: { format: '%' } };
  const color = { field: 'model', type: 'nominal' as const };
  return {
    width: 460,
    height: 280,
    layer: [
      ...(curves.length ? [{ data: { values: curves }, mark: { type: 'line' as const, opacity: 0.7 }, encoding: { x, y, color } }] : []),
      { data: { values: points.length ? points : [{ model: 'none', k: 0, g: 0 }] }, mark: { type: 'point' as const, filled: true, size: 60 }, encoding: { x, y, color } },
    ],
  };
}

/** Every method's gain (or raw) retention per budget, a panel per model. */
export function methodsByModelPlot(r: ScaleResults, kind: 'gain' | 'raw'): vl.TopLevelSpec {
  const values = r.models.flatMap((m) => m.budgets.filter((b) => b.k !== null).flatMap((b) => b.methods.map((x) => ({ model: m.name, k: b.kKept, method: x.method.replace(/ \(.*/, ''), v: kind === 'gain' ? x.gain : x.retention })).filter((p) => p.v !== undefined)));
  return {
    data: { values },
    facet: { column: { field: 'model', type: 'nominal', title: null } },
    spec: {
      width: 220,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'k', type: 'quantitative', title: 'k kept', axis: { format: '%' } },
        y: { field: 'v', type: 'quantitative', title: `${kind} retention`, axis: { format: '%' }, scale: { zero: false } },
        color: { field: 'method', type: 'nominal' },
        strokeWidth: { condition: { test: "datum.method === 'probescale'", value: 3 }, value: 1 },
      },
    },
  };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export async function renderScaleReport(r: ScaleResults): Promise<string> {
  const table = scaleTable(r);
  const hasGain = r.models.some((m) => m.budgets.some((b) => b.methods.some((x) => x.gain !== undefined)));
  return `<!doctype html><meta charset="utf-8"><title>probescale: the ProbeScale law across model sizes</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}pre{white-space:pre-wrap;font-size:12px}</style>
<h1>ProbeScale across model sizes; prune vs train</h1>
<p>${esc(r.models.map((m) => `${m.name} (${m.layers} layers, N = ${m.N.toLocaleString('en-US')})`).join(', '))}. Per-model runs (each with its own report): ${r.models.map((m) => `<a href="runs/${esc(m.name)}/report.html">${esc(m.name)}</a>`).join(', ')}.</p>
<h2>Gain retention of ProbeScale's subset and the fitted law</h2>${await svg(lawPlot(r))}
${r.law.best?.points.length ? `<h2>Gain against the best layer and its law</h2>${await svg(lawPlot(r, 'best'))}` : ''}
${hasGain ? `<h2>Every method, gain retention</h2>${await svg(methodsByModelPlot(r, 'gain'))}` : ''}
<h2>Every method, raw retention</h2>${await svg(methodsByModelPlot(r, 'raw'))}
<h2>Tables</h2><pre>${esc(table)}</pre>`;
}
