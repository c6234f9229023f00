#!/usr/bin/env python3
"""An independent float64 reference for the weak-to-strong losses, standard library only.

Written from the formulas (openai/weak-to-strong `weak_to_strong/loss.py`, its PR #33, and /work/shared/REFERENCE.md
section 2), not from src/train/losses.ts or trainers/hf/trainer.py, so that the shared test vectors are not the
output of the code they test. It deliberately computes differently where it can: log-probabilities by log-sum-exp,
the product target in log space (so it needs no "both factors underflowed" fallback), the quantile by its definition.

With p = softmax(logits) per row, y = the weak soft labels [P(class 0), P(class 1)], and n rows:

  loss(target)  = (1/n) * sum_i  -sum_k target_ik * log p_ik           (cross-entropy against a fixed target)
  xent:           target = y
  product:        target_ik = p_ik^beta * y_ik^alpha / sum_k' (p_ik'^beta * y_ik'^alpha)     (alpha = beta = 1 default)
  logconf:        q = mean_i y_i1;  t = quantile(p_:0, q) with linear interpolation at position q*(n-1) of the sorted
                  values (torch.quantile's default);  hard_i = [1, 0] if p_i0 >= t else [0, 1];
                  target = (1 - c) * y + c * hard
  coefficient c, with f = step / totalSteps (step counted from 0), aux = auxCoef (0.5), w = warmupFrac (0.1):
    original ("step", loss.py):   c = aux * (1 if f > w else f)          -> 0.05 at f = 0.1, then 0.5: a jump
    PR #33 ("linear"):            c = aux * (1 if f >= w else f / w)     -> a ramp; w = 0 gives aux from step 0

Usage:
  losses_reference.py compute VECTORS.json      print {"cases": [{id, loss, target}], "coefs": [{id, coef}]}
  losses_reference.py regenerate VECTORS.json   rewrite the file's "expected" values from this reference
"""
import json
import math
import sys


def log_softmax(z):
    top = max(z)
    log_norm = top + math.log(sum(math.exp(v - top) for v in z))
    return [v - log_norm for v in z]


def coefficient(schedule, step, total_steps, aux_coef, warmup_frac):
    if not total_steps > 0:
        raise ValueError("totalSteps must be positive")
    f = step / total_steps
    if schedule == "step":
        return aux_coef * (1.0 if f > warmup_frac else f)
    if schedule == "linear":
        return aux_coef * (1.0 if f >= warmup_frac else f / warmup_frac)
    raise ValueError(schedule)


def quantile(values, q):
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    below = math.floor(pos)
    above = min(below + 1, len(ordered) - 1)
    frac = pos - below
    return ordered[below] + (ordered[above] - ordered[below]) * frac


def product_row(logp, y, alpha, beta):
    # log of p^beta * y^alpha; a zero label (alpha > 0) gives a zero weight.
    logs = []
    for lp, yk in zip(logp, y):
        if alpha == 0:
            logs.append(beta * lp)
        elif yk == 0:
            logs.append(-math.inf)
        else:
            logs.append(beta * lp + alpha * math.log(yk))
    top = max(logs)
    weights = [math.exp(v - top) if v != -math.inf else 0.0 for v in logs]
    total = sum(weights)
    return [w / total for w in weights]


def targets(loss, logps, labels, ctx):
    if loss == "xent":
        return [list(map(float, y)) for y in labels]
    if loss == "product":
        alpha = ctx.get("alpha", 1.0)
        beta = ctx.get("beta", 1.0)
        return [product_row(lp, y, alpha, beta) for lp, y in zip(logps, labels)]
    if loss in ("logconf", "logconf_linear"):
        c = coefficient(
            "step" if loss == "logconf" else "linear",
            ctx["step"],
            ctx["totalSteps"],
            ctx.get("auxCoef", 0.5),
            ctx.get("warmupFrac", 0.1),
        )
        p0 = [math.exp(lp[0]) for lp in logps]
        q = sum(y[1] for y in labels) / len(labels)
        t = quantile(p0, q)
        out = []
        for p, y in zip(p0, labels):
            hard = (1.0, 0.0) if p >= t else (0.0, 1.0)
            out.append([(1 - c) * y[0] + c * hard[0], (1 - c) * y[1] + c * hard[1]])
        return out
    raise ValueError(loss)


def case_result(case):
    logps = [log_softmax(z) for z in case["logits"]]
    target = targets(case["loss"], logps, case["softLabels"], case["ctx"])
    total = 0.0
    for lp, tr in zip(logps, target):
        total -= sum(tk * lpk for tk, lpk in zip(tr, lp) if tk != 0)
    return {"id": case["id"], "loss": total / len(logps), "target": target}


def compute(vectors):
    return {
        "cases": [case_result(c) for c in vectors["cases"]],
        "coefs": [
            {"id": c["id"], "coef": coefficient(c["schedule"], c["step"], c["totalSteps"], c["auxCoef"], c["warmupFrac"])}
            for c in vectors["coefs"]
        ],
    }


NOTE = (
    "Shared loss test vectors. Inputs (logits, softLabels, ctx, coefficient settings) are fixed; every expected value "
    "was computed by the independent float64 reference test/reference/losses_reference.py (Python standard library, "
    "written from the formulas; regenerate with `python3 test/reference/losses_reference.py regenerate "
    "test/vectors/losses.json`), never by the code under test. src/train/losses.ts and trainers/hf/trainer.py must "
    "both reproduce them (test/train/loss-vectors.test.ts). ctx fields use the TypeScript names; defaults auxCoef 0.5, "
    "warmupFrac 0.1, alpha 1, beta 1."
)


def main(argv):
    if len(argv) != 2 or argv[0] not in ("compute", "regenerate"):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as fh:
        vectors = json.load(fh)
    result = compute(vectors)
    if argv[0] == "compute":
        print(json.dumps(result))
        return 0
    for case, r in zip(vectors["cases"], result["cases"]):
        case["expected"] = {"loss": r["loss"], "target": r["target"]}
    for coef, r in zip(vectors["coefs"], result["coefs"]):
        coef["expected"] = r["coef"]
    ordered = {"note": NOTE, "version": 2, "generator": "test/reference/losses_reference.py"}
    ordered.update({k: v for k, v in vectors.items() if k not in ordered})
    with open(argv[1], "w") as fh:
        json.dump(ordered, fh, indent=1)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
