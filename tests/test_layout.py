"""The code's shape: no import circle inside idim_core, the engine never imports Streamlit,
pages never import the sweep runner or torch-heavy modules."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "idim_core"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every idim_core module a file imports, lazily inside functions too."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("idim_core"):
                if node.module is None or (PKG / Path(*mod.split(".")[1:])).is_dir():
                    for a in node.names:  # from . import x / from .pkg import mod
                        sub = f"{mod}.{a.name}"
                        if ((ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                                or (ROOT / Path(*sub.split(".")) / "__init__.py").exists()):  # a module or a package
                            out.add(sub)
                            continue
                        out.add(mod)
                else:
                    out.add(mod)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("idim_core")}
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PKG.rglob("*.py")}


def test_no_import_circle():
    g = graph()
    seen, stack, cycles = set(), [], []

    def visit(n):
        if n in stack:
            cycles.append(stack[stack.index(n):] + [n])
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if m in g:
                visit(m)
        stack.pop()

    for n in sorted(g):
        visit(n)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def dynamic_imports_of(path: Path) -> set[str]:
    """The modules a file imports by name at run time: ``importlib.import_module(f"{__name__}.full")`` imports that
    module, and a package that discovers its modules (``pkgutil.iter_modules``, or ``discover(__path__, ...)``, the
    shared ``plugins.Registry``'s) imports every module in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    text = path.read_text()
    out = set()
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "import_module"
                and node.args and isinstance(node.args[0], ast.JoinedStr)):
            continue
        head, *rest = node.args[0].values
        if (isinstance(head, ast.FormattedValue) and ast.unparse(head.value) == "__name__"
                and rest and all(isinstance(v, ast.Constant) for v in rest)):  # f"{__name__}.full": that module
            out.add(name + "".join(v.value for v in rest))
    if path.name == "__init__.py" and ("iter_modules(__path__" in text or "discover(__path__" in text):
        out |= {f"{package}.{p.stem}" for p in path.parent.glob("*.py") if p.name != "__init__.py"}
        out |= {f"{package}.{p.name}" for p in path.parent.iterdir() if (p / "__init__.py").is_file()}
    out.discard(name)
    return out


def test_the_import_graph_follows_dynamic_imports_and_has_no_circle():
    """The plugin packages import their modules by name (``import_module(f"{__name__}.{info.name}")``, found by
    ``pkgutil``): such a package imports every module in it, and the graph with those edges has no circle either
    (the loop runconfig -> executors -> local -> train -> runconfig was one)."""
    g = {module_name(p): imports_of(p) | dynamic_imports_of(p) for p in PKG.rglob("*.py")}
    assert {"idim_core.methods.lora", "idim_core.methods.full"} <= g["idim_core.methods"]
    assert {"idim_core.executors.local", "idim_core.executors.ray_exec"} <= g["idim_core.executors"]
    assert "idim_core.sources.parquetfile" in g["idim_core.sources"]
    found = circles(g)
    assert not found, "import circles: " + "; ".join(" -> ".join(sorted(c)) for c in found)


def circles(g: dict[str, set[str]]) -> list[set[str]]:
    """The import graph's strongly connected parts of more than one module (each holds a circle; Tarjan's)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = set()
            while True:
                w = stack.pop()
                on.discard(w)
                part.add(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(part)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_engine_never_imports_streamlit():
    for p in PKG.rglob("*.py"):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "streamlit" for n in names), f"{p.name} imports streamlit"


def test_pages_do_not_import_the_runner_or_the_trainer():
    for p in list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        mods = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods.add(node.module)
                mods |= {f"{node.module}.{a.name}" for a in node.names}
        bad = {m for m in mods if m.split(".")[-1] in ("sweep", "train", "subspace", "projection", "worker")
               and m.startswith("idim_core")}
        assert not bad, f"{p.name} imports {bad}"


def test_ray_nodes_never_touch_the_store():
    """Only the owning process writes SQLite: the code that runs on Ray nodes imports no store."""
    import ast
    from pathlib import Path

    src = (Path(__file__).resolve().parent.parent / "idim_core" / "executors" / "ray_exec.py").read_text()
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
            assert not any("store" in n for n in names), ast.unparse(node)


def test_only_the_ray_executor_imports_ray():
    """Ray belongs to its executor: no other module of the product (engine, pages, benches, scripts) imports it."""
    allowed = PKG / "executors" / "ray_exec.py"
    files = [p for d in (PKG, ROOT / "pages", ROOT / "bench", ROOT / "scripts") for p in d.rglob("*.py")]
    for p in files + [ROOT / "app.py"]:
        if p == allowed:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not any(n.split(".")[0] == "ray" for n in names), f"{p.relative_to(ROOT)} imports ray"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):  # nor runs it in a child process
                assert "import ray" not in node.value, f"{p.relative_to(ROOT)} runs code that imports ray"


def _faces():
    return [*(ROOT / "pages").glob("*.py"), ROOT / "app.py", PKG / "cli.py", PKG / "console.py",
            *(PKG / "ui").glob("*.py")]


def test_no_page_or_cli_line_names_a_method_or_an_executor():
    """Adding a method or an executor is one file in its registry: no face branches on, defaults to or lists
    a registered name.  The one exception is the lesson itself: Learn's try-it links name the methods they
    teach (the keyword values of ``try_it``)."""
    from idim_core import executors, methods

    names = set(methods.REGISTRY) | set(executors.REGISTRY)
    assert {"said", "did", "lora", "ia3", "local", "ray"} <= names  # the registries are read, not empty
    for p in _faces():
        tree = ast.parse(p.read_text())
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "try_it":
                allowed |= {id(k.value) for k in node.keywords}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names \
                    and id(node) not in allowed:
                raise AssertionError(f"{p.relative_to(ROOT)}:{node.lineno} names {node.value!r}; read it from the "
                                     "registry (idim_core/methods, idim_core/executors)")


def test_the_ray_executor_owns_its_options():
    """Its flags are RunConfig fields that the executor module declares, not lines in runconfig.py."""
    src = (PKG / "runconfig.py").read_text()
    for opt in ("ray_address", "cpus_per_trial", "gpus_per_trial"):
        assert opt not in src, f"runconfig.py names {opt}"
    from idim_core.runconfig import cli_fields

    assert {"ray_address", "cpus_per_trial", "gpus_per_trial"} <= {f.name for f in cli_fields()}


def test_the_d90_search_is_pure():
    """search.py decides where to look next from validation means alone: no torch, no store, no other module."""
    tree = ast.parse((PKG / "search.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
            assert not node.__dict__.get("level") and not any(n.split(".")[0] in ("torch", "idim_core")
                                                              for n in names), ast.unparse(node)


def test_no_function_is_longer_than_80_lines():
    """Small rooms: every function of the engine and the pages fits on a screen and a half."""
    long = []
    for path in [*PKG.rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def test_the_config_is_one_typed_dataclass_read_by_attribute():
    """RunConfig is a plain dataclass in the source (a type checker reads it), with no dict behaviour; settings
    are read as attributes, so string-keyed reads of a config are all but gone; a trial takes the config alone."""
    import dataclasses
    import inspect
    import re

    from idim_core.runconfig import make_config
    from idim_core.train import run_trial

    tree = ast.parse((ROOT / "idim_core" / "runconfig.py").read_text())
    assert any(isinstance(n, ast.ClassDef) and n.name == "RunConfig" for n in tree.body)
    assert "make_dataclass" not in (ROOT / "idim_core" / "runconfig.py").read_text()
    cfg = make_config()
    assert dataclasses.is_dataclass(cfg)
    with pytest.raises(TypeError):
        cfg["epochs"]  # noqa: B018 - no dict behaviour
    assert not hasattr(cfg, "get") and not hasattr(cfg, "items")
    assert {"method", "projection"}.isdisjoint(inspect.signature(run_trial).parameters)
    keyed = [f"{p.relative_to(ROOT)}:{i}" for d in ("idim_core", "pages") for p in sorted((ROOT / d).rglob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"cfg\[|cfg\.get\(", line)]
    assert len(keyed) <= 20, keyed
