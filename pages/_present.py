"""The presenter view's two page helpers (Streamlit lives in the pages, never in idim_core)."""
import streamlit as st

from idim_core.ui.figures import presenter
from idim_core.ui.views import PRESENTER_CSS


def presenter_switch(key: str, label: str = "Presenter view (large type, for a projector)") -> bool:
    """The page's presenter toggle, kept in the address (?present=1, so a link opens in it); injects
    PRESENTER_CSS (idim_core.ui.views) when on."""
    present = st.query_params.get("present", "") in ("1", "true", "yes")
    if st.toggle(label, value=present, key=key) != present:
        if present:
            st.query_params.pop("present", None)
        else:
            st.query_params["present"] = "1"
        st.rerun()
    if present:  # large type, and the sidebar out of the way of the chart
        st.set_page_config(initial_sidebar_state="collapsed")
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    return present


def chart(fig, key: str, present: bool = False) -> None:
    """st.plotly_chart with the app's config; in the presenter view the figure is enlarged
    (figures.presenter) and drawn with Plotly's own theme, since Streamlit's theme would reset its fonts."""
    if present:
        st.plotly_chart(presenter(fig), key=key, theme=None, config={"displaylogo": False})
    else:
        st.plotly_chart(fig, key=key, config={"displaylogo": False})
