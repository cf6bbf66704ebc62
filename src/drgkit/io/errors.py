"""The error every reader raises: one line fit for the command line."""

from __future__ import annotations

from drgkit.errors import DrgkitError


class InputError(DrgkitError):
    """A problem with the user's input file; ``str(e)`` is one line fit for the command line."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (library errors can run over many lines)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
