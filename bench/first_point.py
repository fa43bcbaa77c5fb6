"""Time from pressing Run to the first plotted point, the way the app does it.

The app writes a queued run to the store; the background worker (already running,
with the default model preloaded) claims it and trains.  This script does the same
with the real CLI and worker processes and prints, for the default sweep:

* ``queued_to_first_point_s``: from the run being queued to its first finished trial
  (the first point on the chart);
* ``queued_to_baseline_s``: to the full fine-tuning line;
* ``worker_ready_s``: how long the worker took to preload the default model.

    .venv/bin/python bench/first_point.py [--keep-going]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep-going", action="store_true", help="let the whole sweep finish")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from idim_core.store import Store

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, IDIM_HOME=home, IDIM_WORKER_WARM="1", HF_HUB_OFFLINE="1")
        t0 = time.perf_counter()
        w = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "worker", "--poll", "1"], env=env, cwd=ROOT,
                             stderr=subprocess.PIPE, text=True)
        try:
            while "ready" not in (line := w.stderr.readline()):
                if not line and w.poll() is not None:
                    raise SystemExit("the worker stopped before it was ready")
            ready = time.perf_counter() - t0
            q = subprocess.run([sys.executable, "-m", "idim_core.cli", "run", "--queue", "--json"], env=env, cwd=ROOT,
                               capture_output=True, text=True, check=True)
            t_queued = time.perf_counter()
            run_id = json.loads(q.stdout)["run_id"]
            store = Store(home)
            first = base = None
            while True:
                trials = [t for t in store.trials(run_id) if t["status"] == "done"]
                now = time.perf_counter() - t_queued
                if first is None and trials:
                    first = now
                if base is None and any(t["kind"] == "baseline" for t in trials):
                    base = now
                    if not a.keep_going:
                        break
                if store.get_run(run_id)["status"] in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.2)
            out = {"worker_ready_s": round(ready, 1), "queued_to_first_point_s": round(first, 1),
                   "queued_to_baseline_s": round(base, 1) if base else None}
            if a.keep_going:
                out["queued_to_done_s"] = round(time.perf_counter() - t_queued, 1)
            print(json.dumps(out))
            store.close()
        finally:
            w.terminate()
            w.wait(timeout=60)


if __name__ == "__main__":
    main()
