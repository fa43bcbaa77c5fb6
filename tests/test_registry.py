"""The method registry: a method is one file under idim_core/methods/ and every list, label, help text
and check reads it; the four methods from peft that prove it (ia3, fourierft, unilora, tinylora) train
a real trial each, count what trains from the module, and refuse bad levels in one line."""
from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from streamlit.testing.v1 import AppTest

from idim_core import methods, ui
from idim_core.errors import UserError
from idim_core.runconfig import make_config, preflight

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
ROOT_PATH = Path(ROOT)
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

        if max(cfg.ranks) > 7:
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
    orders = [m.ORDER for m in methods.REGISTRY.values()]
    assert orders == sorted(orders)  # listed by ORDER, the new file among them
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
    assert cfg.ranks == cfg.dims == [3, 5]
    with pytest.raises(UserError, match="at most 7 widgets"):
        make_config(method="widgetft", ranks="9")
    with pytest.raises(UserError, match="--ranks") as e:  # the flag, and every method of the axis, the new one too
        make_config(method="said", ranks="4")
    assert all(m in str(e.value) for m in ("lora", "widgetft")), str(e.value)
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
    res = run_trial(lm_prep, make_config(epochs=1, max_steps=2, batch_size=8).but(method=name), d=level, seed=0)
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
    assert make_config(method="ia3").dims == [0] and make_config(method="ia3").ranks is None
    assert make_config(method="fourierft").ranks == [10, 100, 1000]
    assert make_config(method="tinylora", ranks="16,1").dims == [1, 16]
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


# ---------------------------------------------------------------------------
# file-backed task sources: one file (PREFIX, EXTENSIONS) for the CLI and the app
# ---------------------------------------------------------------------------
TSV = textwrap.dedent('''
    """A made-up file-backed source: tab-separated text, tsv:PATH.  Only this file says it exists."""
    from pathlib import Path

    from idim_core.sources.base import Split, file_spec, split_rows
    from idim_core.sources.csvread import check_columns, check_names, encode_labels, labelled_rows

    NAME = "tsv"
    LABEL = "your own TSV file, tsv:PATH"
    ORDER = 95
    HINT = "tsv:PATH"
    PREFIX = "tsv:"
    EXTENSIONS = (".tsv",)
    KIND = "TSV"


    def resolve(name):
        return file_spec(name, PREFIX, KIND, NAME, "reviews.tsv")


    def load(spec, split_seed=0, max_train=None, max_eval=None, text_column="text", text_pair_column=None,
             label_column="label"):
        path = Path(spec.file)
        check_names(text_column, label_column, path.name)
        header, *rows = [line.split("\\t") for line in path.read_text(encoding="utf-8").splitlines()]
        check_columns(header, text_column, text_pair_column, label_column, path.name)
        pi = header.index(text_pair_column) if text_pair_column else None
        a, b, raw = labelled_rows(rows, header.index(text_column), pi, header.index(label_column), path.name,
                                  text_column, label_column)
        labels, names = encode_labels(raw)
        return split_rows(spec, Split(a, b, labels), names, split_seed, max_train, max_eval)
''')


@pytest.fixture
def tsv_source(tmp_path, monkeypatch):
    """One new file in a folder the sources package searches: the registry finds it (pkgutil)."""
    from idim_core import sources

    folder = tmp_path / "more_sources"
    folder.mkdir()
    (folder / "tsvfile.py").write_text(TSV)
    monkeypatch.setattr(sources, "__path__", [*sources.__path__, str(folder)])
    sources.discover(sources.__path__, sources.__name__)
    yield sys.modules["idim_core.sources.tsvfile"]
    sources.unregister("tsv")
    sys.modules.pop("idim_core.sources.tsvfile", None)


def _tsv(path, rows=40):
    path.write_text("text\tlabel\n" + "".join(f"{'a good' if i % 2 else 'a bad'} film, take {i}\t{i % 2}\n"
                                               for i in range(rows)), encoding="utf-8")
    return path


def test_a_new_file_backed_source_file_shows_in_the_cli_and_explore(tsv_source, tmp_path, home, monkeypatch):
    from conftest import cli_in_process

    from idim_core import plugins, sources
    from idim_core.ui.keys import keys_for

    E = keys_for("explore")  # the Explore page's widget keys

    assert isinstance(tsv_source, plugins.TaskSourceModule)  # its optional attributes were given their defaults
    assert sources.file_source("tsv:/x.tsv") is tsv_source and "tsv" in sources.upload_types()
    good, bad = _tsv(tmp_path / "films.tsv"), tmp_path / "films-missing.tsv"
    # the CLI: `idim tasks` names it, `idim tasks tsv:PATH` counts it, `idim run --queue` takes it or refuses it
    listing = cli_in_process("tasks", home=home)
    assert listing.returncode == 0 and "tsv:PATH" in listing.stdout
    stats = cli_in_process("tasks", f"tsv:{good}", home=home)
    assert stats.returncode == 0 and "your TSV file films.tsv" in stats.stdout and "32/4/4" in stats.stdout
    ok = cli_in_process("run", "--model", "minilm-l1", "--task", f"tsv:{good}", "--queue", home=home)
    assert ok.returncode == 0 and "queued run" in ok.stdout, ok.stderr
    for task, why in ((f"tsv:{bad}", "TSV file"), (f"tsv:{good}", "has no column 'lbl'")):
        extra = ["--label-column", "lbl"] if "lbl" in why else []
        no = cli_in_process("run", "--model", "minilm-l1", "--task", task, *extra, "--queue", home=home)
        assert no.returncode == 2 and len(no.stderr.strip().splitlines()) == 1 and why in no.stderr, no.stderr
    # Explore: the upload box accepts its extension (and CSV's and Parquet's), and a .tsv upload becomes a tsv: task
    monkeypatch.setenv(ui.NO_AUTOSTART_ENV, "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"model": "minilm-l1", "task": "csv:"})
    at.run()
    up = at.file_uploader(key=E("task_upload"))
    assert {".tsv", ".csv", ".parquet"} <= {t if t.startswith(".") else "." + t for t in up.proto.type}, up.proto.type
    assert "TSV" in up.label
    up.set_value(("films.tsv", good.read_bytes(), "text/tab-separated-values")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key=E("csv_text")).value == "text" and at.selectbox(key=E("csv_label")).value == "label"


def test_a_parquet_file_round_trips_through_the_task_loader_and_the_cli(tmp_path, home):
    import pandas as pd
    from conftest import cli_in_process

    from idim_core import sources, tasks

    rows = [{"text": f"{'a good' if i % 3 else 'a bad'} film, take {i}", "text_pair": f"seen {i} times",
             "label": ["neg", "pos", "mixed"][i % 3], "extra": i} for i in range(60)]
    path = tmp_path / "films.parquet"
    pd.DataFrame(rows).to_parquet(path)
    assert sources.file_source(f"parquet:{path}").NAME == "parquet" and "parquet" in sources.upload_types()
    t = tasks.load_task(f"parquet:{path}", split_seed=1, text_pair_column="text_pair")
    assert t.num_labels == 3 and t.label_names == ["mixed", "neg", "pos"]  # labels are text, as in a CSV
    assert (len(t.train), len(t.val), len(t.test)) == (48, 6, 6) and t.train.text_pair is not None
    back = {r["text"]: r["label"] for r in rows}
    assert all(back[x] == t.label_names[y] for x, y in zip(t.train.text, t.train.labels))
    assert tasks.train_size(f"parquet:{path}") == (48, 3)
    out = cli_in_process("tasks", f"parquet:{path}", home=home)
    assert out.returncode == 0 and "your Parquet file films.parquet" in out.stdout and "48/6/6" in out.stdout
    for args, why in ((["--task", f"parquet:{tmp_path / 'gone.parquet'}"], "Parquet file"),
                      (["--task", f"parquet:{path}", "--text-column", "nope"], "has no column 'nope'"),
                      (["--task", "trec6", "--text-column", "t"], "csv: or parquet: task")):
        no = cli_in_process("run", "--model", "minilm-l1", *args, "--queue", home=home)
        assert no.returncode == 2 and len(no.stderr.strip().splitlines()) == 1 and why in no.stderr, no.stderr
    (tmp_path / "not.parquet").write_bytes(b"text,label\nnot parquet at all,1\n")
    with pytest.raises(UserError, match="not.parquet cannot be read as Parquet"):
        tasks.load_task(f"parquet:{tmp_path / 'not.parquet'}")


def test_every_registered_plugin_meets_its_protocol_with_its_defaults_filled():
    """Method, executor and task source are Protocols (idim_core/plugins.py); registering a module gives it every
    optional attribute, so no caller probes a plugin with getattr."""
    from idim_core import executors, plugins, sources

    for registry, proto in ((methods.REGISTRY, plugins.MethodModule), (executors.REGISTRY, plugins.ExecutorModule),
                            (sources.REGISTRY, plugins.TaskSourceModule)):
        assert registry and all(isinstance(m, proto) for m in registry.values()), proto
    assert isinstance(methods.FULL, plugins.MethodModule) and methods.get("bitfit").check is None
    assert sources.get("bundled").PREFIX is None and sources.get("csv").EXTENSIONS == (".csv",)
    local = executors.get("local")
    assert local.address is None and callable(local.close) and local.search_slots == 1
    # an unknown name: one line that names it and offers every registered one
    for get, registry in ((methods.get, methods.REGISTRY), (executors.module, executors.REGISTRY),
                          (sources.get, sources.REGISTRY)):
        with pytest.raises(UserError, match="'nope'") as e:
            get("nope")
        assert "\n" not in str(e.value) and all(name in str(e.value) for name in registry), str(e.value)
    probes = []
    for path in [*(ROOT_PATH / "idim_core").rglob("*.py"), *(ROOT_PATH / "pages").rglob("*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            plugin = (r"(m|mod|src|executor|other|self\.executor|_registry\.get\(n\)|REGISTRY\.get\([^)]*\)|"
                      r"sources\.get\([^)]*\)|methods\.get\([^)]*\))")
            if re.search(rf"getattr\({plugin}, \"\w+\", |hasattr\({plugin}, ", line):  # a probe: a default, or hasattr
                probes.append(f"{path.name}: {line.strip()}")
    allowed = ("plugins.py", "__init__.py")  # registration itself: what a module lacks is filled in there
    assert not [p for p in probes if not p.startswith(allowed)], probes
