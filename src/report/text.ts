/**
 * Plain-text summaries of a run's results, per task: how many test units were scored (and what did not fit
 * the model's positions), the reference points, and at each budget every distinct subset's score with raw
 * and gain retention and ProbeScale minus it, all with their 95% CIs. `probescale demo` prints them; the
 * HTML report shows the same numbers (html.ts).
 */
import type { TaskResult } from '../probe/suite.js';
import type { MethodResult, RunResults, TaskRetention } from './results.js';

const num = (v: number) => v.toLocaleString('en-US');
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
const ci3 = (lo?: number, hi?: number) => (lo !== undefined && hi !== undefined ? ` [${lo.toFixed(3)}, ${hi.toFixed(3)}]` : '');
const ciPct = (c?: [number, number]) => (c ? ` [${(100 * c[0]).toFixed(1)}, ${(100 * c[1]).toFixed(1)}]` : '');

const UNIT: Record<TaskResult['kind'], [string, string]> = { token: ['sentences', 'words'], edge: ['sentences', 'dependency edges'], sentence: ['sentences', 'sentences'], 'sentence-pair': ['pairs', 'pairs'] };

/** "2,077 test sentences, 25,093 words scored (87 sentences longer than the model's positions scored in windows)". */
export function unitsScored(p: TaskResult, split: 'train' | 'dev' | 'test' = 'test'): string {
  const [ex, rows] = UNIT[p.kind];
  const head = p.examples ? `${num(p.examples[split])} ${split} ${ex}` : `${split}`;
  const scored = p.kind === 'sentence' || p.kind === 'sentence-pair' ? head : `${head}, ${num(p.rows[split])} ${rows}`;
  const o = p.overflow?.[split];
  const notes: string[] = [];
  if (o?.windowed) notes.push(`${num(o.windowed)} ${ex} longer than the model's positions scored in windows of whole words`);
  if (o?.truncated) notes.push(`${num(o.truncated)} ${ex} longer than the model's positions cut to fit (scored on the part that fits)`);
  if (o?.droppedEdges) notes.push(`${num(o.droppedEdges)} edges wider than one window not scored`);
  if (o?.droppedWords) notes.push(`${num(o.droppedWords)} words no window could hold not scored`);
  return `${scored} scored${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/** Methods of one budget grouped by subset (baselines often agree), ProbeScale's group first, random last. */
export function distinctSubsets(methods: MethodResult[]): { names: string[]; m: MethodResult }[] {
  const groups: { names: string[]; m: MethodResult }[] = [];
  for (const m of methods) {
    const key = m.layers.join(',');
    const g = m.layers.length ? groups.find((x) => x.m.layers.join(',') === key) : undefined;
    if (g) g.names.push(m.method);
    else groups.push({ names: [m.method], m });
  }
  return groups;
}

/** Median half-width (retention points) of ProbeScale-minus-baseline paired CIs for one task: the smallest
 * difference this run's test set can tell apart from noise. */
export function pairedHalfWidth(r: RunResults, task: string, mode: 'raw' | 'gain'): number | undefined {
  const w = r.budgets.flatMap((b) => b.methods.map((m) => m.perTask?.[task]).map((t) => (mode === 'raw' ? t?.probescaleMinus : t?.probescaleMinusGain)).filter((d): d is NonNullable<TaskRetention['probescaleMinus']> => !!d && Number.isFinite(d.lo) && d.hi > d.lo).map((d) => (d.hi - d.lo) / 2));
  if (!w.length) return undefined;
  w.sort((a, b) => a - b);
  return w[Math.floor(w.length / 2)];
}

export function taskSummaryLines(r: RunResults): string[] {
  const out: string[] = [];
  const L = r.parameters.perLayer.length;
  out.push(`per task, on test (95% CIs in brackets; raw = score / final layer, gain = (score - embeddings) / (final - embeddings); "ProbeScale -" = ProbeScale's retention minus this subset's on that task, paired bootstrap):`);
  for (const t of r.tasks) {
    const p = r.probes.find((x) => x.task === t.name)!;
    const x = r.references[t.name];
    const add = x.layersAdd.test;
    out.push(`\n${t.name} (${t.metric}): ${unitsScored(p)}`);
    out.push(`  majority class ${x.majority.toFixed(3)} | embeddings only ${x.embeddings.test.toFixed(3)}${ci3(x.embeddings.lo, x.embeddings.hi)} | final layer ${x.final.test.toFixed(3)}${ci3(x.final.lo, x.final.hi)} | best hidden state (dev) ${x.best.state} ${x.best.test.toFixed(3)}${ci3(x.best.lo, x.best.hi)} | layers add ${pts(add.score)} pts [${pts(add.lo)}, ${pts(add.hi)}]`);
    if (x.gainUndefined.test) out.push(`  gain retention not defined on test: ${x.gainUndefined.test}`);
    const hwRaw = pairedHalfWidth(r, t.name, 'raw');
    const hwGain = pairedHalfWidth(r, t.name, 'gain');
    if (hwRaw !== undefined) {
      const verdict = (hw: number) => (hw < 0.03 ? 'a 3-point difference is beyond noise' : 'a 3-point difference is within noise');
      out.push(`  noise: score CI of the final layer ±${(50 * (x.final.hi - x.final.lo)).toFixed(1)} pts; paired differences resolve ±${(100 * hwRaw).toFixed(1)} raw pts (${verdict(hwRaw)})${hwGain !== undefined ? `, ±${(100 * hwGain).toFixed(1)} gain pts (${verdict(hwGain)})` : ''} (median CI half-width)`);
    }
    for (const b of r.budgets) {
      out.push(`  budget ${b.budget}: up to ${b.keptLayers} of ${L} layers fit`);
      for (const { names, m } of distinctSubsets(b.methods)) {
        const s = m.scores[t.name];
        const pt = m.perTask?.[t.name];
        const who = `${names.join(', ')}${m.layers.length ? ` [${m.layers.join(',')}]` : ''}`;
        if (!pt) {
          // the random baseline: a mean over seeds, no CI
          const raw = s.score / x.final.test;
          out.push(`    ${who.padEnd(34)} ${s.score.toFixed(3)} (mean)          raw ${pct(raw)}${s.gain !== undefined ? `  gain ${pct(s.gain)}` : ''}`);
          continue;
        }
        const d = pt.probescaleMinus;
        const g = pt.probescaleMinusGain;
        const sig = (v?: { lo: number; hi: number }) => (v ? (v.lo > 0 ? ' better' : v.hi < 0 ? ' worse' : '') : '');
        const vs = names[0] === 'probescale' ? '' : `  ProbeScale - raw ${pts(d!.diff)} [${pts(d!.lo)}, ${pts(d!.hi)}]${sig(d)}${g ? `, gain ${pts(g.diff)} [${pts(g.lo)}, ${pts(g.hi)}]${sig(g)}` : ''}`;
        out.push(`    ${who.padEnd(34)} ${s.score.toFixed(3)}${ci3(s.lo, s.hi)}  raw ${pct(pt.raw)}${ciPct(pt.rawCI)}  gain ${pt.gain !== undefined ? `${pct(pt.gain)}${ciPct(pt.gainCI)}` : 'n/a'}${vs}`);
      }
    }
  }
  return out;
}
