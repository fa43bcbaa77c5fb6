"""Screenshots of the current app, and what a projector would show of each page.

    python scripts/screenshots.py                   # the README's pictures, into docs/img/
    python scripts/screenshots.py --check OUT_DIR   # every presenter page and lesson step: PNGs and sizes (JSON)

Starts `streamlit run app.py` on a fresh store in a temporary folder (the recorded runs imported, nothing
trained), opens each page in Chromium (Debian's, through Playwright) at 1280×720 and saves what it shows.
``--check`` also prints, per page, the main chart's plot area (the axes alone) in px, whether its legend
scrolls, whether the page scrolls sideways and whether the sidebar is open; it exits 1 when a presenter page's
plot area is under 430 px, a legend scrolls, the page scrolls sideways or the sidebar is open.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("IDIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
MIN_PLOT = 430  # px: the presenter view's main plot area at 720 px (60 % of the screen)

# The first chart in the main column: its plot area (2-D: the axes' drag rectangle; 3-D: the scene), whether its
# legend is cut off into a scroll box, and the page's own sideways scroll and sidebar
MEASURE = """() => {
    const main = document.querySelector('[data-testid="stMain"]') || document;
    const gd = [...main.querySelectorAll('.js-plotly-plot')].find(g => g.getBoundingClientRect().height > 50);
    const out = {chart: !!gd, plot_h: null, plot_top: null, legend_scrolls: false, figure_h: null};
    if (gd) {
        const drag = gd.querySelector('.cartesianlayer .nsewdrag, .draglayer .nsewdrag');
        const scene = gd.querySelector('[id^="scene"]');
        const el = drag || scene;
        if (el) {
            const r = el.getBoundingClientRect();
            out.plot_h = Math.round(r.height);
            out.plot_top = Math.round(r.top);
        }
        out.figure_h = Math.round(gd.getBoundingClientRect().height);
        const leg = gd.querySelector('.legend');
        if (leg) {
            const bg = leg.querySelector('.bg'), box = leg.querySelector('.scrollbox');
            if (bg && box) out.legend_scrolls = box.getBBox().height > bg.getBBox().height + 2;
        }
    }
    const s = document.querySelector('[data-testid="stSidebar"]');
    out.sidebar_open = !!s && s.getBoundingClientRect().right > 1;
    out.side_scroll = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;
    out.exception = !!document.querySelector('[data-testid="stException"]');
    return out;
}"""

# the app has drawn: connected, and no script run going on
IDLE = """() => { const a = document.querySelector('[data-testid="stApp"]');
    return !!a && a.dataset.testConnectionState === 'CONNECTED' && a.dataset.testScriptState === 'notRunning'; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path, port: int):
    env = dict(os.environ, IDIM_HOME=str(home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", IDIM_NO_AUTOSTART_WORKER="1")
    log = open(home / "streamlit.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 90
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"streamlit exited: {(home / 'streamlit.log').read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url, log
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("streamlit did not start within 90 s")


def settle(page, timeout_ms: int = 90_000) -> None:
    """Wait for the page's script run to end and its first chart to be drawn (if any), then a beat."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(IDLE, timeout=timeout_ms, polling=250)
    page.wait_for_timeout(600)  # a rerun the first run asked for (a step put back in the address)
    page.wait_for_function(IDLE, timeout=timeout_ms, polling=250)
    page.wait_for_timeout(900)  # Plotly lays out after the element appears


def collapse_sidebar(page) -> None:
    """As a presenter would: the sidebar's collapse button (shown on hover)."""
    gone = """() => { const s = document.querySelector('[data-testid="stSidebar"]');
        return !s || s.getBoundingClientRect().right <= 1; }"""
    if page.evaluate(gone):
        return
    page.locator('[data-testid="stSidebar"]').hover()
    page.get_by_role("button", name="Collapse sidebar").click()
    page.wait_for_function(gone, timeout=10_000)
    page.wait_for_timeout(900)


def recorded_ids(home: Path) -> dict:
    """Import what the pages show (the default record and the ready-made comparisons); {name: run id}."""
    sys.path.insert(0, str(ROOT))
    from idim_core import demo, series
    from idim_core.store import Store

    store = Store(home)
    ids = {"example": demo.import_recorded(store)}
    for key in demo.available_comparisons():
        demo.import_comparison(store, key)
    ids["mlp-mnist5k"] = demo.import_recorded(store, demo.RECORDED_DIR / "mlp-mnist5k.json")
    rec = series.recorded("mlp-digit-ge5-amounts")
    if rec is not None and hasattr(series, "import_recorded"):
        ids["series"] = series.import_recorded(store, rec)
    store.close()
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", metavar="OUT_DIR", help="shoot and measure every presenter page and lesson step")
    args = ap.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("playwright is not installed (pip install playwright)") from None
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install -y chromium, or set IDIM_CHROMIUM)")
    out_dir = Path(args.check) if args.check else ROOT / "docs" / "img"
    out_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from idim_core.ui import lesson

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        ids = recorded_ids(home)
        proc, url, log = serve(home, free_port())
        shots = []
        if args.check:
            shots += [(f"lesson-{i}", f"lesson?step={i}", True) for i in range(1, len(lesson.STEPS) + 1)]
            shots += [("live-present", f"live?run={ids['example']}&present=1", True),
                      ("compare-present", "compare?comparison=classic&present=1", True),
                      ("series-present", "series?present=1", True),
                      ("learn-present", "learn?present=1", True)]
        else:
            shots += [("screenshot_live", f"live?run={ids['example']}", False),  # the README's: chart and all
                      ("screenshot_lesson", "lesson?step=2", True)]
        report, bad = {}, []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                ctx = browser.new_context(viewport={"width": 1280, "height": 720})
                page = ctx.new_page()
                for name, path, presenting in shots:
                    t = time.monotonic()
                    # the README's Live picture is taller than a projector, so it holds the chart; checks at 720
                    page.set_viewport_size({"width": 1280, "height": 1180 if name == "screenshot_live" else 720})
                    page.goto(f"{url}/{path}")
                    settle(page)
                    if presenting:
                        collapse_sidebar(page)
                    page.evaluate("() => window.scrollTo(0, 0)")
                    m = page.evaluate(MEASURE)
                    m["seconds"] = round(time.monotonic() - t, 1)
                    page.screenshot(path=str(out_dir / f"{name}.png"))
                    report[name] = m
                    if args.check and (m["exception"] or not m["chart"] or (m["plot_h"] or 0) < MIN_PLOT
                                       or m["legend_scrolls"] or m["side_scroll"] or m["sidebar_open"]):
                        bad.append(name)
                    print(name, json.dumps(m), flush=True)
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    print(json.dumps({"pages": len(report), "failing": bad, "out": str(out_dir)}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
