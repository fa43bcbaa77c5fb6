"""Print the recorded runs (assets/recorded/*.json) as a Markdown table, d90 re-derived by idim_core.d90.

    .venv/bin/python scripts/summarize_recorded.py [NAME ...]
    .venv/bin/python scripts/summarize_recorded.py --write   # the files' own d90 facts re-derived too

This is the table docs/results.md shows; nothing in it is typed by hand.  ``--write`` rewrites the
derived facts stored in each JSON file (d90, its interval, the threshold and its rule...) with
what idim_core.d90 derives from the file's points, so the file, docs/results.md, `idim show --json`
after importing it, Live, Compare and Learn give one interval per run.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.demo import RECORDED_DIR, recorded_result  # noqa: E402
from idim_core.results import EST_KEYS  # noqa: E402


def write_back(name: str, path: Path | None = None) -> bool:
    """Store the re-derived facts in the record itself; True when the file changed."""
    from idim_core.results import recompute

    path = path or RECORDED_DIR / f"{name}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    res = recompute(raw)
    new = dict(raw)
    for k in EST_KEYS:
        if k in ("by_d", "by_params") and k not in raw:
            continue  # per-level rows are derived at load from the points
        new[k] = res.get(k)
    text = json.dumps(new) + "\n"
    if text == path.read_text(encoding="utf-8"):
        return False
    path.write_text(text, encoding="utf-8")
    return True


SERIES_KEYS = ("baseline", "threshold", "d90", "d90_interpolated", "d90_ci", "d90_status", "d90_upper")


def write_back_series(path: Path) -> bool:
    """A recorded series' entries with their d90 facts re-derived from the runs it keeps; True when it changed."""
    from idim_core.results import recompute

    raw = json.loads(path.read_text(encoding="utf-8"))
    runs = {rid: recompute(r) for rid, r in (raw.get("runs") or {}).items()}
    for e in raw["series"]["entries"]:
        r = runs.get(e.get("run_id"))
        if r is None:
            continue
        e.update({"baseline": r.get("baseline_accuracy"), **{k: r.get(k) for k in SERIES_KEYS if k != "baseline"}})
    text = json.dumps(raw) + "\n"
    if text == path.read_text(encoding="utf-8"):
        return False
    path.write_text(text, encoding="utf-8")
    return True


def full_rate(cfg: dict) -> str:
    """Full fine-tuning's rate: the one given, or "searched" (--baseline-lr-search: per seed, the best on
    validation of 1/3, 1 and 3 times it, and on past an end with --lr-search-beyond; a record from before that
    option has no key and stopped at the ends)."""
    lr = cfg.get("lr_full")
    given = f"{lr:.0e}".replace("e-0", "e-") if lr else "default"
    past = ", on past an end" if int(cfg.get("lr_search_beyond") or 0) > 0 else ""
    return f"searched ({given} × 1/3, 1, 3{past})" if cfg.get("baseline_lr_search") else given


def fmt_ci(ci) -> str:
    from idim_core.d90 import interval_text

    return interval_text(ci, empty="–")


def main(names: list[str]) -> None:
    write = "--write" in names
    names = [n for n in names if n != "--write"] or sorted(p.stem for p in RECORDED_DIR.glob("*.json"))
    if write:
        from idim_core.demo import EXAMPLE_JSON
        from idim_core.series import RECORDED_SERIES

        changed = [n for n in names if write_back(n)] + (
            ["example_run"] if write_back("example_run", EXAMPLE_JSON) else [])
        changed += [p.stem for p in sorted(RECORDED_SERIES.glob("*.json")) if write_back_series(p)]
        print(f"re-derived the facts of {len(changed)} of {len(names)} records", file=sys.stderr)
    print("| record | seeds | full (mean ± std) | full's rate | threshold | d90 status | d90 (interpolated) "
          "| 95 % interval | wall |")
    print("|---|---|---|---|---|---|---|---|---|")
    records = [(n, recorded_result(n)) for n in names]
    for n, r in records:
        if r.get("axis", "d") != "d":
            continue
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
        print(f"| `{n}` | {cfg.get('seeds', 1)} | {base:.3f} ± {std:.3f} | {full_rate(cfg)} | {r['threshold']:.3f} "
              f"| {r['d90_status']} "
              f"| {d90} | {fmt_ci(r.get('d90_ci'))} | {wall} |")
    others = [(n, r) for n, r in records if r.get("axis", "d") != "d"]
    if not others:
        return
    print()
    print("| record | method | seeds | trainable parameters tried | mean accuracy at each | 90 % point "
          "| 95 % interval | seconds per trial (mean) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, r in others:
        rows = r["by_params"]
        st = r["p90_status"]
        p90 = (f"≈ {r['p90_interpolated']:,.0f} (grid {r['p90']:,})" if st == "found" else
               f"≤ {r['p90_upper']:,}" if st == "below_grid" else "not reached" if st == "not_reached" else st)
        secs = [p["seconds"] for p in r["points"] if p.get("seconds")]
        tried = ", ".join(format(x["d"], ",") for x in rows)
        means = ", ".join(format(x["mean"], ".3f") for x in rows)
        per = f"{sum(secs) / len(secs):.0f} s" if secs else "–"
        print(f"| `{n}` | {r['method']} | {r['config'].get('seeds', 1)} | {tried} | {means} | {p90} "
              f"| {fmt_ci(r.get('p90_ci'))} | {per} |")


if __name__ == "__main__":
    main(sys.argv[1:])
