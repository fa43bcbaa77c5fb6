"""Export a finished series from a store as a record: assets/recorded/series/NAME.json (series.export) and
NAME.md (its command, wall time, table and findings, every verdict from the bootstrap of the ratio of two d90).

    IDIM_HOME=/path/to/store python scripts/export_series.py NAME SERIES_ID "idim series ..." WALL_S "TITLE"
    python scripts/export_series.py --docs   # the recorded pairings' block in docs/results.md and how-to/series.md
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _f(v, fmt="{:.3f}"):
    return "–" if v is None else fmt.format(v)


def markdown(rec: dict, wall_s: int, title: str) -> str:
    from idim_core import series
    from idim_core.d90 import interval_text

    out = rec["series"]
    rows = []
    for e in out["entries"]:
        what = "none (from scratch)" if not e["pretrain_epochs"] else \
            f"{e['pretrain_epochs']} epochs of `{e['pretrain']}`"
        d90 = ("≈ " + f"{e['d90_interpolated']:,.0f}" if e.get("d90_status") == "found" and e.get("d90_interpolated")
               else {"not_reached": "> max d", "below_grid": "≤ smallest d"}.get(e.get("d90_status"), "–"))
        lr = e.get("source_lr")
        rows.append(f"| {what} | {_f(e.get('source_accuracy'), '{:.2f}')} | "
                    f"{_f(e.get('source_train_accuracy'), '{:.2f}')} | {lr if lr is not None else '–'} | "
                    f"{_f(e.get('dead_fraction'), '{:.2f}')} | "
                    f"{_f(e.get('baseline'))} | {_f(e.get('threshold'))} | {_f(e.get('probe_accuracy'))} | "
                    f"{d90} | {interval_text(e.get('d90_ci')) if e.get('d90_ci') else '–'} | "
                    f"{e.get('control') or ''} |")
    lines = series.findings(rec)
    runs = {e["pretrain"]: e.get("pretrain_runs") for e in out["entries"] if e.get("pretrain_runs")}
    return "\n".join([
        f"# Series: {title}", "",
        f"Recorded on this project's 2-core CPU ({wall_s} s for the {len(rec['runs'])} runs, another engineer's "
        "jobs sharing the cores):", "", f"    {rec['command']}", "",
        "Each seed pre-trains its own net (its own initialisation); each source at the rate best for its own "
        "objective on 20 % of its training images held out (1e-4, 3e-4, 1e-3, 3e-3: validation accuracy; the "
        "shuffled control: its training accuracy); z's rate and full training's are searched per seed on "
        "validation; the probe is a linear readout trained on each run's frozen start (test accuracy, mean over "
        "seeds). Dead units: the share of first-layer units never active on the target's training images.", "",
        f"target_from_source_labels: {str(out.get('target_from_source_labels')).lower()}", "",
        "| pre-training | source accuracy (held out) | source training accuracy | source rate | dead units | "
        "baseline | threshold | probe | d90 (interpolated) | 95 % interval | control |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        "Pre-training runs (one cache file per seed): "
        + "; ".join(f"`{s}`: {', '.join(v)}" for s, v in runs.items()), "",
        "What it shows (each change from one bootstrap of the ratio d90 after / d90 from scratch, \"shown\" only "
        "where its 95 % interval lies on one side of 1 at every bootstrap seed):", "",
        *[f"- {x}" for x in lines], ""])


START, END = "<!-- recorded pairings: scripts/export_series.py --docs -->", "<!-- end of the recorded pairings -->"
DOCS = [ROOT / "docs" / "results.md", ROOT / "docs" / "how-to" / "series.md"]


def docs_block() -> str:
    """Each recorded pairing (series.PAIRINGS): its record, command and findings, word for word."""
    from idim_core import series

    parts = [START, ""]
    for name in series.PAIRINGS:
        rec = series.recorded(name)
        if rec is None:
            continue
        parts += [f"`assets/recorded/series/{name}.md`:", "", f"    {rec['command']}", "",
                  *[f"- {x}" for x in series.findings(rec)], ""]
    return "\n".join(parts + [END])


def write_docs() -> None:
    block = docs_block()
    for p in DOCS:
        text = p.read_text(encoding="utf-8")
        if START not in text:
            raise SystemExit(f"{p}: no {START} line to fill")
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1] if END in rest else rest
        p.write_text(head + block + tail, encoding="utf-8")
        print(f"filled {p}")


def main(argv: list[str]) -> int:
    if argv == ["--docs"]:
        write_docs()
        return 0
    from idim_core import series
    from idim_core.store import Store, default_home

    name, sid, command, wall, title = argv
    rec = series.export(Store(default_home()), sid, command)
    d = series.RECORDED_SERIES
    (d / f"{name}.json").write_text(json.dumps(rec), encoding="utf-8")
    (d / f"{name}.md").write_text(markdown(rec, int(wall), title), encoding="utf-8")
    print(f"wrote {d / name}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
