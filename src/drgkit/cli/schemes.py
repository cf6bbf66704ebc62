"""``drgkit schemes``: list the grouping schemes, check or seal a scheme folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..terminal import Col, fit_table
from . import common
from .common import CliError

app = typer.Typer(
    help="The grouping schemes: list them (no subcommand), check or seal a scheme folder.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def schemes(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the grouping schemes that ship with drgkit (``check`` / ``seal`` a scheme folder you write)."""
    from ..schemes.tables import list_schemes

    if ctx.invoked_subcommand is not None:
        return

    infos = list_schemes()
    rows = [
        {"id": s.id, "name": s.name, "validity_check": s.settings.validity_check, "checksum": s.checksum} for s in infos
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    common.out.print(
        fit_table(
            f"{len(rows)} schemes",
            [Col("id", "id", keep=True), Col("name", keep=True), Col("checksum", "id")],
            [(r["id"], r["name"], r["checksum"]) for r in rows],
            common.out.width,
        )
    )


@app.command("check")
def schemes_check(folder: Path = typer.Argument(..., help="A scheme folder (with scheme.toml)")) -> None:
    """Check a scheme folder: it compiles, sealed tables match their hashes, derived columns agree with their
    expressions, naming conventions hold, and (warnings) every table code is in the ICD dictionary."""
    from ..schemes.authoring import check, summary

    problems = check(folder)
    for line in summary(problems):
        common.out.print(line, soft_wrap=True, markup=False)
    errors = sum(p.is_error for p in problems)
    warnings_ = len(problems) - errors
    if errors:
        raise CliError(f"{folder}: {errors:,} problem(s) to fix, {warnings_:,} warning(s)")
    common.out.print(f"{folder}: sound ({warnings_:,} warning(s))", markup=False)


@app.command("seal")
def schemes_seal(folder: Path = typer.Argument(..., help="A scheme folder (with scheme.toml)")) -> None:
    """Record each table's content hash and row count in scheme.toml: an edit is then refused until sealed
    again (run `drgkit schemes check` first)."""
    from ..schemes.authoring import seal

    hashes = seal(folder)
    common.out.print(f"sealed {len(hashes)} tables of {folder}", markup=False)
