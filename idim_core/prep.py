"""Preparing a run: the device, torch's threads, the model, theta0 and the tokenised data, loaded once for
all of a run's trials, and the worker's warm cache of the last prepared (model, task)."""
from __future__ import annotations

from .errors import UserError
from .runconfig import RunConfig
from .runconfig import bundled as _bundled


def pick_device(pref: str | None = None) -> str:
    import torch

    if pref and pref != "auto":
        if pref.startswith("cuda") and not torch.cuda.is_available():
            raise UserError("--device cuda was asked for, but no CUDA GPU is available")
        if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("--device mps was asked for, but MPS is not available")
        return pref
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


_TORCH_THREADS: list[int] = []


def threads_for(cfg: RunConfig) -> int:
    """CPU threads for a run: --threads if given, else the model's own (classic.AUTO_THREADS: the MLP trains
    on one), else torch's own default.  Set for every run: the worker runs one after another, and one run's
    --threads must not stick to the next."""
    import torch

    from .classic import AUTO_THREADS

    if not _TORCH_THREADS:
        _TORCH_THREADS.append(torch.get_num_threads())
    if cfg.threads:
        return int(cfg.threads)
    return min(_TORCH_THREADS[0], AUTO_THREADS.get(cfg.model, _TORCH_THREADS[0]))


def prepare(cfg: RunConfig, device: str, home=None, log=None):
    """Load the model, theta0 and the tokenised data once for all trials of a run.  ``home``: the store's
    directory (where pre-trained states are cached); ``log(message, facts)``: what pre-training says."""
    import torch

    from .models import load_model
    from .tasks import load_task
    from .train import Prepared, encode

    torch.set_num_threads(threads_for(cfg))
    from .classic import is_classic_model

    if is_classic_model(cfg.model):
        return _prepare_classic(cfg, device, home, log)
    task = load_task(cfg.task, cfg.split_seed, cfg.max_train, cfg.max_eval,
                     cfg.text_column, cfg.text_pair_column, cfg.label_column)
    lm = load_model(cfg.model, task.num_labels, cfg.init_seed)
    module = lm.module.to(device)
    tok = lm.tokenizer
    ml = int(cfg.max_length)
    prep = Prepared(module, None, encode(tok, task.train, ml), encode(tok, task.val, ml),
                    encode(tok, task.test, ml), tok.pad_token_id or 0, torch.device(device), task.num_labels)
    return prep, lm, task


def _prepare_classic(cfg: RunConfig, device: str, home=None, log=None):
    import torch

    from . import classic
    from .models import LoadedModel, resolve
    from .train import Prepared

    task = classic.load_images(cfg.task, cfg.split_seed, cfg.max_train, cfg.max_eval,
                               cfg.shuffle_labels, cfg.shuffle_pixels)
    module = classic.build(cfg.model, task.side, task.num_labels, cfg.init_seed, cfg.width)
    from . import pretrain

    seed_modules = None
    if pretrain.active(cfg):  # theta0 per seed: its own pre-trained body (made once, cached) and the new head
        from .store import default_home

        seed_modules, facts = {}, []
        for s in cfg.seed_list:
            state, f = pretrain.pretrained_state(cfg, device, home or default_home(), log, seed=s)
            m = classic.build(cfg.model, task.side, task.num_labels, cfg.init_seed, cfg.width)
            pretrain.apply(m, state)
            seed_modules[s] = m.to(device)
            facts.append(dict(f, run_seed=s))
        module = seed_modules[cfg.seed_list[0]]
        task.info["pretrain"] = {**facts[0], "per_seed": facts, "runs": [f["file"] for f in facts],
                                 "dead_fraction": [pretrain.dead_fraction(seed_modules[s], task.train.x)
                                                   for s in cfg.seed_list]}
    task.info["dead_fraction"] = (sum(task.info["pretrain"]["dead_fraction"]) / len(cfg.seed_list)
                                  if seed_modules else pretrain.dead_fraction(module, task.train.x))
    module = module.to(device)
    dev = torch.device(device)
    if dev.type != "cpu":  # small data: keep it on the device once
        for part in {id(p): p for p in (task.train, task.val, task.test)}.values():
            part.x = part.x.to(dev)
    prep = Prepared(module, None, task.train, task.val, task.test, 0, dev, task.num_labels, seed_modules)
    return prep, LoadedModel(module, None, resolve(cfg.model), task.num_labels), task


# The worker keeps the last prepared (model, task) in memory, so a new run on the same
# bundled model and task starts training at once instead of loading for seconds.
_WARM: dict[tuple, tuple] = {}


def _warm_key(cfg: RunConfig, device: str) -> tuple | None:
    if not _bundled(cfg):
        return None  # files that may change between runs are always read afresh
    return tuple(str(getattr(cfg, k)) for k in ("model", "task", "split_seed", "init_seed", "max_train", "max_eval",
                                                "max_length")) + (device,)


def prepare_warm(cfg: RunConfig, device: str, home=None, log=None):
    """prepare(), reusing the worker's last prepared model and data when they match."""
    key = _warm_key(cfg, device)
    if key is not None and key in _WARM:
        import torch

        torch.set_num_threads(threads_for(cfg))  # this run's threads, as prepare() sets them
        return _WARM[key]
    out = prepare(cfg, device, home, log)
    _WARM.clear()
    if key is not None:
        _WARM[key] = out
    return out
