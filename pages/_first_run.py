"""Shared by every page (not a page itself: app.py's st.navigation never lists it).

A deep link (/live?run=…) that is the first request a server gets makes Streamlit run the
page file alone, as an old-style page of the pages/ folder, without app.py (no navigation,
no worker).  ``through_app()`` switches it to app.py's st.navigation, which then opens the
same page.  Only on a session's first run, which carries no click that a rerun could lose.
"""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def through_app() -> None:
    if PagesManager.uses_pages_directory and not st.session_state.get("_idim_seen"):
        PagesManager.uses_pages_directory = False
        st.session_state["_idim_seen"] = True
        st.rerun()
    st.session_state["_idim_seen"] = True
