"""What every command shares: the consoles, the one error handler, common argument parsing and the
streaming writer."""
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


def write_stream(output: Path, tables, empty_message: str, workbook: bool = False) -> int:
    """Write tables to ``output`` as they come (in a background thread, so writing one batch overlaps
    computing the next); the file appears only when all went well. Returns the number of rows."""
    from ..io import IncrementalWriter
    from ..io.pipeline import BackgroundWriter

    writer = background = None
    rows = 0
    try:
        for table in tables:
            if writer is None:
                writer = IncrementalWriter(output, table.schema, workbook=workbook)
                background = BackgroundWriter(writer.write)
            assert background is not None
            background.submit(table)
            rows += table.num_rows
        if writer is None or background is None:
            raise CliError(empty_message)
        background.close()
        writer.close()
    except BaseException:
        if background is not None:
            try:
                background.close()
            except BaseException:
                pass
        if writer is not None:
            writer.abort()
        raise
    return rows


def sheet_arg(value: str | None) -> str | int | None:
    """``--sheet``: a 1-based number or a name."""
    return int(value) if value is not None and value.strip().isdigit() else value


def report_mapping(source, lang: str = "zh") -> None:
    """Say which column became which field (stderr, so piped output stays clean)."""
    for line in source.mapping_report(lang):
        err.print(line, soft_wrap=True, markup=False)


