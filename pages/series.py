"""Series: d90 against the amount of pre-training (or the mlp's width), filled in as its runs finish."""
import json

import streamlit as st

from idim_core import series as series_mod
from idim_core.classic import CLASSIC_MODELS
from idim_core.d90 import interval_text
from idim_core.errors import UserError
from idim_core.ui import figures, text, workers
from idim_core.ui.keys import keys_for
from idim_core.ui.text import plain_task
from pages import _visitors as visitors
from pages._first_run import through_app
from pages._present import chart, presenter_switch

through_app()
K = keys_for("series")

store = workers.get_store()
present = st.query_params.get("present", "") in ("1", "true", "yes")
if not present:  # the presenter view opens on the chart
    st.title("Pre-training series")
present = presenter_switch(K("toggle", "present"))
if not present:
    st.caption("Aghajanyan et al. (2021) found that pre-training lowers the intrinsic dimension of the tasks that "
               "follow. Each point is an ordinary run (its own full-training baseline from its own starting state; "
               "each seed its own pre-training). Two controls: the shuffled-label source (the same images and "
               "training, nothing transferable; it counts only where it fits its labels) and a linear probe on "
               "each run's frozen start (the readout). What a series shows is read from the ratio of two d90.")

# digits 0-4 -> 5-9: the target's labels are not a function of the source's (a recorded pairing)
PRESET = {"model": "mlp", "task": "mnist5k:5-9@b", "source": "mnist5k:0-4@a", "amounts": "0,10", "seeds": 1,
          "dims": "auto"}

RECORDED = "recorded:"  # a recorded series (assets/recorded/series/), shown without importing its runs
recorded_names = sorted((p.stem for p in series_mod.RECORDED_SERIES.glob("*.json")),  # the pairings first
                        key=lambda n: (n not in series_mod.PAIRINGS, n)) \
    if series_mod.RECORDED_SERIES.is_dir() else []

with st.expander("Start a series", expanded=not series_mod.list_series(store) and not present):
    with st.form(K("form", "start")):
        c1, c2 = st.columns(2)
        model = c1.selectbox("model", list(CLASSIC_MODELS), key=K("select", "model"))
        task = c1.text_input("target task", PRESET["task"], key=K("text", "task"),
                             help="mnist5k:5-9 (a class split), mnist5k:ge5@b (digit ≥ 5 on the second half of the "
                                  "training images), digits:5-9 ...")
        source = c2.text_input("pre-training source", PRESET["source"], key=K("text", "source"),
                               help="an image task (mnist5k:0-4, mnist5k@a), TASK:denoise or TASK:rotation "
                                    "(self-supervised: which of 4 turns was applied)")
        control = c2.checkbox("add the shuffled-label control", True, key=K("check", "control"))
        amounts = c1.text_input("epochs of pre-training", PRESET["amounts"], key=K("text", "amounts"))
        seeds = c2.number_input("seeds", 1, 10, PRESET["seeds"], key=K("number", "seeds"),
                                help="each seed adds a baseline and a subspace trial at every d: 3 seeds take "
                                     "about three times as long")
        st.caption(f"Target: {text.md(plain_task(task))}. Source: {text.md(plain_task(source))}.")
        go = st.form_submit_button("Queue the series")
    if go:
        try:
            srcs = [source.strip()]
            if control and series_mod.parse_source_kind(source) == "supervised":
                srcs.append(source.strip() + ":shuffled")
            sid, rids = series_mod.queue(store, {"model": model, "task": task.strip(), "dims": "auto",
                                                 "seeds": int(seeds)}, srcs,
                                         series_mod.parse_amounts(amounts), [None],
                                         visitor=visitors.owner_for_new_run(),
                                         check=lambda n: visitors.check_series(store, n))
            st.query_params["series"] = sid
            st.success(f"series {sid}: {len(rids)} run(s) queued for the background worker")
        except UserError as e:
            st.error(text.md(e))

found = series_mod.list_series(store)
if not found and not recorded_names:
    st.info("No series yet. Queue one above, or from a terminal: `idim series --model mlp --task mnist5k:5-9 "
            "--pretrain mnist5k:0-4 --pretrain-epochs 0,10 --dims auto --seeds 3`.")
    st.stop()
labels = {s["id"]: f"{s['id']}: {s['overrides'].get('model')} on {plain_task(s['overrides'].get('task'))}, "
                   f"from {' / '.join(plain_task(x) for x in s['sources'])}, epochs "
                   f"{','.join(map(str, s['amounts']))}" for s in found}
labels.update({RECORDED + n: f"recorded: {n}" for n in recorded_names})
want = st.query_params.get("series", "")
ids = list(labels)
sid = st.selectbox("series", ids, index=ids.index(want) if want in ids else 0, format_func=labels.get,
                   key=K("select", "series"))


def pairing_words(out: dict) -> str | None:
    """What the pairing can show: whether the target's labels are a function of the source's labels."""
    pairs = out.get("pairings")
    if not pairs:
        return None
    real = {s: v for s, v in pairs.items() if not s.endswith(":shuffled")}
    if any(real.values()):
        return ("Pairing: the target's labels are a function of the source's labels (target_from_source_labels), so "
                "a readout of the pre-trained features can already solve it: the probe below says whether it does.")
    return ("Pairing: the target's labels are not a function of the source's labels "
            "(target_from_source_labels false): a lower d90 here is not a readout of labels the source taught.")


def readout(out: dict, key: str) -> None:
    """The readout control (the linear probe on the frozen start beside each run's threshold) and the pairing."""
    words = pairing_words(out)
    if words:
        st.caption(words)
    fig = figures.series_probe_figure(out)
    if fig is not None:
        st.caption("The readout control: a linear probe (the new output layer alone) on each run's frozen start. "
                   "Where it clears the threshold, d90 counts directions beyond the readout.")
        chart(fig, key, present)


NUMBERS = {k: st.column_config.NumberColumn(k, format="%.3f") for k in ("probe", "dead units", "source accuracy")}


def table(out: dict) -> list[dict]:
    rows = []
    for e in out["entries"]:
        ci = e.get("d90_ci")
        rows.append({"source": "from scratch" if not e["pretrain_epochs"] else plain_task(e["pretrain"]),
                     "epochs": e["pretrain_epochs"], "width": e.get("width"), "status": e["status"],
                     "baseline": e.get("baseline"), "d90": e.get("d90_interpolated"),
                     "95 % interval": interval_text(ci), "d90 status": e.get("d90_status"),
                     "probe": e.get("probe_accuracy"),
                     "probe clears": {True: "yes", False: "no"}.get(e.get("probe_clears"), "–"),
                     "dead units": e.get("dead_fraction"), "source accuracy": e.get("source_accuracy"),
                     "source rate": str(e.get("source_lr") or "–"), "control": e.get("control") or "",
                     "run": f"/live?run={e['run_id']}" if e.get("run_id") else ""})
    return rows


def recorded_view(name: str) -> None:
    """A recorded series: its chart and verdict from the file (assets/recorded/series/), and the command."""
    rec = series_mod.recorded(name)
    if rec is None:
        st.error(f"no recorded series named {text.md_repr(name)}")
        return
    out = rec["series"]
    chart(figures.series_figure(out), K("chart", "recorded", name), present)
    readout(out, K("chart", "probe", name))
    lines = series_mod.verdict(out, series_mod.recorded_results(rec), name=plain_task)
    st.markdown("**What it shows** (recorded; each change read from one bootstrap of the ratio of the two d90):\n\n"
                + "\n".join(f"- {text.md(line)}" for line in lines))
    st.dataframe(table(out), hide_index=True, key=K("table", "recorded", name), width="stretch",
                 column_config={"run": None, **NUMBERS})
    if rec.get("command"):
        st.code(rec["command"], language="bash")


@st.fragment(run_every=3)
def show(sid: str) -> None:
    try:
        out = series_mod.summary(store, sid)
    except UserError as e:
        st.error(text.md(e))
        return
    chart(figures.series_figure(out), K("chart", "series", sid), present)
    if any(e.get("d90_status") == "found" for e in out["entries"]):
        st.caption("The second panel: the target's accuracy (full training, test) against d90, one point per amount. "
                   "Aghajanyan et al. found lower d90 going with better accuracy after fine-tuning.")
        chart(figures.series_accuracy_figure(out), K("chart", "accuracy", sid), present)
    readout(out, K("chart", "probe", sid))
    rows = table(out)
    st.dataframe(rows, hide_index=True, key=K("table", "series", sid), width="stretch", column_config={
        "run": st.column_config.LinkColumn("run", display_text=r"run=(\w+)"),
        "baseline": st.column_config.NumberColumn("baseline", format="%.3f"),
        "d90": st.column_config.NumberColumn("d90", format="%,.0f"), **NUMBERS})
    if out["entries"] and all(e.get("status") in ("done", "failed", "cancelled") for e in out["entries"]):
        lines = series_mod.verdict(out, series_mod.store_results(store, out), name=plain_task)
        if lines:
            st.markdown("**What it shows** (each change read from one bootstrap of the ratio of the two d90, "
                        "\"shown\" only where its 95 % interval lies on one side of 1):\n\n"
                        + "\n".join(f"- {text.md(line)}" for line in lines))
    c1, c2 = st.columns(2)
    c1.download_button("Series as JSON", json.dumps(out, indent=1), f"series-{sid}.json", "application/json",
                       key=K("download", "json", sid), help="The same object as `idim series ... --json`.")
    c2.download_button("Series as CSV", figures.series_csv(out), f"series-{sid}.csv", "text/csv",
                       key=K("download", "csv", sid))


if sid.startswith(RECORDED):
    recorded_view(sid[len(RECORDED):])
else:
    show(sid)
