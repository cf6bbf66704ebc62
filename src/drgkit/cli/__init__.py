"""The ``drgkit`` command line: thin wrappers over the API, one module per command group.

Every command module has a module-level Typer ``app``; this package assembles them in the order ``--help``
lists them. Errors a user can cause are one line on stderr and exit code 2, handled in one place
(:class:`drgkit.cli.common.Handled`); consoles, common options and the default scheme are defined once
(:mod:`drgkit.cli.common`, :mod:`drgkit.cli_options`, :data:`drgkit.schemes.DEFAULT_SCHEME`).
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

# importing the commands (typer, rich, pyarrow) makes some 10^5 long-lived objects and no garbage: the collector
# would only scan them over and over (see drgkit.cli.startup); it is back on once they are imported
_collecting = gc.isenabled()
gc.disable()
try:
    import typer

    from . import benefits, common, data, dip, explain, fund, group, monitor, pay, schemes, serve, simulate, tables
    from .common import CliError, Handled
finally:
    if _collecting:
        gc.enable()

#: the commands whose process leaves pandas out (:mod:`drgkit.cli.startup`): they must start fast
LEAN_COMMANDS = ("group", "explain")
#: the commands that serve until stopped: they hand freed memory back (the others keep it: cli.startup)
LONG_RUNNING = ("serve",)


class _App(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # app() runs the command line as its own process (the console script, python -m drgkit.cli); tests and
        # programs build the command from `app` instead (CliRunner), so pandas stays theirs
        argv = kwargs.get("args", args[0] if args else None)
        command = (sys.argv[1:2] if argv is None else list(argv)[:1]) or [""]
        from .startup import keep_freed_memory, keep_pandas_out, pause_gc, resume_gc

        if command[0] not in LONG_RUNNING:
            keep_freed_memory()
        if command[0] not in LEAN_COMMANDS:
            return super().__call__(*args, **kwargs)

        keep_pandas_out()
        pause_gc()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            resume_gc()


app = _App(
    cls=Handled,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Group Chinese discharge abstracts (病案首页 / 医保结算清单) into CHS-DRG groups.",
)


@app.callback()
def _on_start() -> None:
    """Group Chinese discharge abstracts (病案首页 / 医保结算清单) into CHS-DRG groups."""
    import signal

    # SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C: writers remove their temporary files
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


for module in (group, explain, monitor, pay, benefits, simulate, serve, data):
    app.add_typer(module.app)
app.add_typer(schemes.app, name="schemes")
app.add_typer(tables.app, name="tables")
app.add_typer(dip.app, name="dip")
app.add_typer(fund.app, name="fund")


def main() -> None:  # pragma: no cover - console entry point
    app()


__all__ = ["CliError", "app", "common", "main"]
