#!/usr/bin/env python3
"""scikit-learn peer for the probe benchmark: LogisticRegression(solver='lbfgs') on the same matrices.

  sklearn_probe.py --dir D --n N --d D --k K --n-test M --C 1.0 --max-iter 100 --tol 1e-4
reads D/X.f32 [N, d], D/y.i32 [N], D/Xt.f32, D/yt.i32 (raw little-endian), standardizes like probescale
(mean/std from train), fits, prints one JSON line with fit seconds and test accuracy.
"""
import argparse, json, os, time
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

from peer_probe import probe

ap = argparse.ArgumentParser()
for k in ("dir",):
    ap.add_argument("--" + k, required=True)
for k in ("n", "d", "k", "n_test", "max_iter"):
    ap.add_argument("--" + k.replace("_", "-"), type=int, required=True)
ap.add_argument("--C", type=float, default=1.0)
ap.add_argument("--tol", type=float, default=1e-4)
a = ap.parse_args()
X = np.fromfile(f"{a.dir}/X.f32", dtype="<f4").reshape(a.n, a.d)
y = np.fromfile(f"{a.dir}/y.i32", dtype="<i4")
Xt = np.fromfile(f"{a.dir}/Xt.f32", dtype="<f4").reshape(a.n_test, a.d)
yt = np.fromfile(f"{a.dir}/yt.i32", dtype="<i4")
t0 = time.perf_counter()
mu, sd = X.mean(0), X.std(0)
sd[sd == 0] = 1
clf = LogisticRegression(solver="lbfgs", C=a.C, max_iter=a.max_iter, tol=a.tol)
clf.fit((X - mu) / sd, y)
sec = time.perf_counter() - t0
acc = float((clf.predict((Xt - mu) / sd) == yt).mean())
print(json.dumps({"peer": "sklearn", "version": sklearn.__version__, "seconds": sec, "accuracy": acc, "iterations": int(np.max(clf.n_iter_)),
                  "probe": probe(np, int(os.environ.get("OMP_NUM_THREADS", "0")))}))
