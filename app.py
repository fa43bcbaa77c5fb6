"""idim explorer: `streamlit run app.py`.

Thin on purpose: page setup, navigation, the sidebar, and making sure a background
worker trains queued runs.  The pages live in pages/; shared helpers in idim_core/ui/ (one module per concern).
The app never trains and never imports torch: it writes queued runs to the store and
reads results back.
"""
import streamlit as st

from idim_core.errors import UserError
from idim_core.ui import serving, text, views, workers

st.set_page_config(page_title="idim: intrinsic dimension explorer", page_icon=":material/monitoring:", layout="wide")
if serving.served_mode():  # a class sees one line, never a traceback with the server's paths
    st.set_option("client.showErrorDetails", "none")

nav = st.navigation([
    st.Page("pages/explore.py", title="Explore", icon=":material/science:", default=True),
    st.Page("pages/live.py", title="Live run", icon=":material/monitoring:", url_path="live"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs"),
    st.Page("pages/series.py", title="Series", icon=":material/stacked_line_chart:", url_path="series"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
    st.Page("pages/lesson.py", title="Lesson", icon=":material/co_present:", url_path="lesson"),
])

try:
    store = workers.get_store()
    worker = workers.ensure_worker(store.home)
except UserError as e:  # an unusable store directory: say what to do, keep the page alive
    st.error(text.md(e))
    st.stop()

with st.sidebar:
    st.markdown(f"**Device:** `{workers.detect_device()}`")
    st.caption({"running": "Background worker: running", "started": "Background worker: starting",
                "disabled": "Background worker: not started by the app (IDIM_NO_AUTOSTART_WORKER)",
                "read-only": "Run store is read-only: runs can be viewed, none can train here"}[worker])
    if serving.served_mode():
        st.caption("Served mode: uploads only; no file on the server can be named (see docs/how-to/serve-a-class.md).")
    else:
        st.caption(f"Run store: {text.code(store.path)}")

st.html(views.APP_CSS)  # style alone: no room taken (views.APP_CSS says why)
nav.run()
