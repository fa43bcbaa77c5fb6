"""The method registry: a method is one file under idim_core/methods/ and every list, label, help text
and check reads it; the four methods from peft that prove it (ia3, fourierft, unilora, tinylora) train
a real trial each, count what trains from the module, and refuse bad levels in one line."""
from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest
import torch
from conftest import run_cli
from streamlit.testing.v1 import AppTest

from idim_core import methods, ui
from idim_core.errors import UserError
from idim_core.runconfig import make_config, preflight

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
NEW = ("ia3", "fourierft", "unilora", "tinylora")

FAKE = textwrap.dedent('''
    """A made-up method: only this file says it exists."""
    NAME = "widgetft"
    LABEL = "WidgetFT: a made-up method, one point per widget"
    SHORT = "WidgetFT"
    AXIS = "rank"
    LEVEL_NAME = "w"
    LEVEL_WORD = "widget"
    DEFAULT_LEVELS = [3, 5]
    LR = 0.02
    ORDER = 48


    def check(cfg):
        from idim_core.errors import UserError

        if max(cfg["ranks"]) > 7:
            raise UserError("--ranks: widgetft takes at most 7 widgets")


    def build(prep, cfg, d, seed, projection):
        raise NotImplementedError


    def min_d(module, cfg):
        return 1
''')


@pytest.fixture
def fake_method(tmp_path, monkeypatch):
    """One new file in a folder the methods package searches: the registry finds it (pkgutil)."""
    folder = tmp_path / "more_methods"
    folder.mkdir()
    (folder / "widgetft.py").write_text(FAKE)
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(folder)])
    methods._discover()
    yield sys.modules["idim_core.methods.widgetft"]
    methods.unregister("widgetft")
    sys.modules.pop("idim_core.methods.widgetft", None)


def test_a_new_method_file_shows_everywhere_without_other_edits(fake_method, capsys, home, monkeypatch):
    from idim_core import cli
    from idim_core.ui import figures, views

    assert "widgetft" in methods.REGISTRY and methods.default_levels("widgetft") == [3, 5]
    assert list(methods.REGISTRY).index("widgetft") == list(methods.REGISTRY).index("tinylora") + 1  # its ORDER
    # the CLI: `idim run --help` (--method and --ranks) and `idim methods`
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    run_help = " ".join(capsys.readouterr().out.split())
    assert "widgetft" in run_help and "widgetft: widget, default 3,5" in run_help
    assert cli.main(["methods", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "widgetft")
    assert (row["axis"], row["label"], row["lr"], row["default_ranks"], row["level"]) == \
        ("rank", fake_method.LABEL, 0.02, [3, 5], "widget")
    # the config: its default levels, its own check, and the refusals that name the methods of an axis
    cfg = make_config(method="widgetft")
    assert cfg["ranks"] == cfg["dims"] == [3, 5]
    with pytest.raises(UserError, match="at most 7 widgets"):
        make_config(method="widgetft", ranks="9")
    with pytest.raises(UserError, match="--ranks is for lora, vera, .*widgetft"):
        make_config(method="said", ranks="4")
    # the figures' and tables' words
    assert figures.method_name("widgetft") == "WidgetFT"
    assert views.levels_text(cfg) == "widgets 3, 5"
    res = {"run_id": "abcdef123456", "method": "widgetft", "model": "minilm-l6", "axis": "rank", "D": 1000,
           "baseline_accuracy": 0.8, "threshold": 0.72,
           "points": [{"d": 3, "params": 10, "rank": 3}, {"d": 5, "params": 20, "rank": 5}],
           "by_params": [{"d": 10, "mean": 0.6, "std": 0.0}, {"d": 20, "mean": 0.7, "std": 0.0}], "by_d": []}
    fig = figures.params_figure([res])
    trace = next(t for t in fig.data if (t.meta or {}).get("method") == "widgetft")
    assert trace.name.startswith("WidgetFT") and list(trace.text) == ["w = 3", "w = 5"]
    # Explore: among the options, labelled by its own module, with its own levels
    monkeypatch.setenv(ui.NO_AUTOSTART_ENV, "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"method": "widgetft"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    box = next(r for r in at.selectbox if "widgetft" in r.options or fake_method.LABEL in r.options)
    assert fake_method.LABEL in box.options and box.value == "widgetft"
    box = next(t for t in at.text_input if t.label.startswith("Levels"))
    assert box.label == "Levels: widget (w)" and box.value == "3,5"


def test_nothing_outside_a_method_file_names_a_method():
    """The lists and labels that used to name each method are gone; the four new methods are their files."""
    from idim_core import names

    assert not hasattr(names, "METHODS") and not hasattr(names, "RANK_METHODS")
    text = open(os.path.join(ROOT, "pages", "explore.py")).read()
    assert "METHOD_LABELS" not in text and '"lora"' not in text and '"vera"' not in text
    for name in NEW:
        m = methods.get(name)
        assert m.__file__.endswith(f"idim_core/methods/{name}.py") and m.LABEL and m.SHORT and m.LR
        assert m.REQUIRES == ("peft",)
        for path in ("idim_core/runconfig.py", "idim_core/names.py", "idim_core/cli.py", "idim_core/ui/figures.py",
                     "idim_core/ui/views.py", "pages/explore.py", "idim_core/methods/__init__.py"):
            assert f'"{name}"' not in open(os.path.join(ROOT, path)).read(), (name, path)


@pytest.fixture(scope="module")
def lm_prep():
    from idim_core.prep import prepare

    cfg = make_config(model="minilm-l6", task="mr", method="lora", max_train=16, max_eval=16)
    return prepare(cfg, "cpu")[0]


def _requires_grad(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# 6 layers x query and value = 12 adapted layers of width 384; the head is 384 x 2 + 2 = 770
@pytest.mark.parametrize("name,level,count", [
    ("ia3", 0, 12 * 384 + 770),  # one scale per output feature
    ("fourierft", 10, 12 * 10 + 770),  # n coefficients per layer
    ("unilora", 64, 64 + 770),  # one vector of length L for the whole model
    ("tinylora", 4, 4 + 770),  # u numbers, tied across every layer
])
def test_each_new_method_trains_a_real_trial_and_counts_what_trains(lm_prep, name, level, count):
    from idim_core.runconfig import make_config
    from idim_core.train import run_trial

    built = methods.get(name).build(lm_prep, make_config(), level, 0, "fastfood")
    assert built.trainable == _requires_grad(built.model) == count
    trained = [n for n, p in built.model.named_parameters() if p.requires_grad]
    assert any("classifier" in n for n in trained)  # the head trains, as with lora
    assert built.lr == methods.get(name).LR
    before = {n: p.detach().clone() for n, p in lm_prep.module.named_parameters()}
    res = run_trial(lm_prep, make_config(epochs=1, max_steps=2, batch_size=8), d=level, seed=0, method=name)
    assert res.status == "done" and res.trainable == count and 0 <= res.accuracy <= 1
    assert all(torch.equal(p, before[n]) for n, p in lm_prep.module.named_parameters())  # theta0 untouched


@pytest.mark.parametrize("name,level", [("fourierft", 10), ("lora", 1), ("vera", 4), ("ia3", 0), ("bitfit", 0),
                                        ("unilora", 64), ("tinylora", 2)])
def test_every_adapter_method_trains_its_head_at_the_head_only_rate(lm_prep, name, level):
    """The head trains at head-only's own rate (chosen on validation for the head alone) in every adapter
    method, or at --lr-head; what the method adds trains at the method's rate."""
    m = methods.get(name)
    built = m.build(lm_prep, make_config(), level, 0, "fastfood")
    assert [g["lr"] for g in built.param_groups] == [m.LR, methods.get("head").LR] == [m.LR, 3e-3]
    assert sum(p.numel() for p in built.param_groups[1]["params"]) == 770  # 384 x 2 + 2
    assert sum(p.numel() for g in built.param_groups for p in g["params"]) == built.trainable
    built = m.build(lm_prep, make_config(lr_head=1e-2, method=name), level, 0, "fastfood")
    assert built.param_groups[1]["lr"] == 1e-2


def test_lora_on_the_last_layers_reaches_sizes_below_rank_1_everywhere(lm_prep):
    from idim_core.methods.adapters import target_layers, targets_of

    every = target_layers(lm_prep.module, "query-value")
    last2 = targets_of(lm_prep.module, make_config(method="lora", lora_layers=2))
    assert len(every) == 12 and len(last2) == 4
    assert all(".layer.4." in n or ".layer.5." in n for n in last2)
    one = methods.get("lora").build(lm_prep, make_config(method="lora", lora_layers=1), 1, 0, "fastfood")
    # query and value of the last layer at rank 1: 2 x (384 + 384), and the head's 770
    assert one.trainable == 2 * 768 + 770 == 2306 < 9986
    full = methods.get("lora").build(lm_prep, make_config(method="lora"), 1, 0, "fastfood")
    assert full.trainable == 12 * 768 + 770 == 9986


def test_new_methods_levels_and_defaults():
    assert make_config(method="ia3")["dims"] == [0] and make_config(method="ia3")["ranks"] is None
    assert make_config(method="fourierft")["ranks"] == [10, 100, 1000]
    assert make_config(method="tinylora", ranks="16,1")["dims"] == [1, 16]
    with pytest.raises(UserError, match="more spectral coefficients than layer"):
        make_config(method="fourierft", ranks=str(384 * 384 + 1))
    with pytest.raises(UserError, match="longer than the"):
        preflight(make_config(model="mlp", task="digits", method="unilora", ranks="50000"))
    with pytest.raises(UserError, match="more than the model's D"):  # beyond D: refused before the method's check
        make_config(model="mlp", task="digits", method="unilora", ranks="1000000")


def test_cli_refuses_bad_levels_of_the_new_methods_and_stores_nothing(home):
    for args in (["--method", "fourierft", "--ranks", str(384 * 384 + 1)], ["--method", "ia3", "--ranks", "4"],
                 ["--method", "tinylora", "--ranks", "0"], ["--method", "unilora", "--dims", "10"]):
        p = run_cli("run", "--model", "minilm-l6", "--task", "mr", *args, "--queue", home=home, timeout=120)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    ls = run_cli("ls", "--json", home=home, timeout=120)
    assert json.loads(ls.stdout or "[]") == []


def test_the_head_rate_is_in_the_json_and_lora_layers_is_refused_where_there_are_no_layers(home):
    from conftest import run_cli

    r = run_cli("run", "--model", "minilm-l1", "--task", "mr", "--method", "lora", "--ranks", "1", "--lora-layers", "1",
                "--max-train", "48", "--max-eval", "32", "--epochs", "1", "--json", "--quiet", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["lr_head"] == methods.get("head").LR == 3e-3 and res["config"]["lora_layers"] == 1
    bad = run_cli("run", "--model", "mlp", "--task", "digits", "--method", "lora", "--ranks", "1", "--lora-layers", "1",
                  "--quiet", home=home)
    assert (bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
            and "numbered transformer layers" in bad.stderr)
    said = run_cli("run", "--model", "minilm-l1", "--lr-head", "1e-3", "--quiet", home=home)
    assert said.returncode == 2 and "--lr-head is for" in said.stderr
    assert [r["run_id"] for r in json.loads(run_cli("ls", "--json", home=home).stdout)] == [res["run_id"]]
