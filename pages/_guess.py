"""The class's guesses: "Where will it cross?", one guess of d90 per browser and run (Store.add_guess), on Live
and in the lesson; and the address (with a QR code) students open in served mode."""
import statistics

import streamlit as st

from idim_core.errors import UserError
from idim_core.ui import serving, text
from pages import _visitors as visitors

LABEL = "Your guess: where will it cross the threshold (d)?"


def guess_box(store, run_id: str, K, open_now: bool = True) -> None:
    """The guess box for ``run_id`` (``K``: the page's key maker), or a line saying this browser's guess is in."""
    mine = visitors.visitor_id()
    have = store.guesses(run_id)
    if any(g["visitor"] == mine for g in have):
        st.caption(f"Your guess is in ({len(have)} guess{'es' if len(have) != 1 else ''} so far).")
        return
    if not open_now:
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    d = c1.number_input(LABEL, min_value=1, max_value=10**9, value=None, step=100, key=K("number", "guess", run_id),
                        help="One guess per browser. It is drawn on the chart with the class's other guesses and "
                             "compared with the measured d90 when the run ends.")
    if c2.button("Submit guess", key=K("button", "guess", run_id), disabled=d is None):
        try:
            store.add_guess(run_id, mine, float(d))
        except UserError as e:
            st.error(text.md(e))
        else:
            st.rerun()


def guesses_line(res: dict, guesses: list[dict], hidden: bool) -> str | None:
    """The class's guesses beside the measured d90, once it is shown."""
    if not guesses:
        return None
    ds = [g["d"] for g in guesses]
    line = f"The class guessed {len(ds)} time{'s' if len(ds) != 1 else ''}: median d = {statistics.median(ds):,.0f}"
    if res.get("d90_status") == "found" and not hidden:
        d90v = res["d90_interpolated"]
        near = sum(1 for d in ds if 0.5 <= d / d90v <= 2)
        line += f"; measured d90 ≈ {d90v:,.0f} ({near} of {len(ds)} within a factor of 2)"
    return line + "."


def class_link(path: str) -> None:
    """In served mode, the address students should open (and its QR code) for ``path``."""
    if not serving.served_mode():
        return
    try:
        url = st.context.url
    except Exception:  # noqa: BLE001 - no browser context
        url = None
    address = serving.class_address(url, path)
    if address is None:
        st.caption("Students open this app's address on their own machines (the one in your browser's bar, with "
                   "this machine's network name in place of localhost).")
        return
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    svg = serving.qr_svg(address)
    if svg:
        with c1:
            st.html(svg)
    c2.markdown(f"**Students open:** {text.code(address)}")
