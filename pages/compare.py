"""Compare: overlay several runs, a d90 table, and the published reference figures."""
import streamlit as st

from idim_core import demo, ui
from idim_core.errors import UserError
from idim_core.sweep import result

store = ui.get_store()
st.title("Compare runs")
st.markdown("Overlay runs to see the findings for yourself: a pretrained model against the same architecture "
            "untrained, SAID against DID, a smaller model against a larger one.")


def show_comparison(key: str) -> None:
    try:
        ids = demo.import_comparison(store, key)
    except UserError as e:
        st.error(str(e))
        return
    st.session_state.pop("compare_runs", None)  # the multiselect takes the new runs
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
    with st.expander("Ready-made comparisons (recorded runs, no training needed)", expanded=not store.list_runs()):
        st.caption("Each loads runs recorded with this project's command line (`scripts/record_comparisons.sh`, "
                   "commands in `assets/recorded/*.md`); they are labelled *recorded* everywhere.")
        for key, (title, _names) in ready.items():
            if st.button(title, key=f"cmp_{key}"):
                show_comparison(key)

runs = store.list_runs()
if not runs:
    st.info("No runs yet: start one on the Explore page (or load the recorded example there).")
else:
    labels = {r["id"]: ui.run_label(r) for r in runs}
    wanted = [x for x in st.query_params.get("runs", "").split(",") if x in labels]
    default = wanted or [r["id"] for r in runs if r["status"] == "done"][:2] or [runs[0]["id"]]
    chosen = st.multiselect("Runs", list(labels), default=default, format_func=labels.get, key="compare_runs",
                            help="Pick any runs from the store; unfinished ones show what they have so far.")
    normalise = st.toggle("Normalise: accuracy ÷ full fine-tuning accuracy", key="normalise",
                          help="Puts runs with different baselines on one scale; the threshold is then 0.9 for all.")
    if chosen:
        results = [result(store, rid) for rid in chosen]
        st.plotly_chart(ui.compare_figure(results, normalise=normalise), key="compare_chart",
                        config={"displaylogo": False})
        if normalise and any(r["baseline_accuracy"] is None for r in results):
            st.caption("Runs without a finished baseline cannot be normalised and are left out of the chart.")
        st.subheader("d90 per run (measured here)")
        st.dataframe([{
            "run": r["run_id"], "model": r["model"], "task": r["task"], "method": r["method"].upper(),
            "projection": r["projection"], "status": r["status"] + (" (recorded)" if r["config"].get("recorded") else ""),
            "full fine-tuning": r["baseline_accuracy"], "threshold": r["threshold"],
            "chance": r.get("chance"), "majority class": r.get("majority"),
            "d90 (grid)": r["d90"] if r["d90"] is not None else None,
            "d90 (interpolated)": round(r["d90_interpolated"]) if r["d90_interpolated"] else None,
            "note": ("full fine-tuning did not learn the task (about chance level): d90 says little"
                     if ui.baseline_warning(r) else
                     "" if r["d90"] is not None else ui.d90_text(r).removeprefix("d90").strip(" :")),
        } for r in results], hide_index=True, key="d90_table")

st.subheader("Published figures (paper), not measured here")
st.caption("For orientation only. These come from the papers, on other models, tasks and budgets; this app never "
           "mixes them with its own measurements.")
a, li = ui.reference_frames()
st.markdown(f"**d90 of fine-tuning**, from Table 1 of {ui.REF_AGHAJANYAN} (published figures, paper)")
st.dataframe(a, hide_index=True, key="ref_aghajanyan")
st.markdown(f"**d90 of training from scratch**, from {ui.REF_LI} (published figures, paper)")
st.dataframe(li, hide_index=True, key="ref_li")
