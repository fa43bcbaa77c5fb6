"""Text that came from outside (a link, a form, the store) made safe for where it is shown.

- ``md``: for Streamlit markdown (st.markdown/info/error/caption/warning/toast, titles, link labels):
  the characters that make links, images, emphasis, code, HTML, colour directives (``:red[…]``)
  and LaTeX (``$``) are backslash-escaped (CommonMark lets any ASCII punctuation be), as are the
  ``://`` and ``www.`` of bare web addresses (GFM would link them) and a heading or list marker at
  the start; line breaks become spaces.  So a run id such as
  ``x [Session expired](https://…) ![](https://…/p.png)`` reads as typed: no link, no image fetched.
  Ordinary text (``not UTF-8``, ``0.50``, ``a (b)``) stays as it is.
- ``code``: the same as an inline code span (paths, ids: shown verbatim).
- ``html_text``: for text placed into HTML or into Plotly's HTML-like labels (titles, legends).

(The CSV export's spreadsheet-formula guard is ``results.csv_cell``: the CLI writes the same file.)

Nothing here imports streamlit.
"""
from __future__ import annotations

import html
import re

# a_b stays: no emphasis inside a word
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>~$|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<=www)(\.)")
# GFM links bare addresses even where their punctuation is escaped: a word joiner (U+2060, invisible) splits
# "https" from "://", "www" from ".", and "@" from an e-mail address's domain, so no part of them is a link
_LINKY = re.compile(r"(?i)(?<=[a-z0-9])(?=:/)|(?<=www)(?=\\?\.)|(?<=@)(?=[a-z0-9])")
WJ = "\u2060"
_LEADING = re.compile(r"^(\s*)([#+-](?=\s|$)|>|\d{1,9}(?=[.)](?:\s|$)))")  # heading, list, quote


def md(value: object) -> str:
    """``value`` as literal text inside Streamlit markdown (in served mode, with server folders left out)."""
    from . import serving

    text = str(value)
    if serving.served_mode():
        text = serving.scrub(text)
    text = _BREAKS.sub(" ", text)
    text = _LINKY.sub(WJ, text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
    return _LEADING.sub(lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2)[0].isdigit()
                                                 else m.group(2) + "\\"), text, count=1)


def md_repr(value: object) -> str:
    """``repr(value)`` (quotes show where a value begins and ends) as literal markdown text."""
    return md(repr(value))


def code(value: object) -> str:
    """``value`` as an inline code span (shown verbatim: no link, no emphasis), fenced with more
    backticks than it contains."""
    text = _BREAKS.sub(" ", str(value))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(value: object) -> str:
    """``value`` as text inside HTML or a Plotly label (``<a href>``, ``<img>`` and entities shown, not run; in
    served mode, server folders left out)."""
    from . import serving

    # quotes stay as they are: Plotly shows "&quot;" literally, and with < and > escaped no tag (so no attribute
    # a quote could end) is left for it to read
    return html.escape(serving.shown(str(value)), quote=False)


_PLAIN = {"trec6": "TREC questions: what a question asks for (6 kinds)", "trec50": "TREC questions (50 kinds)",
          "mr": "movie reviews: positive or negative", "mnist5k": "5,000 MNIST digits", "digits": "8×8 digits",
          "fashion-mnist": "Fashion-MNIST clothes"}
_DERIVED = {"ge5": "digit ≥ 5 or below", "parity": "odd or even digit"}
_HALF = {"a": "one half of the images", "b": "the other half of the images"}


def plain_task(name: str) -> str:
    """A task as a person reads it ("digit ≥ 5, the other half of the images"); the id stays in addresses and the
    CLI.  An id this does not know is shown as it is (a CSV, any file-backed task, by its file name)."""
    import re

    from .. import sources

    name = str(name or "")
    if sources.file_source(name) is not None:
        return name.rsplit("/", 1)[-1]
    base, _, tail = name.partition(":")
    half = None
    if "@" in base:
        base, half = base.split("@", 1)
    kind = None
    for part in tail.split(":") if tail else []:
        if "@" in part:
            part, half = part.split("@", 1)
        if part in ("shuffled", "denoise", "rotation"):
            kind = part
        elif part in _DERIVED:
            base_word = _DERIVED[part]
            base = base + "\x00" + base_word
        elif re.fullmatch(r"[0-9]-[0-9]|[0-9]", part):
            base = base + "\x00" + f"digits {part} only"
    head, _, derived = base.partition("\x00")
    words = derived or _PLAIN.get(head)
    if words is None:
        try:
            from ..tasks import resolve

            desc = resolve(head).description or head
            words = re.split(r" \(|: |; |, ", desc, maxsplit=1)[0]
        except Exception:  # noqa: BLE001 - an id that is no task: shown as it is
            return name
    elif derived and head not in ("mnist5k", "digits"):
        words = f"{_PLAIN.get(head, head)}: {derived}"
    if half in _HALF:
        words += f", {_HALF[half]}"
    if kind == "shuffled":
        words += ", labels shuffled (the control)"
    elif kind == "denoise":
        words += ", denoising (no labels)"
    elif kind == "rotation":
        words += ", which of 4 rotations (no labels)"
    return words
