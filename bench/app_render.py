"""Benchmark (not a test): app start and page renders with 200 runs in the store.

    python bench/app_render.py [--runs 200] [--repeat 7]

Seeds a fresh store (a temporary IDIM_HOME) with finished runs shaped like real
ones (baseline + 6 d values x 2 seeds, curves of 16 points), then times, with
streamlit.testing.v1.AppTest (the script run only, no browser):
  * the app's first run (imports, navigation, Explore page),
  * a render of every page (median over --repeat runs),
and the import of the UI modules in a fresh interpreter.  Target: <= 1 s per render.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(n_runs: int) -> str:
    from idim_core.results import result
    from idim_core.runconfig import make_config
    from idim_core.store import Store

    store = Store()
    rng = random.Random(0)
    first = None
    for _ in range(n_runs):
        cfg = make_config(model=rng.choice(["minilm-l6", "minilm-l2", "minilm-l6-untrained"]), task="mr",
                          method=rng.choice(["said", "did"]), dims=[10, 100, 300, 1000, 3000, 10000], seeds=2)
        rid = store.create_run(cfg, status="running", owner="bench")
        store.update_run(rid, device="cpu", summary={"D": 22_713_216, "chance": 0.5, "majority": 0.51})
        base = 0.75 + 0.1 * rng.random()
        tid = store.start_trial(rid, "baseline", None, 0)
        store.add_points(tid, [{"step": s, "loss": 0.7 - s / 100, "accuracy": None, "total": 16} for s in range(1, 17)])
        store.finish_trial(tid, "done", accuracy=base, steps=16, total_steps=16, seconds=20.0)
        for j, d in enumerate(cfg.dims):
            for s in range(2):
                tid = store.start_trial(rid, "subspace", d, s)
                store.add_points(tid, [{"step": k, "loss": 0.7, "accuracy": None, "total": 16} for k in range(1, 17)])
                acc = 0.5 + (base - 0.5) * (j / 5) + 0.02 * rng.random()
                store.finish_trial(tid, "done", accuracy=acc, steps=16, total_steps=16, seconds=25.0)
        store.end_run(rid, "done")
        store.update_run(rid, summary=result(store, rid))
        first = first or rid
    store.close()
    return first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="idim-bench-")
    os.environ["IDIM_HOME"] = home
    os.environ["IDIM_NO_AUTOSTART_WORKER"] = "1"
    t = time.perf_counter()
    rid = seed(args.runs)
    print(f"seeded {args.runs} runs in {time.perf_counter() - t:.1f} s ({home})")

    code = "import time; t=time.perf_counter(); import streamlit, plotly.graph_objects, pandas; " \
           "from idim_core import ui, demo, runner, store; print(time.perf_counter()-t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                    check=True).stdout) for _ in range(3)]
    print(f"{'UI imports (fresh interpreter)':34} median {statistics.median(imports):6.3f} s")

    from streamlit.testing.v1 import AppTest

    t = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    print(f"{'app start (first run, Explore)':34} {time.perf_counter() - t:13.3f} s")
    assert not at.exception, at.exception

    pages = [("Explore", "pages/explore.py", {}), ("Live run (finished run)", "pages/live.py", {"run": rid}),
             ("Compare (2 runs)", "pages/compare.py", {}), ("Runs (table of all)", "pages/runs.py", {}),
             ("Learn", "pages/learn.py", {})]
    worst = 0.0
    for name, page, q in pages:
        times = []
        for _ in range(args.repeat):
            at.query_params.clear()
            at.query_params.update(q)
            at.switch_page(page)
            t = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t)
            assert not at.exception, (page, at.exception)
        med = statistics.median(times)
        worst = max(worst, med)
        print(f"{name:34} median {med:6.3f} s   (min {min(times):.3f}, max {max(times):.3f}, n={len(times)})")
    print(f"slowest page median: {worst:.3f} s ({'meets' if worst <= 1.0 else 'misses'} the 1 s target)")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
