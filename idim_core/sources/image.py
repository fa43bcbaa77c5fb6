"""The image tasks of the classic nets (``mlp``, ``lenet``): ``digits``, ``mnist5k``, ``fashion-mnist``
(with its Debian package), and their variants, the class splits and training halves the pre-training
series uses: ``mnist5k:0-4``, ``mnist5k:5-9@b``, ``mnist5k:ge5``, ``digits:parity``, ``mnist5k@a`` ...

The pixels load in ``idim_core/classic.py`` (``load_images``, for the classic nets only); names are parsed
there too (``parse_image_task``, which ``pretrain.py`` shares), so a name means the same images everywhere.
This module makes them tasks: listed, resolved, counted and described.  No torch here.
"""
from __future__ import annotations

from ..errors import UserError
from .base import MAX_NAME, TaskSpec

NAME = "image"
LABEL = "image tasks and their class splits, for the classic models mlp and lenet"
ORDER = 20
FIXED = True  # shipped with idim: cannot change between runs

_SIZES = {"digits": 1797, "mnist5k": 5000, "fashion-mnist": 5000}


def _specs() -> dict[str, TaskSpec]:
    from ..classic import IMAGE_TASKS

    return {n: TaskSpec(n, what + "; for the classic models mlp and lenet", "image", 10, _SIZES[n], False, True,
                        [str(i) for i in range(10)], f, lic)
            for n, (f, _side, _top, what, lic) in IMAGE_TASKS.items()}


TASKS: dict[str, TaskSpec] = _specs()


def variant(name: str):
    """The parts of an image task's name (``classic.ImageSpec``: base, classes, derived labels, half), or None
    when it is not one; a malformed variant (``mnist5k:5-3``) raises UserError."""
    from ..classic import parse_image_task

    return parse_image_task(name) if len(name) <= MAX_NAME else None


def resolve(name: str) -> TaskSpec | None:
    if name in TASKS:
        return TASKS[name]
    v = variant(name)
    if v is None:
        return None
    # mnist5k:5-9, mnist5k:ge5, mnist5k@a: a class split, derived labels, a training half
    from ..classic import IMAGE_TASKS, describe_image_task, image_label_names

    base = TASKS[v.base]
    return TaskSpec(name, describe_image_task(name) + "; for the classic models mlp and lenet", "image",
                    v.num_labels,
                    # about how many images: the classes kept, half of the training 80 % for a half
                    int(base.size * len(v.base_classes()) / 10 * (0.6 if v.half else 1)),
                    False, True, image_label_names(v), base.file,
                    IMAGE_TASKS[v.base][4])


def listed() -> list[TaskSpec]:
    """Image tasks whose data is on this machine (fashion-mnist only with its Debian package)."""
    from ..classic import fashion_available

    return [t for n, t in TASKS.items() if n != "fashion-mnist" or fashion_available()]


def load(spec: TaskSpec, split_seed=0, max_train=None, max_eval=None, text_column="text", text_pair_column=None,
         label_column="label"):
    """Not text: the classic nets load the pixels themselves (``classic.load_images``)."""
    raise UserError(f"task {spec.name} holds images: train it with model mlp or lenet")


def stats(spec: TaskSpec, max_length=64, split_seed=0, text_column="text", text_pair_column=None,
          label_column="label") -> dict:
    """Split sizes, chance and majority from the labels alone (no torch)."""
    from ..classic import image_stats

    st = image_stats(spec.name, split_seed)
    return dict(num_labels=st["num_labels"], chance=st["chance"], majority=st["majority"], splits=st["splits"],
                avg_tokens=None, truncated=None, input=f"{st['side']}x{st['side']} pixels")
