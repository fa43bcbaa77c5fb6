"""Learn's prose lives in assets/learn/*.md (idim_core/ui/prose.py): every part the page draws exists, and the
page fills exactly the placeholders each part has (the numbers are computed, never typed in the files)."""
import ast
import string
from pathlib import Path

from idim_core.ui import prose

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "pages" / "learn.py"


def _calls():
    """(section, part, keyword names) of every ``TEXT[n].text(...)`` in the page."""
    for node in ast.walk(ast.parse(PAGE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "text" \
                and isinstance(node.func.value, ast.Subscript) and getattr(node.func.value.value, "id", "") == "TEXT":
            part = node.args[0].value if node.args else "intro"
            yield node.func.value.slice.value, part, {k.arg for k in node.keywords}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_section_has_its_title_and_every_part_drawn_exists():
    text = prose.sections()
    assert sorted(text) == list(range(13)) and text[0].title == ""
    assert all(text[n].title for n in range(1, 13))
    calls = list(_calls())
    assert len(calls) >= 30
    for n, part, given in calls:
        assert part in text[n].parts, (n, part)
        assert _fields(text[n].parts[part]) == given, (n, part)  # no placeholder left empty, none filled for naught
    drawn = {(n, part) for n, part, _ in calls}
    unused = [(n, p) for n, s in text.items() for p in s.parts if (n, p) not in drawn]
    assert not unused, f"parts no page draws: {unused}"


def test_wrapped_lines_join_into_one_paragraph_and_lists_stay_lists():
    s = prose.parse("# Title\n\nOne line\nwrapped `code\nspan`.\n\n- item one\n  continued\n- item two\n"
                    "<!-- more -->\nD = {D:,}\n")
    assert s.title == "Title"
    assert s.parts["intro"] == "One line wrapped `code span`.\n\n- item one continued\n- item two"
    assert s.text("more", D=22566146) == "D = 22,566,146"
