/**
 * `probescale study arch`: Llama shapes at one parameter budget (hidden size x MLP/attention ratio x GQA
 * groups, depth solved from the budget) and their measured onnxruntime throughput, against a standard
 * shape of the same size (Llama-style: MLP/attention ratio 2.0 — SwiGLU at ~2.7x hidden — no GQA).
 */
import type { Command } from 'commander';
import { measureThroughput, shapeAt, type Throughput } from '../../scaling/architecture.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { intArg } from '../parse.js';

export function register(program: Command): void {
  const study = program.command('study').description('studies that go with selection: architecture throughput at a parameter budget');
  study
    .command('arch')
    .description('measure inference throughput of Llama shapes at equal parameter count')
    .option('--params <n>', 'parameter budget', Number, 20e6)
    .option('--vocab <n>', 'vocabulary size', intArg, 8000)
    .option('--seq <n>', 'sequence length', intArg, 128)
    .option('--threads <n>', 'onnxruntime threads', intArg)
    .option('--out <file>', 'write the table as JSON')
    .action(async (o: { params: number; vocab: number; seq: number; threads?: number; out?: string }) => {
      const baseline = shapeAt(o.params, 512, 2, 1, o.vocab);
      const rows: (Throughput & { name: string })[] = [];
      if (baseline) rows.push({ name: 'standard', ...(await measureThroughput(baseline, o.seq, o.threads)) });
      for (const hidden of [256, 512, 768]) {
        for (const ratio of [1, 2, 4]) {
          for (const groups of [1, 4]) {
            if (hidden === 512 && ratio === 2 && groups === 1) continue;
            const s = shapeAt(o.params, hidden, ratio, groups, o.vocab);
            if (!s || Math.abs(s.layers * 1) < 1) continue;
            rows.push({ name: `h${hidden} r${ratio} g${groups}`, ...(await measureThroughput(s, o.seq, o.threads)) });
          }
        }
      }
      const base = rows[0];
      console.log('| shape | hidden | layers | heads/kv | FFN | params | MLP/attn | batch-32 tok/s | vs standard | batch-1 ms |');
      console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const r of rows) {
        console.log(`| ${r.name} | ${r.shape.hidden} | ${r.shape.layers} | ${r.shape.heads}/${r.shape.kvHeads} | ${r.shape.intermediate} | ${(r.parameters / 1e6).toFixed(1)}M | ${r.ratio.toFixed(2)} | ${r.tokensPerS.toFixed(0)} | ${(r.tokensPerS / base.tokensPerS).toFixed(2)}x | ${r.latencyMs.toFixed(1)} |`);
      }
      if (o.out) writeFileAtomic(o.out, JSON.stringify(rows, null, 2) + '\n');
    });
}
