"""The Series page's preset ("Pre-training shrinks d90") timed as a class meets it: queued from the page in
Chromium, the tab left open while the series fills in, against the same series queued with no tab.

    python bench/series_preset.py                 # one series each way, tab first
    python bench/series_preset.py --repeats 2     # alternated: tab, no tab, tab, no tab

Each series gets a fresh store (so a finished series or a cached pre-trained state from the one before is
never reused), its own `streamlit run app.py` (headless) and background worker, as a user starts them.  The
time of a series is from queueing to its last run's end, read from the store: pre-training, baselines and
the d90 searches of every amount and the shuffled-label control.  Target (the pre-training issue): about
three minutes on a 2-core laptop with a tab open.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tab_cost import browser_cpu_seconds, cpu_seconds, free_port, launch_chromium, server_healthy, wait  # noqa: E402


def one_series(with_tab: bool, timeout: float) -> dict:
    from idim_core import series as series_mod
    from idim_core.store import Store

    home = Path(tempfile.mkdtemp(prefix="idim-preset-"))
    env = dict(os.environ, IDIM_HOME=str(home), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               IDIM_WORKER_WARM="0", IDIM_NO_AUTOSTART_WORKER="1", IDIM_WORKER_CALIBRATE="0")
    port = free_port()
    log = open(home / "streamlit.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = subprocess.Popen([sys.executable, "-m", "idim_core.worker", str(home)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    store = Store(home)

    out: dict = {"tab": with_tab}
    try:
        wait(lambda: server_healthy(url), 90, "the streamlit server")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            if with_tab:  # as a teacher does: Explore's preset link, then Queue on the Series page
                page.goto(url)
                page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=90_000)
                page.get_by_text("Preset: pre-training shrinks d90").click()
                page.wait_for_url("**/series*", timeout=60_000)
                page.get_by_role("button", name="Queue the series").wait_for(timeout=60_000)
                s0, b0, t0 = cpu_seconds(server.pid), browser_cpu_seconds(), time.time()
                page.get_by_role("button", name="Queue the series").click()
                page.get_by_text("run(s) queued for the background worker").wait_for(timeout=60_000)
                sid = page.url.split("series=")[1][:12] if "series=" in page.url else None
            else:
                page.goto("about:blank")
                s0, b0, t0 = cpu_seconds(server.pid), browser_cpu_seconds(), time.time()
                src = "mnist5k@a"
                sid, _ = series_mod.queue(store, {"model": "mlp", "task": "mnist5k:ge5@b", "dims": "auto",
                                                  "seeds": 1}, [src, src + ":shuffled"], [0, 3, 10], [None])
            ids = lambda: [r["id"] for r in series_mod.list_series(store)]  # noqa: E731
            sid = sid or wait(ids, 60, "the series")[0]

            def finished():
                runs = series_mod.runs_of(store, sid)
                return runs and all(r["status"] in ("done", "failed", "cancelled") for r in runs)

            wait(finished, timeout, f"series {sid}")
            if with_tab:  # the chart filled in while the tab was open
                page.wait_for_selector(".js-plotly-plot", timeout=30_000)
            runs = series_mod.runs_of(store, sid)
            out["series"] = sid
            out["runs"] = len(runs)
            out["statuses"] = sorted({r["status"] for r in runs})
            ends = [float(r.get("finished") or 0) for r in runs]
            out["wall_s"] = round(max(ends) - t0, 1) if all(ends) else round(time.time() - t0, 1)
            out["server_cpu_s"] = round(cpu_seconds(server.pid) - s0, 2)
            out["browser_cpu_s"] = round(browser_cpu_seconds() - b0, 2)
            summ = series_mod.summary(store, sid)
            out["d90"] = {f"{e['pretrain'] or 'scratch'}:{e['pretrain_epochs']}": e.get("d90_interpolated")
                          for e in summ["entries"]}
            browser.close()
    finally:
        for proc in (worker, server):
            proc.terminate()
        for proc in (worker, server):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=1, help="series per condition (alternated, tab first)")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for one series")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for _ in range(args.repeats):
        for tab in (True, False):
            r = one_series(tab, args.timeout)
            rows.append(r)
            if not args.json:
                print(f"{'tab open' if tab else 'no tab  '}: {r['wall_s']:.0f} s for {r['runs']} runs "
                      f"({', '.join(r['statuses'])}); server CPU {r['server_cpu_s']:.1f} s, browser "
                      f"{r['browser_cpu_s']:.1f} s; d90 {r['d90']}", flush=True)
    tab = statistics.median(r["wall_s"] for r in rows if r["tab"])
    no = statistics.median(r["wall_s"] for r in rows if not r["tab"])
    summary = {"rows": rows, "tab_median_s": tab, "no_tab_median_s": no, "ratio": round(tab / no, 3)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"median: tab open {tab:.0f} s, no tab {no:.0f} s, ratio {tab / no:.2f} "
              f"(target: about three minutes with a tab open)")


if __name__ == "__main__":
    main()
