"""The docs (docs/, mkdocs.yml): they build with `mkdocs build --strict` (a broken link, a missing anchor or
a page left out of the navigation fails), the CLI reference is the one scripts/gen_cli_docs.py makes from
RunConfig's fields, and every flag of `idim run --help` is on it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI_PAGE = ROOT / "docs" / "reference" / "cli.md"


def run_flags() -> list[str]:
    """Every long option of `idim run` (its parser is built from RunConfig's fields)."""
    from idim_core.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    run = sub.choices["run"]
    flags = [o for a in run._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    assert "--model" in flags and "--dims" in flags
    return flags


def _build(root: Path, site: Path) -> subprocess.CompletedProcess:
    # no -q: mkdocs counts its warnings through the log, and -q drops them before they are counted
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=root, capture_output=True, text=True, env=env, timeout=300)


def test_the_docs_build_strictly(tmp_path):
    out = _build(ROOT, tmp_path / "site")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARNING" not in out.stderr, out.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()


def test_a_broken_link_fails_the_docs_build(tmp_path):
    """The check above can fail: a copy of the docs with one link broken does not build."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](no-such-page.md)\n", encoding="utf-8")
    out = _build(copy, tmp_path / "site")
    assert out.returncode != 0 and "no-such-page.md" in out.stderr, out.stderr


def test_the_cli_reference_is_the_generated_one():
    out = subprocess.run([sys.executable, "scripts/gen_cli_docs.py", "--check"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


def test_every_flag_of_idim_run_is_on_the_reference_page():
    page = CLI_PAGE.read_text(encoding="utf-8")
    missing = [f for f in run_flags() if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", page)]
    assert not missing, f"flags missing from {CLI_PAGE.relative_to(ROOT)} (run scripts/gen_cli_docs.py): {missing}"


def test_every_runconfig_field_flag_has_a_row():
    from idim_core.runconfig import cli_fields

    page = CLI_PAGE.read_text(encoding="utf-8")
    for f in cli_fields():
        assert f"| `--{f.name.replace('_', '-')}` |" in page, f.name


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md"))
    assert pages and all(p in nav for p in pages), [p for p in pages if p not in nav]


def test_the_readme_is_one_page_whose_links_and_pictures_exist():
    """The front door: at most 100 lines, the two commands, and every relative link or picture a file here."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 100
    assert "bash scripts/setup.sh && .venv/bin/streamlit run app.py" in text and "bash scripts/test.sh" in text
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local and all((ROOT / t).exists() for t in local), [t for t in local if not (ROOT / t).exists()]
