"""One error model: every failure a user can cause is a :class:`DrgkitError` with one line that names the file,
row, column or key.  The command line prints that line (exit code 2); the API raises it."""

from __future__ import annotations


class DrgkitError(Exception):
    """A problem with the user's input, tables or settings; ``str(e)`` is one line fit for the command line."""
