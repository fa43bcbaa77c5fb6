"""Widget keys from one place, so two widgets can never share one.

Every key is ``page:purpose[:part...]``.  Each page owns one namespace (its file name), and within a
page a purpose names what the widget is for (``button`` for a ready-made comparison, ``toggle`` for a
switch, ``chart`` for a figure...), so the button of a ready-made comparison named ``claims`` and the
toggle that shows the claims' tables can no longer collide as they did when both were ``cmp_claims``.
Parts may be any values (a run id, a method); they are joined with ``:``, which no page name contains.
"""
from __future__ import annotations

PAGES = ("app", "explore", "live", "compare", "runs", "learn", "series", "lesson")


def key(page: str, purpose: str, *parts: object) -> str:
    """The widget key for ``purpose`` on ``page``; ``parts`` tell apart widgets made in a loop."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r} for a widget key (one of {', '.join(PAGES)})")
    if not purpose or ":" in purpose:
        raise ValueError(f"a widget key's purpose must be a non-empty word without ':' (got {purpose!r})")
    return ":".join([page, purpose, *(str(p) for p in parts)])


def keys_for(page: str):
    """``K = keys_for("compare")`` then ``K("button", name)``: the page's own key maker."""
    def K(purpose: str, *parts: object) -> str:
        return key(page, purpose, *parts)
    return K
