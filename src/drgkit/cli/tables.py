"""``drgkit tables``: list, show and check the payment tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..terminal import Col, fit_table
from . import common

# ---------------------------------------------------------------- payment: tables, pay
app = typer.Typer(no_args_is_help=True, help="City DRG payment tables (list, show, check).")


@app.command("list")
def tables_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the shipped payment tables: city, year, scheme, levels, insurance types, what they publish."""
    from ..payment import list_tables

    infos = list_tables()
    rows = [
        {
            "id": i.id,
            "city": f"{i.city_zh} {i.city}",
            "year": i.year,
            "scheme": i.scheme,
            "basis": i.basis,
            "drgs": i.drgs,
            "levels": ",".join(i.levels),
            "insurance": ",".join(i.insurance_types),
            "published": ",".join(i.published),
            "licence": i.licence,
        }
        for i in infos
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    # ids, schemes and numbers are never cut: at a narrow terminal the lower-priority columns go, and say so
    cols = [
        Col("id", "id", keep=True),
        Col("city"),
        Col("year", "number"),
        Col("scheme", "id", keep=True),
        Col("drgs", "number", keep=True),
        Col("levels"),
        Col("insurance"),
        Col("published"),
    ]
    common.out.print(
        fit_table(f"{len(rows)} payment tables", cols, [[str(r[c.name]) for c in cols] for r in rows], common.out.width)
    )


@app.command("show")
def tables_show(
    table_id: str = typer.Argument(..., help="Table id (see `drgkit tables list`) or a table CSV"),
    level: Optional[str] = typer.Option(None, "--level", help="Only this hospital level"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="Only this insurance type"),
    drg: Optional[str] = typer.Option(None, "--drg", help="Only DRG codes starting with this"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy TOML (rates for weight-only tables)"),
    limit: int = typer.Option(20, "--limit", "-n", help="Rows to print (0 = all)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the standards to a file"),
) -> None:
    """Show a table's manifest and its payment standards (computed where only RW, rate and coefficient are given)."""
    import polars as pl

    from ..io import write_table
    from ..payment import load_table, standards

    t = load_table(str(table_id))
    i = t.info
    common.out.print(
        f"[bold]{i.id}[/bold] {i.city_zh} {i.city} {i.year or ''}  scheme {i.scheme or '-'} "
        f"({i.scheme_code_match or '?'} codes)  basis {i.basis}"
    )
    common.out.print(
        f"levels: {', '.join(i.levels) or '-'}  insurance: {', '.join(i.insurance_types) or '-'}"
        f"  publishes: {', '.join(i.published)}"
    )
    common.out.print(f"source: {i.source}  licence: {i.licence or '-'}")
    for r in i.rates:
        common.out.print(
            f"rate {r.get('level') or '-'} / {r.get('insurance') or '-'}: {r['base_rate']} "
            f"({r.get('source')}, reproduces {r.get('reproduces', '?')})"
        )
    for note in t.notes:
        common.out.print(f"[yellow]note:[/yellow] {note}")
    s = standards(t, policy)
    if level:
        s = s.filter(pl.col("hospital_level") == level)
    if insurance:
        s = s.filter(pl.col("insurance_type") == insurance)
    if drg:
        s = s.filter(pl.col("drg").str.starts_with(drg))
    s = s.select(
        "drg",
        "drg_name",
        "hospital_level",
        "insurance_type",
        "rw",
        "rate",
        "coef",
        "payment_standard",
        "standard",
        "flags",
    )
    if output:
        write_table(s.to_arrow(), output)
        common.out.print(f"{s.height} rows written to {output}")
        return
    kinds = {"drg": "id", "drg_name": "text", "flags": "text", "hospital_level": "id", "insurance_type": "id"}
    common.out.print(
        fit_table(
            f"{s.height} rows",
            [Col(c, kinds.get(c, "number"), keep=c in ("drg", "standard")) for c in s.columns],
            [
                ["" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in row]
                for row in s.head(limit or s.height).iter_rows()
            ],
            common.out.width,
            hint="-o FILE",
        )
    )


@app.command("check")
def tables_check(
    table_id: str = typer.Argument(..., help="Table id or a table CSV"),
    as_json: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(20, "--limit", "-n", help="Rows not following the rate to list per level"),
) -> None:
    """Derive the base rate implied by the published standards and list the rows that do not follow it."""
    from ..payment import check_table, load_table

    t = load_table(str(table_id))
    checks = check_table(t)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "level": c.level,
                        "insurance": c.insurance,
                        "formula": c.formula,
                        "rate": c.rate,
                        "published_rate": c.published_rate,
                        "manifest_rate": c.manifest_rate,
                        "rows_checked": c.rows_checked,
                        "rows_reproduced": c.rows_reproduced,
                        "outliers": c.outliers.to_dicts(),
                    }
                    for c in checks
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not checks:
        common.out.print(f"{t.id}: publishes no payment standards with weights; nothing to check")
    for note in t.notes:
        common.out.print(f"[yellow]note:[/yellow] {note}")
    for c in checks:
        src = "published" if c.published_rate is not None and c.rate == c.published_rate else "implied"
        common.out.print(
            f"{t.id} {c.level or '-'} / {c.insurance or '-'}: standard = {c.formula}, "
            f"{src} rate {c.rate} reproduces {c.rows_reproduced}/{c.rows_checked} rows to 0.01 yuan"
        )
        if c.outliers.height:
            common.out.print(
                fit_table(
                    f"{c.outliers.height} rows not following rate {c.rate}",
                    [
                        Col(
                            col,
                            "id" if col == "drg" else ("text" if col == "drg_name" else "number"),
                            keep=col == "drg",
                        )
                        for col in c.outliers.columns
                    ],
                    [
                        ["" if v is None else str(v) for v in row]
                        for row in c.outliers.head(limit or c.outliers.height).iter_rows()
                    ],
                    common.out.width,
                )
            )
