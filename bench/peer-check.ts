/**
 * Is a Python peer fair? Before any ratio against PyTorch is printed, the peer reports (bench/peers/
 * peer_probe.py, run inside the peer's own process) the BLAS libraries it has mapped, torch's build-time
 * BLAS and a timed 1024^3 float32 GEMM; we time the same GEMM on onnxruntime with the same thread count.
 * A peer on the reference BLAS (Debian's libblas3 when no OpenBLAS is installed: ~6 GFLOP/s instead of
 * ~170, which once printed a 60x "speed-up") or far below our GEMM gets no ratio; a middling one gets a
 * loud warning. The judgement is a pure function over the parsed report, tested in test/bench-peer.test.ts.
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, GraphBuilder } from '../src/engine/graph.js';

/** The `probe` object a peer prints (peer_probe.py). */
export interface PeerProbe {
  library: string;
  version: string;
  threads: number;
  gemm_n: number;
  gemm_gflops: number;
  /** torch's BLAS_INFO from torch.__config__.show() ("numpy" for numpy peers). */
  build_blas: string;
  /** Resolved paths of the BLAS/LAPACK libraries mapped into the peer process. */
  blas_libs: string[];
}

export type BlasKind = 'mkl' | 'openblas' | 'blis' | 'atlas' | 'reference' | 'unknown';

export interface PeerVerdict {
  level: 'fair' | 'warn' | 'refuse';
  blas: BlasKind;
  /** One line saying which BLAS and what GEMM speed, for the bench log. */
  summary: string;
  /** Why the ratio is refused or doubtful, and what to install. Empty when fair. */
  reasons: string[];
}

/** Below this fraction of our GEMM speed the peer's ratio is meaningless; below WARN_FRACTION it is suspect. */
export const REFUSE_FRACTION = 0.25;
export const WARN_FRACTION = 0.6;

const INSTALL = 'install an optimized BLAS for the peer: apt-get install libopenblas0-pthread (Debian points libblas.so.3 at it)';

/** Which BLAS the peer computes with, from the libraries mapped into it (symlinks resolved) and its build info. */
export function blasKind(libs: string[], buildBlas: string): BlasKind {
  const has = (re: RegExp) => libs.some((l) => re.test(l));
  // Debian's reference BLAS lives in .../blas/libblas.so.3*; FlexiBLAS names its netlib backend so.
  if (has(/\/blas\/libblas\.so/) || has(/flexiblas_netlib/)) return 'reference';
  if (has(/mkl/i)) return 'mkl';
  if (has(/openblas/i)) return 'openblas';
  if (has(/blis/i)) return 'blis';
  if (has(/atlas/i)) return 'atlas';
  // PyPI torch wheels link MKL statically: nothing is mapped, the build info says mkl.
  if (/mkl/i.test(buildBlas)) return 'mkl';
  return 'unknown';
}

export function judgePeer(probe: PeerProbe, oursGflops: number): PeerVerdict {
  const blas = blasKind(probe.blas_libs, probe.build_blas);
  const frac = probe.gemm_gflops / oursGflops;
  const summary =
    `${probe.library} ${probe.version} peer: BLAS ${blas} (${probe.blas_libs.length ? probe.blas_libs.join(', ') : 'no BLAS library mapped'}; build ${probe.build_blas}), ` +
    `GEMM ${probe.gemm_n}^3 ${probe.gemm_gflops.toFixed(1)} GFLOP/s vs probescale's onnxruntime ${oursGflops.toFixed(1)} GFLOP/s (${probe.threads} threads)`;
  const reasons: string[] = [];
  let level: PeerVerdict['level'] = 'fair';
  if (blas === 'reference') {
    level = 'refuse';
    reasons.push(`the peer runs on the reference BLAS; ${INSTALL}`);
  }
  if (!(frac >= REFUSE_FRACTION)) {
    level = 'refuse';
    reasons.push(`the peer's GEMM runs at ${(100 * frac).toFixed(0)}% of ours (< ${100 * REFUSE_FRACTION}%): a ratio would measure its BLAS, not the framework; ${INSTALL}`);
  } else if (frac < WARN_FRACTION) {
    if (level === 'fair') level = 'warn';
    reasons.push(`the peer's GEMM runs at only ${(100 * frac).toFixed(0)}% of ours (< ${100 * WARN_FRACTION}%): check its BLAS and thread settings`);
  }
  if (blas === 'unknown') {
    if (level === 'fair') level = 'warn';
    reasons.push('could not tell which BLAS the peer uses (no known library mapped)');
  }
  return { level, blas, summary, reasons };
}

/** The ratio as the bench prints it: refused peers get none. */
export function ratioCell(verdict: PeerVerdict | undefined, ratio: number | undefined, digits = 2): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return 'n/a';
  if (!verdict) return 'n/a (peer not checked)';
  if (verdict.level === 'refuse') return 'refused (unfair peer)';
  return `${ratio.toFixed(digits)}x${verdict.level === 'warn' ? ' (!)' : ''}`;
}

/** The lines to print under a table for a judged peer (loud when it is not fair). */
export function verdictLines(v: PeerVerdict): string[] {
  if (v.level === 'fair') return [v.summary];
  const tag = v.level === 'refuse' ? 'RATIO REFUSED' : 'WARNING';
  return [v.summary, ...v.reasons.map((r) => `**${tag}**: ${r}`)];
}

/** Parse a peer's `probe` field; undefined when the peer did not report one. */
export function parseProbe(raw: unknown): PeerProbe | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const p = raw as Record<string, unknown>;
  if (typeof p.gemm_gflops !== 'number' || !Array.isArray(p.blas_libs)) return undefined;
  return {
    library: String(p.library ?? '?'),
    version: String(p.version ?? '?'),
    threads: Number(p.threads ?? 0),
    gemm_n: Number(p.gemm_n ?? 0),
    gemm_gflops: p.gemm_gflops,
    build_blas: String(p.build_blas ?? 'unknown'),
    blas_libs: p.blas_libs.map(String),
  };
}

const oursCache = new Map<number, number>();

/** Our GEMM speed: one float32 n x n x n MatMul on onnxruntime, same thread count as the peer, best of 5. */
export async function measureOurGemm(threads: number, n = 1024): Promise<number> {
  const cached = oursCache.get(threads);
  if (cached !== undefined) return cached;
  const g = new GraphBuilder('gemm');
  const a = g.input('a', FLOAT, [n, n]);
  const b = g.input('b', FLOAT, [n, n]);
  g.output('c', g.op('MatMul', [a, b]), FLOAT, [n, n]);
  const session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const data = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const feeds = { a: new ort.Tensor('float32', data, [n, n]), b: new ort.Tensor('float32', data.slice().reverse(), [n, n]) };
  await session.run(feeds); // warm-up
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  await session.release();
  const gflops = (2 * n ** 3) / best / 1e9;
  oursCache.set(threads, gflops);
  return gflops;
}
