"""Model catalogue: the bundled offline MiniLM and its variants, any hub id or local dir.

Importing this module is cheap (no torch): the UI reads the catalogue metadata.
``load_model`` imports torch/transformers when a run actually needs the weights.

How the classifier is built
---------------------------
The bundled checkpoint (sentence-transformers/all-MiniLM-L6-v2) was trained for
*mean pooling* and ships no pooler weights, so a classifier on the CLS vector starts
from noise.  Wherever a model directory carries a sentence-transformers pooling
configuration (``modules.json`` + ``1_Pooling/config.json``) we build
encoder -> that pooling -> dropout -> linear head.  Other models use their own
``AutoModelForSequenceClassification`` head.  Either way the head is new (random,
seeded) and, like every other parameter, lives in the subspace.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .common import bundled_path, num_params  # noqa: F401
from .errors import UserError

BUNDLED_LAYERS = 6
# Encoder parameters (no pooler) of all-MiniLM-L6-v2 cut to n layers; checked by a test.
_EMB = 30522 * 384 + 512 * 384 + 2 * 384 + 2 * 384  # word, position, type, LayerNorm
_LAYER = 4 * (384 * 384 + 384) + 4 * 384 + 384 * 1536 + 1536 + 1536 * 384 + 384


def _encoder_params(n: int) -> int:
    return _EMB + n * _LAYER


@dataclass
class ModelSpec:
    name: str
    description: str
    source: str  # "bundled", "hub" or "local"
    layers: int | None = None
    params: int | None = None  # encoder parameters, before the task head
    pretrained: bool = True
    offline: bool = True
    hidden_size: int | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _bundled(n: int, pretrained: bool = True) -> ModelSpec:
    if pretrained:
        name = f"minilm-l{n}"
        what = (
            "all-MiniLM-L6-v2, the bundled pretrained model (6 layers, 384 wide)"
            if n == 6
            else f"the bundled pretrained MiniLM cut to its first {n} layers"
        )
    else:
        name = f"minilm-l{n}-untrained"
        what = f"the same {n}-layer MiniLM architecture with random weights (no pre-training control)"
    return ModelSpec(name, what, "bundled", n, _encoder_params(n), pretrained, True, 384)


def _classic(name: str) -> ModelSpec:
    what = {
        "mlp": "Li et al. (2018) fully connected net, 784-200-200-10 (64-200-200-10 on 8x8 digits); "
               "images only, trained from scratch",
        "lenet": "Li et al. (2018) LeNet (2 conv + 3 fc layers); images only, trained from scratch",
    }[name]
    return ModelSpec(name, what, "classic", 3 if name == "mlp" else 5, num_params(name, 28), False, True, None,
                     {"family": "classic", "params_8x8": num_params(name, 8)})


CATALOGUE: dict[str, ModelSpec] = {
    s.name: s for s in (_bundled(6), _bundled(3), _bundled(2), _bundled(6, pretrained=False),
                        _classic("mlp"), _classic("lenet"))
}
_BUNDLED_RE = re.compile(r"^minilm-l([1-6])(-untrained)?$")
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


# Small hub models known to work with idim's hub path (their own classification head,
# or mean pooling where they are sentence-transformers checkpoints).  They need a
# download once; parameter counts are those of the encoder as published.
HUB_SUGGESTED: dict[str, ModelSpec] = {
    s.name: s for s in (
        ModelSpec("prajjwal1/bert-tiny", "BERT tiny (2 layers, 128 wide), Turc et al. 2019", "hub", 2, 4_385_920,
                  True, False, 128),
        ModelSpec("prajjwal1/bert-mini", "BERT mini (4 layers, 256 wide)", "hub", 4, 11_170_560, True, False, 256),
        ModelSpec("prajjwal1/bert-small", "BERT small (4 layers, 512 wide)", "hub", 4, 28_763_648, True, False, 512),
        ModelSpec("distilbert-base-uncased", "DistilBERT base (6 layers, 768 wide)", "hub", 6, 66_362_880, True,
                  False, 768),
        ModelSpec("roberta-base", "RoBERTa base (12 layers, 768 wide), as in Aghajanyan et al. 2021", "hub", 12,
                  124_645_632, True, False, 768),
    )
}


def list_models(include_hub: bool = True) -> list[dict]:
    out = [s.to_dict() for s in CATALOGUE.values()]
    if include_hub:
        out += [{**s.to_dict(), "needs_download": True} for s in HUB_SUGGESTED.values()]
    return out


def resolve(name: str) -> ModelSpec:
    """Find a model by catalogue name, local directory or hub id (no weights loaded)."""
    if not name or not isinstance(name, str):
        raise UserError("no model given; use --model minilm-l6 (see `idim models`)")
    if name in CATALOGUE and CATALOGUE[name].source == "classic":
        return replace(CATALOGUE[name])
    m = _BUNDLED_RE.match(name)
    if m:
        known = CATALOGUE.get(name)
        return replace(known) if known else _bundled(int(m.group(1)), pretrained=not m.group(2))
    p = Path(name).expanduser()
    if p.exists():
        if not p.is_dir() or not (p / "config.json").is_file():
            raise UserError(f"{name} is not a model directory (no config.json in it)")
        return ModelSpec(str(p), f"local model directory {p}", "local")
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise UserError(f"model directory {name} does not exist")
    if not _HUB_ID_RE.match(name):
        raise UserError(
            f"unknown model {name!r}; use one of {', '.join(CATALOGUE)}, a hub id like "
            "prajjwal1/bert-tiny, or a local directory"
        )
    return ModelSpec(name, f"Hugging Face hub model {name}", "hub", offline=False)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _sentence_pooling(path_or_id: str, local: bool) -> str | None:
    """The pooling a sentence-transformers checkpoint was trained with, if it says."""

    def read(fname: str):
        if local:
            f = Path(path_or_id) / fname
            return json.loads(f.read_text()) if f.is_file() else None
        try:
            from huggingface_hub import hf_hub_download

            return json.loads(Path(hf_hub_download(path_or_id, fname)).read_text())
        except Exception:
            return None

    modules = read("modules.json")
    if not modules:
        return None
    for mod in modules:
        if str(mod.get("type", "")).endswith("Pooling"):
            pooling = read(f"{mod.get('path', '1_Pooling')}/config.json") or {}
            if pooling.get("pooling_mode_cls_token"):
                return "cls"
            if pooling.get("pooling_mode_max_tokens"):
                return "max"
            return "mean"
    return None


def check_model(name: str) -> ModelSpec:
    """Resolve and make sure the config and tokenizer can be read (no weights)."""
    spec = resolve(name)
    if spec.source == "classic":
        return spec
    if spec.source == "bundled":
        bundled_path()
        return spec
    try:
        from transformers import AutoConfig, AutoTokenizer

        cfg = AutoConfig.from_pretrained(spec.name, trust_remote_code=False)
        AutoTokenizer.from_pretrained(spec.name, trust_remote_code=False)
    except Exception as e:  # OSError, ValueError, HF errors
        raise UserError(_load_failure(spec, e)) from None
    spec.layers = getattr(cfg, "num_hidden_layers", None)
    spec.hidden_size = getattr(cfg, "hidden_size", None)
    return spec


def _load_failure(spec: ModelSpec, e: Exception) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else "no detail given"
    if spec.source == "hub":
        if _hub_offline():
            return (
                f"model {spec.name} is not in the local cache and HF_HUB_OFFLINE=1 forbids "
                "downloading it; unset HF_HUB_OFFLINE on a connected machine, or pass a local "
                "model directory"
            )
        return f"model {spec.name} cannot be loaded from the hub ({first}); check the id and your connection"
    return f"{spec.name} cannot be loaded as a model ({first})"


class LoadedModel:
    """A classifier taking tokenizer keyword inputs and returning logits."""

    def __init__(self, module, tokenizer, spec: ModelSpec, num_labels: int):
        self.module, self.tokenizer, self.spec, self.num_labels = module, tokenizer, spec, num_labels

    @property
    def D(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


def load_model(name: str, num_labels: int, init_seed: int = 0) -> LoadedModel:
    """Load weights and build the classifier. Heavy: imports torch and transformers."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    from .nets import EncoderClassifier, HFClassifier

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    spec = resolve(name)
    torch.manual_seed(init_seed)  # the new head (and untrained weights) depend on it
    try:
        if spec.source == "bundled":
            path = str(bundled_path())
            n = spec.layers
            tok = AutoTokenizer.from_pretrained(path)
            if spec.pretrained:
                enc = AutoModel.from_pretrained(path, num_hidden_layers=n, add_pooling_layer=False)
            else:
                cfg = AutoConfig.from_pretrained(path, num_hidden_layers=n)
                enc = AutoModel.from_config(cfg, add_pooling_layer=False)
            module = EncoderClassifier(enc, enc.config.hidden_size, num_labels, "mean")
        else:
            local = spec.source == "local"
            kw = {"trust_remote_code": False}
            tok = AutoTokenizer.from_pretrained(spec.name, trust_remote_code=False)
            pooling = _sentence_pooling(spec.name, local)
            if pooling:  # the encoder's own pooler (a dense layer on [CLS]) is unused: leave it out of D
                try:
                    enc = AutoModel.from_pretrained(spec.name, add_pooling_layer=False, **kw)
                except TypeError:  # an architecture without that option
                    enc = AutoModel.from_pretrained(spec.name, **kw)
                module = EncoderClassifier(enc, enc.config.hidden_size, num_labels, pooling)
            else:
                hf = AutoModelForSequenceClassification.from_pretrained(spec.name, num_labels=num_labels, **kw)
                module = HFClassifier(hf)
            spec.layers = getattr(module.config, "num_hidden_layers", None)
    except UserError:
        raise
    except Exception as e:
        raise UserError(_load_failure(spec, e)) from None
    if spec.source != "bundled":
        spec.params = sum(p.numel() for p in module.parameters())
    return LoadedModel(module, tok, spec, num_labels)


def count_params(name: str) -> int:
    """Parameter count of a model's architecture without loading weights (meta device)."""
    spec = resolve(name)
    if spec.source in ("bundled", "classic"):
        return spec.params
    import torch
    from transformers import AutoConfig, AutoModel

    try:
        cfg = AutoConfig.from_pretrained(spec.name, trust_remote_code=False)
        with torch.device("meta"):
            m = AutoModel.from_config(cfg, trust_remote_code=False)
    except Exception as e:
        raise UserError(_load_failure(spec, e)) from None
    return sum(p.numel() for p in m.parameters())
