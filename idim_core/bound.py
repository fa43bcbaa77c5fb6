"""A generalisation bound for the model trained in the subspace (no torch here).

Aghajanyan et al. (2021, Section 6) bound the test error of a model fine-tuned in a
d-dimensional random subspace with the compression argument of Arora et al. (2018):
for q parameters taking at most r values each and m training examples,
L0(g) <= L̂_gamma(f) + O(sqrt(q log r / m)); with q = d and the random seed of P as
the "helper string" fixed before the data are seen, the bound does not depend on D.

We use an explicit finite-class form of the same idea (Occam / Hoeffding with a union
bound), for the 0-1 loss, with nothing hidden in an O():

    with probability >= 1 - delta over the m training examples, for every d tried, every
    seed drawn and every z taking one of r = 2**bits values per coordinate,

        expected test error  <=  training error  +  epsilon,
        epsilon = sqrt( (d b ln 2 + R ln 2 + ln(1/delta) + ln(K S)) / (2 m) ),

where b is the bits per number, K the number of values of d tried and S the number of
seeds (each seed draws its own P: the union runs over both, the price of choosing after
looking), and R the bits of the quantiser's stored range: a quantised vector is kept as
its b-bit codes plus its lowest and highest value (two float32 numbers, 64 bits; SAID's
scales are a second vector, 64 more); at 32 bits the floats are stored as they are
(R = 0).  It bounds the *expected* accuracy on new examples, not the accuracy measured on
the test split, and it is "vacuous" whenever it guarantees no more than chance.  What it
covers and what it drops:

- it covers the model theta0 + P z *as trained in the subspace* with z stored in
  ``bits`` bits per number; for bits < 32 the training error that counts is that of the
  quantised model, which idim measures at 4 and 8 bits on a fixed subset of the training
  examples (``extra["quantised_train"]``; records made before it have none, and then no
  guarantee is given at those widths); it says nothing about the fully fine-tuned model;
- SAID's lambdas are among the d numbers (they count in d), so they are covered;
- the margin (gamma) of Arora et al. and their constants are dropped: this is the plain
  0-1 loss version, valid as stated;
- P and theta0 are fixed before the training data are drawn (P by its seed, theta0 by
  pre-training on other data), which the argument needs.

At d = 200, m = 3,668, delta = 0.05, one d and one seed it gives about 0.78 for raw
float32 values and 0.28 for 4-bit values (0.29 with the stored range): near vacuous
unless z is quantised and m is large.
"""
from __future__ import annotations

import math

DELTA = 0.05
FORMULA = ("epsilon = sqrt((d b ln 2 + R ln 2 + ln(1/delta) + ln(K S)) / (2 m)), b bits per number, "
           "R the quantiser's stored range (64 bits per quantised vector), K values of d, S seeds")
RANGE_BITS = 64  # a quantised vector's lowest and highest value, two float32 numbers


def range_bits(bits: int, vectors: int = 1) -> int:
    """R: what storing a quantised vector costs beyond its codes (nothing at 32 bits: floats as they are)."""
    return 0 if bits >= 32 else RANGE_BITS * vectors


def epsilon(d: int, m: int, bits: int = 32, delta: float = DELTA, grid: int = 1, seeds: int = 1,
            vectors: int = 1) -> float:
    """The bound's gap between expected test error and training error (see the module's docstring)."""
    if d < 1 or m < 1 or bits < 1 or not 0 < delta < 1 or grid < 1 or seeds < 1 or vectors < 1:
        raise ValueError("d, m, bits, grid, seeds and vectors must be positive and delta in (0, 1)")
    stored = d * bits + range_bits(bits, vectors)
    return math.sqrt((stored * math.log(2) + math.log(1 / delta) + math.log(grid * seeds)) / (2 * m))


def test_accuracy_floor(train_accuracy: float, d: int, m: int, bits: int = 32, delta: float = DELTA,
                        grid: int = 1, seeds: int = 1, vectors: int = 1) -> float:
    """The bound as a guarantee: expected test accuracy >= training accuracy - epsilon (0 at worst)."""
    return max(0.0, train_accuracy - epsilon(d, m, bits, delta, grid, seeds, vectors))


def guarantee_text(value: float | None, chance: float | None) -> str:
    """How a guarantee reads: "vacuous" when it promises no more than chance."""
    if value is None:
        return "not measured"
    if value <= (chance or 0.0):
        return "vacuous"
    return f"{value:.3f}"


def summary(by_d: list[dict], m: int | None, grid: int, bits_list=(32, 8, 4, 2), delta: float = DELTA,
            seeds: int = 1, vectors: int = 1, chance: float | None = None) -> dict | None:
    """The bound for each d of a run: epsilon per bit width, and the guaranteed expected test accuracy
    from the training accuracy of the model the width describes: at 32 bits the trained one, at 4 and
    8 bits the quantised one (``quantised_train_mean``, when it was measured).  ``vacuous`` lists
    the widths whose guarantee is no better than chance."""
    if not m or not by_d:
        return None
    rows = []
    for r in by_d:
        d = int(r["d"])
        if d < 1:
            continue
        tr = r.get("train_mean")
        # each guarantee uses the m its training accuracy was read on: a fixed subset (train_n, quantised_train_n)
        # is an i.i.d. sample too, but Hoeffding then holds with that m, not the whole split's
        m32 = min(m, int(r["train_n"])) if r.get("train_n") else m
        mq = min(m, int(r["quantised_train_n"])) if r.get("quantised_train_n") else m
        row = {"d": d, "epsilon": {str(b): epsilon(d, m32 if b >= 32 else mq, b, delta, grid, seeds, vectors)
                                   for b in bits_list}}
        guaranteed = {}
        if tr is not None:
            row["train_accuracy"] = tr
            if r.get("train_n"):  # read on a fixed subset of the training examples, not on all m
                row["train_n"] = r["train_n"]
            guaranteed["32"] = test_accuracy_floor(tr, d, m32, 32, delta, grid, seeds, vectors)
        if r.get("quantised_train_n"):
            row["quantised_train_n"] = mq
        for b, acc in (r.get("quantised_train_mean") or {}).items():
            if int(b) in bits_list and acc is not None:
                guaranteed[str(b)] = test_accuracy_floor(acc, d, mq, int(b), delta, grid, seeds, vectors)
        if r.get("quantised_train_mean"):
            row["quantised_train_accuracy"] = r["quantised_train_mean"]
        if guaranteed:
            row["guaranteed"] = guaranteed
            row["vacuous"] = sorted((b for b, g in guaranteed.items() if g <= (chance or 0.0)), key=int)
            if "32" in guaranteed:
                row["guaranteed_test_accuracy"] = guaranteed["32"]
        if r.get("quantised_mean"):
            row["quantised_test_accuracy"] = r["quantised_mean"]
        rows.append(row)
    return {"formula": FORMULA, "delta": delta, "m": m, "grid": grid, "seeds": seeds, "vectors": vectors,
            "chance": chance, "by_d": rows,
            "reads": "with probability 1 - delta over the training examples, expected test accuracy >= the "
                     "guarantee ('vacuous' when that is no better than chance)",
            "covers": "the model trained in the subspace (theta0 + P z), z stored in the given bits; "
                      "not the fully fine-tuned model"}
