"""Compare: overlay several runs, a d90 table, and the published reference figures."""
import streamlit as st

from idim_core import demo
from idim_core.ui import figures, views, workers
from idim_core.errors import UserError
from idim_core.d90 import short as d90_short
from idim_core.results import result

from pages._first_run import through_app

through_app()

store = workers.get_store()
st.title("Compare runs")
st.markdown("Overlay runs to see the findings for yourself: a pretrained model against the same architecture "
            "untrained, SAID against DID, a smaller model against a larger one.")


def show_comparison(key: str) -> None:
    try:
        ids = demo.import_comparison(store, key)
    except UserError as e:
        st.error(str(e))
        return
    # A new generation of the multiselect's key: the browser then builds a fresh widget showing the
    # new runs (dropping its state on the server alone leaves the old selection in the page, and the
    # next click would send it back).
    st.session_state["compare_gen"] = st.session_state.get("compare_gen", 0) + 1
    st.query_params.from_dict({"runs": ",".join(ids)})
    st.rerun()


# -- ready-made comparisons, recorded with idim's own CLI (assets/recorded/) --------------------
ready = demo.available_comparisons()
if "comparison" in st.query_params:  # a link from the Learn page
    key = st.query_params["comparison"]
    if key in ready:
        show_comparison(key)
    else:
        st.error(f"no recorded comparison named {key!r}; choose one below")
if ready:
    with st.expander("Ready-made comparisons (recorded runs, no training needed)", expanded=True):
        st.caption("Each loads runs recorded with this project's command line (`scripts/record_comparisons.sh`, "
                   "commands in `assets/recorded/*.md`); they are labelled *recorded* everywhere.")
        for key, (title, _names) in ready.items():
            if st.button(title, key=f"cmp_{key}"):
                show_comparison(key)

runs = store.list_runs()
if not runs:
    st.info("No runs yet: start one on the Explore page (or load the recorded example there).")
else:
    labels = {r["id"]: views.run_label(r) for r in runs}
    wanted = [x for x in st.query_params.get("runs", "").split(",") if x in labels]
    default = wanted or [r["id"] for r in runs if r["status"] == "done"][:2] or [runs[0]["id"]]
    gen = st.session_state.get("compare_gen", 0)
    chosen = st.multiselect("Runs", list(labels), default=default, format_func=labels.get,
                            key="compare_runs" if gen == 0 else f"compare_runs_{gen}",
                            help="Pick any runs from the store; unfinished ones show what they have so far.")
    normalise = st.toggle("Normalise: accuracy ÷ full fine-tuning accuracy", key="normalise",
                          help="Puts runs with different baselines on one scale; the threshold is then 0.9 for all.")
    if chosen:
        results = [result(store, rid) for rid in chosen]
        st.plotly_chart(figures.compare_figure(results, normalise=normalise), key="compare_chart",
                        config={"displaylogo": False})
        if normalise and any(r["baseline_accuracy"] is None for r in results):
            st.caption("Runs without a finished baseline cannot be normalised and are left out of the chart.")
        st.subheader("d90 per run (measured here)")
        def ci_text(r):
            ci = r.get("d90_ci")
            if not ci:
                return ""
            return (f"{ci[0]:,.0f}" if ci[0] is not None else "?") + " – " + \
                (f"{ci[1]:,.0f}" if ci[1] is not None else "> max d")

        def blank(v):
            return "" if v is None else v

        st.dataframe([{
            "run": r["run_id"], "model": r["model"], "task": r["task"], "method": r["method"].upper(),
            "projection": r["projection"], "status": r["status"] + (" (recorded)" if r["config"].get("recorded") else ""),
            "seeds": r["config"].get("seeds", 1),
            "full training / fine-tuning": blank(r["baseline_accuracy"] and round(r["baseline_accuracy"], 3)),
            "threshold": blank(r["threshold"] and round(r["threshold"], 3)),
            "chance": blank(r.get("chance") and round(r["chance"], 3)),
            "majority class": blank(r.get("majority") and round(r["majority"], 3)),
            "d90": d90_short(r).replace("—", ""),
            "d90 95 % interval": ci_text(r),
            "note": ("did not learn the task with this budget: no d90" if r.get("d90_status") == "baseline_at_floor"
                     else "" if r.get("d90_status") in ("found",) else views.d90_text(r)),
        } for r in results], hide_index=True, key="d90_table")
        st.caption("Where two runs' intervals overlap, the data do not say which d90 is smaller. The interval "
                   "resamples seeds and test examples (95 %, bootstrap).")
        budgets = {(r["config"].get("epochs"), r["config"].get("max_train"), r["config"].get("seeds")) for r in results}
        if len(budgets) > 1:
            st.caption("These runs differ in budget (epochs, training examples or seeds): compare their d90 with care.")

st.subheader("Published figures (paper), not measured here")
st.caption("For orientation only. These come from the papers, on other models, tasks and budgets; this app never "
           "mixes them with its own measurements.")
a, li = views.reference_frames()
st.markdown(f"**d90 of fine-tuning**, from Table 1 of {views.REF_AGHAJANYAN} (published figures, paper)")
st.dataframe(a, hide_index=True, key="ref_aghajanyan")
st.markdown(f"**d90 of training from scratch**, from {views.REF_LI} (published figures, paper)")
st.dataframe(li, hide_index=True, key="ref_li")
