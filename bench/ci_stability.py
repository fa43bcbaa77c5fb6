"""How far each shipped record's d90 interval moves across bootstrap seeds (the faces use seed 0).

    python bench/ci_stability.py [--seeds 10]

Prints, per record, the interval at every seed, each end's largest relative move and whether the estimate lies
inside; exits 1 when an end moves by more than 5 % or an estimate falls outside.  The interval is the one
`idim show RUN_ID --json --ci-seed N` gives after the record is imported.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from idim_core.results import recompute  # noqa: E402

LIMIT = 0.05


def move(vals):
    vals = [v for v in vals if v is not None]
    return max(vals) / min(vals) - 1 if vals else 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(__file__), "..", "assets", "recorded")
    rows, bad = [], 0
    for f in sorted(glob.glob(os.path.join(root, "*.json"))):
        data = json.load(open(f, encoding="utf-8"))
        t = time.time()
        cis = [recompute(data, ci_seed=s) for s in range(args.seeds)]
        est = cis[0].get("p90_interpolated") if cis[0].get("p90_status") == "found" else None
        ends = [r.get("p90_ci") for r in cis]
        if not ends[0]:
            continue
        lo, hi = move([e[0] for e in ends]), move([e[1] for e in ends])
        inside = est is None or all((e[0] is None or e[0] <= est) and (e[1] is None or est <= e[1]) for e in ends)
        ok = lo <= LIMIT and hi <= LIMIT and inside
        bad += not ok
        rows.append({"record": os.path.basename(f)[:-5], "estimate": est, "ci_seed0": ends[0], "low_move": lo,
                     "high_move": hi, "inside": inside, "ok": ok, "seconds": (time.time() - t) / args.seeds})
    if args.json:
        print(json.dumps({"records": rows, "all_ok": not bad}))
    else:
        for r in rows:
            ci = r["ci_seed0"]
            txt = (("?" if ci[0] is None else f"{ci[0]:,.0f}") + " – "
                   + ("> max d" if ci[1] is None else f"{ci[1]:,.0f}"))
            print(f"{r['record']:34} {txt:>18}  low moves {r['low_move']:6.1%}  high moves {r['high_move']:6.1%}  "
                  f"{'inside' if r['inside'] else 'OUTSIDE'}  {r['seconds']:.2f} s  {'ok' if r['ok'] else 'FAIL'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
