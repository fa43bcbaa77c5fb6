"""Task sources are a registry like methods (issue 23, item 6): one module per source in idim_core/sources/,
found by the package; idim_core/tasks.py dispatches on the registry and names no source."""
import ast
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from idim_core import sources, tasks
from idim_core.errors import UserError

ROOT = Path(__file__).resolve().parent.parent

# A made-up source, the whole of it: what a contributor writes (one file).
TOY = textwrap.dedent('''
    """A made-up task source: toy:K, K classes of made-up sentences, 20 each."""
    from idim_core.errors import UserError
    from idim_core.sources.base import Split, TaskSpec, split_rows

    NAME = "toy"
    LABEL = "made-up sentences, toy:K for K classes"
    ORDER = 50  # after hub, before csv
    TASKS = {"toy:2": TaskSpec("toy:2", "two classes of made-up sentences", "toy", 2, 40)}


    def resolve(name):
        if not name.startswith("toy:"):
            return None
        k = int(name[4:]) if name[4:].isdigit() else 0
        if k < 2:
            raise UserError("toy:K needs K of at least 2, as in toy:3")
        return TaskSpec(name, f"{k} classes of made-up sentences", "toy", k, 20 * k)


    def load(spec, split_seed, max_train, max_eval, text_column, text_pair_column, label_column):
        k = spec.num_labels
        rows = Split([f"made-up sentence number {i} of class {c}" for c in range(k) for i in range(20)], None,
                     [c for c in range(k) for i in range(20)])
        return split_rows(spec, rows, [f"class {c}" for c in range(k)], split_seed, max_train, max_eval)
''')

CORE = ("bundled", "image", "hub", "csv")  # the sources the product ships; more may be registered


def _unknown_task_refusal(msg: str) -> None:
    """An unknown task: one line naming it and offering the listed tasks (whatever sources are registered)."""
    assert "\n" not in msg and "'nope'" in msg
    assert all(t["name"] in msg for t in tasks.list_tasks()), msg


def _module_from(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "toy_source.py").write_text(TOY)
    mod = _module_from(tmp_path / "toy_source.py", "toy_source")
    sources.register(mod)  # the one registry line, for a source that lives outside idim_core/sources/
    try:
        yield mod
    finally:
        sources.unregister("toy")
        for k in [k for k in tasks._STATS if str(k[0]).startswith("toy:")]:
            del tasks._STATS[k]


def test_the_registry_holds_the_shipped_sources_in_order():
    assert set(CORE) <= set(sources.REGISTRY)
    orders = [mod.ORDER for mod in sources.REGISTRY.values()]
    assert orders == sorted(orders)  # names are tried and tasks listed in ORDER
    for name, mod in sources.REGISTRY.items():
        assert mod.NAME == name and mod.LABEL and callable(mod.load)
        assert mod.__name__ == f"idim_core.sources.{mod.__name__.rsplit('.', 1)[1]}"
    # the helpers are not sources
    assert not any(m.__name__.endswith((".base", ".csvread")) for m in sources.REGISTRY.values())
    # every listed task belongs to a registered source, and the listing follows the registry's order
    listed = [t["source"] for t in tasks.list_tasks()]
    assert set(listed) <= set(sources.REGISTRY) and {"bundled", "image", "hub"} <= set(listed)
    assert listed == sorted(listed, key=list(sources.REGISTRY).index)


def test_tasks_py_names_no_source_and_has_no_if_chain():
    tree = ast.parse((ROOT / "idim_core" / "tasks.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            text = ast.unparse(node)
            assert ".source" not in text, f"tasks.py branches on a source: {text}"


def test_light_registry_imports_no_torch():
    code = ("import sys, idim_core.tasks, idim_core.sources as s; s.get('hub'); s.get('image');"
            "idim_core.tasks.resolve('mnist5k:0-4'); idim_core.tasks.list_tasks();"
            "assert not {'torch', 'datasets', 'transformers'} & set(sys.modules), 'heavy import'")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_a_registered_source_resolves_loads_counts_and_is_listed(toy):
    spec = tasks.resolve("toy:3")
    assert spec.source == "toy" and spec.num_labels == 3
    t = tasks.load_task("toy:3", split_seed=1)
    assert t.num_labels == 3 and t.label_names == ["class 0", "class 1", "class 2"]
    assert (len(t.train), len(t.val), len(t.test)) == (48, 6, 6)
    assert tasks.load_task("toy:3", split_seed=1).test.text == t.test.text  # seeded
    assert tasks.load_task("toy:3", max_train=12).info["train"] == 12
    assert tasks.train_size("toy:3") == (48, 3)  # from the spec's size: no train_size needed
    assert tasks.train_size("toy:3", max_train=5) == (5, 3)
    st = tasks.task_stats("toy:3")  # no stats(): the text statistics come for free
    assert st["source"] == "toy" and st["splits"] == {"train": 48, "val": 6, "test": 6}
    assert st["classes"] == {"class 0": 20, "class 1": 20, "class 2": 20} and st["avg_tokens"] > 5
    assert "toy:2" in [t["name"] for t in tasks.list_tasks()]
    with pytest.raises(UserError, match="toy:K needs K of at least 2"):
        tasks.resolve("toy:1")
    with pytest.raises(UserError) as e:
        tasks.resolve("nope")
    _unknown_task_refusal(str(e.value))
    assert "toy:2" in str(e.value)  # the registered source's tasks are offered too
    # the shipped sources still win their own names
    assert tasks.resolve("mr").source == "bundled" and tasks.resolve("mnist5k@a").source == "image"


def test_registering_checks_the_module(tmp_path):
    (tmp_path / "half.py").write_text("NAME = 'half'\nTASKS = {}\n")
    with pytest.raises(TypeError, match="has no load"):
        sources.register(_module_from(tmp_path / "half.py", "half"))
    (tmp_path / "blind.py").write_text("NAME = 'blind'\ndef load(*a):\n    pass\n")
    with pytest.raises(TypeError, match="give TASKS or resolve"):
        sources.register(_module_from(tmp_path / "blind.py", "blind"))
    assert "half" not in sources.REGISTRY and "blind" not in sources.REGISTRY


def test_a_file_in_a_sources_package_is_found_without_a_registry_line(tmp_path, monkeypatch):
    """discover() is what idim_core/sources/__init__.py runs on itself: any module with NAME and load."""
    pkg = tmp_path / "more_sources"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "toy.py").write_text(TOY)
    (pkg / "helper.py").write_text("X = 1\n")  # no NAME: a helper, not a source
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import more_sources

        found = sources.discover(more_sources.__path__, "more_sources")
        assert [m.NAME for m in found] == ["toy"]
        names = list(sources.REGISTRY)
        assert names.index("hub") < names.index("toy") < names.index("csv")  # its ORDER: after hub, before csv
        assert tasks.load_task("toy:2").num_labels == 2
    finally:
        sources.unregister("toy")
        for m in [m for m in sys.modules if m.split(".")[0] == "more_sources"]:
            del sys.modules[m]


def test_one_new_file_in_idim_core_sources_is_all_a_source_needs(tmp_path):
    """The claim itself, on a copy of the package: drop one file into idim_core/sources/, change nothing else,
    and the task resolves, loads, counts and is listed (a fresh process, the copy first on its path)."""
    shutil.copytree(ROOT / "idim_core", tmp_path / "idim_core", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "idim_core" / "sources" / "toy.py").write_text(TOY)
    code = ("import json, idim_core.tasks as t, idim_core.sources as s;"
            "assert s.__file__.startswith(%r), s.__file__;"
            "d = t.load_task('toy:4');"
            "print(json.dumps([t.resolve('toy:4').source, d.num_labels, d.info, t.train_size('toy:4'),"
            " [x['name'] for x in t.list_tasks() if x['source'] == 'toy'], list(s.REGISTRY)]))") % str(tmp_path)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    source, k, info, size, listed, registry = json.loads(r.stdout)
    assert source == "toy" and k == 4 and info == {"train": 64, "val": 8, "test": 8} and size == [64, 4]
    assert listed == ["toy:2"] and set(CORE) <= set(registry)
    assert registry.index("hub") < registry.index("toy") < registry.index("csv")  # its ORDER, in a fresh process


# --- the shipped sources keep their names and their one-line refusals ------------------------------------
@pytest.mark.parametrize("name,named", [  # named: what the refusal must point at (the value, or what to give)
    ("", "--task"),
    (None, "--task"),
    ("x" * 2000, "2,000"),
    ("csv:", "csv:"),
    ("csv:a\x00b", "NUL"),
    ("csv:/no/such/file.csv", "/no/such/file.csv"),
    ("csv:/tmp", "/tmp"),
    ("mnist5k:5-3", "'5-3'"),
    ("fashion-mnist:ge5", "ge5"),
])
def test_bad_names_are_refused_in_one_line_naming_the_value(name, named):
    with pytest.raises(UserError) as e:
        tasks.resolve(name)
    assert named in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_an_unknown_task_is_named_and_the_listed_tasks_offered():
    with pytest.raises(UserError) as e:
        tasks.resolve("nope")
    _unknown_task_refusal(str(e.value))


def test_the_image_source_covers_the_pretraining_splits():
    from idim_core import pretrain

    for text in ("mnist5k:0-4", "mnist5k:5-9@b", "mnist5k@a", "mnist5k:ge5@b", "digits:parity",
                 "mnist5k:0-4:shuffled", "mnist5k:denoise", "fashion-mnist:0-4"):
        task = pretrain.parse_source(text).task
        spec = tasks.resolve(task)
        assert spec.source == "image" and spec.name == task
    s = tasks.resolve("mnist5k:5-9")
    assert s.num_labels == 5 and s.label_names == ["5", "6", "7", "8", "9"] and s.size == 2500
    assert tasks.resolve("mnist5k:ge5@a").label_names == ["digit 0-4", "digit 5-9"]
    assert tasks.resolve("mnist5k@b").size == 3000  # half of the training 80 %, about
    assert sources.get("image").variant("mnist5k:0-4@a").half == "a"
    with pytest.raises(UserError, match="holds images: train it with model mlp or lenet"):
        tasks.load_task("mnist5k:0-4")
    st = tasks.task_stats("digits:0-4")
    assert st["num_labels"] == 5 and st["input"] == "8x8 pixels" and st["avg_tokens"] is None
    assert st["splits"]["test"] < 180 and st["chance"] == pytest.approx(0.2)


def test_sizes_of_the_shipped_sources():
    assert tasks.train_size("mr") == (int(0.8 * 10605), 2)
    assert tasks.train_size("fine-foods") == (int(0.72 * 5000), 2)  # an official split
    assert tasks.train_size("glue/sst2") == (None, 2) and tasks.train_size("glue/sst2", 100) == (100, 2)
    assert tasks.train_size("mnist5k:0-4") == (int(0.8 * 2500), 5)
    assert tasks.task_stats("glue/rte")["note"].startswith("statistics appear once")


def test_the_glue_source_is_read_from_the_hub_source_when_a_task_loads(monkeypatch):
    monkeypatch.setattr(sources.get("hub"), "GLUE_SOURCE", "/nowhere/glue")
    assert sources.get("hub").glue_source() == "/nowhere/glue"
    assert sources.get("hub").GLUE["mnli"][2] == "validation_matched" and "glue/mnli" in sources.get("hub").TASKS
    assert set(sources.get("bundled").TASKS) >= {"mr", "r8"} and "mnist5k" in sources.get("image").TASKS
