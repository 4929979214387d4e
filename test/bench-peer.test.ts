/**
 * The bench's peer check (bench/peer-check.ts): which BLAS a PyTorch peer runs on and whether its ratio may
 * be printed, judged from the report peer_probe.py prints. The libraries below are the paths Debian
 * 12 resolves libblas.so.3 to for each provider; the reference-BLAS case is the one that printed 60x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { blasKind, judgePeer, parseProbe, ratioCell, verdictLines, measureOurGemm, type PeerProbe } from '../bench/peer-check.js';
import { ROOT } from './helpers.js';

const REFERENCE = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0';
const LAPACK = '/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so';

function peer(over: Partial<PeerProbe>): PeerProbe {
  return { library: 'torch', version: '1.13.1', threads: 2, gemm_n: 1024, gemm_gflops: 165, build_blas: 'open', blas_libs: [OPENBLAS, LAPACK], ...over };
}

test('blasKind: the provider from the mapped libraries, MKL from the build info when linked statically', () => {
  assert.equal(blasKind([REFERENCE, LAPACK], 'open'), 'reference');
  assert.equal(blasKind([OPENBLAS, LAPACK], 'open'), 'openblas', 'reference LAPACK beside OpenBLAS does not make it reference');
  assert.equal(blasKind(['/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4'], 'open'), 'blis');
  assert.equal(blasKind(['/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3.10.3'], 'open'), 'atlas');
  assert.equal(blasKind(['/usr/lib/x86_64-linux-gnu/libflexiblas.so.3.3', '/usr/lib/x86_64-linux-gnu/flexiblas/libflexiblas_netlib.so'], 'open'), 'reference');
  assert.equal(blasKind(['/opt/venv/lib/python3.11/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so'], 'numpy'), 'openblas');
  assert.equal(blasKind([], 'mkl'), 'mkl', 'PyPI torch wheels carry MKL inside libtorch_cpu');
  assert.equal(blasKind([], 'open'), 'unknown');
});

test('judgePeer: the reference BLAS or a GEMM far below ours refuses the ratio; a middling one warns loudly', () => {
  const ours = 150;
  const fair = judgePeer(peer({}), ours);
  assert.equal(fair.level, 'fair');
  assert.equal(fair.blas, 'openblas');
  assert.deepEqual(fair.reasons, []);
  assert.match(fair.summary, /torch 1\.13\.1 peer: BLAS openblas .*GEMM 1024\^3 165\.0 GFLOP\/s vs probescale's onnxruntime 150\.0 GFLOP\/s \(2 threads\)/);
  assert.equal(ratioCell(fair, 1.2449), '1.24x');
  assert.deepEqual(verdictLines(fair), [fair.summary]);

  // the trap of issue 21: Debian's python3-torch without OpenBLAS
  const trap = judgePeer(peer({ gemm_gflops: 6.1, blas_libs: [REFERENCE, LAPACK] }), ours);
  assert.equal(trap.level, 'refuse');
  assert.equal(trap.blas, 'reference');
  assert.equal(trap.reasons.length, 2, 'both the library and the speed are named');
  assert.ok(trap.reasons.every((r) => /libopenblas0-pthread/.test(r)), 'says what to install');
  assert.equal(ratioCell(trap, 60.3), 'refused (unfair peer)');
  assert.ok(verdictLines(trap).slice(1).every((l) => l.startsWith('**RATIO REFUSED**')));

  // the reference BLAS is refused even when its GEMM looks fine (e.g. a tiny thread count on our side)
  assert.equal(judgePeer(peer({ blas_libs: [REFERENCE] }), ours).level, 'refuse');
  // an optimized BLAS that is still far below ours (wrong thread settings): refused on speed alone
  const slow = judgePeer(peer({ gemm_gflops: 30 }), ours);
  assert.equal(slow.level, 'refuse');
  assert.match(slow.reasons[0], /20% of ours/);
  // between the two thresholds: printed, flagged
  const mid = judgePeer(peer({ gemm_gflops: 60 }), ours);
  assert.equal(mid.level, 'warn');
  assert.equal(ratioCell(mid, 2.5), '2.50x (!)');
  assert.match(verdictLines(mid)[1], /^\*\*WARNING\*\*: .*40% of ours/);
  // unknown provider at full speed: printed with a warning
  const unknown = judgePeer(peer({ blas_libs: [], build_blas: 'open' }), ours);
  assert.equal(unknown.level, 'warn');
  assert.match(unknown.reasons[0], /could not tell which BLAS/);
  // a GEMM that did not run (NaN) cannot vouch for the peer
  assert.equal(judgePeer(peer({ gemm_gflops: Number.NaN }), ours).level, 'refuse');
  assert.equal(ratioCell(undefined, 1.5), 'n/a (peer not checked)');
  assert.equal(ratioCell(fair, undefined), 'n/a');
});

test('parseProbe reads the probe a peer prints and rejects a missing or malformed one', () => {
  const line = JSON.parse(
    `{"peer": "pytorch", "tokens_per_s": 728.0, "probe": {"library": "torch", "version": "1.13.1", "threads": 2, "gemm_n": 1024, "build_blas": "open", "gemm_gflops": 171.5, "blas_libs": ["${OPENBLAS}"]}}`,
  ) as { probe: unknown };
  assert.deepEqual(parseProbe(line.probe), { library: 'torch', version: '1.13.1', threads: 2, gemm_n: 1024, gemm_gflops: 171.5, build_blas: 'open', blas_libs: [OPENBLAS] });
  // as printed on this machine (2026-11-28, bench/RESULTS.md): Debian python3-torch alone, then with OpenBLAS
  const before = parseProbe(JSON.parse(
    '{"library": "torch", "version": "1.13.0a0", "threads": 2, "gemm_n": 1024, "build_blas": "generic", "gemm_gflops": 2.337, "blas_libs": ["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0", "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0"]}',
  ))!;
  const after = parseProbe(JSON.parse(
    '{"library": "torch", "version": "1.13.0a0", "threads": 2, "gemm_n": 1024, "build_blas": "generic", "gemm_gflops": 31.59, "blas_libs": ["/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", "/usr/lib/x86_64-linux-gnu/openblas-pthread/liblapack.so.3", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so"]}',
  ))!;
  assert.equal(judgePeer(before, 31.9).level, 'refuse');
  assert.equal(judgePeer(after, 31.1).level, 'fair');
  assert.equal(judgePeer(after, 31.1).blas, 'openblas');
  assert.equal(parseProbe(undefined), undefined);
  assert.equal(parseProbe({ gemm_gflops: '171' }), undefined);
});

test('our side of the comparison: an onnxruntime GEMM gives a finite GFLOP/s (speed itself is the bench\'s business)', async () => {
  const g = await measureOurGemm(1, 64);
  assert.ok(Number.isFinite(g) && g > 0, String(g));
});

test('peer_probe.py imports without torch or numpy and lists mapped BLAS libraries', { skip: spawnSync('python3', ['--version']).status !== 0 && 'no python3' }, () => {
  const r = spawnSync('python3', ['-c', 'import json, peer_probe; print(json.dumps(peer_probe.mapped_blas()))'], { cwd: join(ROOT, 'bench', 'peers'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Array.isArray(JSON.parse(r.stdout)));
});
