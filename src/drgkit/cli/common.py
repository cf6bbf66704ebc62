"""What every command shares: the consoles, the one error handler and common argument parsing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
import typer.core
from rich.console import Console

from ..errors import DrgkitError

#: where commands print (tests swap them for recording consoles)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class CliError(DrgkitError):
    """An error already phrased for the user."""


def fail(message: str) -> NoReturn:
    from rich.markup import escape

    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)  # "[tool.x]" in a message is text
    raise typer.Exit(2)


def refuse_overwriting_input(output: Path, *inputs: Path | None) -> None:
    """One error line when ``output`` is one of the ``inputs`` (the same file or folder, by any path): the
    result would silently replace the export it was computed from."""
    import os

    for source in inputs:
        if source is None:
            continue
        try:
            same = os.path.samefile(output, source)
        except OSError:  # the output does not exist yet (or the input is missing: the reader says so)
            same = False
        if same:
            raise CliError(f"-o {output} is the input {source}: write the result to another file")


def one_line(exc: BaseException) -> str | None:
    """The line to print for an error a user can cause — drgkit's own (:class:`DrgkitError`) and the operating
    system's (a missing file, a read-only folder, a full disk) — or ``None`` for a bug (kept as a traceback)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"cannot decode input text: {exc.reason}"
    if isinstance(exc, OSError) and exc.strerror:  # "out.parquet: Read-only file system"
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    if isinstance(exc, (DrgkitError, OSError)):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


class Handled(typer.core.TyperGroup):
    """The root command group: every command's expected errors become one line on stderr and exit code 2
    (the one error handler of the command line)."""

    def invoke(self, ctx: typer._click.core.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            line = one_line(exc)
            if line is None:
                raise
            fail(line)


def parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        if "=" not in item:
            raise CliError(f"--map takes SRC=canonical, got '{item}'")
        src, dst = item.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


def sheet_arg(value: str | None) -> str | int | None:
    """``--sheet``: a 1-based number or a name."""
    return int(value) if value is not None and value.strip().isdigit() else value


def report_mapping(source, lang: str = "zh") -> None:
    """Say which column became which field (stderr, so piped output stays clean)."""
    for line in source.mapping_report(lang):
        err.print(line, soft_wrap=True, markup=False)
