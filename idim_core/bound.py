"""A generalisation bound for the model trained in the subspace (no torch here).

Aghajanyan et al. (2021, Section 6) bound the test error of a model fine-tuned in a
d-dimensional random subspace with the compression argument of Arora et al. (2018):
for q parameters taking at most r values each and m training examples,
L0(g) <= L̂_gamma(f) + O(sqrt(q log r / m)); with q = d and the random seed of P as
the "helper string" fixed before the data are seen, the bound does not depend on D.

We use an explicit finite-class form of the same idea (Occam / Hoeffding with a union
bound), for the 0-1 loss, with nothing hidden in an O():

    with probability >= 1 - delta over the m training examples, for every d in the grid
    and every z taking one of r = 2**bits values per coordinate,

        test error  <=  training error  +  epsilon,
        epsilon = sqrt( (d ln r + ln(1/delta) + ln K) / (2 m) ),

where K is the number of values of d in the grid (the price of choosing d after
looking).  What it covers and what it drops:

- it covers the model theta0 + P z *as trained in the subspace* with z stored in
  ``bits`` bits per number (for bits < 32, the training error that counts is that of the
  quantised z, which idim does not measure; it measures the quantised model's test
  accuracy, ``TrialResult.extra["quantised"]``); it says nothing about the fully
  fine-tuned model;
- SAID's lambdas are among the d numbers (they count in d), so they are covered;
- the margin (gamma) of Arora et al. and their constants are dropped: this is the plain
  0-1 loss version, valid as stated;
- P and theta0 are fixed before the training data are drawn (P by its seed, theta0 by
  pre-training on other data), which the argument needs.

At d = 200, m = 3,668, delta = 0.05 it gives about 0.78 for raw float32 values and
0.28 for 4-bit values: near vacuous unless z is quantised and m is large.
"""
from __future__ import annotations

import math

DELTA = 0.05
FORMULA = "epsilon = sqrt((d ln r + ln(1/delta) + ln K) / (2 m)), r = 2^bits"


def epsilon(d: int, m: int, bits: int = 32, delta: float = DELTA, grid: int = 1) -> float:
    """The bound's gap between test and training error (see the module's docstring)."""
    if d < 1 or m < 1 or bits < 1 or not 0 < delta < 1 or grid < 1:
        raise ValueError("d, m, bits and grid must be positive and delta in (0, 1)")
    return math.sqrt((d * bits * math.log(2) + math.log(1 / delta) + math.log(grid)) / (2 * m))


def test_accuracy_floor(train_accuracy: float, d: int, m: int, bits: int = 32, delta: float = DELTA,
                        grid: int = 1) -> float:
    """The bound as a guarantee: test accuracy >= training accuracy - epsilon (0 when vacuous)."""
    return max(0.0, train_accuracy - epsilon(d, m, bits, delta, grid))


def summary(by_d: list[dict], m: int | None, grid: int, bits_list=(32, 8, 4, 2), delta: float = DELTA) -> dict | None:
    """The bound for each d of a run: epsilon per bit width, and at 32 bits the guaranteed test
    accuracy from the measured training accuracy (mean over seeds).  Below 32 bits the
    guarantee is for the quantised model's own training error, which is not measured here
    (its test accuracy after quantisation is, in the bits view), so only epsilon is given."""
    if not m or not by_d:
        return None
    rows = []
    for r in by_d:
        d = int(r["d"])
        if d < 1:
            continue
        row = {"d": d, "epsilon": {str(b): epsilon(d, m, b, delta, grid) for b in bits_list}}
        tr = r.get("train_mean")
        if tr is not None:
            row["train_accuracy"] = tr
            row["guaranteed_test_accuracy"] = test_accuracy_floor(tr, d, m, 32, delta, grid)
        if r.get("quantised_mean"):
            row["quantised_test_accuracy"] = r["quantised_mean"]
        rows.append(row)
    return {"formula": FORMULA, "delta": delta, "m": m, "grid": grid, "by_d": rows,
            "covers": "the model trained in the subspace (theta0 + P z), z stored in the given bits; "
                      "not the fully fine-tuned model"}
