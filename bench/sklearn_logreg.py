"""Fits scikit-learn's LogisticRegression on features written by bench/probe-vs-sklearn.ts; prints one JSON line."""
import json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression

meta = json.load(open(sys.argv[1]))
d = meta["d"]
xtr = np.fromfile(meta["xtrain"], dtype=np.float32).reshape(-1, d)
xte = np.fromfile(meta["xtest"], dtype=np.float32).reshape(-1, d)
ytr = np.array(meta["ytrain"])
yte = np.array(meta["ytest"])
start = time.perf_counter()
clf = LogisticRegression(C=meta["C"], max_iter=meta["maxIter"], solver="lbfgs").fit(xtr, ytr)
secs = time.perf_counter() - start
print(json.dumps({"fitS": secs, "accuracy": float((clf.predict(xte) == yte).mean()), "iterations": int(clf.n_iter_[0])}))
