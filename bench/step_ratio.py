"""The step benchmark Learn's speed verdict rests on: `idim bench step --json` at each d, the readings written to
bench/step.json, which idim_core/claims.py reads (``bench_step``).  bench/RESULTS.md, "The step ratio, with enough
pairs to say", tells the sitting.

    python bench/step_ratio.py                       # d = 10,000 and 1,000, 40 interleaved pairs each
    python bench/step_ratio.py --dims 1000 --pairs 16 --out /tmp/step.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idim_core.claims import STEP_COMMAND, STEP_JSON  # noqa: E402

OUT = STEP_JSON


def reading(d: int, pairs: int) -> dict:
    """One `idim bench step --json` at ``d``: its JSON, as printed."""
    cmd = shlex.split(STEP_COMMAND.format(d=d, pairs=pairs))
    out = subprocess.run([sys.executable, "-m", "idim_core.cli", *cmd[1:]], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write(readings: list[dict], path: Path = OUT, note: str = "") -> None:
    """The file claims.bench_step reads: the command and every reading, in the order taken."""
    doc = {"command": "python bench/step_ratio.py", "note": note, "readings": readings}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", default="10000,1000", help="d values, in the order measured")
    ap.add_argument("--pairs", type=int, default=40, help="interleaved full/subspace step pairs per reading")
    ap.add_argument("--out", type=Path, default=OUT, help="where to write (default: bench/step.json)")
    args = ap.parse_args(argv)
    readings = []
    for d in (int(x) for x in args.dims.split(",")):
        readings.append(reading(d, args.pairs))
        print(f"d={d:,}: ratio {readings[-1]['ratio']:.3f} ({readings[-1]['ratio_verdict']})", file=sys.stderr)
    write(readings, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
