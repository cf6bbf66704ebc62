"""Command-line options that describe one case, shared by `drgkit explain` and `drgkit whatif` (typer `Annotated`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Dx = Annotated[str, typer.Option("--dx", help="Diagnoses, principal first, separated by | or ,")]
Px = Annotated[str, typer.Option("--px", help="Procedures, main first, separated by | or ,")]
Age = Annotated[Optional[str], typer.Option("--age", help="Age in years (82, 82岁, 3月, 15天, 1岁2月)")]
Sex = Annotated[Optional[str], typer.Option("--sex", "--gender", help="1 male / 2 female (男/女, M/F accepted)")]
AgeDays = Annotated[Optional[str], typer.Option("--age-days", help="Age in days (required at age 0)")]
Weight = Annotated[
    Optional[str], typer.Option("--weight", "--birth-weight", help="Birth weight in grams (3200, 3200克, 3.2kg)")
]
Los = Annotated[Optional[str], typer.Option("--los", help="Length of stay in days (12, 12天)")]
LeavingType = Annotated[
    Optional[str], typer.Option("--leaving-type", help="Discharge type 1-5, 9 (离院方式: 1 or 医嘱离院, 5 or 死亡)")
]
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


def case_values(
    age: str | None, age_days: str | None, weight: str | None, los: str | None, leaving_type: str | None
) -> dict[str, int | None]:
    """The case options as written (``82岁``, ``3月``, ``3.2kg``, ``12天``, ``医嘱离院``) read as ``group`` reads a
    file's cells (:func:`drgkit.io.prepare.prepare`): {age, age_days, birth_weight, los, leaving_type}, ``None``
    where not given; ``3月`` gives age 0 and 90 days.  A value that does not read is one error line."""
    given = {"age": age, "age_days": age_days, "birth_weight": weight, "los": los, "leaving_type": leaving_type}
    if all(v is None for v in given.values()):
        return dict.fromkeys(given)
    import pyarrow as pa

    from .cli.common import CliError
    from .io.prepare import prepare

    prep = prepare(pa.table({k: pa.array([v], pa.string()) for k, v in given.items()}))
    if prep.problems[0].is_valid:
        raise CliError(str(prep.problems[0].as_py()))
    read = {name: int(getattr(prep, name)[0]) for name in given}
    return {name: None if value < 0 else value for name, value in read.items()}
