/**
 * probescale's trainer (ONNX autodiff on onnxruntime) vs PyTorch CPU eager on the same GPT-2, same
 * weights, same batch, in the same run: first-step gradients compared tensor by tensor, then seconds
 * per optimizer step (forward + backward + clipping + AdamW).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gpt2Model, type Gpt2Shape } from '../../src/train/models/gpt2.js';
import { Trainer } from '../../src/train/trainer.js';
import { mulberry32 } from '../../src/util/random.js';
import { cacheDir, PYTHON, ROOT } from '../util.js';
import { judgePeer, measureOurGemm, parseProbe, ratioCell, verdictLines, type PeerVerdict } from '../peer-check.js';

export interface TrainCompare {
  label: string;
  params: number;
  oursStepS: number;
  torchStepS: number | null;
  maxGradRelErr: number | null;
  lossOurs: number;
  lossTorch: number | null;
  /** The PyTorch peer's BLAS and GEMM speed against ours; undefined when it reported none. */
  peer?: PeerVerdict;
}

export async function compareGpt2Training(label: string, shape: Gpt2Shape, B: number, T: number, threads: number, steps = 10): Promise<TrainCompare> {
  const model = gpt2Model(shape);
  const trainer = await Trainer.create(model, { batch: B, seq: T, lr: 1e-3, threads, seed: 1 });
  const rand = mulberry32(5);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rand() * shape.vocab)));
  const targets = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rand() * shape.vocab)));
  const pos = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T));
  const batch = { input_ids: ids, position_ids: pos, targets, loss_weights: new Float32Array(B * T).fill(1) };

  const dir = cacheDir();
  const names = model.paramShapes();
  const flat = (m: Map<string, Float32Array>) => {
    const total = names.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
    const out = new Float32Array(total);
    let off = 0;
    for (const [n] of names) {
      out.set(m.get(n)!, off);
      off += m.get(n)!.length;
    }
    return out;
  };
  writeFileSync(join(dir, 'gpt2-params.bin'), flat(trainer.params));
  writeFileSync(join(dir, 'gpt2-ids.bin'), ids);
  writeFileSync(join(dir, 'gpt2-targets.bin'), targets);
  const manifest = {
    shape, batch: B, seq: T, steps, params: names,
    params_file: join(dir, 'gpt2-params.bin'), ids_file: join(dir, 'gpt2-ids.bin'), targets_file: join(dir, 'gpt2-targets.bin'),
    grads_out: join(dir, 'gpt2-torch-grads.bin'),
  };
  writeFileSync(join(dir, 'gpt2-manifest.json'), JSON.stringify(manifest));

  const first = await trainer.gradients(batch);
  const ours = flat(first.grads);
  // torch's own OpenMP pool does the parallel work; OpenBLAS's second pool on the same 2 cores slowed the
  // peer 1.7-2x (measured: 0.478 vs 0.283 s/step), so it is pinned to 1 thread, the peer's fastest setting
  const r = spawnSync(PYTHON, [join(ROOT, 'bench', 'peers', 'torch_gpt2_train.py'), join(dir, 'gpt2-manifest.json'), String(threads)], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: '1' } });
  let torchStepS: number | null = null;
  let maxGradRelErr: number | null = null;
  let lossTorch: number | null = null;
  let peer: PeerVerdict | undefined;
  if (r.status === 0) {
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const probe = parseProbe(res.probe);
    if (probe) peer = judgePeer(probe, await measureOurGemm(threads));
    torchStepS = res.train_step_s;
    lossTorch = res.loss_first;
    const buf = readFileSync(manifest.grads_out);
    const theirs = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    // largest per-tensor relative error ||ours - theirs|| / ||theirs||
    let off = 0;
    maxGradRelErr = 0;
    for (const [, s] of names) {
      const n = s.reduce((x, y) => x * y, 1);
      let num = 0;
      let den = 0;
      for (let i = off; i < off + n; i++) {
        num += (ours[i] - theirs[i]) ** 2;
        den += theirs[i] ** 2;
      }
      maxGradRelErr = Math.max(maxGradRelErr, Math.sqrt(num / Math.max(den, 1e-30)));
      off += n;
    }
  } else {
    console.error(`PyTorch peer failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  }
  await trainer.step(batch, 1e-3); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainer.step(batch, 1e-3);
  const oursStepS = (performance.now() - t0) / 1000 / steps;
  const params = trainer.parameterCount();
  await trainer.release();
  return { label, params, oursStepS, torchStepS, maxGradRelErr, lossOurs: first.loss, lossTorch, peer };
}

export async function runOrtTrainBench(threads: number): Promise<void> {
  console.log(`## probescale trainer (ONNX autodiff on onnxruntime) vs PyTorch eager, same GPT-2, same weights and batch (${threads} threads)\n`);
  const cases: [string, Gpt2Shape, number, number][] = [
    ['4L d128 h4, seq 64, batch 32, vocab 65 (issue spec)', { vocab: 65, positions: 64, hidden: 128, layers: 4, heads: 4, intermediate: 512 }, 32, 64],
    ['12L d128 h4, seq 128, batch 16, vocab 4096 (mini-gpt shape)', { vocab: 4096, positions: 128, hidden: 128, layers: 12, heads: 4, intermediate: 512 }, 16, 128],
  ];
  // rows are printed after the peer lines, so the peer's BLAS and GEMM speed come before any ratio
  const notes: string[] = [];
  const rows: string[] = [];
  for (const [label, shape, B, T] of cases) {
    const r = await compareGpt2Training(label, shape, B, T, threads);
    const ratio = ratioCell(r.peer, r.torchStepS ? r.torchStepS / r.oursStepS : undefined);
    const peerLines = r.peer ? verdictLines(r.peer) : r.torchStepS !== null ? ['PyTorch peer reported no BLAS probe: no ratio'] : [];
    notes.push(...peerLines.map((l) => `${label}: ${l}`));
    rows.push(
      `| ${label} | ${r.params.toLocaleString('en-US')} | ${r.lossOurs.toFixed(4)} / ${r.lossTorch?.toFixed(4) ?? 'n/a'} | ${r.maxGradRelErr?.toExponential(1) ?? 'n/a'} | ${r.oursStepS.toFixed(3)} | ${r.torchStepS?.toFixed(3) ?? 'n/a'} | ${ratio} |`,
    );
  }
  for (const n of notes) console.log(n);
  console.log('');
  console.log('| model | params | loss ours / torch | max grad rel. err | ours s/step | torch s/step | speed vs PyTorch |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
  console.log('');
}
