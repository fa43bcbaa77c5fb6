"""Errors meant for users: one sentence that says what went wrong and what to do."""


class UserError(Exception):
    """A bad input or an unusable environment. The CLI prints it as one line and exits 2."""
