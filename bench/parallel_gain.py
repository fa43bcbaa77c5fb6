"""What each worker process after the first gains the classic preset (`--processes`, the local executor): the same
sweep in one process and in two, alternated; the lower gain, rounded down to hundredths, is written to
bench/parallel.json, which idim_core/ui/estimates.py reads (``PARALLEL_GAIN``).  bench/RESULTS.md tells the first
sitting ("two trials at a time", the classic preset).

    python bench/parallel_gain.py               # 3 alternated pairs (about 10 minutes on 2 cores)
    python bench/parallel_gain.py --pairs 1 --out /tmp/parallel.json
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "parallel.json"
COMMAND = "idim run --task mnist5k --processes {n} --quiet --json"  # the classic preset: mlp, DID, 3 seeds
KEYS = ("one_process_s", "two_processes_s")


def wall(n: int) -> float:
    """Seconds one sweep takes with ``n`` worker processes, in a store of its own."""
    with tempfile.TemporaryDirectory() as home:
        cmd = shlex.split(COMMAND.format(n=n))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "idim_core.cli", *cmd[1:], "--home", home], cwd=ROOT, check=True,
                       capture_output=True)
        return round(time.perf_counter() - t0, 1)


def gain(readings: list[dict]) -> float:
    """The lower gain of a second process over the pairs, rounded down to hundredths (an estimate long, not short)."""
    low = min(r["one_process_s"] / r["two_processes_s"] for r in readings) - 1.0
    return math.floor(round(low * 100, 6)) / 100


def write(readings: list[dict], path: Path = OUT, note: str = "") -> None:
    doc = {"command": "python bench/parallel_gain.py", "sweep": COMMAND, "note": note, "readings": readings,
           "gain": gain(readings)}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3, help="alternated pairs of sweeps (one process, then two)")
    ap.add_argument("--out", type=Path, default=OUT, help="where to write (default: bench/parallel.json)")
    args = ap.parse_args(argv)
    readings = []
    for _ in range(args.pairs):
        readings.append(dict(zip(KEYS, (wall(1), wall(2)))))
        print(readings[-1], file=sys.stderr)
    write(readings, args.out)
    print(f"gain of a second process: {gain(readings):.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
