"""Live run: `live?run=RUN_ID`.  Accuracy against d, updated from the store every 2 s.

The page holds no state of its own: a fragment re-reads the store and redraws, so a
reload, a second tab or a restart of the app shows the same run (the session keeps only
the last chart and trial curve, each sent again unchanged until 4 s have passed).
A changed figure is a new chart to Streamlit (a new element id), so a zoom lasts until the chart is next
redrawn: after a finished trial, at most every views.CHART_SECONDS.
"""
import time

import streamlit as st

from idim_core import d90 as d90mod
from idim_core import executors
from idim_core.classic import is_classic_model
from idim_core.d90 import short as d90_short
from idim_core.errors import UserError
from idim_core.results import result
from idim_core.store import FINAL, check_run_id
from idim_core.ui import estimates, figures, replay, text, views, workers
from idim_core.ui.keys import keys_for
from pages import _visitors as visitors
from pages._first_run import through_app
from pages._guess import guess_box, guesses_line
from pages._present import chart, presenter_switch

through_app()
K = keys_for("live")

store = workers.get_store()
run_id = st.query_params.get("run", "")
# Presenter view for a projector: ?present=1, or the toggle below the title (pages/_present.py).
present = st.query_params.get("present", "") in ("1", "true", "yes")


def recent_runs(limit: int = 10) -> None:
    runs = store.list_runs(limit=limit)
    if not runs:
        st.markdown("No runs yet: start one on the Explore page.")
        st.page_link("pages/explore.py", label="Explore: start a run", icon=":material/science:")
        return
    st.markdown("**Recent runs**")
    for r in runs:
        st.page_link("pages/live.py", label=text.md(views.run_label(r)), query_params={"run": r["id"]},
                     icon=":material/monitoring:")


if not (present and run_id):  # in the presenter view the run's own line heads the page
    st.title("Live run")
if not run_id:
    st.info("No run selected: open one below, or start a new run on the Explore page. "
            "A run's address is live?run=RUN_ID, so it can be shared or reopened after a refresh.")
    recent_runs()
    st.stop()
try:
    check_run_id(run_id)
    run = store.require_run(run_id)
except UserError as e:
    st.error(text.md(e))
    recent_runs()
    st.stop()

stored = run["config"]
present = presenter_switch(K("toggle", "present"))
# an adapter run is told by its own axis: ranks for LoRA/VeRA, one point for BitFit and head-only
st.markdown(f"**{text.md(stored['model'])}** on **{text.md(stored['task'])}** · "
            f"**{text.md(stored['method'].upper())}** · "
            f"{text.md(views.levels_text(stored))} · "
            f"{stored['seeds']} seed{'s' if stored['seeds'] != 1 else ''} · run `{run_id}`")
if stored.get("shuffle_labels"):
    st.caption("**Shuffled labels**: the training images carry random labels, so the network can only memorise "
               "them; accuracy is measured on the training images (how much it memorised).")
if stored.get("shuffle_pixels"):
    st.caption("**Shuffled pixels**: one fixed permutation of pixel positions for every image.")


def notes() -> None:
    """What a class may want to know about the run, above the chart (below it in the presenter view)."""
    if is_classic_model(stored["model"]):
        st.caption("Classic experiment (Li et al. 2018): trained from scratch, no pre-training; the green line is "
                   "this network's own accuracy with all its parameters trained (full training).")
    if stored.get("recorded"):
        st.info(f"**Recorded example**, not trained on this machine now. It was produced by this project's "
                f"command line: {text.code(stored.get('recorded_command', 'idim run'))}")


if not present:
    notes()

final_at_start = run["status"] in FINAL
# Replay (?replay=1, or replay=SECONDS): a finished run's points in the order they were recorded, compressed into
# seconds, the ruler first; it never waits on the CPU (idim_core/ui/replay.py)
replay_s = replay.seconds_of(st.query_params.get("replay")) if run["status"] == "done" else None
replaying = replay_s is not None
if replaying:
    started = st.session_state.setdefault(K("state", "replay", run_id, replay_s), time.monotonic())


def show_generalisation(res: dict) -> None:
    rows = views.bound_rows(res)
    if rows:
        st.dataframe(rows, hide_index=True, key=K("table", "bound", res["run_id"]))
        st.markdown(views.BOUND_NOTE)
        missing = views.bound_missing(res)
        if missing:
            st.caption(missing)
    else:
        st.caption("No training accuracies in this run (recorded before idim kept them), so no gap or bound.")
    fig = figures.bits_figure(res)
    if fig is not None:
        chart(fig, K("chart", "bits", res["run_id"]), present)
    heat = figures.lambda_heatmap(res)
    if heat is not None:
        chart(heat, K("chart", "lambda", res["run_id"]), present)


def kept_figure(name: str, fixed: tuple, done: int, build):
    """The figure kept in this session under ``name``, built anew only when views.chart_due says so."""
    last, now = st.session_state.get(name), time.monotonic()
    if views.chart_due(last, fixed, done, now):
        last = st.session_state[name] = {"fixed": fixed, "done": done, "t": now, "fig": build()}
    return last["fig"]


def resume_button(run: dict) -> None:
    """Resume, for the browser that may change the run: queued again, finished trials kept."""
    if run["config"].get("recorded") or not visitors.may_change(run):
        return
    if st.button("Resume", key=K("button", "resume"), icon=":material/play_arrow:",
                 help="Queue it again: finished trials are kept, only the missing ones run."):
        try:
            if store.requeue(run_id):
                store.event(run_id, "info", "resumed from the app")
        except UserError as e:  # a read-only or full store
            st.error(text.md(e))
        else:
            workers.ensure_worker(store.home)
            st.rerun()


def replayed(res: dict, trials: list[dict]) -> dict:
    """The replay's frame now: the first trials in recorded order; at its end, back to the still page."""
    ordered = replay.order(res["points"], trials)
    n = replay.shown_at(time.monotonic() - started, len(ordered), replay_s)
    if n < len(ordered):
        res = replay.partial(res, ordered, n)
        st.info(f"**Replay** of a finished run: {n} of {len(ordered)} trials so far "
                f"({replay_s:.0f} s in all; the ruler, full {views.baseline_word(res)} and its threshold, first).")
    else:
        st.query_params.pop("replay", None)  # the last frame is the run itself: back to the still page
        st.rerun()
    return res


def status_row(run: dict, res: dict, hidden: bool) -> None:
    """Status, device or executor, d90 and Cancel, in a row of four."""
    status = run["status"]
    top = st.columns([1.3, 1.3, 2, 1])
    top[0].metric("Status", status)
    summ = run.get("summary") or {}
    where = executors.live_facts(run["config"], summ)  # trials elsewhere: the executor's own words
    if where and where.get("caption"):
        st.caption(text.md(where["caption"]))
    if where and where.get("metric"):
        top[1].metric("Executor", where["metric"], help=where["help"])
    else:
        top[1].metric("Device", run.get("device") or workers.detect_device() + " (expected)")
    head = "d90" if res.get("axis", "d") == "d" else "90 % point"
    if present and not hidden and res.get("d90_ci") and res.get("d90_status") in ("found", "below_grid"):
        head += f" · 95 %: {d90mod.interval_text(res['d90_ci'])}"  # the headline whole on a projector
    top[2].metric(head, "hidden" if hidden else d90_short(res),
                  help=f"Smallest d whose mean accuracy reaches 0.9 × {views.baseline_word(res)} accuracy, "
                       "interpolated in log d between the two grid points around the threshold; "
                       "the interval resamples seeds and test examples.")
    with top[3]:
        if status in ("queued", "running", "interrupted") and not visitors.may_change(run):
            st.caption(text.md(visitors.READ_ONLY))
        elif status in ("queued", "running", "interrupted"):
            if run.get("cancel_requested"):
                st.button("Cancelling …", disabled=True, key=K("button", "cancelling"))
            elif st.button("Cancel", key=K("button", "cancel"),
                           help="Stop after the current step; finished trials are kept."):
                try:
                    store.request_cancel(run_id)
                except UserError as e:
                    st.error(text.md(e))
                st.rerun(scope="fragment")


def status_message(run: dict) -> None:
    """A queued, interrupted, failed or cancelled run's state in words (and Resume where it helps)."""
    status = run["status"]
    if status == "queued":
        ahead = store.ahead_of(run_id)  # a count in SQL: cheap with thousands of runs in the store
        worker = workers.ensure_worker(store.home)  # a worker that died is replaced
        msg = "Waiting for the background worker"
        if ahead:
            msg += f" ({ahead} run{'s' if ahead > 1 else ''} ahead in the queue)"
        if worker == "disabled":
            msg += ". No worker is running: start one with `idim worker`"
        st.info(msg + ".")
    elif status == "interrupted":
        st.warning("This run stopped without finishing (its process went away). Resume it: finished trials are "
                   "kept.")
        resume_button(run)
    elif status == "failed":
        st.error(f"The run failed: {text.md(run.get('error') or 'unknown error')}")
        resume_button(run)
    elif status == "cancelled":
        st.warning("Cancelled. The finished trials are kept; resume it to run the missing ones.")
        resume_button(run)


def trial_words(t: dict, res: dict) -> str:
    """What a trial trains, in words."""
    return (f"{views.baseline_word(res)} baseline (all parameters), seed {t['seed']}"
            if t["kind"] == "baseline" else
            f"linear probe (the head alone on the frozen features), seed {t['seed']}"
            if t["kind"] == "probe" else f"d = {t['d']:,}, seed {t['seed']}")


def training_now(run: dict, res: dict, trials: list[dict]) -> dict | None:
    """What is training, its progress and the time left; the trial training now (the last of several), if any."""
    status = run["status"]
    summ = run.get("summary") or {}
    running = [t for t in trials if t["status"] == "running"] if status == "running" else []
    current = running[-1] if running else None  # several when trials train side by side (--processes, Ray)
    if current is not None:
        left = estimates.time_left(run, trials, home=store.home)
        if len(running) > 1:
            st.markdown(f"**Training now, {len(running)} side by side:** "
                        + "; ".join(trial_words(t, res) for t in running))
        else:
            st.markdown(f"**Training now:** {trial_words(current, res)}")
        for i, t in enumerate(running):
            steps, total = t.get("steps") or 0, t.get("total_steps")
            tail = f" · about {estimates.fmt_seconds(left)} left for the whole run" if i == len(running) - 1 else ""
            if not steps or not total:
                st.progress(0.0, text="preparing the trial (building the projection, first batch) …" + tail)
            else:
                st.progress(min(1.0, steps / total), text=f"step {steps} of {total}" + tail)
    elif status == "running" and (summ.get("pretraining") or {}).get("epoch") and "pretrain" not in summ:
        pre = summ["pretraining"]  # a classic net pre-training on its source before the run's first trial
        st.markdown(f"**Pre-training** on {text.md(pre.get('source') or 'the source')} (made once, then cached "
                    "for every run that needs it)")
        st.progress(min(1.0, pre["epoch"] / max(1, pre["epochs"])),
                    text=f"epoch {pre['epoch']} of {pre['epochs']}"
                         + (f" · loss {pre['loss']:.4f}" if pre.get("loss") is not None else ""))
    elif status == "running":
        st.markdown("**Loading the model and the data …**")
    return current


def build_run_chart(res: dict, guesses: list[dict]):
    """The run chart, with the class's guesses, for the presenter view when it is on."""
    fig = figures.run_figure(res, height=560 if present else 460)
    if guesses:
        y0 = (fig.layout.yaxis.range or [0.0])[0]
        figures.add_guesses(fig, [g["d"] for g in guesses], y0 + 0.01)
    return figures.presenter(fig) if present else fig


def run_chart(res: dict, trials: list[dict], status: str, hidden: bool) -> None:
    """The chart with its caption, the guesses and the threshold's note."""
    # The chart is rebuilt when a trial has finished, at most every views.CHART_SECONDS while the run
    # goes on; otherwise the last one is sent again, which the browser does not redraw.  At once only when
    # the run ends or the view changes: the worker taking up a queued run changes nothing the chart shows,
    # and redrawing it then cost a short sweep's tab a third of its CPU (bench/tab_cost.py).
    guesses = store.guesses(run_id)
    # redrawn when the view changes (presenter, hidden d90, a new guess, a replay's next frame); a finished trial
    # waits for views.chart_due
    fixed = (status in FINAL, present, hidden, len(guesses)) + ((len(res["points"]),) if replaying else ())
    fig = kept_figure(K("state", "chart", run_id), fixed, sum(t["status"] != "running" for t in trials),
                      lambda: build_run_chart(res, guesses))
    st.plotly_chart(fig, key=K("chart", "run", run_id), config={"displaylogo": False},
                    theme=None if present else "streamlit")  # Streamlit's theme would reset the large fonts
    word = views.baseline_word(res)
    st.caption((("d90 hidden until the teacher reveals it" if hidden else views.d90_text(res)) + ". ")
               + (f"{word[0].upper() + word[1:]} (the baseline) trains all {res['D']:,} parameters."
                  if res.get("D") else ""))
    line = guesses_line(res, guesses, hidden)
    if line:
        st.markdown(text.md(line))
    guess_box(store, run_id, K, open_now=status in ("queued", "running") or replaying)
    if d90mod.threshold_note(res):
        st.caption(d90mod.threshold_note(res)[0].upper() + d90mod.threshold_note(res)[1:] + ".")


def trial_curve(current: dict, trials: list[dict]) -> None:
    """The training trial's curve, for trials long enough to be worth it."""
    # A trial's curve is worth drawing when the trial lasts a while; for trials of a few seconds
    # (the classic nets) redrawing it every refresh would only cost the browser CPU that training needs.
    quick = [t["seconds"] for t in trials if t.get("seconds")]
    if not quick or max(quick) > 15:
        pts = store.points(current["id"])
        if pts:  # new points arrive at every step: redrawn at most every views.CHART_SECONDS too
            fig = kept_figure(K("state", "curve", run_id), (current["id"], present), len(pts),
                              lambda: figures.trial_curve_figure(pts))
            chart(fig, K("chart", "curve", run_id), present)


def results_table(res: dict) -> None:
    """The mean accuracy per level, then the run's last 30 events."""
    if res["by_d"]:
        axis = res.get("axis", "d")  # an adapter run's level is a rank or its one point, never a d
        params = {p["d"]: p.get("params") for p in res["points"] if p.get("params")}
        from idim_core.methods import level_word  # the level's own word: rank, spectral coefficient ...

        level = level_word(res["method"]) if axis == "rank" else "d"
        st.dataframe([{**({level: r["d"]} if axis != "single" else {}),
                       **({} if axis == "d" else {"trainable parameters": params.get(r["d"])}),
                       "mean accuracy": r["mean"], "std": r["std"], "seeds": r["n"],
                       "diverged": r["diverged"],
                       "reaches 0.9 × full": None if r["mean"] is None or res["threshold"] is None
                       else r["mean"] >= res["threshold"]} for r in res["by_d"]], hide_index=True,
                     key=K("table", "results"))
    for e in store.events(run_id, 30):
        st.text(f"{time.strftime('%H:%M:%S', time.localtime(e['t']))}  {e['level']:7}  {e['message']}")


@st.fragment(run_every=0.5 if replaying else None if final_at_start else views.REFRESH_SECONDS)
def live_view() -> None:
    run = store.get_run(run_id)
    if run is None:
        st.warning(f"Run {run_id} was deleted.")
        return
    # the interval's bootstrap only once the run has ended: a live refresh stays cheap
    res = result(store, run_id, ci=run["status"] in FINAL)
    trials = store.trials(run_id)
    status = run["status"]
    hidden = bool(st.session_state.get(K("toggle", "hide_d90")))
    if replaying:
        res = replayed(res, trials)
    if hidden and res.get("d90_status") in ("found", "below_grid", "not_reached"):
        res = dict(res, d90=None, d90_interpolated=None, d90_upper=None, d90_ci=None, d90_status="unknown",
                   p90_status="unknown")

    status_row(run, res, hidden)
    status_message(run)
    # what is training, its progress and the time left: above the chart, on the first screen at 1280×720
    current = training_now(run, res, trials)

    warn = views.baseline_warning(res)
    if warn:
        st.warning(warn)
    elif d90mod.ruler_note(res):
        st.warning(d90mod.ruler_note(res)[2].upper() + d90mod.ruler_note(res)[3:] + ".")
    run_chart(res, trials, status, hidden)

    if current is not None:
        trial_curve(current, trials)
    # A toggle, not an expander: a collapsed expander still draws its table in the browser at every
    # refresh, which costs the CPU that training needs (bench/tab_cost.py).
    if st.toggle("Results table and log", key=K("toggle", "table")):
        results_table(res)

    # What the claims on Learn need, for a finished DID/SAID run: the gap, the bound, the bits, the scales.
    if status in FINAL and res.get("axis", "d") == "d" and st.toggle(
            "Generalisation gap, bound, bits and SAID's scales", key=K("toggle", "claims")):
        show_generalisation(res)

    if (status in FINAL) != final_at_start:
        st.rerun()  # the run ended: redraw the page once, without auto-refresh


live_view()
c1, c2 = st.columns(2)
if run["status"] == "done" and not replaying:
    if c1.button("Replay this run (30 s)", key=K("button", "replay"), icon=":material/replay:",
                 help="Its points in the order they were recorded, compressed into 30 seconds: a demo that never "
                      "waits on the machine. Guesses stay open while it plays."):
        st.session_state.pop(K("state", "replay", run_id, replay.DEFAULT_SECONDS), None)
        st.query_params["replay"] = str(int(replay.DEFAULT_SECONDS))
        st.rerun()
if visitors.is_teacher():
    c2.toggle("Hide d90 until I reveal it", key=K("toggle", "hide_d90"),
              help="For a class guessing where the curve will cross: the chart and the numbers leave d90 out "
                   "until this is switched off.")
if present:
    notes()
st.page_link("pages/runs.py", label="All runs: resume, delete, download", icon=":material/table_rows:")
