"""The app in a real browser: Playwright driving Debian's Chromium against `streamlit run`.

A real `streamlit run app.py --server.headless true` serves a fresh store (IDIM_HOME in
tmp_path); the app starts the real background worker, which trains a tiny model (the
bundled MiniLM cut to 1 layer, 48 examples).  We launch a run from the Explore form,
watch the chart gain points without reloading, reload and open a second tab on the
same run, and cancel a second, longer run.

Waits are on Streamlit's own state (the stApp element's connection and script-run
attributes, as streamlit's e2e tests do) and on the page content, all bounded.
In CI these tests must run: a missing Chromium or Playwright fails them there; on a
developer machine without /usr/bin/chromium they are skipped.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: real processes, real training (bash scripts/test.sh runs them)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("IDIM_CHROMIUM", "/usr/bin/chromium")
IN_CI = bool(os.environ.get("CI"))
TINY = {"model": "minilm-l1", "task": "mr", "method": "said", "projection": "fastfood", "dims": "20,200,2000",
        "seeds": "1", "max_train": "48", "max_eval": "32", "epochs": "1", "max_length": "32"}
# A run long enough to be cancelled while it trains (about 30 steps per trial, 6 trials).
LONG = {**TINY, "dims": "10,100,1000,10000,100000,1000000", "max_train": "960", "epochs": "1"}

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

if sync_playwright is None or not Path(CHROMIUM).exists():
    why = ("playwright is not installed" if sync_playwright is None else f"{CHROMIUM} is missing") + \
          " (install: pip install playwright; apt-get install -y chromium)"
    if IN_CI:
        raise RuntimeError(f"browser tests cannot run in CI: {why}")
    pytest.skip(why, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float, what: str, every: float = 0.5):
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def start_server(home: Path, port: int, address: str = "127.0.0.1", env_extra: dict | None = None):
    """`streamlit run app.py` on a store, waited until healthy. Returns (process, url, log file)."""
    env = dict(os.environ, IDIM_HOME=str(home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("IDIM_NO_AUTOSTART_WORKER", None)  # the real worker, started by the app
    env.update(env_extra or {})
    log = open(home / "streamlit.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", address, "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{address}:{port}"

    def healthy():
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited: {(home / 'streamlit.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    wait_until(healthy, 60, "the streamlit server")
    return proc, url, log


def stop_server(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("idim-browser")
    proc, url, log = start_server(home, free_port())
    try:
        yield {"url": url, "home": home, "proc": proc}
    finally:
        stop_server(proc, log)
        stop_worker(home)


def stop_worker(home: Path) -> None:
    """Stop the worker the app started (its pid is in the lock file; it leads its own session)."""
    from idim_core.worker import worker_running

    try:
        pid = int((home / "worker.lock").read_text().strip() or 0)
    except (OSError, ValueError):
        return
    if not pid or not worker_running(home):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    end = time.monotonic() + 15
    while time.monotonic() < end and worker_running(home):
        time.sleep(0.3)
    if worker_running(home):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


def wait_app(page, timeout: float = 60_000) -> None:
    """Connected to the server and no script run in progress (Streamlit's own attributes)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


def chart_points(page) -> int:
    """Finished d values on the live chart, read from the Plotly graph in the page (-1: no chart yet)."""
    return page.evaluate("""() => {
        for (const gd of document.querySelectorAll('.js-plotly-plot')) {
            for (const t of (gd.data || [])) {
                if (t.meta && t.meta.role === 'points') return t.x.length;
            }
        }
        return -1;
    }""")


def status_text(page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Status").first
    return metric.locator('[data-testid="stMetricValue"]').inner_text() if metric.count() else ""


def launch(page, url: str, params: dict) -> str:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    page.goto(f"{url}/?{q}")
    wait_app(page)
    expect(page.get_by_text("Rough estimate")).to_be_visible()
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/live\?run=[0-9a-f]{12}"), timeout=60_000)
    return re.search(r"run=([0-9a-f]{12})", page.url).group(1)


def test_launch_watch_reload_and_second_tab(server, context):
    from idim_core.store import Store

    page = context.new_page()
    run_id = launch(page, server["url"], TINY)
    store = Store(server["home"])
    assert store.get_run(run_id)["config"]["model"] == "minilm-l1"
    expect(page.get_by_text(run_id).first).to_be_visible()
    page.evaluate("() => { window.__idimNoReload = true; }")  # a reload would wipe this

    # the chart exists before any trial finished, then gains points by itself
    wait_until(lambda: chart_points(page) >= 0, 60, "the live chart")
    first = chart_points(page)
    wait_until(lambda: chart_points(page) >= max(2, first + 1), 240, "the chart to gain points", every=1)
    assert page.evaluate("() => window.__idimNoReload === true"), "the page reloaded itself"
    trials = [t for t in store.trials(run_id) if t["kind"] == "subspace" and t["status"] == "done"]
    assert len(trials) >= 2

    # a reload shows the same run, with at least what it had
    seen = chart_points(page)
    page.reload()
    wait_app(page)
    assert run_id in page.url
    expect(page.get_by_text(run_id).first).to_be_visible()
    wait_until(lambda: chart_points(page) >= seen, 30, "the chart after reload")

    # a second tab on the same address shows the same run and keeps updating
    tab = context.new_page()
    tab.goto(f"{server['url']}/live?run={run_id}")
    wait_app(tab)
    expect(tab.get_by_text(run_id).first).to_be_visible()
    wait_until(lambda: chart_points(tab) >= seen, 30, "the chart in the second tab")
    wait_until(lambda: "done" in status_text(tab), 240, "the run to finish", every=1)
    wait_until(lambda: chart_points(tab) == 3, 30, "all three points in the second tab")
    # once final, the first tab shows it too (its fragment stops refreshing afterwards)
    wait_until(lambda: "done" in status_text(page), 30, "the first tab to see the end")
    assert store.get_run(run_id)["status"] == "done"
    store.close()


def test_cancel_a_running_run(server, context):
    from idim_core.store import Store

    page = context.new_page()
    run_id = launch(page, server["url"], LONG)
    store = Store(server["home"])
    # wait until the worker trains it (a queued run would be cancelled at once, which is the easy case)
    wait_until(lambda: store.get_run(run_id)["status"] == "running" and store.trials(run_id), 240,
               "the worker to start training the second run", every=1)
    wait_until(lambda: "running" in status_text(page), 30, "the page to show it running")
    # the trial's progress bar jumps to each value: a glide would repaint the page at every frame (views.APP_CSS)
    bar = page.locator('[data-testid="stProgressBarTrack"] > div')
    wait_until(lambda: bar.count() > 0, 60, "the trial's progress bar")
    assert bar.first.evaluate("e => getComputedStyle(e).transitionDuration") == "0s"
    # at a projector's 1280×720, what is training, its progress and the time left are on the first screen
    page.set_viewport_size({"width": 1280, "height": 720})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    now = page.get_by_text("Training now").first
    assert now.bounding_box()["y"] + now.bounding_box()["height"] <= 720, now.bounding_box()
    box = page.locator('[data-testid="stProgress"]').first.bounding_box()
    assert box["y"] + box["height"] <= 720 and "left for the whole run" in page.locator(
        '[data-testid="stProgress"]').first.inner_text(), box
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_role("button", name="Cancel").click()
    wait_until(lambda: "cancelled" in status_text(page), 120, "the run to be marked cancelled", every=1)
    run = store.get_run(run_id)
    assert run["status"] == "cancelled"
    assert not [t for t in store.trials(run_id) if t["status"] == "running"]
    expect(page.get_by_text("Cancelled. The finished trials are kept").first).to_be_visible()
    # the Runs page agrees
    page.goto(f"{server['url']}/runs")
    wait_app(page)
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    page.screenshot(path=str(server["home"] / "runs.png"))
    html = page.content()
    assert run_id in html and "cancelled" in html, "the Runs page lists the run as cancelled"
    store.close()


def test_a_cli_run_appears_live_in_the_browser(server, context):
    """A sweep started from a terminal (same store) shows up and fills in live in the app."""
    env = dict(os.environ, IDIM_HOME=str(server["home"]), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cli = subprocess.Popen(
        [sys.executable, "-m", "idim_core.cli", "run", "--model", "minilm-l1", "--task", "mr", "--dims", "20,200,2000",
         "--max-train", "48", "--max-eval", "32", "--epochs", "1", "--max-length", "32", "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = ""
        for _ in range(10):  # "run RUN_ID (store: ...)", after any warning about the budget
            first = cli.stderr.readline()
            m = re.search(r"^run ([0-9a-f]{12})", first)
            if m or not first:
                break
        assert m, first
        run_id = m.group(1)
        page = context.new_page()
        page.goto(f"{server['url']}/live?run={run_id}")
        wait_app(page)
        expect(page.get_by_text(run_id).first).to_be_visible()
        wait_until(lambda: chart_points(page) >= 1, 240, "the CLI run's first point in the browser", every=1)
        out, _ = cli.communicate(timeout=300)
        assert cli.returncode == 0
        wait_until(lambda: "done" in status_text(page), 60, "the page to see the CLI run finish", every=1)
        wait_until(lambda: chart_points(page) == 3, 30, "all three points of the CLI run")
    finally:
        cli.kill()


def test_app_restart_while_a_run_trains(tmp_path, context):
    """Stopping `streamlit run` stops nothing: the worker keeps training, and the restarted
    app shows the same run live again."""
    from idim_core.store import Store
    from idim_core.worker import worker_running

    home = tmp_path / "restart-home"
    home.mkdir()
    proc, url, log = start_server(home, free_port())
    try:
        page = context.new_page()
        run_id = launch(page, url, {**TINY, "dims": "10,20,40,80,160,320", "max_train": "192"})
        store = Store(home)
        wait_until(lambda: store.get_run(run_id)["status"] == "running", 120, "the worker to start the run", every=1)
        stop_server(proc, log)
        page.close()
        assert worker_running(home), "the worker must outlive the app"
        before = len([t for t in store.trials(run_id) if t["status"] == "done"])
        wait_until(lambda: len([t for t in store.trials(run_id) if t["status"] == "done"]) > before, 180,
                   "training to go on with the app stopped", every=1)
        proc, url, log = start_server(home, free_port())
        page = context.new_page()
        page.goto(f"{url}/live?run={run_id}")
        wait_app(page)
        expect(page.get_by_text(run_id).first).to_be_visible()
        wait_until(lambda: "done" in status_text(page), 300, "the run to finish, seen by the restarted app", every=1)
        finished = {t["d"] for t in store.trials(run_id) if t["kind"] == "subspace" and t["status"] == "done"}
        assert len({t["d"] for t in store.trials(run_id) if t["kind"] == "subspace"}) == 6
        wait_until(lambda: chart_points(page) == len(finished), 30, "the chart to show every finished d")
        store.close()
    finally:
        stop_server(proc, log)
        stop_worker(home)


def test_classic_preset_fills_the_chart_in_seconds(server, context):
    """One click on the classic preset, Start, and the whole sweep lands on the chart."""
    from idim_core.store import Store

    page = context.new_page()
    page.goto(server["url"])
    wait_app(page)
    page.get_by_role("button", name="Use the classic preset").click()
    wait_app(page)
    expect(page.get_by_text("Trained from scratch").first).to_be_visible()
    # the form shows the preset's grid before Start (the preset's rerun has reached the page)
    expect(page.get_by_text("d = 10, 30, 100, 200, 300, 500").first).to_be_visible(timeout=60_000)
    wait_app(page)
    expect(page.get_by_text("Rough estimate")).to_be_visible()
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/live\?run=[0-9a-f]{12}"), timeout=60_000)
    run_id = re.search(r"run=([0-9a-f]{12})", page.url).group(1)
    store = Store(server["home"])
    cfg = store.get_run(run_id)["config"]
    assert (cfg["model"], cfg["task"]) == ("mlp", "mnist5k")
    # the chart fills in by itself (a whole classic sweep takes under a minute on a quiet laptop;
    # here the browser, the server and the worker share 2 cores, so three points are enough)
    wait_until(lambda: chart_points(page) >= 3, 420, "three classic points on the chart", every=1)
    expect(page.get_by_text("Trained from scratch").first).to_be_visible()
    if store.get_run(run_id)["status"] not in ("done", "failed", "cancelled"):
        store.request_cancel(run_id)  # free the worker for the next test
        wait_until(lambda: store.get_run(run_id)["status"] in ("done", "cancelled"), 60, "the run to stop")
    store.close()


def test_upload_a_csv_pick_columns_and_start(server, context, tmp_path):
    from idim_core.store import Store

    csv_path = tmp_path / "my reviews.csv"
    rows = ["review,stars"] + [f"review {i}: {'great stuff' if i % 2 else 'awful thing'},{'high' if i % 2 else 'low'}"
                               for i in range(60)]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = context.new_page()
    page.goto(f"{server['url']}/?model=minilm-l1&dims=10&max_train=48&max_eval=32&epochs=1&max_length=32"
              "&task=csv:")
    wait_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv_path))
    wait_app(page)
    expect(page.get_by_text("First rows of the file")).to_be_visible()
    expect(page.get_by_text("2 classes").first).to_be_visible()  # the task's facts, from the picked columns
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/live\?run=[0-9a-f]{12}"), timeout=60_000)
    run_id = re.search(r"run=([0-9a-f]{12})", page.url).group(1)
    store = Store(server["home"])
    cfg = store.get_run(run_id)["config"]
    assert (cfg["text_column"], cfg["label_column"]) == ("review", "stars")
    uploaded = Path(cfg["task"].removeprefix("csv:"))
    assert uploaded.parent == server["home"] / "uploads" and uploaded.read_bytes() == csv_path.read_bytes()
    wait_until(lambda: store.get_run(run_id)["status"] in ("done", "failed"), 240, "the CSV run to finish", every=1)
    assert store.get_run(run_id)["status"] == "done", store.get_run(run_id)["error"]
    store.close()


def compare_chart_runs(page) -> set[str]:
    """Run ids of the point traces on the Compare chart, read from the Plotly graph in the page."""
    return set(page.evaluate("""() => {
        const ids = [];
        for (const gd of document.querySelectorAll('.js-plotly-plot')) {
            for (const t of (gd.data || [])) {
                if (t.meta && t.meta.role === 'points' && t.meta.run_id) ids.push(t.meta.run_id);
            }
        }
        return ids;
    }"""))


def test_compare_ready_made_replaces_the_selection_for_good(server, context):
    """Load one comparison, then another: the Runs box and the chart agree, and a later click
    (Normalise) keeps the new runs instead of sending the stale selection back."""
    from idim_core import demo
    from idim_core.store import Store

    page = context.new_page()
    page.goto(f"{server['url']}/compare")
    wait_app(page)
    page.get_by_role("button", name=demo.COMPARISONS["pretraining"][0]).click()
    wait_app(page)
    store = Store(server["home"])
    first = {r["id"] for r in store.list_runs() if r["config"].get("recorded")
             and r["config"]["model"] in ("minilm-l6", "minilm-l6-untrained")}
    wait_until(lambda: compare_chart_runs(page) >= first, 30, "the pre-training runs on the chart")
    page.get_by_role("button", name=demo.COMPARISONS["classic"][0]).click()
    wait_app(page)
    classic = {r["id"] for r in store.list_runs()
               if r["config"].get("recorded") and r["config"]["model"] in ("mlp", "lenet")
               and not r["config"].get("shuffle_labels") and not r["config"].get("shuffle_pixels")}
    wait_until(lambda: compare_chart_runs(page) == classic, 30, "the classic runs on the chart")
    box = page.locator('[data-testid="stMultiSelect"]').first
    for rid in classic:
        expect(box.get_by_text(rid, exact=False).first).to_be_visible()
    for rid in first:
        expect(box.get_by_text(rid, exact=False)).to_have_count(0)
    page.get_by_text("Normalise: accuracy").click()
    wait_app(page)
    time.sleep(1)
    assert compare_chart_runs(page) == classic, "the next click brought the stale runs back"
    store.close()


def test_out_of_range_link_values_keep_the_form(server, context):
    page = context.new_page()
    page.goto(f"{server['url']}/?epochs=-5&seeds=999&lr_full=5")
    wait_app(page)
    expect(page.get_by_text("the form uses the default value instead")).to_be_visible()
    expect(page.get_by_role("button", name="Start run")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_shared_link_is_the_first_request_of_a_fresh_server(tmp_path, context):
    """/live?run=ID before anyone opened "/": the app's navigation and sidebar, and the run itself."""
    from idim_core import demo
    from idim_core.store import Store

    home = tmp_path / "fresh"
    store = Store(home)
    rid = demo.import_recorded(store, demo.EXAMPLE_JSON)
    store.close()
    proc, url, log = start_server(home, free_port())
    try:
        page = context.new_page()
        page.goto(f"{url}/live?run={rid}")
        wait_app(page)
        nav = page.locator('[data-testid="stSidebarNav"]')
        expect(nav.get_by_text("Live run")).to_be_visible()
        expect(nav.get_by_text("app", exact=True)).to_have_count(0)  # not the pages/ folder's own list
        expect(page.locator('[data-testid="stSidebar"]').get_by_text("Device:")).to_be_visible()
        wait_until(lambda: chart_points(page) >= 3, 30, "the recorded run's chart")
        assert f"run={rid}" in page.url
    finally:
        stop_server(proc, log)
        stop_worker(home)


def test_tab_cost_benchmark_runs_and_reports(tmp_path):
    """bench/tab_cost.py end to end (one repeat): it prints what it promises; the figures are not asserted."""
    env = {k: v for k, v in os.environ.items() if k != "IDIM_HOME"}
    out = subprocess.run([sys.executable, "bench/tab_cost.py", "--repeats", "1", "--idle", "1", "--threads", "0,1",
                          "--timeline", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("ratio", "paired_ratio", "ratio_t1", "paired_ratio_t1", "no_tab_s", "tab_t1_s",
                "tab_server_cpu_s", "idle_cpu_live_finished", "idle_cpu_learn", "estimate_s"):
        assert key in res, key
    assert res["ratio"] > 0 and res["ratio_t1"] > 0
    # one pair is no interval: the bench says so rather than calling the target met or missed
    assert len(res["paired_ratios"]) == 1 and res["paired_ratio_interval"] == [None, None]
    assert res["verdict"].startswith("too few repeats") and res["verdict_t1"].startswith("too few repeats")
    # how quiet the machine was, which the issue asks a measurement to say
    q = res["quiet"]
    assert 0 <= q["steal_share"] < 1 and q["others_cores"] >= 0 and q["no_tab_spread"] >= 1
    assert isinstance(q["verdict"], bool) and len(res["steal_share"]) == 5  # the warm-up and 2 x 2 sweeps
    assert res["watcher_log_lines"] == 0
    # Start is clicked once the form has finished drawing (a user reads it first), not while it still draws
    assert len(res["form_settle_s"]) == 2 and all(0 < s <= 16 for s in res["form_settle_s"])
    rows = res["tab_timeline"]["rows"]
    assert len(rows) >= 3 and all(len(r) == 4 for r in rows)
    bad = subprocess.run([sys.executable, "bench/tab_cost.py", "--threads", "one"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--threads takes whole numbers" in bad.stderr


MEASURE = """() => {
    const px = (sel, root) => {
        const el = (root || document).querySelector(sel);
        return el ? parseFloat(getComputedStyle(el).fontSize) : null;
    };
    // the first chart with a 2-D axis (Learn opens with a 3-D figure, whose ticks are drawn in WebGL)
    const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.querySelector('.xtick text'));
    const metric = document.querySelector('[data-testid="stMain"] [data-testid="stMetricValue"]');
    return {
        tick: px('.xtick text', gd), ytick: px('.ytick text', gd), legend: px('.legendtext', gd),
        xtitle: px('.g-xtitle text', gd), annotation: px('.annotation-text', gd),
        metric: metric ? parseFloat(getComputedStyle(metric).fontSize) : null,
        chart_top: gd ? gd.getBoundingClientRect().top : null,
        line: (() => { const p = gd && gd.querySelector('.scatterlayer .js-line');
                       return p ? parseFloat(getComputedStyle(p).strokeWidth) : null; })(),
    };
}"""


SIDEBAR_GONE = """() => { const s = document.querySelector('[data-testid="stSidebar"]');
    return !s || s.getBoundingClientRect().right <= 1; }"""


def measure(page, url: str, collapse: bool = True) -> dict:
    """Open ``url`` at 1280×720, collapse the sidebar, wait for the chart, and read its rendered sizes."""
    page.goto(url)
    wait_app(page)
    page.wait_for_selector(".js-plotly-plot .xtick text", timeout=30_000)
    if collapse and not page.evaluate(SIDEBAR_GONE):  # as a presenter would: the button shows on hover
        page.locator('[data-testid="stSidebar"]').hover()
        page.get_by_role("button", name="Collapse sidebar").click()
        wait_until(lambda: page.evaluate(SIDEBAR_GONE), 10, "the sidebar to collapse", every=0.2)
        page.wait_for_timeout(800)  # the main column's new width: the chart redraws
    page.evaluate("() => window.scrollTo(0, 0)")
    return page.evaluate(MEASURE)


def plot_facts(page) -> dict:
    """The main chart's plot area, legend, sideways scroll and sidebar, as scripts/screenshots.py reads them."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from screenshots import MEASURE as PLOT_MEASURE

    return page.evaluate(PLOT_MEASURE)


def test_presenter_view_is_large_and_the_chart_above_the_fold(server, browser):
    """Live, Compare, Series and Learn at 1280×720 (a common projector), sidebar collapsed: in the presenter view
    the chart's tick labels, legend and axis titles are at least 20 px and larger than in the normal view
    (Streamlit's chart theme must not put its 12 px back), the main plot area (the axes) at least 430 px tall with
    a legend that does not scroll, Live's headline numbers larger, its lines thicker, and the chart starting
    above the fold."""
    from idim_core import demo
    from idim_core.store import Store

    store = Store(server["home"])
    rid = demo.import_recorded(store, demo.RECORDED_DIR / "mlp-mnist5k.json")  # a classic, recorded: notes above
    store.close()
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    ctx.set_default_timeout(30_000)
    seen = {}
    try:
        page = ctx.new_page()
        for name, path in (("live", f"live?run={rid}"), ("compare", "compare?comparison=classic"),
                           ("series", "series"), ("learn", "learn")):
            for view in ("normal", "presenter"):
                sep = "&" if "?" in path else "?"
                url = f"{server['url']}/{path}" + (f"{sep}present=1" if view == "presenter" else "")
                seen[name, view] = m = measure(page, url)
                assert page.locator('[data-testid="stException"]').count() == 0, (name, view)
                if view == "presenter":
                    m.update(plot_facts(page))
                print(name, view, m)
            normal, big = seen[name, "normal"], seen[name, "presenter"]
            for what in ("tick", "ytick", "legend", "xtitle"):
                assert big[what] is not None and big[what] >= 20, (name, what, big)
                assert big[what] > normal[what], (name, what, normal[what], big[what])
            assert big["plot_h"] >= 430 and not big["legend_scrolls"] and not big["side_scroll"], (name, big)
            if name != "learn":  # Learn is an article: its first chart comes after the text
                assert big["chart_top"] < 720 - 200, (name, "the chart starts below the fold", big["chart_top"])
        live_n, live_p = seen["live", "normal"], seen["live", "presenter"]
        assert live_p["metric"] > live_n["metric"], (live_n["metric"], live_p["metric"])
        assert live_p["line"] >= 4 > live_n["line"], (live_n["line"], live_p["line"])
        assert live_p["annotation"] >= 20, live_p
    finally:
        ctx.close()


def test_the_lesson_deck_walked_with_the_arrow_keys(server, browser):
    """/lesson?step=1 to the last step with the right arrow key, at 1280×720 as it opens (no sidebar to close by
    hand): each step one chart whose plot area is at least 430 px tall, no legend scrolling, no sideways scroll,
    no exception; the left arrow goes back."""
    from idim_core.ui import lesson

    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    ctx.set_default_timeout(120_000)  # a comparison's ratio is bootstrapped the first time its step is drawn
    try:
        page = ctx.new_page()
        page.goto(f"{server['url']}/lesson?step=1")
        for i in range(1, len(lesson.STEPS) + 1):
            page.wait_for_url(re.compile(rf".*/lesson\?(.*&)?step={i}(&.*)?$"), timeout=60_000)
            wait_app(page, timeout=180_000)
            page.wait_for_selector('[data-testid="stMain"] .js-plotly-plot', timeout=60_000)
            page.wait_for_timeout(500)
            m = plot_facts(page)
            assert not m["exception"] and m["chart"], (i, m)
            assert m["plot_h"] >= 430 and not m["legend_scrolls"] and not m["side_scroll"], (i, m)
            assert not m["sidebar_open"], (i, "the sidebar is open")
            assert page.get_by_text(f"{i} of {len(lesson.STEPS)}").count() >= 1
            if i < len(lesson.STEPS):
                page.mouse.click(8, 400)  # the page has the keyboard (a click in the empty left margin)
                page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
        page.wait_for_url(re.compile(rf".*step={len(lesson.STEPS) - 1}(&.*)?$"), timeout=60_000)
    finally:
        ctx.close()


def outward_address() -> str | None:
    """This machine's address on its network (not loopback): what a student's browser connects to."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))  # no packet is sent: this only picks the interface a route would use
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_served_a_second_browser_cannot_cancel_or_delete_the_first_browsers_run(tmp_path, browser):
    """Served to a class: two browsers (two cookie jars) reach the app by the machine's network address. The run
    the first starts shows Cancel and Delete there, and only a read-only note in the second."""
    ip = outward_address()
    if ip is None:
        pytest.skip("no network interface besides loopback: a class cannot reach this machine")
    home = tmp_path / "served"
    home.mkdir()
    proc, url, log = start_server(home, free_port(), address=ip,
                                  env_extra={"IDIM_SERVED": "1", "IDIM_NO_AUTOSTART_WORKER": "1"})
    first, second = browser.new_context(), browser.new_context()
    try:
        a = first.new_page()
        run_id = launch(a, url, {"model": "mlp", "task": "digits", "seeds": "1"})  # queued: no worker here
        a.goto(f"{url}/runs?run={run_id}")
        wait_app(a)
        expect(a.get_by_role("button", name="Cancel")).to_be_visible()
        a.reload()  # the ownership survives a refresh (the browser's cookie, not the session)
        wait_app(a)
        expect(a.get_by_role("button", name="Cancel")).to_be_visible()
        b = second.new_page()
        for path in (f"/runs?run={run_id}", f"/live?run={run_id}"):
            b.goto(url + path)
            wait_app(b)
            expect(b.get_by_text("started from another browser").first).to_be_visible()
            assert b.get_by_role("button", name="Cancel").count() == 0
            assert b.get_by_role("button", name=re.compile("Delete")).count() == 0
        from idim_core.store import Store

        assert Store(home).get_run(run_id)["status"] == "queued"
        # text from a link is never a link, and no page shows the store's path
        for q in ("Session+expired%3A+sign+in+again+at+https%3A%2F%2Fevil.example%2Flogin",
                  "see+www.evil.example+or+write+to+name%40evil.example", "000000000000"):
            b.goto(f"{url}/live?run={q}")
            wait_app(b)
            assert b.locator('a[href*="evil"]').count() == 0, q
            body = b.inner_text("body")
            assert str(home) not in body and "Traceback" not in body, q
        assert "evil.example" in body or "000000000000" in body
    finally:
        first.close()
        second.close()
        stop_server(proc, log)


def test_replay_draws_the_run_in_seconds_and_a_guess_reaches_another_tab(server, browser):
    """/live?run=RECORDED&replay=20: fewer than all points after 2 s, all within 25 s; a guess typed in one tab
    is in `idim show --json` and on a second tab's chart."""
    from idim_core import demo
    from idim_core.store import Store

    store = Store(server["home"])
    rid = demo.import_recorded(store, demo.EXAMPLE_JSON)
    total = len({p["d"] for p in json.loads(demo.EXAMPLE_JSON.read_text())["points"]})
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = ctx.new_page()
        t0 = time.monotonic()
        page.goto(f"{server['url']}/live?run={rid}&replay=20")
        wait_until(lambda: chart_points(page) >= 0, 30, "the replay's chart")
        loaded = time.monotonic() - t0
        if loaded < 2:
            time.sleep(2 - loaded)
        if loaded < 15:  # (a machine so busy that the page took most of the replay to load has nothing to show)
            assert 0 <= chart_points(page) < total, (loaded, chart_points(page), total)
        wait_until(lambda: chart_points(page) == total, 25, "every point of the replay")
        guessing = ctx.new_page()  # a slower replay, so the class has time to guess
        guessing.goto(f"{server['url']}/live?run={rid}&replay=60")
        box = guessing.get_by_role("spinbutton", name=re.compile("guess", re.I))
        box.fill("1500")
        box.press("Enter")
        guessing.get_by_role("button", name="Submit guess").click()
        wait_until(lambda: store.guesses(rid), 20, "the guess in the store")
        from conftest import run_cli

        shown = json.loads(run_cli("show", rid, "--json", home=server["home"]).stdout)
        assert [g["d"] for g in shown["guesses"]] == [1500.0]
        other = ctx.new_page()
        other.goto(f"{server['url']}/live?run={rid}")
        wait_app(other)
        rug = wait_until(lambda: other.evaluate("""() => {
            for (const gd of document.querySelectorAll('.js-plotly-plot'))
            for (const t of (gd.data || [])) if (t.meta && t.meta.role === 'guesses') return t.x; return null; }"""),
                         20, "the guesses on the second tab's chart")
        assert rug == [1500]
    finally:
        ctx.close()
