/**
 * The suite table of bench/RESULTS.md (issue 15): per test bed, what pretraining reached (training.json) and, per
 * probed task, the embeddings-only probe against the best layer chosen on dev (probe.json), with test CIs.
 *
 *   node --import tsx bench/suite-table.ts NAME=RUN_DIR[,PROBE_DIR] ...
 *   e.g. gpt-l12=models/gpt-l12,out/probe-gpt-l12
 *
 * RUN_DIR holds training.json (a `probescale pretrain` run or a shipped models/ folder); PROBE_DIR holds the
 * probe.json of `probescale probe --model RUN_DIR ...` (optional: without it only the pretraining row is printed).
 * The best layer is recomputed from the layers with the pipeline's own rule (summarizeLayers: dev argmax, ties to
 * the lower layer), so probe.json files written before the summary carried the CI comparison give the same table.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeLayers } from '../src/probe/layers.js';
import type { TaskResult } from '../src/probe/suite.js';
import type { PretrainResult } from '../src/train/pretrain.js';

const args = process.argv.slice(2);
if (args.length === 0 || args.some((a) => !a.includes('='))) {
  console.error('usage: node --import tsx bench/suite-table.ts NAME=RUN_DIR[,PROBE_DIR] ... (RUN_DIR with training.json, PROBE_DIR with probe.json)');
  process.exit(2);
}

const f3 = (x: number) => x.toFixed(3);
const n = (x: number) => x.toLocaleString('en-US');
const readJson = <T>(file: string): T => {
  if (!existsSync(file)) {
    console.error(`${file}: not found; give the folder of a finished \`probescale pretrain\` run (training.json) or of \`probescale probe\` (probe.json)`);
    process.exit(2);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as T;
};

const trainRows: string[] = [];
const probeRows: string[] = [];
for (const arg of args) {
  const [name, dirs] = arg.split('=');
  const [runDir, probeDir] = dirs.split(',');
  const tj = readJson<PretrainResult>(join(runDir, 'training.json'));
  const last = tj.evals.at(-1)!;
  const s = tj.spec;
  const objective = s.objective === 'clm' ? 'causal LM' : `masked LM, ${Math.round((s.maskRate ?? 0.15) * 100)}%`;
  trainRows.push(`| ${name} | ${objective} | ${s.layers} x ${s.hidden} | ${n(tj.parameters)} | ${s.vocab} | ${n(tj.tokensSeen)} (${(tj.tokensSeen / tj.parameters).toFixed(1)}/param) | ${(tj.seconds / 60).toFixed(1)} min | ${f3(last.loss)} | ${f3(tj.baselineLoss)} | ${(last.accuracy * 100).toFixed(1)}% |`);
  if (!probeDir) continue;
  const { results } = readJson<{ results: TaskResult[] }>(join(probeDir, 'probe.json'));
  for (const t of results) {
    const emb = t.layers.find((l) => l.layer === 0);
    if (!emb) continue; // the embeddings were not probed: no floor to compare with
    const sum = summarizeLayers(t.layers);
    const final = t.layers.reduce((a, b) => (b.layer > a.layer ? b : a));
    const pass = sum.bestLo > emb.hi;
    probeRows.push(`| ${name} | ${t.task} | ${t.rows.train}/${t.rows.test} | ${f3(emb.score)} [${f3(emb.lo)}, ${f3(emb.hi)}] | ${sum.bestLayer}: ${f3(sum.bestScore)} [${f3(sum.bestLo)}, ${f3(sum.bestHi)}] | ${f3(final.score)} | ${pass ? 'yes' : 'no'} |`);
  }
}

console.log('| model | objective | layers x hidden | params | vocab | tokens seen | training time | held-out loss | trivial baseline | held-out acc. |');
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
console.log(trainRows.join('\n'));
if (probeRows.length > 0) {
  console.log('\n| model | task | train/test units | embeddings [95% CI] | best layer on dev: test [95% CI] | final layer | best CI above embeddings CI |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  console.log(probeRows.join('\n'));
}
