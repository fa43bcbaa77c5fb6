"""Errors meant for users: one sentence that says what went wrong and what to do."""


class UserError(Exception):
    """A bad input or an unusable environment. The CLI prints it as one line and exits 2."""


def unexpected(e: BaseException, what: str = "the run") -> str:
    """One sentence for a failure that is not the user's input: what stopped, in words, with the
    detail's first line (never the exception's class name) and what to do."""
    detail = " ".join(str(e).split())[:200]
    if isinstance(e, MemoryError):
        detail = "the machine ran out of memory"
    elif isinstance(e, OSError) and getattr(e, "strerror", None):
        detail = f"the system said: {e.strerror.lower()}"
    return (f"{what} stopped on an unexpected error" + (f" ({detail})" if detail else "")
            + "; its finished trials are kept, and `idim resume` continues it")
