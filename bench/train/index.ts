/** Training-engine candidates vs PyTorch on the same 4-layer transformer LM step, each in its own process. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PYTHON, ROOT } from '../util.js';
import { judgePeer, measureOurGemm, parseProbe, ratioCell, verdictLines, type PeerVerdict } from '../peer-check.js';

function runJson(cmd: string, args: string[]): Record<string, number | string> | string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 });
  if (r.status !== 0) return `failed: ${r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('    at')).slice(-2).join(' ')}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
}

export async function runTrainEngineBench(threads = 2): Promise<void> {
  console.log(`## Training engine candidates (4-layer transformer LM, d 128, 4 heads, seq 64, batch 32, vocab 65; forward + backward + Adam; ${threads} threads)\n`);
  const torch = runJson(PYTHON, [join(ROOT, 'bench', 'peers', 'torch_train.py'), String(threads)]);
  const probe = typeof torch === 'string' ? undefined : parseProbe(torch.probe);
  const peer: PeerVerdict | undefined = probe && judgePeer(probe, await measureOurGemm(threads));
  if (peer) for (const l of verdictLines(peer)) console.log(l); // before any ratio
  console.log('');
  console.log('| engine | matmul GFLOP/s (512^2) | s / step | tokens/s | vs PyTorch |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  const rows = [torch, ...['wasm', 'cpu'].map((b) => runJson(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'train', 'tfjs-candidates.ts'), b]))];
  for (const r of rows) {
    if (typeof r === 'string') {
      console.log(`| ? | ${r} | | | |`);
      continue;
    }
    const ratio = typeof torch === 'string' ? 'n/a' : ratioCell(peer, Number(torch.train_step_s) / Number(r.train_step_s), 3);
    console.log(`| ${r.engine} | ${Number(r.matmul_gflops).toFixed(1)} | ${Number(r.train_step_s).toFixed(2)} | ${Number(r.tokens_per_s).toFixed(0)} | ${ratio} |`);
  }
  console.log('');
}
