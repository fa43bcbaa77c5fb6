"""Learn's prose: markdown files under assets/learn/, one per section, which the page reads and fills.

A file is named ``NN-slug.md`` (NN the section's number; 00 the introduction) and starts with its section's title
(``# Title``; the introduction has none).  Lines ``<!-- name -->`` cut it into named parts; the text before the
first one is the part ``intro``.  The lines of one paragraph or one list item are joined with spaces, as if written
on one line, so the files can be wrapped for reading.  ``{name}`` (with an optional format, ``{D:,}``) is a number or
phrase the page computes when it is drawn, from the records or the calibration, never typed in the file; a brace
meant literally is written twice (str.format).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LEARN = Path(__file__).resolve().parent.parent.parent / "assets" / "learn"

_PART = re.compile(r"^<!--\s*([\w-]+)\s*-->\s*$")
_BLOCK = re.compile(r"^(#|- |\* |\d+\. |\|)")  # a line that starts a block of its own (not joined to the one above)


@dataclass
class Section:
    title: str
    parts: dict[str, str] = field(default_factory=dict)

    def text(self, part: str = "intro", **values) -> str:
        """Part ``part``, its placeholders filled from ``values`` (a missing one raises KeyError)."""
        return self.parts[part].format_map(values)


def unwrap(text: str) -> str:
    """Markdown with each paragraph and each list item on one line; blank lines between blocks kept."""
    out: list[str] = []
    for line in text.strip().splitlines():
        s = line.strip()
        if s and out and out[-1] and not _BLOCK.match(s):
            out[-1] += " " + s
        else:
            out.append(s)
    return "\n".join(out)


def parse(text: str) -> Section:
    title, name, parts = "", "intro", {}
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        title, lines = lines[0][2:].strip(), lines[1:]
    chunk: list[str] = []
    for line in lines:
        m = _PART.match(line.strip())
        if m:
            parts[name] = unwrap("\n".join(chunk))
            name, chunk = m.group(1), []
        else:
            chunk.append(line)
    parts[name] = unwrap("\n".join(chunk))
    return Section(title, parts)


def sections(folder: Path = LEARN) -> dict[int, Section]:
    """Every section in ``folder``, by number (0 the introduction)."""
    return {int(p.name.split("-", 1)[0]): parse(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("[0-9][0-9]-*.md"))}
