"""A series: runs of runs, d90 against the amount of pre-training (and against the MLP's width).

``idim series --model mlp --task mnist5k:5-9 --pretrain mnist5k:0-4 --pretrain-epochs 0,10 --dims auto --seeds 3``
runs one ordinary run per amount (each with its own full-training baseline from its own starting state, as in
Aghajanyan et al. 2021) and prints, per amount, the run id, baseline, threshold, d90, its interval and status.

A series is not a new kind of record: each of its runs carries ``series`` in its config (the series' id, its
axis, its values and the settings it was started with), and ``runs_of`` lists them.  The id is a hash of the
settings, so the same command again finds the same series: finished amounts are kept, the rest (a run killed
half-way included) are resumed or started.  ``idim resume SERIES_ID`` does the same.

Amount 0 (from scratch) is the same run whatever the source: with several sources (``--control`` adds the
shuffled-label twin of the source) it is trained once.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys

from .errors import UserError

SERIES_RE = re.compile(r"s[0-9a-f]{11}")
PER_ENTRY = ("pretrain", "pretrain_epochs", "width", "series")
UNHASHED = ("device", "threads", "executor", "ray_address", "cpus_per_trial", "gpus_per_trial")


def parse_amounts(text, flag: str = "--pretrain-epochs", low: int = 0) -> list[int]:
    """'0,1,10' -> [0, 1, 10]: whole numbers of at least ``low``, in order, no repeats. Raises UserError."""
    items = [str(x) for x in text] if isinstance(text, (list, tuple)) else str(text).replace(";", ",").split(",")
    items = [t.strip() for t in items]
    if not items or all(not t for t in items):
        raise UserError(f"{flag} is empty; give a list such as " + ("0,1,10" if low == 0 else "50,100,200"))
    out = []
    for t in items:
        if not re.fullmatch(r"[+-]?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?", t):
            raise UserError(f"{flag} entry {t!r} is not a whole number written with the digits 0-9")
        v = float(t)
        if not math.isfinite(v) or v != int(v) or v < low:
            what = "a whole number of at least 0 (0: from scratch)" if low == 0 else f"a whole number of at least {low}"
            raise UserError(f"{flag} entry {t!r} must be {what}")
        if int(v) not in out:
            out.append(int(v))
    return sorted(out)


def plan(sources: list[str], amounts: list[int], widths: list[int | None]) -> list[dict]:
    """The series' entries: (source, amount, width), amount 0 once per width (it does not depend on the source)."""
    out = []
    for w in widths:
        for src in sources:
            for a in amounts:
                if a == 0 and src != sources[0]:
                    continue
                out.append({"pretrain": src, "pretrain_epochs": a, "width": w})
    return out


def series_id(base: dict, sources: list[str], amounts: list[int], widths: list) -> str:
    key = {k: v for k, v in base.items() if k not in PER_ENTRY and k not in UNHASHED}
    blob = json.dumps({"base": key, "sources": sources, "amounts": amounts, "widths": widths}, sort_keys=True,
                      default=str)
    return "s" + hashlib.sha1(blob.encode()).hexdigest()[:11]


MAX_RUNS = 40  # runs one series may hold: five amounts, two sources and four widths fit; 0,1,...,1000 does not
SERIES_ID_RE = __import__("re").compile(r"^s[0-9a-f]{11}$")


def cancel(store, sid: str) -> dict[str, str]:
    """Ask every run of series ``sid`` to stop: {run_id: the status it ends up with}; a one-line error for an
    unknown series."""
    runs = runs_of(store, sid)
    if not runs:
        raise UserError(f"no series {sid} in this store (see the Series page, or `idim ls`)")
    return {r["id"]: (store.request_cancel(r["id"]) if r["status"] in ("queued", "running") else r["status"])
            for r in runs}


def runs_of(store, sid: str) -> list[dict]:
    """The runs of series ``sid``, oldest first."""
    return [r for r in reversed(store.list_runs()) if isinstance(r["config"].get("series"), dict)
            and r["config"]["series"].get("id") == sid]


def list_series(store) -> list[dict]:
    """Every series in the store: id, axis values and its runs (newest series first)."""
    seen: dict[str, dict] = {}
    for r in store.list_runs():
        s = r["config"].get("series")
        if isinstance(s, dict) and s.get("id"):
            seen.setdefault(s["id"], {**s, "runs": []})["runs"].append(r["id"])
    return list(seen.values())


def _match(runs: list[dict], source: str | None, amount: int, width: int | None) -> dict | None:
    """The stored run of the series with this source, amount of pre-training and width, or None."""
    for r in runs:
        c = r["config"]
        if (c.get("pretrain"), int(c.get("pretrain_epochs") or 0), c.get("width")) == (source, amount, width):
            return r
    return None


def _owner_dead(owner: str | None) -> bool:
    """The run's owner was a process on this machine that is gone (killed): its run can be taken over at once."""
    import os
    import socket

    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host.split(":")[-1] != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def configs(overrides: dict, sources: list[str], amounts: list[int], widths: list) -> tuple[str, list[dict]]:
    """(series id, one checked run config per entry); every entry is checked before anything is stored."""
    from .runconfig import make_config

    if not sources:
        raise UserError("a series needs --pretrain, the source to pre-train on (such as mnist5k:0-4)")
    entries = plan(sources, amounts, widths)
    if len(entries) > MAX_RUNS:
        raise UserError(f"this series would queue {len(entries):,} runs ({len(sources)} source(s), {len(amounts)} "
                        f"amount(s), {len(widths or [None])} width(s)); a series holds at most {MAX_RUNS}: give "
                        "fewer amounts (such as 0,1,3,10,30)")
    # z's rate is searched in every run of a series, as the baseline's is (and as each source's is)
    cfgs = [make_config(**{**overrides, "lr_search": True, **e}) for e in entries]
    sid = series_id(cfgs[0].to_dict(), sources, amounts, widths)
    spec = {"id": sid, "axis": "width" if len(widths) > 1 else "pretrain_epochs", "sources": sources,
            "amounts": amounts, "widths": widths, "overrides": overrides}
    return sid, [c.but(series=spec) for c in cfgs]


def run(store, overrides: dict, sources: list[str], amounts: list[int], widths: list, progress=None,
        owner: str | None = None, log=None) -> dict:
    """Run (or resume) a series to the end; its summary."""
    from .runner import Runner
    from .store import owner_id

    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    owner = owner or owner_id()
    sid, cfgs = configs(overrides, sources, amounts, widths)
    existing = runs_of(store, sid)
    for i, cfg in enumerate(cfgs, 1):
        what = f"{cfg.pretrain_epochs} epochs of {cfg.pretrain}" if cfg.pretrain_epochs else "from scratch"
        if cfg.width:
            what += f", width {cfg.width}"
        run_ = _match(existing, cfg.pretrain, cfg.pretrain_epochs, cfg.width)
        if run_ is not None and run_["status"] == "done":
            log(f"series {sid} ({i}/{len(cfgs)}): {what}: run {run_['id']} finished earlier, kept")
            continue
        if run_ is None:
            rid = store.create_run(cfg, status="running", owner=owner)
            log(f"series {sid} ({i}/{len(cfgs)}): {what}: run {rid}")
        else:
            rid = run_["id"]
            if run_["status"] == "running" and _owner_dead(run_.get("owner")):
                store.mark_interrupted(rid)
                store.event(rid, "warning", "its process was killed; resumed by the series")
            elif run_["status"] == "running":
                raise UserError(f"run {rid} of series {sid} is being trained by another process "
                                f"({run_.get('owner')}); wait for it or cancel it")
            if run_["status"] != "queued":
                store.reopen(rid, force=run_["status"] == "cancelled")
            log(f"series {sid} ({i}/{len(cfgs)}): {what}: resuming run {rid} (finished trials kept)")
        if progress is not None:
            progress.method = cfg.method
        Runner(store, rid, progress, owner=owner).run()
    return summary(store, sid)


def parse_source_kind(text: str) -> str:
    from .pretrain import parse_source

    return parse_source(text).kind


def preflight_sources(cfgs: list, preflight) -> None:
    """``preflight`` once per distinct source (and width) of a series: each one's data must load."""
    seen = set()
    for cfg in cfgs:
        key = (cfg.pretrain, cfg.width)
        if key not in seen:
            seen.add(key)
            preflight(cfg)


def queue(store, overrides: dict, sources: list[str], amounts: list[int], widths: list, visitor: str | None = None,
          check=None) -> tuple[str, list[str]]:
    """The app's action: the series' missing runs queued for the background worker (which takes them oldest
    first, so in order); stopped ones queued again.  (series id, the run ids queued).  ``visitor``: the browser
    that queued it (served mode); ``check(n)``: called with the number of runs before any is stored (the served
    app's fair share)."""
    from .runconfig import preflight

    sid, cfgs = configs(overrides, sources, amounts, widths)
    if check is not None:
        check(len(cfgs))
    preflight_sources(cfgs, preflight)  # a source that cannot load is refused before any run is stored
    existing = runs_of(store, sid)
    out = []
    for cfg in cfgs:
        r = _match(existing, cfg.pretrain, cfg.pretrain_epochs, cfg.width)
        if r is None:
            out.append(store.create_run(cfg, status="queued", visitor=visitor))
        elif r["status"] in ("interrupted", "failed", "cancelled") and store.requeue(r["id"]):
            out.append(r["id"])
    return sid, out


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def pretrain_facts(pre: dict | None, kind: str | None) -> dict:
    """An entry's facts about its sources' training, from its run's summary (``pretrain``, one per seed)."""
    per = (pre or {}).get("per_seed") or ([pre] if pre else [])
    if not per:
        return {"pretrain_runs": None, "source_lr": None, "source_accuracy": None, "source_train_accuracy": None,
                "source_val_loss": None}
    lrs = [p.get("lr") for p in per]
    out = {"pretrain_runs": [p.get("file") for p in per],
           "source_lr": lrs[0] if len(set(lrs)) == 1 else lrs,
           "source_accuracy": None if kind == "denoise" else _mean([p.get("source_accuracy") for p in per]),
           "source_train_accuracy": _mean([p.get("source_train_accuracy") for p in per]),
           "source_val_loss": _mean([p.get("source_val_loss") for p in per]) if kind == "denoise" else None}
    if kind == "shuffled":  # the control fits its labels at every seed, or there is no control
        out["control"] = "fits its labels" if all(p.get("fits") for p in per) else "no control"
    return out


def summary(store, sid: str) -> dict:
    """Per entry of the series: its run, baseline, threshold, d90 with interval and status, the readout control
    (the linear probe on the frozen start) and the sources' facts."""
    from .pretrain import parse_source, target_from_source_labels
    from .results import result

    runs = runs_of(store, sid)
    if not runs:
        raise UserError(f"no series {sid} in {store.path}")
    spec = runs[0]["config"]["series"]
    task = runs[0]["config"]["task"]
    out = []
    for e in plan(spec["sources"], spec["amounts"], spec["widths"]):
        r = _match(runs, e["pretrain"], e["pretrain_epochs"], e["width"]) or \
            _match(runs, spec["sources"][0], e["pretrain_epochs"], e["width"])
        row = {"pretrain": e["pretrain"], "pretrain_epochs": e["pretrain_epochs"], "width": e["width"] or
               (200 if runs[0]["config"]["model"] == "mlp" else None)}
        if r is None:
            out.append({**row, "run_id": None, "status": "not started"})
            continue
        res = result(store, r["id"])
        summ = store.get_run(r["id"])["summary"] or {}
        pre = summ.get("pretrain") if e["pretrain_epochs"] else None
        kind = parse_source(e["pretrain"]).kind if e["pretrain_epochs"] else None
        probe, thr = res.get("probe_accuracy"), res.get("threshold")
        out.append({**row, "run_id": r["id"], "status": res["status"], "baseline": res.get("baseline_accuracy"),
                    "threshold": thr, "d90": res.get("d90"),
                    "d90_interpolated": res.get("d90_interpolated"), "d90_ci": res.get("d90_ci"),
                    "d90_status": res.get("d90_status"), "d90_upper": res.get("d90_upper"),
                    "seeds": runs[0]["config"].get("seeds"), "probe_accuracy": probe,
                    # the readout alone clears the threshold: d90 counts directions beyond the readout
                    "probe_clears": None if probe is None or thr is None else bool(probe >= thr),
                    "dead_fraction": summ.get("dead_fraction"), **pretrain_facts(pre, kind)})
    return {"series": sid, "model": runs[0]["config"]["model"], "task": task,
            "axis": spec["axis"], "sources": spec["sources"], "amounts": spec["amounts"], "widths": spec["widths"],
            "target_from_source_labels": any(target_from_source_labels(s, task) for s in spec["sources"]),
            "pairings": {s: target_from_source_labels(s, task) for s in spec["sources"]},
            "entries": out}


# ---------------------------------------------------------------------------
# the command line: `idim series` (registered by cli.build_parser)
# ---------------------------------------------------------------------------
def add_parser(sub, home, ascii_types) -> None:
    from .runconfig import cli_fields

    s = sub.add_parser("series", parents=[home], help="d90 against the amount of pre-training (or the mlp's width): "
                                                      "one run per amount, each with its own baseline")
    for f in cli_fields():
        if f.name in ("pretrain", "pretrain_epochs", "width"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.metadata["type"] is bool:
            s.add_argument(flag, action="store_true", default=None, help=f.metadata["help"])
        else:
            s.add_argument(flag, type=ascii_types.get(f.metadata["type"]), choices=f.metadata["choices"],
                           help=f.metadata["help"])
    s.add_argument("--pretrain", action="append", help="the source (repeat for several): mnist5k:0-4, "
                                                       "mnist5k:0-4:shuffled, mnist5k:denoise, mnist5k@a:rotation, "
                                                       "mnist5k@a ...")
    s.add_argument("--control", action="store_true", help="add the shuffled-label twin of each supervised source")
    s.add_argument("--pretrain-epochs", default="0,10", help="comma-separated amounts of pre-training in epochs "
                                                             "(0: from scratch; default 0,10)")
    s.add_argument("--widths", help="mlp: comma-separated hidden widths (each with every amount)")
    s.add_argument("--json", action="store_true", help="print the series as one JSON object")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_series)


def sources_of(args) -> list[str]:
    from .pretrain import parse_source

    srcs = list(dict.fromkeys(args.pretrain or []))
    if getattr(args, "control", False):
        for t in list(srcs):
            src = parse_source(t)
            if src.kind == "supervised" and f"{src.task}:shuffled" not in srcs:
                srcs.append(f"{src.task}:shuffled")
    return srcs


def cmd_series(args) -> int:
    from .console import Progress, _owner, _store
    from .runconfig import cli_fields

    overrides = {f.name: getattr(args, f.name) for f in cli_fields() if hasattr(args, f.name)
                 and f.name not in ("pretrain", "pretrain_epochs", "width")}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    amounts = parse_amounts(args.pretrain_epochs)
    widths = parse_amounts(args.widths, "--widths", low=1) if args.widths else [None]
    sources = sources_of(args)
    from .runconfig import preflight

    preflight_sources(configs(overrides, sources, amounts, widths)[1], preflight)  # checked before anything is stored
    return _finish(_store(args), overrides, sources, amounts, widths, args, Progress(quiet=args.quiet), _owner())


def _finish(store, overrides, sources, amounts, widths, args, prog, owner) -> int:
    import contextlib

    try:
        with contextlib.redirect_stdout(sys.stderr):
            out = run(store, overrides, sources, amounts, widths, prog, owner,
                      log=(lambda m: None) if args.quiet else None)
    except KeyboardInterrupt:
        sid = configs(overrides, sources, amounts, widths)[0]
        for r in runs_of(store, sid):
            if r["status"] == "running" and r.get("owner") == owner:
                store.mark_interrupted(r["id"])
        print(f"idim: interrupted; finished amounts are kept. Resume with the same command or: idim resume {sid}",
              file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(out))
    else:
        print_series(out, store)
    return 0 if all(e["status"] == "done" for e in out["entries"]) else 1


def resume(args) -> int:
    """`idim resume SERIES_ID`: the series' own settings, run again (finished amounts kept)."""
    from .console import Progress, _owner, _store

    store = _store(args)
    runs = runs_of(store, args.run_id)
    if not runs:
        raise UserError(f"no series {args.run_id} in {store.path} (see `idim ls`)")
    spec = runs[0]["config"]["series"]
    return _finish(store, spec["overrides"], spec["sources"], spec["amounts"], spec["widths"], args,
                   Progress(quiet=getattr(args, "quiet", False)), _owner())


def print_series(out: dict, store=None) -> None:
    from .d90 import short

    print(f"series {out['series']}: {out['model']} on {out['task']}")
    print(f"{'source':26}  {'epochs':>6}  {'width':>5}  {'run':12}  {'base':>5}  {'thr':>5}  {'d90':>13}  "
          f"{'95 % interval':>17}  {'probe':>5}")
    for e in out["entries"]:
        if e.get("run_id") is None:
            print(f"{e['pretrain'][:26]:26}  {e['pretrain_epochs']:>6}  {str(e['width'] or ''):>5}  not started")
            continue
        ci = e.get("d90_ci") or None
        ci_txt = "-" if not ci else (f"{ci[0]:,.0f}" if ci[0] is not None else "?") + " - " + \
            (f"{ci[1]:,.0f}" if ci[1] is not None else "more")
        base = "-" if e["baseline"] is None else f"{e['baseline']:.3f}"
        thr = "-" if e["threshold"] is None else f"{e['threshold']:.3f}"
        d90 = short({"d90": e["d90"], "d90_interpolated": e["d90_interpolated"], "d90_status": e["d90_status"],
                     "d90_upper": e.get("d90_upper")}).replace("—", "-")
        src = "(from scratch)" if not e["pretrain_epochs"] else e["pretrain"]
        print(f"{src[:26]:26}  {e['pretrain_epochs']:>6}  {str(e['width'] or ''):>5}  {e['run_id']:12}  {base:>5}  "
              f"{thr:>5}  {d90:>13}  {ci_txt:>17}  "
              + ("-" if e.get("probe_accuracy") is None else f"{e['probe_accuracy']:.3f}").rjust(5))
    for line in verdict(out, store_results(store, out) if store is not None else None):
        print(line)


def export(store, sid: str, command: str | None = None) -> dict:
    """A series as one JSON object (assets/recorded/series/): its summary and every run's public result."""
    from .results import public, result

    out = summary(store, sid)
    return {"command": command, "series": out,
            "runs": {e["run_id"]: public(result(store, e["run_id"])) for e in out["entries"] if e.get("run_id")}}


def _cell(e: dict) -> str:
    from .d90 import interval_text, short

    ci = e.get("d90_ci")
    txt = short({"d90": e.get("d90"), "d90_interpolated": e.get("d90_interpolated"), "d90_status": e.get("d90_status"),
                 "d90_upper": e.get("d90_upper")})
    if ci and e.get("d90_status") in ("found", "below_grid"):
        txt += f" (95 % interval {interval_text(ci)})"
    return txt


_RECOMPUTED: dict[str, dict] = {}


def recorded_results(rec: dict) -> dict:
    """{run_id: result} of a recorded series' runs, their d90 facts re-derived from their points (the bootstraps
    once per version of the record in a process, not at every page render)."""
    import copy

    from .results import recompute

    runs = rec.get("runs") or {}
    key = hashlib.sha256(json.dumps(runs, sort_keys=True, default=str).encode()).hexdigest()
    if key not in _RECOMPUTED:
        _RECOMPUTED[key] = {rid: recompute(r) for rid, r in runs.items()}
    return copy.deepcopy(_RECOMPUTED[key])


def store_results(store, out: dict) -> dict:
    """{run_id: result} of a series' runs in the store."""
    from .results import result

    return {e["run_id"]: result(store, e["run_id"]) for e in out["entries"] if e.get("run_id")}


def verdict(out: dict, results: dict | None = None, name=str) -> list[str]:
    """What a series shows: per source, from scratch against its largest amount, at each width, from one bootstrap
    of the ratio d90 after / d90 from scratch (``results``: {run_id: result}, see ``recorded_results`` and
    ``store_results``): "lower" or "higher" only where its 95 % interval lies on one side of 1 at every bootstrap
    seed 0-19, else "no change shown".  ``name`` words a source (the app passes plain task names)."""
    from .results import pair, ratio_text

    results = results or {}
    lines = []
    widths = out.get("widths") or [None]
    for w in widths:
        rows = [e for e in out["entries"] if e.get("run_id") and (w is None or e.get("width") == w)]
        scratch = next((e for e in rows if not e["pretrain_epochs"]), None)
        if scratch is None:
            continue
        at = f" (width {w})" if w else ""
        if scratch.get("probe_clears") is not None:  # the readout of the random start, the reference of every source
            lines.append(f"from scratch{at}: the linear probe on the random start "
                         + ("already clears" if scratch["probe_clears"] else "stays below")
                         + f" the threshold ({scratch['probe_accuracy']:.3f} against {scratch['threshold']:.3f})")
        for src in out["sources"]:
            mine = [e for e in rows if e["pretrain"] == src and e["pretrain_epochs"]]
            if not mine:
                continue
            last = max(mine, key=lambda e: e["pretrain_epochs"])
            head = (f"{name(src)}{at}: d90 {_cell(scratch)} from scratch, {_cell(last)} after "
                    f"{last['pretrain_epochs']} epochs")
            ra, rb = results.get(last["run_id"]), results.get(scratch["run_id"])
            if ra is None or rb is None or last.get("d90_status") not in ("found", "below_grid", "not_reached") \
                    or scratch.get("d90_status") not in ("found", "below_grid"):
                lines.append(head + ": no comparison (a run without a d90)")
            else:
                pr = pair(ra, rb)
                ratio = f"ratio after / from scratch {ratio_text(pr)}"
                if last.get("d90_status") == "not_reached":  # no point ratio: only how large it is at least
                    lo = pr["ratio_ci"][0]
                    ratio = "the pre-trained run never reaches the threshold" + (
                        f", ratio after / from scratch at least {lo:.2f}" if lo else "")
                lines.append(head + {"a lower": f": lower ({ratio}): shown",
                                     "b lower": f": higher ({ratio}): shown"}.get(pr["verdict"],
                                                                                f": {ratio}: no change shown"))
            if last.get("control") == "no control":
                lines.append(f"{name(src)}{at}: no control (its shuffled labels were never fitted: source training "
                             f"accuracy {last.get('source_train_accuracy') or 0:.2f} after {last['pretrain_epochs']} "
                             "epochs at the rate that fits them best)")
            if last.get("probe_clears"):
                lines.append(f"{name(src)}{at}: the linear probe on the frozen pre-trained start already clears the "
                             f"threshold ({last['probe_accuracy']:.3f} against {last['threshold']:.3f}) after "
                             f"{last['pretrain_epochs']} epochs: its d90 counts directions beyond the readout")
            elif last.get("probe_clears") is False:
                lines.append(f"{name(src)}{at}: the linear probe on the frozen pre-trained start stays below the "
                             f"threshold ({last['probe_accuracy']:.3f} against {last['threshold']:.3f}) after "
                             f"{last['pretrain_epochs']} epochs")
            found = sorted((e for e in [scratch, *mine]
                            if e.get("d90_status") == "found" and e.get("d90_interpolated")),
                           key=lambda e: e["pretrain_epochs"])
            if len(found) >= 3:  # the point estimates across amounts: a direction, which the intervals may not settle
                vals = [e["d90_interpolated"] for e in found]
                way = ("falls at every amount" if all(b < a for a, b in zip(vals, vals[1:])) else
                       "rises at every amount" if all(b > a for a, b in zip(vals, vals[1:])) else "no single direction")
                lines.append(f"{name(src)}{at}, the estimates by epochs of pre-training: "
                             + ", ".join(f"{e['pretrain_epochs']}: ≈ {e['d90_interpolated']:,.0f}" for e in found)
                             + (f" ({way}: a direction; whether it is a change, the ratio above says)"
                                if way != "no single direction" else " (no single direction)"))
    return lines


# The recorded pairings of issue 49 (per-seed pre-training, each source at its own rate, z's rate searched, the
# readout control), in the order Learn, the lesson and docs/results.md tell them.
PAIRINGS = ("pretrain-digits-to-ge5", "pretrain-rotation-to-digits", "pretrain-0-4-to-5-9", "pretrain-0-4-to-5-9-30")


def pairing_sentence(out: dict, name=str) -> str:
    """What a series' pairing can show: its sources, its target, and whether the target's labels are a function
    of a source's labels (then a readout of the pre-trained features may be all that lowers d90)."""
    from .pretrain import parse_source, target_from_source_labels

    real = [s for s in out["sources"] if parse_source(s).kind != "shuffled"]
    ctl = [s for s in out["sources"] if parse_source(s).kind == "shuffled"]
    src = " and ".join(name(s) for s in real)
    tfs = any(target_from_source_labels(s, out["task"]) for s in real)
    return (f"{src} -> {name(out['task'])}" + (f" (control: {', '.join(name(s) for s in ctl)})" if ctl else "")
            + (": the target's labels are a function of the source's labels, so a readout of what the source "
               "taught may be enough (the probe says whether it is)" if tfs else
               ": the target's labels are not a function of the source's labels"))


def findings(rec: dict, name=str) -> list[str]:
    """A recorded series' pairing sentence and its verdict lines (each change from the bootstrap of the ratio)."""
    return [pairing_sentence(rec["series"], name)] + verdict(rec["series"], recorded_results(rec), name)


RECORDED_SERIES = __import__("pathlib").Path(__file__).resolve().parent.parent / "assets" / "recorded" / "series"


def recorded(name: str | None = None) -> dict | None:
    """A recorded series (assets/recorded/series/NAME.json; the first one when no name is given), or None."""
    files = sorted(RECORDED_SERIES.glob("*.json")) if RECORDED_SERIES.is_dir() else []
    if name is not None:
        files = [f for f in files if f.stem == name]
    return json.loads(files[0].read_text(encoding="utf-8")) if files else None
