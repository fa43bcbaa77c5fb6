"""The `idim` command line: run sweeps and read the run store.

Every command works on the same SQLite store as the app ($IDIM_HOME, or --home).
Bad input exits 2 with one line on stderr; nothing already stored is changed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import executors
from .errors import UserError
from .runconfig import DEFAULTS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _ascii(kind):
    """An argparse type that reads numbers written with the ASCII digits 0-9 only (int() and float() also take
    Arabic-Indic and other Unicode digits, and 1_000)."""
    import re

    pattern = re.compile(r"[+-]?[0-9]+" if kind is int else
                         r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|nan)", re.I)

    def convert(text: str):
        if not pattern.fullmatch(text.strip()):
            raise ValueError(text)
        return kind(text)

    convert.__name__ = kind.__name__  # argparse says "invalid int value: 'x'"
    return convert


_INT, _FLOAT = _ascii(int), _ascii(float)


def _NONNEG(text: str) -> int:
    """A whole number from 0 to 2**32 - 1 (a bootstrap seed)."""
    v = _INT(text)
    if not 0 <= v < 2 ** 32:
        raise ValueError(text)
    return v


_NONNEG.__name__ = "seed"
MIN_POLL = 0.1  # seconds: the shortest wait between two looks at the queue (0 would spin a CPU core)
MAX_POLL = 3600.0  # seconds: longer, and a queued run would wait hours for a worker that is running
MAX_LIMIT = 1_000_000  # `idim ls --limit`: SQLite takes 64-bit integers only


def _fmt_acc(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _fmt_d(v) -> str:
    return "-" if v is None else f"{v:,}"


from .console import Progress, _owner, _store  # noqa: E402  (shared with `idim series`)


def print_table(res: dict, out=sys.stdout) -> None:
    w = lambda s="": print(s, file=out)  # noqa: E731
    from .ui.views import levels_text  # an adapter run by its own axis (ranks, one point): it has no projection

    how = f"{res['projection']} projection" if res.get("axis", "d") == "d" else levels_text(res)
    w(f"run {res['run_id']}  [{res['status']}]  {res['model']} on {res['task']}, {res['method'].upper()}, {how}"
      + (f", D = {res['D']:,}" if res.get("D") else ""))
    from .classic import is_classic_model

    word = "full training" if is_classic_model(res["model"]) else "full fine-tuning"
    rule = "floor" if res.get("threshold_rule") == "floor" else "0.9 x"
    w(f"{word} accuracy: {_fmt_acc(res['baseline_accuracy'])}   threshold ({rule}): {_fmt_acc(res['threshold'])}"
      + (f"   chance: {res['chance']:.3f}   majority: {res['majority']:.3f}" if res.get("chance") else ""))
    from .d90 import threshold_note

    if threshold_note(res):
        w("note: " + threshold_note(res))
    bases = res.get("baseline_accuracies") or []
    if len(bases) > 1:
        w(f"{word} over {len(bases)} seeds: " + ", ".join(f"{b:.3f}" for b in bases)
          + f"   (std {res['baseline_std']:.3f})")
    if res.get("d90_status") == "baseline_at_floor":
        w("warning: full fine-tuning is not clearly above always guessing (chance or the majority class, plus "
          "two standard errors of the test set): the model did not learn this task with this budget, so there is "
          "no d90; give the baseline a larger budget (--epochs, --max-train, --lr-full, chosen on validation)")
    w()
    axis = res.get("axis", "d")
    params = {p["d"]: p.get("params") for p in res["points"]}
    from .methods import level_name, level_word

    head = {"d": "d", "single": "method"}.get(axis) or (
        level_word(res["method"]) if len(level_word(res["method"])) <= 10 else level_name(res["method"]))
    w(f"{head:>10}  {'params':>10}  {'accuracy':>8}  {'std':>6}  {'seeds':>5}  reached")
    for r in res["by_d"]:
        reached = ("" if r["mean"] is None or res["threshold"] is None
                   else ("yes" if r["mean"] >= res["threshold"] else "no"))
        extra = f"  ({r['diverged']} diverged)" if r["diverged"] else ""
        level = res["method"] if axis == "single" else f"{r['d']:,}"
        w(f"{level:>10}  {_fmt_d(params.get(r['d'])):>10}  {_fmt_acc(r['mean']):>8}  "
          f"{_fmt_acc(r['std']) if r['n'] > 1 else '':>6}  {r['n']:>5}  {reached}{extra}")
    w()
    from .d90 import describe

    w(describe(res))  # the sentence every face shares
    if res.get("seconds"):
        w(f"wall time: {res['seconds']:.0f} s on {res.get('device') or '?'}")
    if res.get("error"):
        w(f"error: {res['error']}")


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------
def _config_from_args(args) -> dict:
    """The run's configuration: the flags given, over the preset's settings (--preset), over the defaults."""
    from .runconfig import cli_fields, make_config, preset

    given = {f.name: getattr(args, f.name) for f in cli_fields()}
    base = preset(getattr(args, "preset", None))
    return make_config(**{**base, **{k: v for k, v in given.items() if v is not None or k not in base}})


def _execute(store, run_id: str, args) -> int:
    from .results import result
    from .runner import Runner

    prog = Progress(quiet=args.quiet)
    prog.method = store.require_run(run_id)["config"].get("method") or DEFAULTS["method"]
    import contextlib

    try:
        # stdout carries only the result (JSON or the table); libraries that print while training
        # (Ray's raylet messages, for one) go to stderr with the progress
        with contextlib.redirect_stdout(sys.stderr):
            Runner(store, run_id, prog, owner=_owner()).run()
    except KeyboardInterrupt:
        from .store import LostRun

        try:  # the event first: once interrupted, the run is no longer this process's to write
            store.event(run_id, "warning", "interrupted from the terminal; `idim resume` continues it")
        except LostRun:
            pass
        store.mark_interrupted(run_id)
        print(f"idim: interrupted; finished trials are kept. Resume with: idim resume {run_id}", file=sys.stderr)
        return 130
    res = result(store, run_id)
    if args.json:
        print(json.dumps(_public(res)))
    else:
        print_table(res)
    return 0 if res["status"] in ("done", "cancelled") else 1


def _public(res: dict) -> dict:
    from .results import public

    return public(res)


def cmd_run(args) -> int:
    from .runconfig import budget_warnings, preflight

    cfg = _config_from_args(args)
    preflight(cfg)
    for w in budget_warnings(cfg):  # a run that cannot learn still runs, but not without a word
        print(f"idim: warning: {w}", file=sys.stderr)
    store = _store(args)
    if args.queue:
        run_id = store.create_run(cfg, status="queued")
        print(json.dumps({"run_id": run_id, "status": "queued"}) if args.json
              else f"queued run {run_id}; a worker (`idim worker`) will train it")
        return 0
    line = None if args.quiet else _estimate_line(store, cfg)
    if line:
        print(line, file=sys.stderr)
    run_id = store.create_run(cfg, status="running", owner=_owner())
    print(f"run {run_id} (store: {store.path})", file=sys.stderr)
    return _execute(store, run_id, args)


def _estimate_line(store, cfg) -> str | None:
    """The estimate Explore shows, before a foreground run starts: its seconds and where its speed comes from
    (None when it cannot be made: an estimate is never worth failing a run)."""
    from .prep import pick_device
    from .runconfig import shared_baseline
    from .ui import estimates

    try:
        device = pick_device(cfg.device)
        shared = shared_baseline(store, cfg, device, range(int(cfg.seeds)))
        guess = estimates.estimate(store, cfg, device, baseline=shared is None)
    except Exception:  # noqa: BLE001 - see above
        return None
    busy = f" The machine is busy ({guess['busy']}): expect longer." if guess["busy"] else ""
    return (f"estimate: about {estimates.fmt_seconds(guess['seconds'])} on {device}, "
            + estimates.basis_text(guess, cfg.model) + busy)


def cmd_resume(args) -> int:
    from .series import SERIES_RE
    from .series import resume as resume_series

    if isinstance(args.run_id, str) and SERIES_RE.fullmatch(args.run_id):  # a series (`idim series`): its runs
        return resume_series(args)
    store = _store(args)
    run = store.require_run(args.run_id)
    if run["status"] in ("done", "cancelled") and not args.force:
        raise UserError(f"run {args.run_id} is {run['status']}; nothing to resume "
                        "(use --force to run its missing trials anyway)")
    if run["status"] == "running":
        raise UserError(f"run {args.run_id} is running in another process ({run.get('owner')}); cancel it first")
    from .runconfig import check_data_unchanged

    check_data_unchanged(run)  # a CSV task whose file changed: refused before anything is changed
    if run["status"] != "queued":
        store.reopen(args.run_id, force=args.force)
    return _execute(store, args.run_id, args)


def cmd_ls(args) -> int:
    from .d90 import short
    from .results import methods_axis, result

    def short_d90(row):
        return short({**row, "d90_upper": row["d90"]}).replace("—", "-")

    if args.limit is not None and not 1 <= args.limit <= MAX_LIMIT:
        raise UserError(f"--limit must be a whole number from 1 to {MAX_LIMIT:,}, got {args.limit}")
    store = _store(args)
    runs = store.list_runs(args.limit)
    rows = []
    for r in runs:
        res = result(store, r["id"], ci=False)
        rows.append({k: res[k] for k in ("run_id", "status", "model", "task", "method", "projection",
                                          "baseline_accuracy", "d90", "d90_interpolated", "d90_status", "created")}
                    | {"trials": len(res["points"])})
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no runs yet in {store.path}; start one with `idim run`")
        return 0
    # the task column as wide as the longest task (mnist5k:ge5@b, not mnist5k:ge); an adapter has no projection
    tw = max(4, min(40, max(len(r["task"]) for r in rows)))
    print(f"{'run':12}  {'status':11}  {'model':20}  {'task':{tw}}  {'method':9}  {'proj':8}  {'trials':>6}  "
          f"{'base':>5}  {'d90':>13}  created")
    for r in rows:
        task = r["task"] if len(r["task"]) <= tw else r["task"][:tw - 1] + "…"
        proj = r["projection"] if methods_axis(r["method"]) == "d" else "-"
        print(f"{r['run_id']:12}  {r['status']:11}  {r['model'][:20]:20}  {task:{tw}}  {r['method']:9}  {proj:8}  "
              f"{r['trials']:>6}  {_fmt_acc(r['baseline_accuracy']):>5}  {short_d90(r):>13}  "
              f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(r['created']))}")
    return 0


def cmd_show(args) -> int:
    from .results import result

    store = _store(args)
    store.require_run(args.run_id)
    res = result(store, args.run_id, ci_seed=args.ci_seed)
    if args.json:
        print(json.dumps(_public(res)))
    else:
        print_table(res)
        for e in store.events(args.run_id, 8):
            print(f"  {time.strftime('%H:%M:%S', time.localtime(e['t']))} {e['level']:7} {e['message']}")
    return 0




def cmd_compare(args) -> int:
    from .d90 import p90_short
    from .results import comparison, result
    from .ui.views import ratio_cell

    store = _store(args)
    for rid in args.run_ids:
        store.require_run(rid)
    results = [result(store, rid) for rid in dict.fromkeys(args.run_ids)]
    cmp = comparison(results)
    ref_d90 = next((r["d90_interpolated"] for r in results if r["run_id"] == cmp["d90_reference"]), None)
    if args.json:
        print(json.dumps(cmp))
        return 0
    print(f"{'run':12}  {'method':7}  {'model':18}  {'task':10}  {'params at 90 %':>16}  {'95 % interval':>19}  "
          f"{'x d90':>7}  {'s/trial':>7}  {'peak MB':>7}")
    for r in cmp["rows"]:
        p90 = p90_short(r) or "-"
        ci = r["p90_ci"]
        ci_txt = "-" if not ci else ((f"{ci[0]:,.0f}" if ci[0] is not None else "?") + " - "
                                     + (f"{ci[1]:,.0f}" if ci[1] is not None else "more"))
        ratio = ratio_cell(r, ref_d90, none="-")  # as on Compare: <= and > where only one end is measured
        secs = f"{r['seconds_per_trial']:.0f}" if r["seconds_per_trial"] else "-"
        mem = f"{r['peak_mb']:.0f}" if r["peak_mb"] else "-"
        print(f"{r['run_id']:12}  {r['method']:7}  {r['model'][:18]:18}  {r['task'][:10]:10}  {p90:>16}  {ci_txt:>19}  "
              f"{ratio:>7}  {secs:>7}  {mem:>7}")
    from .results import pair_sentence

    names = {r["run_id"]: f"{r['run_id']} ({r['model']}, {r['task']})" for r in results}
    for pr in cmp["pairs"]:
        print(pair_sentence(pr, names))
    if not cmp["same_budget"]:
        print("note: these runs differ in model, task or budget (epochs, examples, seeds): the comparison is not fair")
    if cmp["d90_reference"]:
        print(f"x d90: the 90 % point divided by the d90 of run {cmp['d90_reference']}")
    return 0


def cmd_methods(args) -> int:
    from . import methods

    rows = [{"name": n, "axis": m.AXIS, "label": m.LABEL, "lr": m.LR,
             "level": methods.level_word(n) or None, "default_ranks": methods.DEFAULT_RANKS.get(n),
             "requires": list(m.REQUIRES)}
            for n, m in methods.REGISTRY.items()]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            extra = (f"  (default {r['level']}s {','.join(map(str, r['default_ranks']))})" if r["default_ranks"]
                     else "") + (f"  lr {r['lr']:g}" if r["lr"] else "")
            print(f"{r['name']:9} {r['label']}{extra}")
    return 0


def cmd_export(args) -> int:
    from .results import export_csv, result

    store = _store(args)
    store.require_run(args.run_id)
    res = result(store, args.run_id)
    text = export_csv(res) if args.format == "csv" else json.dumps(_public(res), indent=2) + "\n"
    if args.output and args.output != "-":
        from pathlib import Path

        out = Path(args.output).expanduser()
        if len(args.output) > 1024:
            raise UserError(f"-o is {len(args.output):,} characters long; the limit is 1,024")
        if not out.parent.is_dir():
            raise UserError(f"cannot write {out.name}: the folder {out.parent} does not exist")
        if out.is_dir():
            raise UserError(f"cannot write to {out}: it is a folder; give a file name, such as {out / 'run.csv'}")
        try:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise UserError(f"cannot write {out.name}: {_os_reason(e)}") from None
    else:
        sys.stdout.write(text)
    return 0


def cmd_cancel(args) -> int:
    from . import series

    store = _store(args)
    if series.SERIES_ID_RE.match(args.run_id):  # a series id (s + 11 hex digits): every run of it
        states = series.cancel(store, args.run_id)
        for rid, state in states.items():
            print(f"run {rid}: {state}")
        print(f"series {args.run_id}: {len(states)} run(s)")
        return 0
    state = store.request_cancel(args.run_id)
    print(f"run {args.run_id}: {state}")
    return 0


def cmd_models(args) -> int:
    from .models import list_models

    models = list_models()
    if args.json:
        print(json.dumps(models))
    else:
        for m in models:
            if m.get("needs_download"):
                continue
            print(f"{m['name']:22} {m['params']:>12,} params  {m['layers']} layers  {m['description']}")
        print("\nKnown to work, from the Hugging Face hub (need a download once; use the id as --model):")
        for m in models:
            if m.get("needs_download"):
                print(f"{m['name']:26} {m['params']:>12,} params  {m['layers']} layers  {m['description']}")
        print("\nAlso: any other Hugging Face model id or a local model directory.")
    return 0


def cmd_tasks(args) -> int:
    from .tasks import list_tasks, resolve, task_stats

    if args.max_length < 8:
        raise UserError("--max-length must be at least 8")
    if args.name:
        spec = resolve(args.name)
        tasks = [{**spec.to_dict(), **task_stats(args.name, args.max_length, 0, args.text_column,
                                                 args.text_pair_column, args.label_column)}]
    else:
        tasks = [{**t, **task_stats(t["name"], args.max_length)} for t in list_tasks()]
    if args.json:
        print(json.dumps(tasks))
        return 0
    print(f"{'task':12} {'classes':>7} {'train/val/test':>16} {'chance':>6} {'major.':>6} {'tokens':>6}  about")
    for t in tasks:
        sp = t.get("splits")
        sizes = f"{sp['train']}/{sp['val']}/{sp['test']}" if sp else "download"
        tok = f"{t['avg_tokens']:.0f}" if t.get("avg_tokens") else ("image" if t["source"] == "image" else "-")
        maj = f"{t['majority']:.2f}" if t.get("majority") is not None else "-"
        chance = f"{t['chance']:.2f}" if t.get("chance") else "-"
        print(f"{t['name']:12} {t['num_labels'] or '?':>7} {sizes:>16} {chance:>6} {maj:>6} {tok:>6}  "
              f"{t['description']}")
    if not args.name:
        from .sources import file_sources

        hints = [src.HINT or f"{src.PREFIX}PATH" for src in file_sources()]  # csv:PATH, parquet:PATH ...
        print(f"\nAlso: {' or '.join(hints)} with columns text[,text_pair],label (see --text-column etc.); "
              f"`idim tasks {hints[0]}` shows its statistics." if hints else "")
    return 0


def cmd_worker(args) -> int:
    import math

    from .worker import main as worker_main

    if not math.isfinite(args.poll) or not MIN_POLL <= args.poll <= MAX_POLL:
        raise UserError(f"--poll must be from {MIN_POLL:g} to {MAX_POLL:g} seconds (the wait between two looks at "
                        f"the queue), got {args.poll:g}")
    return worker_main(home=args.home, once=args.once, poll=args.poll)


def cmd_bench(args) -> int:
    from . import bench

    _check_bench_args(args)
    if args.what == "step":
        return _bench_step(args, bench)
    from .runconfig import preset

    overrides = preset(args.preset)
    if args.dims:
        overrides["dims"] = args.dims
    if args.model:
        overrides["model"] = args.model
    if args.task:
        overrides["task"] = args.task
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    if args.claims_facts:
        overrides["claims_facts"] = True
    if args.executor != executors.DEFAULT:  # both executors in one command, the default first, the same sweep
        return _bench_two_executors(args, bench, overrides)
    out = bench.sweep_bench(load=args.load, **overrides)
    if args.json:
        print(json.dumps(out))
    else:
        _print_sweep_bench(out, bench)
    return 0


def _check_bench_args(args) -> None:
    """`idim bench`'s values in range, its device known (args.device normalised in place)."""
    from .runconfig import MAX_TEXT, check_device, check_device_name

    if args.model and len(args.model) > MAX_TEXT:
        raise UserError(f"--model is {len(args.model):,} characters long; the limit is {MAX_TEXT:,}")
    args.device = check_device_name(args.device)
    check_device(args.device)
    for flag, v, lo, hi in (("--batch", args.batch, 1, 4096), ("--seq", args.seq, 1, 4096),
                            ("--pairs", args.pairs, 1, 1000), ("--threads", args.threads, 1, 1024),
                            ("--seeds", args.seeds, 1, 100), ("--dim", args.dim, 1, 10**9),
                            ("--load", args.load, 0, 64)):
        if v is not None and not lo <= v <= hi:
            raise UserError(f"{flag} must be a whole number from {lo:,} to {hi:,}, got {v}")


def _bench_step(args, bench) -> int:
    """`idim bench step`: full vs subspace step time (and memory)."""
    out = bench.step_bench(args.model or "minilm-l6", args.method, args.projection, args.dim, args.batch, args.seq,
                           args.pairs, device=args.device, threads=args.threads, memory=not args.no_memory)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['model']} {out['method']} {out['projection']} d={out['dim']:,} "
          f"batch {out['batch']}x{out['seq']} on {out['device']} ({out['threads']} threads), "
          f"{out['pairs']} interleaved pairs")
    print(f"  full fine-tuning step   {out['full_step_s']:.3f} s (median)")
    print(f"  subspace step           {out['subspace_step_s']:.3f} s (median)")
    print(f"  ratio (median of pairs) {out['ratio']:.2f}; {out['ratio_verdict']}")
    if out["projection"] == "fastfood":
        print(f"  Fastfood's passes: {out['fastfood_native']['why']}")
    print(f"  the machine: {bench.steal_words(out['steal_share'])}")
    if "full_peak_mib" in out:
        print(f"  peak memory: full {out['full_peak_mib']:.0f} MiB, "
              f"subspace {out['subspace_peak_mib']:.0f} MiB "
              f"(ratio {out['subspace_peak_mib'] / out['full_peak_mib']:.2f})")
    return 0


def _bench_two_executors(args, bench, overrides: dict) -> int:
    """`idim bench sweep --executor X`: the same sweep on the default executor, then on X; both wall times."""
    import contextlib

    a, b = executors.DEFAULT, args.executor
    with contextlib.redirect_stdout(sys.stderr):
        first = bench.sweep_bench(load=args.load, **overrides)
        other = bench.sweep_bench(load=args.load, **overrides, executor=b)
    pts = lambda o: [(t["d"], t["seed"], t["accuracy"]) for t in sorted(  # noqa: E731
        o["trials"], key=lambda t: (t["kind"], t["d"] or 0, t["seed"]))]
    out = {f"{a}_wall_s": first["wall_s"], f"{b}_wall_s": other["wall_s"],
           "ratio": other["wall_s"] / first["wall_s"], "same_accuracies": pts(first) == pts(other),
           a: first, b: other}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"sweep on {first['config']['task']}: {a} {first['wall_s']:.1f} s, {b} {other['wall_s']:.1f} s "
              f"(ratio {b} / {a} {out['ratio']:.2f}); same accuracies: {out['same_accuracies']}")
    return 0


def _print_sweep_bench(out: dict, bench) -> None:
    """`idim bench sweep`'s result in words."""
    print(f"default sweep: {out['wall_s']:.0f} s wall, "
          f"first point after {out['first_point_s'] or float('nan'):.0f} s, "
          f"baseline {out['baseline_accuracy']:.3f}, d90 {out['d90']}")
    lo, hi = out["estimate_range_s"]
    print(f"estimate before it: {out['estimate_s']:.0f} s, shown as {lo:.0f} - {hi:.0f} s "
          f"({out['estimate_error']:+.0%} of the wall time; calibration "
          f"{out['calibration']['seconds_per_step']:.3f} s per full step); the length Live showed swung at most "
          f"{out['estimate_swings']:.2f}x in the first minute" + (f"; {out['load']} busy processes beside it"
                                                                   if out["load"] else ""))
    print(f"the machine: {bench.steal_words(out['steal_share'])}")
    for t in out["trials"]:
        print(f"  {t['kind']:9} d={t['d'] or '-':>6} seed {t['seed']}: {t['seconds']:.1f} s, "
              f"accuracy {t['accuracy']}")
    b = out["breakdown"]
    print("where the time went (s): " + ", ".join(f"{k[:-2].replace('_', ' ')} {v:.1f}" for k, v in b.items()
                                                 if k.endswith("_s") and v is not None))


def build_parser() -> argparse.ArgumentParser:
    home = _Parser(add_help=False)
    home.add_argument("--home", default=argparse.SUPPRESS,
                      help="run store directory (default: $IDIM_HOME or a per-user data directory)")
    p = _Parser(prog="idim", description="Measure the intrinsic dimension of fine-tuning.", parents=[home])
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser, metavar="COMMAND")
    sub.required = True
    # the commands in the order `idim --help` lists them
    _add_run_parser(sub, home)
    _add_run_id_parsers(sub, home)

    from .series import add_parser as add_series

    add_series(sub, home, {int: _INT, float: _FLOAT})
    _add_list_parsers(sub, home)
    _add_bench_parser(sub, home)
    return p


def _add_run_parser(sub, home) -> None:
    """`idim run`: one flag per RunConfig field, then the command's own."""
    from .runconfig import CLASSIC_DEFAULTS, DEFAULTS, PRESETS, cli_fields, field_help, range_words

    r = sub.add_parser("run", parents=[home],
                       help="run a sweep: full fine-tuning baseline, then subspace trials over d")
    for f in cli_fields():  # one flag per RunConfig field: its help and default come from there
        flag = "--" + f.name.replace("_", "-")
        meta = f.metadata
        default = DEFAULTS[f.name]
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        classic = CLASSIC_DEFAULTS[f.name]
        classic = "all" if classic is None else ",".join(map(str, classic)) if isinstance(classic, list) else classic
        note = f" (default {shown}" + (f"; classic runs {classic}"
                                      if classic != default else "") + ")" if default not in (None, False) else ""
        if meta["type"] is bool:
            r.add_argument(flag, action="store_true", default=None, help=field_help(f))
            if default is True:  # on by default: its --no- flag turns it off
                r.add_argument("--no-" + flag[2:], dest=f.name, action="store_false",
                               help=f"turn {flag} off")
        else:
            kind = {int: _INT, float: _FLOAT}.get(meta["type"])
            rng = f" ({range_words(meta)})" if meta.get("lo") is not None else ""
            r.add_argument(flag, type=kind, choices=meta["choices"], help=field_help(f) + note + rng)
    r.add_argument("--preset", choices=tuple(PRESETS),
                   help="start from a named setting; flags given override it. quick-lm: a language-model sweep "
                        "for a demo's first minutes (minilm-l6 on trec6, 256 questions, d = 1,000 and 30,000 and one "
                        "value between, one seed)")
    r.add_argument("--queue", action="store_true", help="only queue the run for a background worker")
    r.add_argument("--json", action="store_true", help="print the result as one JSON object")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.set_defaults(func=cmd_run)


def _add_run_id_parsers(sub, home) -> None:
    """The commands on one run: show, cancel, resume, export."""
    for name, fn, hlp in (("show", cmd_show, "show one run"),
                          ("cancel", cmd_cancel, "ask a run (or every run of a series id) to stop"),
                          ("resume", cmd_resume, "run the missing trials of an interrupted run"),
                          ("export", cmd_export, "write a run's points as CSV or JSON")):
        s = sub.add_parser(name, help=hlp, parents=[home])
        s.add_argument("run_id")
        if name in ("show", "resume"):
            s.add_argument("--json", action="store_true")
        if name == "show":
            s.add_argument("--ci-seed", type=_NONNEG, default=0,
                           help="seed of the bootstrap behind d90's 95 %% interval (default 0, what every face shows): "
                                "another seed checks that the interval holds still")
        if name == "resume":
            s.add_argument("--quiet", action="store_true")
            s.add_argument("--force", action="store_true")
        if name == "export":
            s.add_argument("--format", choices=("csv", "json"), default="csv")
            s.add_argument("-o", "--output", help="file to write (default stdout)")
        s.set_defaults(func=fn)


def _add_list_parsers(sub, home) -> None:
    """compare, methods, ls, models, tasks and worker."""
    s = sub.add_parser("compare", help="runs side by side on the trainable-parameter axis", parents=[home])
    s.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_compare)
    s = sub.add_parser("methods", help="list the training methods", parents=[home])
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_methods)

    s = sub.add_parser("ls", help="list runs", parents=[home])
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit", type=_INT)
    s.set_defaults(func=cmd_ls)
    for name, fn in (("models", cmd_models), ("tasks", cmd_tasks)):
        s = sub.add_parser(name, help=f"list the {name} catalogue", parents=[home])
        s.add_argument("--json", action="store_true")
        s.set_defaults(func=fn)
    # `s` is now the tasks parser: its own arguments
    s.add_argument("name", nargs="?", help="one task (csv:PATH, parquet:PATH too): its statistics")
    s.add_argument("--max-length", type=_INT, default=64, help="tokens per example, for the truncated share")
    s.add_argument("--text-column", default="text")
    s.add_argument("--text-pair-column")
    s.add_argument("--label-column", default="label")
    s = sub.add_parser("worker", parents=[home], help="train queued runs in the background (one per machine)")
    s.add_argument("--once", action="store_true", help="exit when the queue is empty")
    s.add_argument("--poll", type=_FLOAT, default=1.0, help=f"seconds between queue checks (at least {MIN_POLL:g})")
    s.set_defaults(func=cmd_worker)


def _add_bench_parser(sub, home) -> None:
    """`idim bench step|sweep`."""
    from .runconfig import DEFAULTS, PRESETS

    b = sub.add_parser("bench", parents=[home], help="benchmarks: step (full vs subspace step time, memory), sweep")
    b.add_argument("what", choices=("step", "sweep"))
    b.add_argument("--model", default=None)
    b.add_argument("--method", default=DEFAULTS["method"])
    b.add_argument("--projection", default="fastfood")
    b.add_argument("--dim", type=_INT, default=1000)
    b.add_argument("--dims", help="sweep: dims to use instead of the default grid")
    b.add_argument("--task", help="sweep: task instead of the default (mnist5k or digits: the classic sweep)")
    b.add_argument("--batch", type=_INT, default=32)
    b.add_argument("--seq", type=_INT, default=64)
    b.add_argument("--pairs", type=_INT, default=10)
    b.add_argument("--device")
    b.add_argument("--threads", type=_INT)
    b.add_argument("--no-memory", action="store_true", help="step: skip the two memory subprocesses")
    b.add_argument("--executor", choices=executors.NAMES, default=executors.DEFAULT,
                   help=f"sweep: another executor than {executors.DEFAULT} runs the sweep on {executors.DEFAULT} and "
                        "on it, one after the other, and prints both wall times")
    b.add_argument("--seeds", type=_INT, help="sweep: seeds per d")
    b.add_argument("--preset", choices=tuple(PRESETS), help="sweep: a named setting (as `idim run --preset`)")
    b.add_argument("--load", type=_INT, default=0,
                   help="sweep: N busy processes beside it for its whole duration (started and stopped by the "
                        "bench), as on a busy laptop; reports estimate_range_s and estimate_swings")
    b.add_argument("--claims-facts", action="store_true",
                   help="sweep: with every fact the claims use (training accuracy on all training examples, z "
                        "quantised), as recorded runs measure them")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        args = build_parser().parse_args(argv)
        if not hasattr(args, "home"):  # --home may come before or after the command
            args.home = None
        if args.home is not None and len(str(args.home)) > 1024:
            raise UserError(f"--home is {len(str(args.home)):,} characters long; the limit is 1,024")
        return args.func(args)
    except UserError as e:
        print(f"idim: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("idim: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the environment (a full disk, a folder that cannot be written): one sentence
        if os.environ.get("IDIM_DEBUG"):
            raise
        where = f" ({os.path.basename(str(e.filename))})" if getattr(e, "filename", None) else ""
        where = _one_line(where)
        print(f"idim: error: a file could not be read or written: {_os_reason(e)}{where}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: one sentence, no exception class, details on demand
        if os.environ.get("IDIM_DEBUG"):
            raise
        import sqlite3

        if isinstance(e, sqlite3.Error):
            print("idim: error: the run store could not be read or written (locked, full or damaged); "
                  "try again, or run `idim ls` to check it", file=sys.stderr)
            return 2
        print("idim: error: idim failed unexpectedly (an internal error, not your input); set IDIM_DEBUG=1 and run "
              "the command again for the details to report", file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    """A message on one line (a newline inside a user's value would make it two), a very long value in it
    (a 5,000-character name echoed back) shortened to its start."""
    import re

    if "\n" in text or "\r" in text:
        text = " ".join(text.split())
    return re.sub(r"\S{121,}", lambda m: m.group(0)[:60] + "…", text)


def _os_reason(e: OSError) -> str:
    """An operating-system failure in words (no exception class, no errno)."""
    import errno

    words = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied", errno.EROFS: "the disk is read-only",
             errno.ENOENT: "no such file or folder", errno.ENAMETOOLONG: "the file name is too long",
             errno.EISDIR: "it is a folder", errno.EDQUOT: "the disk quota is used up"}
    return words.get(e.errno) or (e.strerror or "an input/output error").rstrip(".").lower()


if __name__ == "__main__":
    sys.exit(main())
