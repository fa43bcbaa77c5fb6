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

A source and a target of the same images may not share classes (``mnist5k:0-4`` -> ``mnist5k:3-9`` is
refused) unless they use different halves of the training images (``mnist5k@a`` -> ``mnist5k:ge5@b``);
a denoising source may share them (it reads no labels).

A pre-trained state is made once per (net, width, source, epochs, seed, split, rate, batch) and cached under
the store's directory (``$IDIM_HOME/pretrained/``); every run that needs it reuses it.  The seed is the run's
``init_seed``: a run's seeds resample the projection and data order, not the pre-training.
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

KINDS = ("supervised", "shuffled", "denoise")
MASK = 0.5  # denoising: the share of pixels blanked in each image
CACHE_DIR = "pretrained"


@dataclass(frozen=True)
class Source:
    text: str  # as given: mnist5k:0-4, mnist5k:0-4:shuffled, mnist5k:denoise
    task: str  # the image task whose training images it reads
    kind: str  # supervised, shuffled or denoise


def parse_source(text) -> Source:
    from .classic import parse_image_task

    if not isinstance(text, str) or not text.strip():
        raise UserError("--pretrain is empty; give a source such as mnist5k:0-4, mnist5k:0-4:shuffled or "
                        "mnist5k:denoise")
    t = text.strip()
    kind, task = "supervised", t
    for k in ("shuffled", "denoise"):
        if t.endswith(":" + k):
            kind, task = k, t[: -len(k) - 1]
    if parse_image_task(task) is None:
        raise UserError(f"unknown --pretrain source {t!r}; give an image task (mnist5k, mnist5k:0-4, mnist5k@a, "
                        "digits:0-4, fashion-mnist), optionally followed by :shuffled (the control) or :denoise "
                        "(self-supervised)")
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
    if src.kind != "denoise" and s.base == t.base and not (s.half and t.half and s.half != t.half):
        shared = sorted(s.base_classes() & t.base_classes())
        if shared:
            raise UserError(f"--pretrain {src.text} and --task {target} share the classes {shared[0]}-{shared[-1]} "
                            f"of {s.base}: use disjoint class splits (mnist5k:0-4 -> mnist5k:5-9), different "
                            "training halves (mnist5k@a -> mnist5k:ge5@b) or a :denoise source")
    return src


def active(cfg: dict) -> bool:
    """The run starts from a pre-trained state (a source and at least one epoch)."""
    return bool(cfg.get("pretrain")) and int(cfg.get("pretrain_epochs") or 0) > 0


def cache_key(cfg: dict) -> dict:
    return {"model": cfg["model"], "width": cfg.get("width") or (200 if cfg["model"] == "mlp" else None),
            "source": cfg["pretrain"], "epochs": int(cfg["pretrain_epochs"]), "seed": int(cfg.get("init_seed") or 0),
            "split_seed": int(cfg.get("split_seed") or 0), "lr": float(cfg["lr_full"]),
            "batch_size": int(cfg["batch_size"]), "mask": MASK, "version": 2}


def cache_path(home, cfg: dict) -> Path:
    key = cache_key(cfg)
    h = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(home) / CACHE_DIR / f"{cfg['model']}-{h}.pt"


def source_data(source: Source, split_seed: int = 0):
    """(training images, targets or None, output size) of a source.  The shuffled control has exactly the real
    source's images and label counts, the labels permuted among the images (seeded)."""
    import torch

    from .classic import load_images

    task = load_images(source.task, split_seed)
    x = task.train.x
    if source.kind == "denoise":
        return x, None, task.side * task.side
    y = task.train.labels.clone()
    if source.kind == "shuffled":
        g = torch.Generator().manual_seed(split_seed + 4243)
        y = y[torch.randperm(len(y), generator=g)]
    return x, y, task.num_labels


def head_prefix(module) -> str:
    """The output layer's parameter prefix (the classic nets keep their layers in ``layers``, head last)."""
    return f"layers.{len(module.layers) - 1}."


def make_state(cfg: dict, device: str = "cpu", log=None) -> tuple[dict, dict]:
    """Train the net on the source; (its state without the output layer, facts about the training)."""
    import torch
    import torch.nn.functional as F

    from .classic import build, side_of

    src = parse_source(cfg["pretrain"])
    epochs = int(cfg["pretrain_epochs"])
    x, y, out = source_data(src, int(cfg.get("split_seed") or 0))
    dev = torch.device(device)
    x = x.to(dev)
    y = y.to(dev) if y is not None else None
    seed = int(cfg.get("init_seed") or 0)
    net = build(cfg["model"], side_of(src.task), out, seed, cfg.get("width"))
    # The source's output layer gets its own random start.  Built from the same seed, it would begin as the
    # target's "new" head does (the same numbers, row for row), the body would learn features fitted to those
    # weights, and the target would start with a head that already reads them: not a new head.
    head = net.layers[-1]
    g_head = torch.Generator().manual_seed(seed + 7919)
    bound = 1.0 / math.sqrt(head.weight.shape[1])
    with torch.no_grad():
        head.weight.uniform_(-bound, bound, generator=g_head)
        head.bias.uniform_(-bound, bound, generator=g_head)
    net = net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=float(cfg["lr_full"]))
    g = torch.Generator().manual_seed(seed + 101)
    bs, n = int(cfg["batch_size"]), x.shape[0]
    background = float(x.min())  # a blanked pixel reads as the images' background
    t0, loss_v = time.time(), None
    for ep in range(epochs):
        net.train()
        total, count = 0.0, 0
        for idx in torch.randperm(n, generator=g).split(bs):
            idx = idx.to(dev)
            xb = x[idx]
            if y is None:
                keep = torch.rand(xb.shape, generator=None, device=dev) >= MASK
                loss = F.mse_loss(net(torch.where(keep, xb, torch.full_like(xb, background))), xb.flatten(1))
            else:
                loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        loss_v = total / max(1, count)
        if log:
            log(f"pre-training on {src.text}: epoch {ep + 1}/{epochs}, loss {loss_v:.4f}",
                {"epoch": ep + 1, "epochs": epochs, "loss": loss_v})
    info = {"source": src.text, "kind": src.kind, "epochs": epochs, "loss": loss_v, "examples": int(n),
            "seconds": round(time.time() - t0, 2)}
    if y is not None:
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(x[i: i + 512]).argmax(1) for i in range(0, n, 512)])
        info["source_train_accuracy"] = float((pred == y).float().mean())
    head = head_prefix(net)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items() if not k.startswith(head)}
    return state, info


def pretrained_state(cfg: dict, device: str, home, log=None) -> tuple[dict, dict]:
    """The cached state for this run's (net, source, epochs, seed, ...), made (and saved) when missing."""
    import torch

    path = cache_path(home, cfg)
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            info = dict(json.loads(path.with_suffix(".json").read_text()), made=False, file=path.name)
            if log:
                log(f"pre-trained state reused ({cfg['pretrain']}, {cfg['pretrain_epochs']} epochs; {path.name})",
                    {"reused": True})
            return saved, info
        except (OSError, ValueError, RuntimeError):
            pass  # a damaged file: make it again
    state, info = make_state(cfg, device, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    path.with_suffix(".json").write_text(json.dumps({**info, "key": cache_key(cfg)}))
    os.replace(tmp, path)
    if log:
        log(f"pre-trained state made ({cfg['pretrain']}, {cfg['pretrain_epochs']} epochs, {info['seconds']:.0f} s; "
            f"saved as {path.name})", {"reused": False})
    return state, dict(info, made=True, file=path.name)


def apply(module, state: dict) -> None:
    """Load a pre-trained body into a freshly built target net; its output layer stays the new, seeded one."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    head = head_prefix(module)
    if unexpected or any(not k.startswith(head) for k in missing):
        raise UserError("the pre-trained state does not fit this net (a different model or width); "
                        f"delete its file under {CACHE_DIR}/ and run again")
