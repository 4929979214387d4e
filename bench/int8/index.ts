/**
 * Issue 21's four-way forward bench, one run: probescale int8 vs probescale fp32 vs PyTorch fp32 eager vs PyTorch
 * dynamic int8 (torch.ao.quantization.quantize_dynamic on the linear layers), BERT-base shape (random init, 12 layers,
 * hidden 768, FFN 3072), batch 32 x 128 tokens, all hidden states, same thread count, each runner in its own
 * process (its own peak RSS). The PyTorch peer's BLAS is checked first (bench/peer-check.ts); achieved GFLOP/s
 * (GOP/s for int8) are set against this machine's measured GEMM ceiling per precision (bench/int8/ops.ts: an FFN's
 * two GEMMs alone on onnxruntime, fastest of the runs; one GEMM with a fresh 50 MB output per run read below what
 * the whole int8 model reached). `npm run bench -- --only int8 [--threads N] [--quick]`
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { makeBertBase } from '../forward/make-models.js';
import { ROOT, PYTHON, cacheDir } from '../util.js';
import { judgePeer, measureOurGemm, parseProbe, ratioCell, verdictLines, type PeerVerdict } from '../peer-check.js';
import { measureGemms } from './ops.js';

/** Multiply-adds x 2 of one BERT-base forward at B x T: the linear layers plus the two attention products. */
export function bertFlops(B: number, T: number, layers = 12, C = 768, F = 3072): { linear: number; attention: number; total: number } {
  const tokens = B * T;
  const linear = layers * 2 * tokens * (4 * C * C + 2 * C * F);
  const attention = layers * 2 * 2 * B * T * T * C; // q k^T and probs v, over all heads
  return { linear, attention, total: linear + attention };
}

type Row = Record<string, number | string> & { probe?: unknown };

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Row {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
}

export async function runInt8Bench(opts: { threads: number; iters: number; batch?: number; seq?: number }): Promise<void> {
  const B = opts.batch ?? 32, T = opts.seq ?? 128;
  const dir = makeBertBase(join(cacheDir(), 'bert-base-random'));
  const load0 = loadavg()[0];
  console.log(`## int8 forward (BERT-base shape, batch ${B} x ${T} tokens, all hidden states, ${opts.threads} threads; load average ${load0.toFixed(1)} at start)\n`);
  const common = ['--model', dir, '--batch', String(B), '--seq', String(T), '--threads', String(opts.threads), '--iters', String(opts.iters), '--warmup', '1'];
  const ours = (precision: string) => runJson(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'forward', 'ours.ts'), ...common, '--precision', precision]);
  const torch = (int8: boolean) => runJson(PYTHON, [join(ROOT, 'bench', 'peers', 'torch_forward.py'), ...common, ...(int8 ? ['--dynamic-int8'] : [])], { OMP_NUM_THREADS: String(opts.threads) });
  const rows: { name: string; precision: 'fp32' | 'int8'; r?: Row; error?: string }[] = [];
  for (const [name, precision, f] of [
    ['probescale int8', 'int8', () => ours('int8')],
    ['probescale fp32', 'fp32', () => ours('fp32')],
    ['PyTorch fp32 eager', 'fp32', () => torch(false)],
    ['PyTorch dynamic int8', 'int8', () => torch(true)],
  ] as const) {
    try {
      rows.push({ name, precision, r: f() });
    } catch (e) {
      rows.push({ name, precision, error: (e as Error).message.split('\n').slice(0, 3).join(' ') });
    }
  }
  // the peer's BLAS, before any ratio
  const probeRow = rows.find((x) => x.name === 'PyTorch fp32 eager')?.r;
  const probe = parseProbe(probeRow?.probe);
  const peer: PeerVerdict | undefined = probe ? judgePeer(probe, await measureOurGemm(opts.threads)) : undefined;
  if (peer) for (const l of verdictLines(peer)) console.log(`PyTorch: ${l}`);
  else console.log('PyTorch peer reported no BLAS probe (or did not run): no ratios against it');
  const qe = rows.find((x) => x.name === 'PyTorch dynamic int8')?.r?.quantized_engine;
  if (qe) console.log(`PyTorch quantized engine: ${qe}`);
  // the ceiling per precision: an FFN's two GEMMs alone (no activation), same threads
  const ceil = await measureGemms(opts.threads, opts.iters >= 3 ? 10 : 5, ['fp32_FFN', 'int8_FFN']);
  const peak = { fp32: ceil[0].gops ?? NaN, int8: ceil[1].gops ?? NaN };
  console.log(`measured GEMM ceiling (an FFN's two GEMMs 4096 x 768 -> 3072 -> 768 on onnxruntime, fastest run): fp32 ${peak.fp32.toFixed(0)} GFLOP/s, int8 ${peak.int8.toFixed(0)} GOP/s`);
  const flops = bertFlops(B, T);
  console.log(`work per batch: ${(flops.total / 1e9).toFixed(0)} G(FL)OP (linear layers ${(flops.linear / 1e9).toFixed(0)}, attention ${(flops.attention / 1e9).toFixed(0)}; attention stays fp32 in every int8 runner)\n`);
  const base = Number(rows.find((x) => x.name === 'PyTorch fp32 eager')?.r?.tokens_per_s);
  const torchInt8 = Number(rows.find((x) => x.name === 'PyTorch dynamic int8')?.r?.tokens_per_s);
  const fair = peer !== undefined && peer.level !== 'refuse';
  console.log('| runner | tok/s | s/batch | G(FL)OP/s | % of ceiling | peak RSS MB | vs PyTorch fp32 | vs PyTorch int8 |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const x of rows) {
    if (!x.r) {
      console.log(`| ${x.name} | n/a: ${x.error} | | | | | | |`);
      continue;
    }
    const tps = Number(x.r.tokens_per_s);
    const sec = Number(x.r.seconds_per_batch);
    const rate = flops.total / sec / 1e9;
    const vsT = x.name === 'PyTorch fp32 eager' ? '1.00x' : ratioCell(peer, tps / base);
    const vsQ = Number.isFinite(torchInt8) ? (x.name === 'PyTorch dynamic int8' ? '1.00x' : ratioCell(peer, tps / torchInt8)) : 'n/a';
    console.log(`| ${x.name} | ${tps.toFixed(0)} | ${sec.toFixed(2)} | ${rate.toFixed(0)} | ${(100 * rate / peak[x.precision]).toFixed(0)}% | ${Number(x.r.peak_rss_mb).toFixed(0)} | ${vsT} | ${vsQ} |`);
  }
  console.log(`\nload average ${load0.toFixed(1)} at start, ${loadavg()[0].toFixed(1)} at end${fair ? '' : ' (peer refused: ratios withheld)'}; targets (issue 21): probescale int8 >= 2x PyTorch fp32 and >= 1.2x PyTorch int8\n`);
}
