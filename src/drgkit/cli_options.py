"""Command-line options that describe one case, shared by `drgkit explain` and `drgkit whatif` (typer `Annotated`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Dx = Annotated[str, typer.Option("--dx", help="Diagnoses, principal first, separated by | or ,")]
Px = Annotated[str, typer.Option("--px", help="Procedures, main first, separated by | or ,")]
Age = Annotated[Optional[int], typer.Option("--age", help="Age in years")]
Sex = Annotated[Optional[str], typer.Option("--sex", "--gender", help="1 male / 2 female (男/女, M/F accepted)")]
AgeDays = Annotated[Optional[int], typer.Option("--age-days", help="Age in days (required at age 0)")]
Weight = Annotated[Optional[int], typer.Option("--weight", "--birth-weight", help="Birth weight in grams")]
Los = Annotated[Optional[int], typer.Option("--los", help="Length of stay in days")]
LeavingType = Annotated[Optional[int], typer.Option("--leaving-type", help="Discharge type 1-5 (离院方式)")]
SchemeId = Annotated[str, typer.Option("--scheme", "-s")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]

# How an input file is read, shared by `group`, `validate` and `dip group`.
MapOption = Annotated[
    list[str],
    typer.Option(
        "--map",
        help="Read a column as a field: SRC=field (repeatable; fields: case_id, age, dx_main, dx_other, px_main …)",
    ),
]
SheetOption = Annotated[
    Optional[str],
    typer.Option(
        "--sheet", help="Excel sheet: name or 1-based number (default: the first sheet with a diagnosis column)"
    ),
]
HeaderRowOption = Annotated[
    Optional[int],
    typer.Option("--header-row", min=1, help="1-based row of the header (default: found below title rows)"),
]
AllowUnmapped = Annotated[
    bool,
    typer.Option("--allow-unmapped", help="Carry code-like columns that are not read as codes through with a warning"),
]
Canonical = Annotated[
    bool,
    typer.Option("--canonical", help="Write canonical column names (dx/px lists) instead of the input's own columns"),
]
AllowSchemeMismatch = Annotated[
    bool, typer.Option("--allow-scheme-mismatch", help="Price groups of another scheme than the table's")
]

#: ``--base-rate``: one rate for every level, over the table's and the policy's (``group --price``, ``pay``).
BaseRate = Annotated[
    Optional[float],
    typer.Option(
        "--base-rate",
        help="Base rate in yuan per RW (point value for point tables), for every level; overrides the "
        "table and policy. Prices a scheme's own reference weights: --price chs-drg-2.0 --base-rate 10000",
    ),
]

#: ``--lang``: the language of everything printed for people (machine outputs keep canonical names).
Lang = Annotated[
    Optional[str],
    typer.Option("--lang", help="zh (default) or en: the language of what is printed; DRGKIT_LANG sets the default"),
]
