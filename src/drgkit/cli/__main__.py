"""``python -m drgkit.cli``: the command line."""

from . import app

app()
