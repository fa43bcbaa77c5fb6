"""Served mode: the app is open to other machines (a class), so nothing a visitor sends may name a file.

Served mode is on when

- ``IDIM_SERVED=1`` (or true/yes/on) is set in the app's environment, or
- Streamlit listens beyond this machine: ``server.address`` is anything but a loopback address
  (127.x.x.x, ::1, localhost).  An empty address counts as served: Streamlit then listens on
  every interface.  idim's own .streamlit/config.toml sets 127.0.0.1, so a plain
  ``streamlit run app.py`` is local and ``--server.address 0.0.0.0`` is served.

There is no switch to turn it off for a non-loopback address: behind a reverse proxy on this
machine, keep the loopback address (and set IDIM_SERVED=1 if the proxy is public).

In served mode: CSV tasks come from uploads only (no path box; a ``task=csv:…`` link is refused),
only the models and tasks bundled with idim can be chosen (no hub id, no model directory, no
download), and trials train on this machine (no Ray address).  Outside served mode a link may
still prefill a CSV path, but the page reads that file only after the user confirms it.

Nothing here imports streamlit at import time.
"""
from __future__ import annotations

import ipaddress
import os
import sys

SERVED_ENV = "IDIM_SERVED"
NOTE = ("Served mode: this app is shared on a network, so nothing in a link or the form can name a file on "
        "the server: your own data comes by upload, and only the models and tasks bundled with idim can be chosen.")


def is_loopback(address: str | None) -> bool:
    a = (address or "").strip().strip("[]").lower()
    if not a:
        return False  # empty: Streamlit listens on every interface
    if a == "localhost":
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


def served_mode(address: str | None = None, env: dict | None = None) -> bool:
    """Whether the app runs in served mode (``address``: Streamlit's server.address, read when not given)."""
    env = os.environ if env is None else env
    if str(env.get(SERVED_ENV, "")).strip().lower() in ("1", "true", "yes", "on"):
        return True
    if address is None:  # the running app's own setting (idim_core never imports Streamlit itself)
        st = sys.modules.get("streamlit")
        address = st.get_option("server.address") if st is not None else "127.0.0.1"
    return not is_loopback(address)


def server_roots() -> list[str]:
    """Folders on the server whose paths a visitor has no business seeing: the run store (and its uploads), the
    project, the user's home, the working directory, Python's prefix and the temporary folder; longest first."""
    import sys as _sys
    import tempfile
    from pathlib import Path

    from ..store import default_home

    roots = set()
    for p in (default_home(), Path(__file__).resolve().parents[2], Path.home(), Path.cwd(), Path(_sys.prefix),
              Path(tempfile.gettempdir())):
        try:
            for q in (str(p), str(Path(p).resolve())):
                if len(q) > 1:
                    roots.add(q.rstrip("/\\"))
        except OSError:
            continue
    return sorted(roots, key=len, reverse=True)


def scrub(text: str) -> str:
    """``text`` with every server folder (``server_roots``) replaced by "…", and an upload's stored path
    (``<store>/uploads/NAME-HASH.csv``, any file-backed source's extension) by the name it was uploaded as
    (``NAME.csv``): what a served page or export may show of a message that names a file."""
    import re

    for root in server_roots():
        text = text.replace(root, "…")
    text = re.sub(r"…[/\\]uploads[/\\]([\w.-]+?)-[0-9a-f]{12}(\.[A-Za-z0-9]+)", r"\1\2", text)
    return re.sub(r"…[/\\]uploads[/\\][\w.-]+", "your upload", text)


def shown(value):
    """``value`` as a served page or download may show it: ``scrub``-bed in served mode, as it is otherwise."""
    return scrub(value) if isinstance(value, str) and served_mode() else value


def outward_host() -> str | None:
    """This machine's address on its network (the interface a default route leaves by), or None: what a student's
    browser connects to when the teacher's own page says 127.0.0.1.  No packet is sent."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # a documentation address: connect() on UDP only picks the route
            host = s.getsockname()[0]
    except OSError:
        return None
    return None if is_loopback(host) or host == "0.0.0.0" else host


def class_address(page_url: str | None, path: str = "") -> str | None:
    """The address students should open: the page's own scheme, host and port (the host swapped for this
    machine's network address when the teacher's browser uses a loopback one), then ``path``; None when there is
    no address to give."""
    from urllib.parse import urlsplit

    try:
        u = urlsplit(page_url or "")
        host, port = u.hostname, u.port
    except ValueError:
        return None
    if not host or u.scheme not in ("http", "https"):
        return None
    if is_loopback(host):
        host = outward_host()
        if host is None:
            return None
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    return f"{u.scheme}://{netloc}/{path.lstrip('/')}"


def qr_svg(address: str) -> str | None:
    """A QR code of ``address`` as inline SVG (segno), or None when segno is missing."""
    try:
        import segno
    except ImportError:
        return None
    return segno.make(address, error="m").svg_inline(scale=5, dark="#111", light="#fff")
