"""Pre-training a classic net on a *source* before a run measures d90 on its *target*.

Aghajanyan et al. (2021) found that pre-training lowers the intrinsic dimension of the tasks that follow.
With the classic nets (``mlp``, ``lenet``) this is measurable in minutes: train the net on a source for some
epochs, replace its output layer for the target task (a fresh, seeded head), then run as usual (full-training
baseline and subspace trials) from that state.  The run's config names the source (``pretrain``) and the
amount (``pretrain_epochs``; 0 = from scratch).

Sources (``--pretrain``), all read only the *training* images of their task (never a validation or test image):

* ``TASK`` - supervised, on any image task or variant: ``mnist5k:0-4`` (digits 0-4), ``mnist5k@a`` (10-way
  digits on the first half of the training images), ``mnist5k:5-9@a``, ``fashion-mnist`` ...
* ``TASK:shuffled`` - the control: the same images, the same number of each label and the same amount of
  training, the labels randomly permuted among the images (nothing transferable to learn).
* ``TASK:denoise`` - self-supervised: a denoising autoencoder on the task's training images, labels unused
  (half of the pixels of each image blanked at random, the net's output layer reconstructs all of them).
* ``TASK:rotation`` - self-supervised: which of 4 rotations (0, 90, 180, 270 degrees) was applied to an image,
  labels unused.  A pretext task whose labels come from the images' geometry, not from the digits: a target's
  labels cannot be a function of it, so whatever it lowers d90 by is not a readout of the target's labels.

A source and a target of the same images may not share classes (``mnist5k:0-4`` -> ``mnist5k:3-9`` is
refused) unless they use different halves of the training images (``mnist5k@a`` -> ``mnist5k:ge5@b``);
a self-supervised source (denoise, rotation) may share them (it reads no labels).

Each seed of a run pre-trains its own net from its own initialisation (seed s: the net built from
``init_seed + 1000 s``), so the seeds of a pre-trained run sample the pre-training too.  Each source is trained
at the rate best for its own objective: 1e-4, 3e-4, 1e-3 and 3e-3 are tried on 80 % of the source's training
images and the one best on the other 20 % is kept (validation accuracy; denoising: validation loss; the
shuffled control: accuracy on its own training labels, the only thing it can learn).  A pre-trained state is
made once per (net, width, source, epochs, seed, split, batch) and cached under ``$IDIM_HOME/pretrained/``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

KINDS = ("supervised", "shuffled", "denoise", "rotation")
SELF_SUPERVISED = ("denoise", "rotation")  # read no labels
MASK = 0.5  # denoising: the share of pixels blanked in each image
CACHE_DIR = "pretrained"
RATES = (1e-4, 3e-4, 1e-3, 3e-3)  # each source's rate is chosen from these by its own objective
VAL_SHARE = 0.2  # of the source's training images, held out to choose the rate
FITS = 0.9  # the shuffled control "fits its labels" from this training accuracy on
SEED_STRIDE = 1000  # seed s of a run pre-trains the net built from init_seed + 1000 s


@dataclass(frozen=True)
class Source:
    text: str  # as given: mnist5k:0-4, mnist5k:0-4:shuffled, mnist5k:denoise, mnist5k@a:rotation
    task: str  # the image task whose training images it reads
    kind: str  # supervised, shuffled, denoise or rotation


def parse_source(text) -> Source:
    from .classic import parse_image_task

    if not isinstance(text, str) or not text.strip():
        raise UserError("--pretrain is empty; give a source such as mnist5k:0-4, mnist5k:0-4:shuffled, "
                        "mnist5k:denoise or mnist5k@a:rotation")
    t = text.strip()
    kind, task = "supervised", t
    for k in KINDS[1:]:
        if t.endswith(":" + k):
            kind, task = k, t[: -len(k) - 1]
    if parse_image_task(task) is None:
        raise UserError(f"unknown --pretrain source {t!r}; give an image task (mnist5k, mnist5k:0-4, mnist5k@a, "
                        "digits:0-4, fashion-mnist), optionally followed by :shuffled (the control), :denoise or "
                        ":rotation (self-supervised)")
    return Source(t, task, kind)


def check_pairing(source: str, target: str) -> Source:
    """The source can pre-train for the target: same input size, no shared labelled images. Raises UserError."""
    from .classic import parse_image_task, side_of

    src = parse_source(source)
    s, t = parse_image_task(src.task), parse_image_task(target)
    if t is None:
        raise UserError(f"--pretrain is for the classic image tasks; {target} is not one")
    if side_of(src.task) != side_of(target):
        raise UserError(f"--pretrain {src.text} has {side_of(src.task)}x{side_of(src.task)} images but {target} has "
                        f"{side_of(target)}x{side_of(target)}: a source must have the target's input size")
    if src.kind not in SELF_SUPERVISED and s.base == t.base and not (s.half and t.half and s.half != t.half):
        shared = sorted(s.base_classes() & t.base_classes())
        if shared:
            raise UserError(f"--pretrain {src.text} and --task {target} share the classes {shared[0]}-{shared[-1]} "
                            f"of {s.base}: use disjoint class splits (mnist5k:0-4 -> mnist5k:5-9), different "
                            "training halves (mnist5k@a -> mnist5k:ge5@b) or a :denoise or :rotation source")
    return src


def target_from_source_labels(source: str, target: str) -> bool:
    """Whether the target's labels are a function of the source's labels: a supervised (or shuffled) source of
    the same images whose classes cover the target's (mnist5k@a -> mnist5k:ge5@b: digit >= 5 is read off the
    10-way digit).  Then a probe on the pre-trained body can clear the threshold with no new direction at all."""
    from .classic import parse_image_task

    src = parse_source(source)
    s, t = parse_image_task(src.task), parse_image_task(target)
    if src.kind in SELF_SUPERVISED or t is None or s.base != t.base:
        return False
    if not t.base_classes() <= s.base_classes():
        return False
    # a 2-way source (ge5, parity) names the target's classes only when the target is that same split
    return s.derived is None or (s.derived == t.derived and s.classes == t.classes)


def active(cfg) -> bool:
    """The run starts from a pre-trained state (a source and at least one epoch)."""
    return bool(cfg.pretrain) and int(cfg.pretrain_epochs or 0) > 0


def pretrain_seed(cfg, seed: int) -> int:
    return int(cfg.init_seed or 0) + SEED_STRIDE * int(seed)


def cache_key(cfg, seed: int = 0) -> dict:
    return {"model": cfg.model, "width": cfg.width or (200 if cfg.model == "mlp" else None),
            "source": cfg.pretrain, "epochs": int(cfg.pretrain_epochs), "seed": pretrain_seed(cfg, seed),
            "split_seed": int(cfg.split_seed or 0), "rates": list(RATES), "val_share": VAL_SHARE,
            "batch_size": int(cfg.batch_size), "mask": MASK, "version": 3}


def cache_path(home, cfg: dict, seed: int = 0) -> Path:
    key = cache_key(cfg, seed)
    h = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(home) / CACHE_DIR / f"{cfg.model}-{h}.pt"


def source_data(source: Source, split_seed: int = 0):
    """(training images, targets or None, output size) of a source.  The shuffled control has exactly the real
    source's images and label counts, the labels permuted among the images (seeded); the rotation source's
    targets are made per batch (``rotated``), so it returns None."""
    import torch

    from .classic import load_images

    task = load_images(source.task, split_seed)
    x = task.train.x
    if source.kind == "denoise":
        return x, None, task.side * task.side
    if source.kind == "rotation":
        return x, None, 4
    y = task.train.labels.clone()
    if source.kind == "shuffled":
        g = torch.Generator().manual_seed(split_seed + 4243)
        y = y[torch.randperm(len(y), generator=g)]
    return x, y, task.num_labels


def held_out(n: int, split_seed: int):
    """(training indices, validation indices) of a source's training images: VAL_SHARE held out, seeded."""
    import torch

    perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed + 313))
    k = max(1, int(round(n * VAL_SHARE)))
    return perm[k:].sort().values, perm[:k].sort().values


def rotated(x, g=None):
    """Each image turned by a random multiple of 90 degrees (``g``: None for all four turns of every image, in
    order); (images, turns)."""
    import torch

    if g is None:
        turns = torch.arange(4).repeat_interleave(len(x))
        imgs = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
        return imgs, turns
    turns = torch.randint(0, 4, (len(x),), generator=g)
    out = x.clone()
    for k in range(1, 4):
        sel = turns == k
        if sel.any():
            out[sel] = torch.rot90(x[sel], k, dims=(2, 3))
    return out, turns


def head_prefix(module) -> str:
    """The output layer's parameter prefix (the classic nets keep their layers in ``layers``, head last)."""
    return f"layers.{len(module.layers) - 1}."


def _net(cfg, side, out, seed):
    import torch

    from .classic import build

    net = build(cfg.model, side, out, seed, cfg.width)
    # The source's output layer gets its own random start.  Built from the same seed, it would begin as the
    # target's "new" head does (the same numbers, row for row), the body would learn features fitted to those
    # weights, and the target would start with a head that already reads them: not a new head.
    head = net.layers[-1]
    g_head = torch.Generator().manual_seed(seed + 7919)
    bound = 1.0 / math.sqrt(head.weight.shape[1])
    with torch.no_grad():
        head.weight.uniform_(-bound, bound, generator=g_head)
        head.bias.uniform_(-bound, bound, generator=g_head)
    return net


def _objective(net, kind, x, y, background):
    """(accuracy or None, loss) of the net's source objective on images ``x`` (fixed masks and all turns)."""
    import torch
    import torch.nn.functional as F

    net.eval()
    with torch.no_grad():
        if kind == "denoise":
            g = torch.Generator().manual_seed(99)
            keep = torch.rand(x.shape, generator=g) >= MASK
            return None, float(F.mse_loss(net(torch.where(keep, x, torch.full_like(x, background))), x.flatten(1)))
        if kind == "rotation":
            x, y = rotated(x)
        logits = torch.cat([net(x[i: i + 512]) for i in range(0, len(x), 512)])
        return float((logits.argmax(1) == y).float().mean()), float(F.cross_entropy(logits, y))


def _train(cfg, src, x, y, out, seed, lr, epochs, background, log=None):
    import torch
    import torch.nn.functional as F

    from .classic import side_of

    net = _net(cfg, side_of(src.task), out, seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 101)
    g_aux = torch.Generator().manual_seed(seed + 211)  # masks and turns
    bs, n = int(cfg.batch_size), x.shape[0]
    loss_v = None
    for ep in range(epochs):
        net.train()
        total, count = 0.0, 0
        for idx in torch.randperm(n, generator=g).split(bs):
            xb = x[idx]
            if src.kind == "denoise":
                keep = torch.rand(xb.shape, generator=g_aux) >= MASK
                loss = F.mse_loss(net(torch.where(keep, xb, torch.full_like(xb, background))), xb.flatten(1))
            elif src.kind == "rotation":
                xr, turns = rotated(xb, g_aux)
                loss = F.cross_entropy(net(xr), turns)
            else:
                loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        loss_v = total / max(1, count)
        if log:
            log(f"pre-training on {src.text} at {lr:g}: epoch {ep + 1}/{epochs}, loss {loss_v:.4f}",
                {"epoch": ep + 1, "epochs": epochs, "loss": loss_v})
    return net, loss_v


def make_state(cfg, device: str = "cpu", log=None, seed: int = 0) -> tuple[dict, dict]:
    """Train the net on the source at each of RATES, keep the best by the source's own objective; (its state
    without the output layer, facts about the training).  Trained on the CPU (small nets and data)."""
    src = parse_source(cfg.pretrain)
    epochs = int(cfg.pretrain_epochs)
    split_seed = int(cfg.split_seed or 0)
    x, y, out = source_data(src, split_seed)
    tr, va = held_out(len(x), split_seed)
    background = float(x.min())  # a blanked pixel reads as the images' background
    pseed = pretrain_seed(cfg, seed)
    t0 = time.time()
    tried, best = {}, None
    for lr in RATES:
        net, loss_v = _train(cfg, src, x[tr], None if y is None else y[tr], out, pseed, lr, epochs, background, log)
        val_acc, val_loss = _objective(net, src.kind, x[va], None if y is None else y[va], background)
        train_acc = _objective(net, src.kind, x[tr], None if y is None else y[tr], background)[0]
        # the objective: validation loss (denoise), training accuracy (the shuffled control: nothing else to
        # learn), else validation accuracy
        score = -val_loss if src.kind == "denoise" else train_acc if src.kind == "shuffled" else val_acc
        tried[lr] = {"score": score, "val_accuracy": val_acc, "val_loss": val_loss, "train_accuracy": train_acc,
                     "loss": loss_v}
        if best is None or score > best[0]:
            best = (score, lr, net)
    _, lr, net = best
    facts = tried[lr]
    info = {"source": src.text, "kind": src.kind, "epochs": epochs, "seed": pseed, "lr": lr,
            "rates_tried": {f"{k:g}": round(v["score"], 5) for k, v in tried.items()},
            "loss": facts["loss"], "examples": int(len(tr)), "val_examples": int(len(va)),
            "source_accuracy": facts["val_accuracy"], "source_val_loss": facts["val_loss"],
            "source_train_accuracy": facts["train_accuracy"], "seconds": round(time.time() - t0, 2)}
    if src.kind == "shuffled":
        info["fits"] = bool(facts["train_accuracy"] is not None and facts["train_accuracy"] >= FITS)
    head = head_prefix(net)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items() if not k.startswith(head)}
    return state, info


def pretrained_state(cfg, device: str, home, log=None, seed: int = 0) -> tuple[dict, dict]:
    """The cached state for this run's (net, source, epochs, seed, ...), made (and saved) when missing."""
    import torch

    path = cache_path(home, cfg, seed)
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            info = dict(json.loads(path.with_suffix(".json").read_text()), made=False, file=path.name)
            if log:
                log(f"pre-trained state of seed {seed} reused ({cfg.pretrain}, {cfg.pretrain_epochs} epochs; "
                    f"{path.name})", {"reused": True})
            return saved, info
        except (OSError, ValueError, RuntimeError):
            pass  # a damaged file: make it again
    state, info = make_state(cfg, device, log, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    path.with_suffix(".json").write_text(json.dumps({**info, "key": cache_key(cfg, seed)}))
    os.replace(tmp, path)
    if log:
        log(f"pre-trained state of seed {seed} made ({cfg.pretrain}, {cfg.pretrain_epochs} epochs at "
            f"{info['lr']:g}, {info['seconds']:.0f} s; saved as {path.name})", {"reused": False})
    return state, dict(info, made=True, file=path.name)


def apply(module, state: dict) -> None:
    """Load a pre-trained body into a freshly built target net; its output layer stays the new, seeded one."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    head = head_prefix(module)
    if unexpected or any(not k.startswith(head) for k in missing):
        raise UserError("the pre-trained state does not fit this net (a different model or width); "
                        f"delete its file under {CACHE_DIR}/ and run again")


def dead_fraction(module, x) -> float:
    """The share of first-layer units (MLP: hidden units; LeNet: channels) never active (ReLU output 0) on any
    of the images ``x``: units pre-training killed carry nothing to the target."""
    import torch

    first = module.layers[0]
    alive = None
    with torch.no_grad():
        for i in range(0, len(x), 512):
            xb = x[i: i + 512].to(first.weight.device)
            h = first(xb.flatten(1)) if isinstance(first, torch.nn.Linear) else first(xb)
            on = (h > 0).flatten(2).any(2).any(0) if h.dim() == 4 else (h > 0).any(0)
            alive = on if alive is None else alive | on
    return float(1.0 - alive.float().mean()) if alive is not None else 0.0
