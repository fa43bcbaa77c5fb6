"""Print the recorded runs (assets/recorded/*.json) as a Markdown table, d90 re-derived by idim_core.d90.

    .venv/bin/python scripts/summarize_recorded.py [NAME ...]

This is the table the README shows; nothing in it is typed by hand.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.demo import RECORDED_DIR, recorded_result  # noqa: E402


def fmt_ci(ci) -> str:
    if not ci:
        return "–"
    lo = f"{ci[0]:,.0f}" if ci[0] is not None else "?"
    hi = f"{ci[1]:,.0f}" if ci[1] is not None else "> max d"
    return f"{lo} – {hi}"


def main(names: list[str]) -> None:
    names = names or sorted(p.stem for p in RECORDED_DIR.glob("*.json"))
    print("| record | seeds | full (mean ± std) | threshold | d90 status | d90 (interpolated) | 95 % interval | wall |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        r = recorded_result(n)
        cfg = r["config"]
        base = r["baseline_accuracy"]
        std = r.get("baseline_std") or 0.0
        if r["d90_status"] == "found":
            d90 = f"{r['d90_interpolated']:,.0f} (grid {r['d90']:,})"
        elif r["d90_status"] == "below_grid":
            d90 = f"≤ {r['d90_upper']:,}"
        elif r["d90_status"] == "not_reached":
            d90 = f"> {max(x['d'] for x in r['by_d']):,}"
        else:
            d90 = "none (did not learn)" if r["d90_status"] == "baseline_at_floor" else "unknown"
        wall = f"{r['seconds']:.0f} s" if r.get("seconds") else "–"
        print(f"| `{n}` | {cfg.get('seeds', 1)} | {base:.3f} ± {std:.3f} | {r['threshold']:.3f} | {r['d90_status']} "
              f"| {d90} | {fmt_ci(r.get('d90_ci'))} | {wall} |")


if __name__ == "__main__":
    main(sys.argv[1:])
