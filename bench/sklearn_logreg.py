"""Fits scikit-learn's LogisticRegression on features written by bench/probe-vs-sklearn.ts or
bench/probe-dense-vs-sklearn.ts; prints one JSON line. meta.json: d, xtrain, xtest (raw little-endian arrays of
meta.dtype, default float32), ytrain, ytest, C, maxIter, optional tol (default sklearn's 1e-4)."""
import json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression

meta = json.load(open(sys.argv[1]))
d = meta["d"]
dtype = np.dtype(meta.get("dtype", "float32")).newbyteorder("<")
xtr = np.fromfile(meta["xtrain"], dtype=dtype).reshape(-1, d)
xte = np.fromfile(meta["xtest"], dtype=dtype).reshape(-1, d)
ytr = np.array(meta["ytrain"])
yte = np.array(meta["ytest"])
start = time.perf_counter()
cpu = time.process_time()
clf = LogisticRegression(C=meta["C"], max_iter=meta["maxIter"], tol=meta.get("tol", 1e-4), solver="lbfgs").fit(xtr, ytr)
secs = time.perf_counter() - start
cpuSecs = time.process_time() - cpu
print(json.dumps({"fitS": secs, "cpuS": cpuSecs, "accuracy": float((clf.predict(xte) == yte).mean()), "iterations": int(clf.n_iter_[0])}))
