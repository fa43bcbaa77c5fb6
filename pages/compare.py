"""Compare: overlay several runs, a d90 table, and the published reference figures."""
import streamlit as st

from idim_core import demo
from idim_core.d90 import interval_text, p90_short, ruler_note
from idim_core.d90 import short as d90_short
from idim_core.errors import UserError
from idim_core.results import pair_sentence, pairs, point_of, result
from idim_core.ui import figures, serving, text, views, workers
from idim_core.ui.keys import keys_for
from pages._first_run import through_app
from pages._present import chart, presenter_switch

through_app()
K = keys_for("compare")

store = workers.get_store()
present = st.query_params.get("present", "") in ("1", "true", "yes")
if not present:  # in the presenter view the chart comes first: no title, no introduction
    st.title("Compare runs")
    st.markdown("Overlay runs to see the findings for yourself: a pretrained model against the same architecture "
                "untrained, SAID against DID, a smaller model against a larger one.")
present = presenter_switch(K("toggle", "present"))


def show_comparison(key: str) -> None:
    try:
        ids = demo.import_comparison(store, key)
    except UserError as e:
        st.error(str(e))
        return
    # A new generation of the multiselect's key: the browser then builds a fresh widget showing the
    # new runs (dropping its state on the server alone leaves the old selection in the page, and the
    # next click would send it back).
    st.session_state[K("state", "gen")] = st.session_state.get(K("state", "gen"), 0) + 1
    st.session_state[K("state", "scroll")] = True  # the next run goes to the answer: the chart
    keep = {"present": "1"} if present else {}
    st.query_params.from_dict({"runs": ",".join(ids), **keep})
    st.rerun()


def scroll_to_chart() -> None:
    """Bring the comparison's chart to the top of the screen once it is drawn (after a ready-made comparison)."""
    st.html("""<script>
    (() => { let n = 0; const t = setInterval(() => {
        const g = document.querySelector('[data-testid="stMain"] .js-plotly-plot');
        if (g || ++n > 50) { clearInterval(t); if (g) g.scrollIntoView({block: 'start'}); }
    }, 100); })();
    </script>""", unsafe_allow_javascript=True)


def show_methods_table(results: list[dict]) -> None:
    """Method, parameters at 90 %, ratio to d90, time per trial, peak memory (results.comparison)."""
    from idim_core.results import comparison

    cmp = comparison(results)
    ref = next((r for r in results if r["run_id"] == cmp["d90_reference"]), None)
    ref_d90 = ref["d90_interpolated"] if ref else None

    def ci_cell(r):
        return interval_text(r["p90_ci"], "params")

    st.subheader("Trainable parameters at 90 % of full fine-tuning")
    st.dataframe([{
        "run": r["run_id"], "method": figures.method_label(r), "model": r["model"],
        "task": serving.shown(r["task"]), "parameters at 90 %": p90_short(r) or "", "95 % interval": ci_cell(r),
        "× d90": views.ratio_cell(r, ref_d90),
        "best mean accuracy": "" if r["best_accuracy"] is None else f"{r['best_accuracy']:.3f}",
        "seconds per trial": "" if r["seconds_per_trial"] is None else f"{r['seconds_per_trial']:.1f}",
        "peak memory (MB)": "" if r["peak_mb"] is None else f"{r['peak_mb']:,.0f}",
    } for r in cmp["rows"]], hide_index=True, key=K("table", "methods"))
    st.caption("The 90 % point is d90's rule on this axis: the smallest count of trainable parameters whose mean "
               "accuracy over seeds reaches 0.9 × full fine-tuning, interpolated in log between the counts tried. "
               "× d90 divides it by the d90 of the first DID/SAID run here, only where both are measured: "
               "≤ when the 90 % point is only known to be at most the smallest size tried, > when it was never "
               "reached, — when there is nothing to divide. Peak memory is the GPU's allocated "
               "peak, or on a CPU the training process's peak resident memory (model and data included). "
               "Which needs fewer is read from the ratio below (one bootstrap of both runs), not from whether two "
               "intervals touch.")
    if not cmp["same_budget"]:
        st.warning("These runs differ in model, task or budget (epochs, examples, seeds): the comparison is not "
                   "fair; run them with the same settings (they then share one full fine-tuning baseline).")


# -- ready-made comparisons, recorded with idim's own CLI (assets/recorded/) --------------------
ready = demo.available_comparisons()
if "comparison" in st.query_params:  # a link from the Learn page
    key = st.query_params["comparison"]
    if key in ready:
        show_comparison(key)
    else:
        st.error(f"no recorded comparison named {text.md_repr(key)}; choose one below")
if ready:
    with st.expander("Ready-made comparisons (recorded runs, no training needed)", expanded=not present):
        st.caption("Each loads runs recorded with this project's command line (`scripts/record_comparisons.sh`, "
                   "commands in `assets/recorded/*.md`); they are labelled *recorded* everywhere.")
        for key, (title, _names) in ready.items():
            if st.button(title, key=K("button", key)):
                show_comparison(key)

runs = store.list_runs()
if not runs:
    st.info("No runs yet: start one on the Explore page (or load the recorded example there).")
else:
    labels = {r["id"]: views.run_label(r) for r in runs}
    wanted = [x for x in st.query_params.get("runs", "").split(",") if x in labels]
    default = wanted or [r["id"] for r in runs if r["status"] == "done"][:2] or [runs[0]["id"]]
    gen = st.session_state.get(K("state", "gen"), 0)
    chosen = st.multiselect("Runs", list(labels), default=default, format_func=labels.get,
                            key=K("select", "runs", gen),
                            help="Pick any runs from the store; unfinished ones show what they have so far.")
    if chosen:
        if st.session_state.pop(K("state", "scroll"), False):
            scroll_to_chart()
        results = [result(store, rid) for rid in chosen]
        any_adapter = any(r.get("axis", "d") != "d" for r in results)
        c1, c2 = st.columns(2)
        by_params = c1.toggle("x axis: trainable parameters (every method on one axis)", value=any_adapter,
                              key=K("toggle", "by_params", int(any_adapter)),
                              help="LoRA, VeRA, BitFit and head-only have no d: on this axis every method is placed "
                                   "by the numbers it trains, counted from the model. "
                                   "Off: the subspace runs against d.")
        normalise = c2.toggle("Normalise: accuracy ÷ full fine-tuning accuracy", key=K("toggle", "normalise"),
                              disabled=by_params,
                              help="Puts runs with different baselines on one scale; the threshold is then 0.9 for "
                                   "all (the d axis only).")
        if by_params:
            chart(figures.params_figure(results, height=560 if present else 500), K("chart", "params"), present)
            show_methods_table(results)
        else:
            shown = [r for r in results if r.get("axis", "d") == "d"]
            if len(shown) < len(results):
                st.caption("LoRA, VeRA, BitFit and head-only runs have no d; switch the x axis to trainable "
                           "parameters to see them.")
            chart(figures.compare_figure(shown, normalise=normalise, height=560 if present else 480),
                        K("chart", "compare"), present)
        if normalise and any(r["baseline_accuracy"] is None for r in results):
            st.caption("Runs without a finished baseline cannot be normalised and are left out of the chart.")
        st.subheader("d90 per run (measured here)")
        def ci_text(r):
            return interval_text(r.get("d90_ci"))

        def blank(v):
            return "" if v is None else v

        st.dataframe([{
            "run": r["run_id"], "model": serving.shown(r["model"]), "task": serving.shown(r["task"]),
            "d90": d90_short(r).replace("—", ""), "d90 95 % interval": ci_text(r),  # first: on screen at 1280 px
            "method": r["method"].upper(),
            "levels": views.levels_text(r),
            "status": r["status"] + (" (recorded)" if r["config"].get("recorded") else ""),
            "seeds": r["config"].get("seeds", 1),
            "full training / fine-tuning": blank(r["baseline_accuracy"] and round(r["baseline_accuracy"], 3)),
            "threshold": blank(r["threshold"] and round(r["threshold"], 3)),
            "chance": blank(r.get("chance") and round(r["chance"], 3)),
            "majority class": blank(r.get("majority") and round(r["majority"], 3)),
            "note": ("did not learn the task with this budget: no d90" if r.get("d90_status") == "baseline_at_floor"
                     else ruler_note(r).lstrip("; ") if r.get("d90_status") in ("found",) else views.d90_text(r)),
        } for r in results], hide_index=True, key=K("table", "d90"))
        st.caption("The interval resamples seeds and test examples (95 %, bootstrap). Which d90 is smaller is read "
                   "from the ratio below, not from whether two intervals touch.")
        with_d90 = [r for r in results if point_of(r) is not None]
        n_pairs = len(with_d90) * (len(with_d90) - 1) // 2
        if n_pairs and st.toggle(f"Which needs fewer dimensions: the ratio of each pair ({n_pairs} pair"
                                 f"{'s' if n_pairs != 1 else ''}, a few seconds each the first time)",
                                 value=n_pairs == 1, key=K("toggle", "ratios", n_pairs)):
            st.subheader("Which needs fewer dimensions: the ratio")
            with st.spinner("Bootstrapping the ratios (a few seconds per pair, once)…"):
                found_pairs = pairs(with_d90)
            names = {r["run_id"]: views.run_label({"id": r["run_id"], **r}) for r in with_d90}
            for pr in found_pairs:
                st.markdown("- " + text.md(pair_sentence(pr, names)))
            st.caption("One bootstrap of both runs gives the ratio d90 of the first / d90 of the second and its "
                       "95 % interval; a run is called lower only when the interval lies wholly on one side of 1 "
                       "for every bootstrap seed from 0 to 19, otherwise it reads \"not shown\".")
        said_runs = [r for r in results if any(p.get("lam") for p in r["points"])]  # runs with learned scales
        with_bound = [r for r in results if r.get("bound") and any(s.get("train_mean") is not None
                                                                     for s in r.get("stats") or [])]
        if (said_runs or with_bound) and st.toggle("Generalisation gap, bound and SAID's scales",
                                                   key=K("toggle", "claims")):
            for r in with_bound:
                st.markdown(f"**{text.md(views.run_label({'id': r['run_id'], **r}))}**")
                st.dataframe(views.bound_rows(r), hide_index=True, key=K("table", "bound", r["run_id"]))
                missing = views.bound_missing(r)
                if missing:
                    st.caption(missing)
            if with_bound:
                st.markdown(views.BOUND_NOTE)
            for r in said_runs:
                chart(figures.lambda_heatmap(r), K("chart", "lambda", r["run_id"]), present)
        budgets = {(r["config"].get("epochs"), r["config"].get("max_train"), r["config"].get("seeds")) for r in results}
        if len(budgets) > 1:
            st.caption("These runs differ in budget (epochs, training examples or seeds): compare their d90 with care.")

from idim_core import series as series_mod  # noqa: E402

all_series = series_mod.list_series(store)
if all_series:
    st.subheader("Series side by side")
    picked = st.multiselect("Series to overlay (d90 against the amount of pre-training, or the mlp's width)",
                            [s["id"] for s in all_series], default=[s["id"] for s in all_series][:2],
                            format_func=lambda i: next(f"{i}: {s['overrides'].get('model')} on "
                                                       f"{s['overrides'].get('task')}, {' / '.join(s['sources'])}"
                                                       for s in all_series if s["id"] == i),
                            key=K("select", "series"))
    summaries = []
    for sid in picked:
        try:
            summaries.append(series_mod.summary(store, sid))
        except UserError as e:
            st.error(text.md(e))
    if summaries:
        axes = {s["axis"] for s in summaries}
        if len(axes) > 1:
            st.caption("These series vary different things (pre-training amount, width): only those like the "
                       "first are drawn.")
        chart(figures.series_overlay(summaries), K("chart", "series", ",".join(picked)), present)

st.subheader("Published figures (paper), not measured here")
st.caption("For orientation only. These come from the papers, on other models, tasks and budgets; this app never "
           "mixes them with its own measurements.")
a, li = views.reference_frames()
st.markdown(f"**d90 of fine-tuning**, from Table 1 of {views.REF_AGHAJANYAN} (published figures, paper)")
st.dataframe(a, hide_index=True, key=K("table", "aghajanyan"))
st.markdown(f"**d90 of training from scratch**, from {views.REF_LI} (published figures, paper)")
st.dataframe(li, hide_index=True, key=K("table", "li"))
