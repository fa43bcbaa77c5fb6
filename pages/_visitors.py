"""Who is at the other end of a page: a visitor (a browser) and whether it is the teacher.

In served mode a class shares one app.  Each browser gets an identity that survives a refresh: a hash of the
XSRF token Streamlit keeps in a cookie for that browser (the token never leaves the server; only its hash is
stored, with the runs it started).  Without that cookie (XSRF protection off, the test harness) the identity
lasts as long as the tab's session.  The teacher is the machine's own browser (a loopback address) or anyone
when the app is not served; the CLI is the teacher too.

Nothing here imports streamlit at import time.
"""
from __future__ import annotations

import hashlib
import ipaddress
import secrets

XSRF_COOKIE = "_streamlit_xsrf"
SESSION_KEY = "visitors:state:id"


def _token(cookie: str | None) -> str | None:
    """The secret inside Tornado's XSRF cookie ("2|mask|masked|time": the token is masked XOR the 4-byte mask,
    repeated; the mask changes with every response, the token does not), or the cookie itself in another
    format; None without one."""
    if not isinstance(cookie, str) or not cookie:
        return None
    parts = cookie.split("|")
    if len(parts) == 4 and parts[0] == "2":
        try:
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            return cookie
        return bytes(m ^ mask[i % len(mask)] for i, m in enumerate(masked)).hex() if mask else cookie
    return cookie


def visitor_id() -> str:
    """This browser's identity: 16 hex digits, the same after a refresh (see the module's docstring)."""
    import streamlit as st

    try:
        cookie = st.context.cookies.get(XSRF_COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (bare mode): a session identity
        cookie = None
    token = _token(cookie)
    if token:
        return hashlib.sha256(("idim-visitor:" + token).encode()).hexdigest()[:16]
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = "s" + secrets.token_hex(8)[1:]
    return st.session_state[SESSION_KEY]


def is_teacher() -> bool:
    """The app is not served, or this browser runs on the server itself (a loopback address)."""
    from idim_core.ui import serving

    if not serving.served_mode():
        return True
    import streamlit as st

    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001
        ip = None
    if not isinstance(ip, str):
        return False
    try:
        return bool(ip) and ipaddress.ip_address(str(ip).split("%")[0]).is_loopback
    except ValueError:
        return False


def may_change(run: dict) -> bool:
    """Whether this browser may cancel, resume or delete ``run``: the teacher always; in served mode a visitor only
    the runs it started (recorded runs and runs from the CLI are the teacher's)."""
    if is_teacher():
        return True
    return bool(run.get("visitor")) and run.get("visitor") == visitor_id()


def owner_for_new_run() -> str | None:
    """What ``Store.create_run(visitor=...)`` records for a run started here: this browser in served mode."""
    from idim_core.ui import serving

    return visitor_id() if serving.served_mode() else None


READ_ONLY = ("This run was started from another browser: you can watch it, but only that browser (or the teacher, "
             "at the server) can stop, resume or delete it.")


# Fair shares of one worker in served mode: a visitor may have this many runs waiting or training, the whole
# queue this many, and one run may be estimated at most this long (a class's lesson is 45 minutes).
MAX_PER_VISITOR = 3
MAX_QUEUE = 60
MAX_RUN_SECONDS = 30 * 60


def check_share(store, estimate_s: float | None, runs: int = 1) -> None:
    """In served mode, refuse (one line) a start that would exceed this visitor's share, the queue, or the largest
    run; the teacher and the local app are not limited."""
    from idim_core.errors import UserError
    from idim_core.ui.estimates import fmt_seconds

    if is_teacher():
        return
    mine = store.waiting(visitor_id())
    if mine + runs > MAX_PER_VISITOR:
        raise UserError(f"you have {mine} run(s) waiting or training; each browser may have {MAX_PER_VISITOR} at a "
                        "time on this shared server: wait for one to finish or cancel one")
    total = store.waiting()
    if total + runs > MAX_QUEUE:
        raise UserError(f"the server's queue is full ({total} runs waiting); try again when some have finished")
    if estimate_s is not None and estimate_s > MAX_RUN_SECONDS:
        raise UserError(f"this run is estimated at about {fmt_seconds(estimate_s)}; on this shared server one run "
                        f"may take at most {fmt_seconds(MAX_RUN_SECONDS)}: fewer seeds, epochs or training examples")


MAX_SERIES_RUNS = 12  # served mode: a visitor's series may queue this many runs, when nothing else of it waits


def check_series(store, runs: int) -> None:
    """In served mode, a series is a visitor's whole share: nothing else waiting, at most MAX_SERIES_RUNS runs."""
    from idim_core.errors import UserError

    if is_teacher():
        return
    if runs > MAX_SERIES_RUNS:
        raise UserError(f"this series would queue {runs} runs; on this shared server a series may queue at most "
                        f"{MAX_SERIES_RUNS}: fewer amounts, or no control")
    mine = store.waiting(visitor_id())
    if mine:
        raise UserError(f"you have {mine} run(s) waiting or training; a series needs the whole of your share on this "
                        "shared server: wait for them to finish or cancel them")
    total = store.waiting()
    if total + runs > MAX_QUEUE:
        raise UserError(f"the server's queue is full ({total} runs waiting); try again when some have finished")
