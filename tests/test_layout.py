"""The code's shape: no import circle inside idim_core, the engine never imports Streamlit,
pages never import the sweep runner or torch-heavy modules."""
import ast
from pathlib import Path

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
                        if (ROOT / Path(*sub.split("."))).with_suffix(".py").exists():
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
