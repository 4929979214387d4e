/**
 * Forward throughput, probescale (onnxruntime) vs PyTorch CPU eager (Debian python3-torch), same weights,
 * same batch, same thread count, all hidden states kept, in the same run. Each side runs in its own
 * process so its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeBertBase, makeStories } from './make-models.js';
import { ROOT, PYTHON, cacheDir } from '../util.js';
import { judgePeer, measureOurGemm, parseProbe, type PeerVerdict } from '../peer-check.js';

export interface ForwardResult {
  model: string;
  ours: Record<string, number | string>;
  torch?: Record<string, number | string>;
  /** Undefined when the peer was refused (see peer). */
  ratio?: number;
  /** The PyTorch peer's BLAS and GEMM speed against ours (bench/peer-check.ts). */
  peer?: PeerVerdict;
  note?: string;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Record<string, number | string> & { probe?: unknown } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Record<string, number | string> & { probe?: unknown };
}

export async function runForwardBench(opts: { threads: number; iters: number; batch: number; seq: number }): Promise<ForwardResult[]> {
  const models = [
    { name: 'bert-base-shaped (random init, 12 layers, 110M params)', dir: makeBertBase(join(cacheDir(), 'bert-base-random')), logits: false },
    { name: 'stories260K (llama2.c, 5 layers, 260K params)', dir: await makeStories(join(cacheDir(), 'stories260K-hf')), logits: true },
  ];
  const results: ForwardResult[] = [];
  for (const m of models) {
    const common = ['--model', m.dir, '--batch', String(opts.batch), '--seq', String(opts.seq), '--threads', String(opts.threads), '--iters', String(opts.iters), '--warmup', '1', ...(m.logits ? ['--logits'] : [])];
    const ours = runJson(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'forward', 'ours.ts'), ...common]);
    let torch: (Record<string, number | string> & { probe?: unknown }) | undefined;
    let note: string | undefined;
    let peer: PeerVerdict | undefined;
    try {
      torch = runJson(PYTHON, [join(ROOT, 'bench', 'peers', 'torch_forward.py'), ...common], { OMP_NUM_THREADS: String(opts.threads) });
      const probe = parseProbe(torch.probe);
      if (probe) peer = judgePeer(probe, await measureOurGemm(opts.threads));
      else note = 'PyTorch peer reported no BLAS probe: no ratio';
    } catch (err) {
      note = `PyTorch peer unavailable: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
    }
    const fair = peer !== undefined && peer.level !== 'refuse';
    results.push({ model: m.name, ours, torch, ratio: torch && fair ? Number(ours.tokens_per_s) / Number(torch.tokens_per_s) : undefined, peer, note });
  }
  return results;
}
