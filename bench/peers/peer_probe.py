"""What BLAS a Python peer really runs on, measured inside the peer's own process (imported by the peers).

Debian's python3-torch and python3-numpy link libblas.so.3, which update-alternatives points at whatever
BLAS is installed: without libopenblas0 that is the reference BLAS, which ran a GEMM at ~6 GFLOP/s instead
of ~170 and made probescale look 60x faster. So every peer reports the BLAS libraries mapped into it
(/proc/self/maps, symlinks resolved), torch's build-time BLAS_INFO, and a timed 1024^3 float32 GEMM; the
bench (bench/peer-check.ts) judges them before it prints a ratio.
"""
import os, re, time


def mapped_blas():
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6 or not parts[5].startswith("/"):
                    continue
                name = os.path.basename(parts[5])
                if re.search(r"blas|lapack|mkl|blis|atlas|flexiblas", name, re.I):
                    libs.add(os.path.realpath(parts[5]))
    except OSError:
        pass
    return sorted(libs)


def probe(lib, threads, n=1024, reps=5):
    """lib: the imported torch or numpy module. Float32 n x n x n GEMM, best of reps after one warm-up."""
    info = {"library": lib.__name__, "version": lib.__version__, "threads": threads, "gemm_n": n}
    if lib.__name__ == "torch":
        cfg = lib.__config__.show()
        m = re.search(r"BLAS_INFO=([^\s,]+)", cfg)
        info["build_blas"] = m.group(1) if m else "unknown"
        a, b = lib.randn(n, n), lib.randn(n, n)
    else:
        a = lib.random.default_rng(0).standard_normal((n, n), dtype=lib.float32)
        b = lib.random.default_rng(1).standard_normal((n, n), dtype=lib.float32)
        info["build_blas"] = "numpy"
    a @ b  # warm-up: thread pools, first-touch pages
    best = float("inf")
    for _ in range(reps):  # best of reps, as bench/peer-check.ts times ours
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    info["gemm_gflops"] = 2 * n**3 / best / 1e9
    info["blas_libs"] = mapped_blas()  # after the GEMM: every lazily loaded backend is mapped by now
    return info
