"""Reference values for test/metrics/ratings.test.ts: the Bradley-Terry fit with separate correct-side and
incorrect-side ratings as an L2-penalised logistic regression in scikit-learn.

Parameters (columns): X_correct, X_incorrect, Y_correct, Y_incorrect. A match of the model on the correct side (c)
against the model on the incorrect side (i) is a row with +1 in c's correct column and -1 in i's incorrect column;
y = 1 when the correct side won. A tie is two rows, y = 1 and y = 0, each of weight 0.5. scikit-learn minimises
0.5 ||w||^2 + C * sum(weight * log loss), the negative log-posterior under a N(0, C) prior: C = priorSd ** 2.
Run: python test/reference/bradley_terry_reference.py (needs scikit-learn and numpy).
"""
import numpy as np
from sklearn.linear_model import LogisticRegression

# (correct model, incorrect model, outcome, count)
MATCHES = [("X", "Y", 1, 7), ("X", "Y", 0, 2), ("X", "Y", 0.5, 1), ("Y", "X", 1, 3), ("Y", "X", 0, 5), ("X", "X", 1, 4), ("X", "X", 0, 2), ("Y", "Y", 1, 2), ("Y", "Y", 0, 3)]
COL = {("X", "c"): 0, ("X", "i"): 1, ("Y", "c"): 2, ("Y", "i"): 3}
rows, ys, ws = [], [], []
for c, i, outcome, count in MATCHES:
    x = np.zeros(4)
    x[COL[(c, "c")]] += 1
    x[COL[(i, "i")]] -= 1
    for _ in range(count):
        for y, w in ([(1, 1.0)] if outcome == 1 else [(0, 1.0)] if outcome == 0 else [(1, 0.5), (0, 0.5)]):
            rows.append(x), ys.append(y), ws.append(w)
for prior_sd in (1.0, 2.0):
    model = LogisticRegression(C=prior_sd**2, fit_intercept=False, tol=1e-12, max_iter=10000)
    model.fit(np.array(rows), np.array(ys), sample_weight=np.array(ws))
    print(prior_sd, [round(v, 8) for v in model.coef_[0]])
