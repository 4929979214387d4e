/**
 * Probe fitting: probescale's LogisticProbe vs scikit-learn's LogisticRegression(solver='lbfgs') on the
 * same matrices, same C, max_iter and tolerance, same thread count, in the same run. The data mimic a
 * UPOS probe: 17 classes with a skewed prior, a planted linear signal in a subspace plus noise.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { LogisticProbe } from '../../src/probe/logistic.js';
import { mulberry32, normal } from '../../src/probe/random.js';
import { PYTHON, ROOT } from '../util.js';
import { judgePeer, measureOurGemm, parseProbe, ratioCell, verdictLines } from '../peer-check.js';

function makeData(n: number, d: number, K: number, seed: number) {
  const r = mulberry32(seed);
  const rank = 32;
  const W = Float64Array.from({ length: rank * K }, () => normal(r));
  const prior = Array.from({ length: K }, (_, k) => 1 / (k + 1));
  const X = new Float32Array(n * d);
  const y = new Int32Array(n);
  const z = new Float64Array(rank);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < rank; j++) z[j] = normal(r);
    let best = 0;
    let bestV = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = Math.log(prior[k]) * 2;
      for (let j = 0; j < rank; j++) s += z[j] * W[j * K + k];
      s += 1.5 * normal(r); // label noise: the task is not separable
      if (s > bestV) (bestV = s), (best = k);
    }
    y[i] = best;
    for (let c = 0; c < d; c++) X[i * d + c] = (c < rank ? z[c] : 0) * 0.7 + normal(r) * (c < rank ? 0.7 : 1);
  }
  return { X, y };
}

export async function runLogisticBench(threads = 2): Promise<void> {
  const K = 17;
  console.log(`## Probe fitting: multinomial logistic regression vs scikit-learn (lbfgs, C=1, max_iter=100, tol=1e-4, ${threads} threads)\n`);
  // warm-up (onnxruntime initialisation, JIT), as the peer's timing starts after its imports
  const w = makeData(2000, 64, K, 1);
  await new LogisticProbe(K, { C: 1, threads, backend: 'ort' }).fit({ data: w.X, rows: 2000, cols: 64 }, w.y);
  // rows are printed after the peer lines, so the peer's BLAS and GEMM speed come before any ratio
  const notes: string[] = [];
  const rows: string[] = [];
  for (const d of [256, 768]) {
    const n = 20000;
    const nt = 5000;
    // one planted model for both splits
    const all = makeData(n + nt, d, K, d);
    const train = { X: all.X.subarray(0, n * d), y: all.y.subarray(0, n) };
    const test = { X: all.X.subarray(n * d), y: all.y.subarray(n) };
    const dir = mkdtempSync(join(tmpdir(), 'ps-probe-bench-'));
    writeFileSync(join(dir, 'X.f32'), train.X);
    writeFileSync(join(dir, 'y.i32'), train.y);
    writeFileSync(join(dir, 'Xt.f32'), test.X);
    writeFileSync(join(dir, 'yt.i32'), test.y);
    const t0 = performance.now();
    const probe = await new LogisticProbe(K, { C: 1, maxIter: 100, gtol: 1e-4, threads }).fit({ data: train.X, rows: n, cols: d }, train.y);
    const ours = (performance.now() - t0) / 1000;
    const oursAcc = probe.score({ data: test.X, rows: nt, cols: d }, test.y);
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const r = spawnSync(PYTHON, [join(ROOT, 'bench', 'peers', 'sklearn_probe.py'), '--dir', dir, '--n', String(n), '--d', String(d), '--k', String(K), '--n-test', String(nt), '--max-iter', '100', '--C', '1', '--tol', '1e-4'], { encoding: 'utf8', env });
    rmSync(dir, { recursive: true });
    if (r.status !== 0) {
      rows.push(`| ${n} x ${d} | ${ours.toFixed(2)} | n/a | n/a | ${oursAcc.toFixed(4)} | n/a | sklearn peer failed: ${r.stderr.split('\n').slice(-2).join(' ')} |`);
      continue;
    }
    const sk = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; accuracy: number; iterations: number; probe?: unknown };
    // scikit-learn's lbfgs runs on numpy's BLAS (Debian: libblas.so.3 as well), so the same check applies
    const peerProbe = parseProbe(sk.probe);
    const peer = peerProbe && judgePeer(peerProbe, await measureOurGemm(threads));
    if (peer) notes.push(...verdictLines(peer).map((l) => `${n} x ${d}: ${l}`));
    rows.push(`| ${n} x ${d} | ${ours.toFixed(2)} (${probe.iterations} it) | ${sk.seconds.toFixed(2)} (${sk.iterations} it) | ${ratioCell(peer, sk.seconds / ours)} | ${oursAcc.toFixed(4)} | ${sk.accuracy.toFixed(4)} | ${(100 * (oursAcc - sk.accuracy)).toFixed(2)} |`);
  }
  for (const l of notes) console.log(l);
  console.log('');
  console.log('| n x d | probescale s | sklearn s | speed ratio | probescale acc | sklearn acc | acc diff (points) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
  console.log('');
}

if (import.meta.url === `file://${process.argv[1]}`) await runLogisticBench();
