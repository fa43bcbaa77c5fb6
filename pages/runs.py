"""Runs: every run in the store; open, resume, cancel, delete, download."""
import streamlit as st

from idim_core import demo
from idim_core.errors import UserError
from idim_core.results import result
from idim_core.store import FINAL
from idim_core.ui import figures, serving, text, views, workers
from idim_core.ui.keys import keys_for
from pages import _visitors as visitors
from pages._first_run import through_app

through_app()
K = keys_for("runs")

store = workers.get_store()
st.title("Runs")

rows = views.runs_table(store)
if not rows:
    st.info("No runs yet. Start one on the Explore page, or from a terminal with `idim run --queue`.")
    if workers.EXAMPLE_RUN.is_file() and st.button("Load the recorded example", key=K("button", "load_example")):
        rid = demo.import_recorded(store, workers.EXAMPLE_RUN)
        st.switch_page("pages/live.py", query_params={"run": rid})
    st.stop()

st.dataframe(rows, hide_index=True, key=K("table", "runs"), width="stretch", column_config={
    "baseline": st.column_config.NumberColumn("baseline", format="%.3f",  # a short header: the table fits
                                              help="accuracy of full training / full fine-tuning"),
    "d90": st.column_config.TextColumn("d90", help="≈ interpolated; ≤ below the smallest d tried; > max d never "
                                                   "reached; did not learn: no d90"),
    "projection": st.column_config.TextColumn("projection", help="DID and SAID only: LoRA, VeRA, BitFit and "
                                                                 "head-only train no projection"),
    "levels": st.column_config.TextColumn("levels", help="d for DID and SAID, ranks for LoRA and VeRA, one point "
                                                         "for BitFit and head-only"),
    "created": st.column_config.TextColumn("created", width=150),  # "2026-11-30 06:00" whole
    "recorded": st.column_config.TextColumn("recorded", width="small"),
})
st.caption(f"{len(rows)} run{'s' if len(rows) != 1 else ''} in "
           f"{'the run store' if serving.served_mode() else text.code(store.path)}. The command line shows the same: "
           "`idim ls`.")

ids = [r["run"] for r in rows]
want = st.query_params.get("run")
by_id = {r["run"]: r for r in rows}
if want and want not in by_id:
    st.error(f"There is no run {text.md_repr(want)} in this store; pick one below.")
sel = st.selectbox("Run", ids, index=ids.index(want) if want in ids else 0, key=K("select", "run"),
                   format_func=lambda i: f"{i} · {serving.shown(by_id[i]['model'])} · "
                                         f"{serving.shown(by_id[i]['task'])} · {by_id[i]['method']} · "
                                         f"{by_id[i]['status']}" + (" · recorded" if by_id[i]["recorded"] else ""))
run = store.get_run(sel)
if run is None:
    st.warning(f"Run {text.md(sel)} was just deleted.")
    st.stop()
status = run["status"]

c = st.columns(4)
c[0].page_link("pages/live.py", label="Open the live view", query_params={"run": sel}, icon=":material/monitoring:")
mine = visitors.may_change(run)  # served mode: only the browser that started it, or the teacher
if not mine:
    st.caption(text.md(visitors.READ_ONLY))
if mine and status in ("interrupted", "failed", "cancelled") and not run["config"].get("recorded"):
    if c[1].button("Resume", key=K("button", "resume"),
                   help="Queue it again: finished trials are kept, only missing ones run."):
        try:
            if store.requeue(sel):
                store.event(sel, "info", "resumed from the app")
        except UserError as e:  # a read-only or full store
            st.error(text.md(e))
        else:
            workers.ensure_worker(store.home)
            st.switch_page("pages/live.py", query_params={"run": sel})
if mine and status in ("queued", "running", "interrupted"):
    if c[2].button("Cancel", key=K("button", "cancel"), help="Stop after the current step; finished trials are kept."):
        try:
            state = store.request_cancel(sel)
            st.toast(text.md(f"Run {sel}: {state}"))
        except UserError as e:
            st.error(text.md(e))
        st.rerun()

pending = st.session_state.get(K("state", "confirm_delete"))
training = status == "running"  # the worker is writing to it: cancel first, delete once it stopped
if not mine:
    pass
elif pending != sel or training:
    if c[3].button("Delete …", key=K("button", "delete"), disabled=training,
                   help="Cancel the run first; it can be deleted once it has stopped." if training
                   else "Remove the run and all its trials from the store."):
        st.session_state[K("state", "confirm_delete")] = sel
        st.rerun()
else:
    with st.container(border=True):
        st.warning(f"Delete run {text.md(sel)} and all its trials? This cannot be undone."
                   + (" It is queued: it will be cancelled first." if status == "queued" else ""))
        y, n = st.columns(2)
        if y.button("Yes, delete it", type="primary", key=K("button", "delete_yes")):
            if status == "queued":
                try:
                    store.request_cancel(sel)
                except UserError:
                    pass
            st.session_state.pop(K("state", "confirm_delete"), None)
            try:
                store.delete_run(sel)
            except UserError as e:  # a read-only or full store: nothing deleted, one line
                st.error(text.md(e))
            else:
                st.toast(f"Deleted run {text.md(sel)}")
                st.rerun()
        if n.button("No, keep it", key=K("button", "delete_no")):
            st.session_state.pop(K("state", "confirm_delete"), None)
            st.rerun()

res = result(store, sel)
st.markdown(f"**{views.d90_text(res)}**" + (f" · error: {text.md(res['error'])}" if res.get("error") else ""))
d = st.columns(3)
d[0].download_button("Download CSV", data=lambda rid=sel: views.export_csv(result(workers.get_store(), rid)),
                     file_name=f"idim-{sel}.csv",
                     mime="text/csv", key=K("download", "csv"), on_click="ignore",
                     help="One row per trial: d, seed, accuracy, then the run's baseline, threshold and d90 "
                          "(the same as `idim export`).")
d[1].download_button("Download JSON", data=lambda rid=sel: views.export_json(result(workers.get_store(), rid)),
                     file_name=f"idim-{sel}.json",
                     mime="application/json", key=K("download", "json"), on_click="ignore",
                     help="The whole result object (the same as `idim show --json`).")
d[2].download_button("Download chart (HTML)",
                     data=lambda rid=sel: figures.figure_html(figures.run_figure(result(workers.get_store(), rid)),
                                                              result(workers.get_store(), rid)),
                     file_name=f"idim-{sel}.html", mime="text/html", key=K("download", "html"), on_click="ignore",
                     help="A self-contained interactive chart: opens offline in any browser.")
if status not in FINAL:
    st.caption("The run is still going: the downloads contain what is finished so far.")
